import Foundation
import Ledger
import Quantities
import Testing

@Suite("Verification finds the first bad entry")
struct TamperTests {
    /// A realm of seven entries; `tamper` gets the store and the SQL to run (its table is `table`).
    private func tampered(_ backend: Backend, _ sql: (String) -> String) async throws -> VerificationReport {
        let table = "tamper_\(UInt32.random(in: 0...UInt32.max))"
        let fixture = try await Fixture(backend, storeName: table)
        for (index, resource) in ["q0", "q1", "q2", "q3"].enumerated() {
            try await fixture.claim(index.isMultiple(of: 2) ? fixture.alice : fixture.bob, resource, nonce: UInt64(index))
        }
        #expect(try await LedgerVerifier.verify(fixture.store, state: Claims.self).isValid)
        let statement = sql(backend == .sqlite ? "ledger_entry" : table)
        if let store = fixture.store as? SQLiteLedgerStore {
            try store.execute(sql: statement)
        } else if let store = fixture.store as? PostgresLedgerStore {
            try await store.execute(sql: statement)
        }
        return try await LedgerVerifier.verify(fixture.store, state: Claims.self)
    }

    @Test("A changed payload breaks the entry's hash", arguments: Backend.allCases)
    func payload(backend: Backend) async throws {
        let report = try await tampered(backend) { table in
            "UPDATE \(table) SET payload = \(hexLiteral(backend, canonicalJSON(Claims.Claim(resource: "q9")))) WHERE sequence = 4"
        }
        #expect(report.firstBadEntry?.sequence == 4)
        #expect(report.firstBadEntry?.reason.contains("altered") == true)
        #expect(report.verifiedEntries == 4)
    }

    @Test("A changed signature is found", arguments: Backend.allCases)
    func signature(backend: Backend) async throws {
        let report = try await tampered(backend) { table in
            backend == .sqlite
                ? "UPDATE \(table) SET signature = zeroblob(length(signature)) WHERE sequence = 5"
                : "UPDATE \(table) SET signature = set_byte(signature, 0, get_byte(signature, 0) # 1) WHERE sequence = 5"
        }
        #expect(report.firstBadEntry?.sequence == 5)
        #expect(report.firstBadEntry?.reason.contains("signature") == true)
    }

    @Test("A removed entry leaves a gap", arguments: Backend.allCases)
    func removed(backend: Backend) async throws {
        let report = try await tampered(backend) { table in "DELETE FROM \(table) WHERE sequence = 3" }
        #expect(report.firstBadEntry?.sequence == 4)
        #expect(report.firstBadEntry?.reason.contains("gap") == true)
    }

    @Test("An entry re-hashed after a change breaks the next entry's link, and its own signature", arguments: Backend.allCases)
    func rehashed(backend: Backend) async throws {
        // The attacker cannot sign as the realm, so re-hashing entry 6 only moves the failure to its signature.
        let report = try await tampered(backend) { table in
            "UPDATE \(table) SET timestamp_ns = timestamp_ns + 1 WHERE sequence = 6"
        }
        #expect(report.firstBadEntry?.sequence == 6)
    }

    @Test("A contract rule broken in the log is reported at its entry")
    func contractRule() async throws {
        // Two entries claiming q0: the second is written straight into the file, correctly hashed and signed
        // by the realm key, as a faulty realm might. Verification replays the contract and refuses it.
        let fixture = try await Fixture(.sqlite)
        try await fixture.claim(fixture.alice, "q0", nonce: 1)
        let head = try #require(await fixture.ledger.head)
        let request = try fixture.request(fixture.bob, "q0", nonce: 1)
        var entry = LedgerEntry(sequence: head.sequence + 1, previousHash: head.hash, timestamp: .now(), contract: "claims",
                                kind: "claim", payload: request.body, author: "authority", request: request)
        entry.signature = try fixture.authority.sign(entry.hash)
        try await fixture.store.append([entry], after: head)
        let report = try await LedgerVerifier.verify(fixture.store, state: Claims.self)
        #expect(report.firstBadEntry?.sequence == head.sequence + 1)
        #expect(report.firstBadEntry?.reason.contains("already claimed by alice") == true)
    }

    @Test("A group is signed once, on its last entry; stripping that signature leaves the group uncovered")
    func groupSignature() async throws {
        let fixture = try await Fixture(.sqlite)
        // Twenty claims at once commit in a few groups: most entries carry no signature of their own.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<20 {
                group.addTask { try await fixture.claim(index.isMultiple(of: 2) ? fixture.alice : fixture.bob, "g\(index)", nonce: UInt64(index)) }
            }
            try await group.waitForAll()
        }
        let entries = try await fixture.store.entries(from: 0, limit: 100)
        #expect(entries.count == 23)
        #expect(entries.contains { $0.signature.isEmpty }, "concurrent claims should have shared a group signature")
        #expect(!entries.last!.signature.isEmpty)
        #expect(try await LedgerVerifier.verify(fixture.store, state: Claims.self).isValid)

        // Without the last signature, the last group is covered by nothing.
        let lastSigned = try #require(entries.last)
        let firstOfGroup = entries.reversed().dropFirst().prefix { $0.signature.isEmpty }.last?.sequence ?? lastSigned.sequence
        try (fixture.store as! SQLiteLedgerStore).execute(sql: "UPDATE ledger_entry SET signature = X'' WHERE sequence = \(lastSigned.sequence)")
        let report = try await LedgerVerifier.verify(fixture.store, state: Claims.self)
        #expect(report.firstBadEntry?.sequence == firstOfGroup)
        #expect(report.firstBadEntry?.reason.contains("not covered by any signature") == true)
        await #expect(throws: LedgerError.self) { try await LedgerReplica<Claims>.replay(fixture.store) }
    }

    @Test("An empty store has nothing to verify, and says so")
    func empty() async throws {
        let store = try await Backend.sqlite.makeStore()
        let report = try await LedgerVerifier.verify(store, state: NoContracts.self)
        #expect(report.firstBadEntry?.sequence == 0)
        #expect(report.firstBadEntry?.reason.contains("empty") == true)
    }
}

private func hexLiteral(_ backend: Backend, _ data: Data) -> String {
    let hex = data.map { String(format: "%02x", $0) }.joined()
    return backend == .sqlite ? "X'\(hex)'" : "'\\x\(hex)'::bytea"
}

@Suite("Key files")
struct KeyFileTests {
    private func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("qrrm-key-\(UInt32.random(in: 0...UInt32.max))-\(name)").path
    }

    @Test("A key written to a file reads back as the same key, readable by its owner only")
    func roundTrip() throws {
        let key = try LedgerSigningKey(id: "alice")
        let path = temporaryPath("alice.key")
        try key.write(to: path)
        let read = try LedgerSigningKey(contentsOf: path)
        #expect(read.id == "alice")
        #expect(read.publicKey == key.publicKey)
        let signature = try read.sign(Data("hello".utf8))
        #expect(key.publicKey.isValidSignature(signature, for: Data("hello".utf8)))
        #expect(!key.publicKey.isValidSignature(signature, for: Data("hellp".utf8)))
        let permissions = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(permissions == 0o600)
    }

    @Test("Malformed key files get errors that name the file", arguments: [
        ("not json", "expected {"),
        (#"{"id": "a", "algorithm": "Ed25519", "seed": "AAAA"}"#, "\"Ed25519\" is not supported"),
        (#"{"id": "a", "algorithm": "ML-DSA-65", "seed": "AAAA"}"#, "32 bytes, got 3"),
        (#"{"id": "a", "algorithm": "ML-DSA-65"}"#, "expected {"),
    ])
    func malformed(contents: String, fragment: String) throws {
        let path = temporaryPath("bad.key")
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
        #expect {
            try LedgerSigningKey(contentsOf: path)
        } throws: { error in
            guard case .invalidKey(let source, let reason) = error as? LedgerError else { return false }
            return source == path && reason.contains(fragment)
        }
        #expect(throws: LedgerError.self) { try LedgerSigningKey(contentsOf: path + ".missing") }
    }

    @Test("A public key that is not ML-DSA-65 is refused")
    func badPublicKey() {
        #expect(throws: LedgerError.self) { try LedgerPublicKey(rawRepresentation: Data(count: 12)) }
    }
}
