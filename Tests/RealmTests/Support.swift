import Allocation
import Foundation
import Ledger
import Quantities
import Realm
import Testing

/// A realm on a fresh ledger, with clients alice and bob and two nodes of qubits.
struct RealmFixture {
    let store: any LedgerStore
    let authority: LedgerSigningKey
    let alice: LedgerSigningKey
    let bob: LedgerSigningKey
    let ledger: Ledger<RealmState>
    let realm: Realm

    init(postgres: Bool = false, nodes: [(id: String, qubits: Int, coherence: Duration)] = [("node-a", 4, .milliseconds(1)), ("node-b", 4, .microseconds(200))],
         clock: @escaping @Sendable () -> Timestamp = { .now() }) async throws {
        if postgres {
            guard let url = ProcessInfo.processInfo.environment["QRRM_TEST_POSTGRES_URL"], !url.isEmpty else {
                throw MissingPostgres()
            }
            store = try await PostgresLedgerStore(url: url, table: "realm_\(UInt32.random(in: 0...UInt32.max))")
        } else {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("qrrm-realm-tests")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            store = try SQLiteLedgerStore(path: directory.appendingPathComponent("\(UUID().uuidString).sqlite").path)
        }
        authority = try LedgerSigningKey(id: "realm-authority")
        alice = try LedgerSigningKey(id: "alice")
        bob = try LedgerSigningKey(id: "bob")
        try await Ledger<RealmState>.create(realm: "test-realm", in: store, authority: authority)
        ledger = try await Ledger<RealmState>(store: store, signer: authority, clock: clock)
        for client in [alice, bob] {
            try await ledger.register(KeyRegistration(id: client.id, publicKey: client.publicKey, roles: [.client]))
        }
        realm = Realm(ledger: ledger, clock: clock)
        for node in nodes {
            try await realm.record(.nodeAnnounced(Self.announcement(node.id, qubits: node.qubits, coherence: node.coherence)))
        }
    }

    static func announcement(_ node: String, qubits: Int, coherence: Duration, fidelity: Double = 0.998) -> NodeAnnouncement {
        NodeAnnouncement(node: node, location: "lab-\(node)", resources: (0..<qubits).map { index in
            AnnouncedResource(id: "\(node)/q\(index)", type: .qubit,
                              properties: ResourceProperties(coherenceTime: coherence, fidelity: fidelity, entanglementReady: true))
        })
    }

    func system(_ key: LedgerSigningKey) -> RealmSystem { RealmSystem(realm: realm, key: key) }

    struct MissingPostgres: Error, CustomStringConvertible {
        var description: String { "QRRM_TEST_POSTGRES_URL is not set: run the tests with `make test`" }
    }
}

/// Expects `body` to throw a `RealmError` with `code`.
func expectRealmError(_ code: RealmErrorCode, containing text: String? = nil, sourceLocation: SourceLocation = #_sourceLocation,
                      _ body: () async throws -> Void) async {
    await #expect(sourceLocation: sourceLocation) { try await body() } throws: { error in
        guard let error = error as? RealmError else { return false }
        return error.code == code && (text.map { error.description.contains($0) } ?? true)
    }
}
