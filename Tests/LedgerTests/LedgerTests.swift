import Foundation
import Synchronization
import Ledger
import Quantities
import Testing

@Suite("The ledger: signed, hash-chained, replayable, on SQLite and on PostgreSQL")
struct LedgerTests {
    @Test("Entries append in order and a replay from the store alone reproduces the state", arguments: Backend.allCases)
    func appendAndReplay(backend: Backend) async throws {
        let fixture = try await Fixture(backend)
        try await fixture.claim(fixture.alice, "q0", nonce: 1)
        try await fixture.claim(fixture.bob, "q1", nonce: 1)
        try await fixture.claim(fixture.alice, "q0", nonce: 2, kind: "release")
        let last = try await fixture.claim(fixture.bob, "q0", nonce: 2)
        #expect(last.sequence == 6)  // genesis, two keys, four claims

        let replayed = try await LedgerReplica<Claims>.replay(fixture.store)
        #expect(replayed.state == (await fixture.ledger.state))
        #expect(replayed.state.holders == ["q0": "bob", "q1": "bob"])
        #expect(replayed.head == LedgerHead(sequence: 6, hash: last.hash))
        let report = try await LedgerVerifier.verify(fixture.store, state: Claims.self)
        #expect(report.isValid)
        #expect(report.verifiedEntries == 7)
    }

    @Test("A contract's refusal fails only that submission and leaves no trace in the chain", arguments: Backend.allCases)
    func refusal(backend: Backend) async throws {
        let fixture = try await Fixture(backend)
        try await fixture.claim(fixture.alice, "q0", nonce: 1)
        await #expect {
            try await fixture.claim(fixture.bob, "q0", nonce: 1)
        } throws: { error in
            guard case .rejected(let contract, let kind, let reason) = error as? LedgerError else { return false }
            return contract == "claims" && kind == "claim" && reason as? Claims.Refusal == .alreadyClaimed("q0", by: "alice")
        }
        // The refused request's nonce is not spent, and the next entry follows without a gap.
        let next = try await fixture.claim(fixture.bob, "q1", nonce: 1)
        #expect(next.sequence == 4)
        #expect(try await LedgerVerifier.verify(fixture.store, state: Claims.self).isValid)
    }

    @Test("Requests with a bad signature, an unknown key, a reused nonce or no client role get typed errors", arguments: Backend.allCases)
    func badRequests(backend: Backend) async throws {
        let fixture = try await Fixture(backend)
        let body = canonicalJSON(Claims.Claim(resource: "q0"))

        // Signed by bob, claimed as alice.
        let forged = SignedRequest(client: "alice", nonce: 7, body: body, signature: try fixture.bob.sign(
            SignedRequest(client: "alice", nonce: 7, body: body, signature: Data()).digest))
        await expectInvalidRequest(client: "alice", containing: "signature does not verify") {
            try await fixture.ledger.submit(contract: "claims", kind: "claim", payload: body, request: forged)
        }
        // A body changed after signing.
        var altered = try fixture.request(fixture.alice, "q0", nonce: 8)
        altered.body = canonicalJSON(Claims.Claim(resource: "q9"))
        await expectInvalidRequest(client: "alice", containing: "signature does not verify") {
            try await fixture.ledger.submit(contract: "claims", kind: "claim", payload: altered.body, request: altered)
        }
        let mallory = try LedgerSigningKey(id: "mallory")
        await expectInvalidRequest(client: "mallory", containing: "no such key") {
            try await fixture.claim(mallory, "q0", nonce: 1)
        }
        try await fixture.claim(fixture.alice, "q0", nonce: 1)
        await expectInvalidRequest(client: "alice", containing: "nonce 1 was already used") {
            try await fixture.claim(fixture.alice, "q1", nonce: 1)
        }
        let node = try LedgerSigningKey(id: "node-a")
        try await fixture.ledger.register(KeyRegistration(id: "node-a", publicKey: node.publicKey, roles: [.node]))
        await expectInvalidRequest(client: "node-a", containing: "lacks the client role") {
            try await fixture.claim(node, "q1", nonce: 1)
        }
        #expect((await fixture.ledger.state).holders == ["q0": "alice"])
    }

    @Test("Two writers on one store never fork the chain and never grant a resource twice", arguments: Backend.allCases)
    func concurrentWriters(backend: Backend) async throws {
        let fixture = try await Fixture(backend)
        let second = try LedgerSigningKey(id: "realm-2")
        try await fixture.ledger.register(KeyRegistration(id: "realm-2", publicKey: second.publicKey, roles: [.realm]))
        let other = try await Ledger<Claims>(store: fixture.store, signer: second)

        // Both writers take claims from both clients for the same 20 resources, all at once.
        let resources = (0..<20).map { "r\($0)" }
        let granted = try await withThrowingTaskGroup(of: Bool.self) { group in
            for (index, resource) in resources.enumerated() {
                for (writer, ledger) in [fixture.ledger, other].enumerated() {
                    let key = writer == 0 ? fixture.alice : fixture.bob
                    let request = try fixture.request(key, resource, nonce: UInt64(index))
                    group.addTask {
                        do {
                            _ = try await ledger.submit(contract: "claims", kind: "claim", payload: request.body, request: request)
                            return true
                        } catch let error as LedgerError {
                            guard case .rejected = error else { throw error }
                            return false
                        }
                    }
                }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(granted == resources.count)
        try await fixture.ledger.catchUp()
        try await other.catchUp()
        let replayed = try await LedgerReplica<Claims>.replay(fixture.store)
        #expect(replayed.state.holders.count == resources.count)
        #expect(replayed.state.claimsApplied == resources.count)
        #expect(replayed.state == (await fixture.ledger.state))
        #expect(replayed.state == (await other.state))
        let report = try await LedgerVerifier.verify(fixture.store, state: Claims.self)
        #expect(report.isValid)
        #expect(report.verifiedEntries == Int64(4 + resources.count))
    }

    @Test("Sealed records: kept per scope outside the chain, replaced by key, seen by a second opening, removed by scope",
          arguments: Backend.allCases)
    func sealedRecords(backend: Backend) async throws {
        let name = "ledger_\(UInt32.random(in: 0...UInt32.max))"
        let store = try await backend.makeStore(shared: name)
        try await store.putSealed(scope: "auction/a", key: "bid/bob", value: Data("1".utf8))
        try await store.putSealed(scope: "auction/a", key: "bid/alice", value: Data("2".utf8))
        try await store.putSealed(scope: "auction/a", key: "bid/bob", value: Data("3".utf8))
        try await store.putSealed(scope: "auction/b", key: "ask/lab", value: Data([0, 255]))
        let other = try await backend.makeStore(shared: name)
        let a = try await other.sealed(scope: "auction/a")
        #expect(a.map(\.key) == ["bid/alice", "bid/bob"] && a.map(\.value) == [Data("2".utf8), Data("3".utf8)])
        #expect(try await store.head() == nil, "sealed records are not entries")
        try await other.removeSealed(scope: "auction/a")
        #expect(try await store.sealed(scope: "auction/a").isEmpty)
        #expect(try await store.sealed(scope: "auction/b").map(\.value) == [Data([0, 255])])
    }

    @Test("A writer whose clock runs backwards still writes non-decreasing timestamps", arguments: [Backend.sqlite])
    func monotoneTimestamps(backend: Backend) async throws {
        let ticks = Ticks(start: 2_000_000_000_000_000_000)
        let fixture = try await Fixture(backend, clock: { ticks.next(step: -1_000_000) })
        try await fixture.claim(fixture.alice, "q0", nonce: 1)
        try await fixture.claim(fixture.alice, "q1", nonce: 2)
        let entries = try await fixture.store.entries(from: 1, limit: 10)
        #expect(entries.count == 4)
        #expect(zip(entries, entries.dropFirst()).allSatisfy { $0.timestamp <= $1.timestamp })
    }

    @Test("Opening a ledger checks its genesis entry and the writer's key")
    func opening() async throws {
        let store = try await Backend.sqlite.makeStore()
        let authority = try LedgerSigningKey(id: "authority")
        await #expect { try await Ledger<Claims>(store: store, signer: authority) } throws: { error in
            guard case .genesis(let reason) = error as? LedgerError else { return false }
            return reason.contains("no genesis entry")
        }
        try await Ledger<Claims>.create(realm: "r", in: store, authority: authority)
        await #expect { try await Ledger<Claims>.create(realm: "r", in: store, authority: authority) } throws: { error in
            guard case .genesis(let reason) = error as? LedgerError else { return false }
            return reason.contains("already holds a ledger")
        }
        let stranger = try LedgerSigningKey(id: "stranger")
        await #expect { try await Ledger<Claims>(store: store, signer: stranger) } throws: { error in
            guard case .invalidKey(let source, let reason) = error as? LedgerError else { return false }
            return source == "stranger" && reason.contains("realm role")
        }
    }

    private func expectInvalidRequest(client: String, containing text: String,
                                      _ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) async {
        await #expect(sourceLocation: sourceLocation) { try await body() } throws: { error in
            guard case .invalidRequest(let found, let reason) = error as? LedgerError else { return false }
            return found == client && reason.contains(text)
        }
    }
}

/// A clock that steps by a fixed amount on every read.
final class Ticks: Sendable {
    private let counter: Mutex<Int64>
    init(start: Int64) { counter = Mutex(start) }
    func next(step: Int64) -> Timestamp {
        counter.withLock { value in
            value += step
            return Timestamp(nanosecondsSinceEpoch: value)
        }
    }
}

@Suite("The ledger under concurrent readers and writers")
struct LedgerConcurrencyTests {
    @Test("Catching up while groups commit never loses an applied entry from the state")
    func catchUpDuringCommits() async throws {
        let fixture = try await Fixture(.sqlite)
        // Claims from two clients, interleaved with catch-ups, all at once: every claim the ledger reports
        // stored must be in the state afterwards (a catch-up that replaced the state with an older copy lost them).
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<60 {
                group.addTask {
                    try await fixture.claim(index.isMultiple(of: 2) ? fixture.alice : fixture.bob, "r\(index)", nonce: UInt64(index))
                    let holders = await fixture.ledger.state.holders
                    #expect(holders["r\(index)"] != nil, "claim r\(index) was stored but is missing from the state")
                }
                group.addTask { try await fixture.ledger.catchUp() }
            }
            try await group.waitForAll()
        }
        #expect((await fixture.ledger.state).holders.count == 60)
        let replayed = try await LedgerReplica<Claims>.replay(fixture.store)
        #expect(replayed.state == (await fixture.ledger.state))
    }

    @Test("A group the store fails to take is undone: the state is what the store holds, and the next group commits")
    func failedAppendIsUndone() async throws {
        let store = FlakyStore(try await Backend.sqlite.makeStore())
        let authority = try LedgerSigningKey(id: "authority"), alice = try LedgerSigningKey(id: "alice")
        try await Ledger<Claims>.create(realm: "flaky", in: store, authority: authority)
        let ledger = try await Ledger<Claims>(store: store, signer: authority)
        try await ledger.register(KeyRegistration(id: "alice", publicKey: alice.publicKey, roles: [.client]))
        func claim(_ resource: String, _ nonce: UInt64) async throws {
            let request = try SignedRequest(signing: canonicalJSON(Claims.Claim(resource: resource)), nonce: nonce, with: alice)
            try await ledger.submit(contract: "claims", kind: "claim", payload: request.body, request: request)
        }
        try await claim("q0", 1)
        store.failNext.withLock { $0 = true }
        await #expect {
            try await claim("q1", 2)
        } throws: { error in
            guard case .storage(_, let operation, _) = error as? LedgerError else { return false }
            return operation == "appending"
        }
        // The refused group left no trace: q1 is free and its nonce unspent.
        #expect((await ledger.state).holders == ["q0": "alice"])
        try await claim("q1", 2)
        #expect((await ledger.state).holders == ["q0": "alice", "q1": "alice"])
        let replayed = try await LedgerReplica<Claims>.replay(store)
        #expect(replayed.state == (await ledger.state))
        #expect(try await LedgerVerifier.verify(store, state: Claims.self).isValid)
    }
}

/// A store that fails its next append when told to, as a database that goes away would.
final class FlakyStore: LedgerStore {
    let base: any LedgerStore
    let failNext = Mutex(false)

    init(_ base: any LedgerStore) { self.base = base }

    var backend: String { base.backend }
    func head() async throws(LedgerError) -> LedgerHead? { try await base.head() }
    func entries(from sequence: Int64, limit: Int) async throws(LedgerError) -> [LedgerEntry] {
        try await base.entries(from: sequence, limit: limit)
    }
    func putSealed(scope: String, key: String, value: Data) async throws(LedgerError) {
        try await base.putSealed(scope: scope, key: key, value: value)
    }
    func sealed(scope: String) async throws(LedgerError) -> [(key: String, value: Data)] { try await base.sealed(scope: scope) }
    func removeSealed(scope: String) async throws(LedgerError) { try await base.removeSealed(scope: scope) }
    func append(_ entries: [LedgerEntry], after head: LedgerHead?) async throws(LedgerError) {
        if failNext.withLock({ fail in defer { fail = false }; return fail }) {
            throw .storage(backend: backend, operation: "appending", reason: "the connection was lost")
        }
        try await base.append(entries, after: head)
    }
}
