import Foundation
import Ledger
import Quantities
import Testing

/// A small contract for testing the ledger itself: named resources claimed once and released.
struct Claims: LedgerState, Equatable {
    struct Claim: Codable { var resource: String }

    enum Refusal: Error, Equatable, CustomStringConvertible {
        case alreadyClaimed(String, by: String)
        case notClaimed(String)
        case unknownKind(String)
        case noRequest

        var description: String {
            switch self {
            case .alreadyClaimed(let resource, let holder): "\(resource) is already claimed by \(holder)"
            case .notClaimed(let resource): "\(resource) is not claimed"
            case .unknownKind(let kind): "no entry kind \(kind)"
            case .noRequest: "a claim needs a client request"
            }
        }
    }

    /// Resource → client holding it.
    var holders: [String: String] = [:]
    var claimsApplied = 0

    mutating func apply(_ entry: LedgerEntry, keys: KeyRegistry) throws(Refusal) {
        guard let client = entry.request?.client else { throw .noRequest }
        guard let claim = try? JSONDecoder().decode(Claim.self, from: entry.payload) else { throw .unknownKind(entry.kind) }
        switch entry.kind {
        case "claim":
            if let holder = holders[claim.resource] { throw .alreadyClaimed(claim.resource, by: holder) }
            holders[claim.resource] = client
            claimsApplied += 1
        case "release":
            guard holders[claim.resource] == client else { throw .notClaimed(claim.resource) }
            holders[claim.resource] = nil
        default:
            throw .unknownKind(entry.kind)
        }
    }
}

/// The two storage backends, as the tests open them.
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, postgresql

    var testDescription: String { rawValue }

    /// A fresh, empty store; `shared` names it so a second writer can open the same one.
    func makeStore(shared name: String = "ledger_\(UInt32.random(in: 0...UInt32.max))") async throws -> any LedgerStore {
        switch self {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("qrrm-ledger-tests")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            return try SQLiteLedgerStore(path: directory.appendingPathComponent("\(name).sqlite").path)
        case .postgresql:
            return try await PostgresLedgerStore(url: try Self.postgresURL(), table: name)
        }
    }

    /// `QRRM_TEST_POSTGRES_URL`, which `make test` sets after starting a local server (Tests/support/postgres.sh).
    static func postgresURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["QRRM_TEST_POSTGRES_URL"], !url.isEmpty else {
            throw MissingServer()
        }
        return url
    }

    struct MissingServer: Error, CustomStringConvertible {
        var description: String {
            "QRRM_TEST_POSTGRES_URL is not set: run the tests with `make test`, which starts PostgreSQL (Tests/support/postgres.sh)"
        }
    }
}

/// A realm with an authority (which also writes) and two registered clients.
struct Fixture {
    let store: any LedgerStore
    let authority: LedgerSigningKey
    let alice: LedgerSigningKey
    let bob: LedgerSigningKey
    let ledger: Ledger<Claims>

    init(_ backend: Backend, storeName: String? = nil, clock: @escaping @Sendable () -> Timestamp = { .now() }) async throws {
        if let storeName {
            store = try await backend.makeStore(shared: storeName)
        } else {
            store = try await backend.makeStore()
        }
        authority = try LedgerSigningKey(id: "authority")
        alice = try LedgerSigningKey(id: "alice")
        bob = try LedgerSigningKey(id: "bob")
        try await Ledger<Claims>.create(realm: "test-realm", in: store, authority: authority)
        ledger = try await Ledger<Claims>(store: store, signer: authority, clock: clock)
        try await ledger.register(KeyRegistration(id: "alice", publicKey: alice.publicKey, roles: [.client]))
        try await ledger.register(KeyRegistration(id: "bob", publicKey: bob.publicKey, roles: [.client]))
    }

    func request(_ key: LedgerSigningKey, _ resource: String, nonce: UInt64) throws -> SignedRequest {
        try SignedRequest(signing: canonicalJSON(Claims.Claim(resource: resource)), nonce: nonce, with: key)
    }

    @discardableResult
    func claim(_ key: LedgerSigningKey, _ resource: String, nonce: UInt64, kind: String = "claim") async throws -> LedgerEntry {
        let request = try request(key, resource, nonce: nonce)
        return try await ledger.submit(contract: "claims", kind: kind, payload: request.body, request: request)
    }
}
