import Foundation

/// A key registered in the ledger, with its roles.
public struct KeyRegistration: Sendable, Hashable, Codable {
    public var id: String
    public var publicKey: LedgerPublicKey
    public var roles: [Role]
    /// Set by a `key.revoke` entry: the key signs nothing after it.
    public var revoked: Bool

    public init(id: String, publicKey: LedgerPublicKey, roles: [Role], revoked: Bool = false) {
        self.id = id
        self.publicKey = publicKey
        self.roles = roles.sorted()
        self.revoked = revoked
    }

    public func has(_ role: Role) -> Bool { !revoked && roles.contains(role) }
}

/// The ledger's own contract ("ledger"): the genesis entry, then keys registered and revoked by an
/// authority. Replaying it gives every key that may sign, and every client nonce already used.
public struct KeyRegistry: Sendable, Equatable {
    public static let contract = "ledger"

    /// The genesis entry's payload: the realm's name and its first authority, which signs the entry itself.
    public struct Genesis: Codable, Sendable, Equatable {
        public var realm: String
        public var authority: KeyRegistration
    }

    /// The payload of `key.revoke`.
    public struct Revocation: Codable, Sendable, Equatable {
        public var id: String
    }

    public private(set) var realm: String?
    private var keys: [String: KeyRegistration] = [:]
    /// The hash of the last entry that changed a key: equal hashes, equal registrations.
    public private(set) var lastChange: Data?
    private var usedNonces: [String: Set<UInt64>] = [:]

    public init() {}

    /// The registration of key `id`, revoked or not.
    public func registration(_ id: String) -> KeyRegistration? { keys[id] }

    /// Every registration, by id.
    public var registrations: [KeyRegistration] { keys.keys.sorted().map { keys[$0]! } }

    /// Checks that `author` may write an entry of `contract` and that `signature` is its signature over `hash`.
    func checkAuthor(_ entry: LedgerEntry, verifySignature: Bool) throws(LedgerError) {
        guard let key = keys[entry.author] else {
            throw .invalidEntry(sequence: entry.sequence, reason: "its author \"\(entry.author)\" is not a registered key")
        }
        let role: Role = entry.contract == Self.contract ? .authority : .realm
        guard key.has(role) else {
            throw .invalidEntry(sequence: entry.sequence,
                                reason: "its author \"\(entry.author)\" \(key.revoked ? "was revoked" : "lacks the \(role) role") and may not write \(entry.contract) entries")
        }
        // An unsigned entry is covered by the signature on the last entry of its group (LedgerReplica checks that).
        guard !verifySignature || entry.signature.isEmpty || key.publicKey.isValidSignature(entry.signature, for: entry.hash) else {
            throw .invalidEntry(sequence: entry.sequence, reason: "its signature is not \"\(entry.author)\"'s ML-DSA-65 signature of its hash")
        }
    }

    /// Checks a client request: a registered client key, a valid signature, a nonce not used before.
    public func checkRequest(_ request: SignedRequest, verifySignature: Bool = true) throws(LedgerError) {
        guard let key = keys[request.client] else {
            throw .invalidRequest(client: request.client, reason: "no such key is registered")
        }
        // Clients act for themselves; an authority's signed actions (retiring a resource, opening an
        // auction) ride in entries too. Each contract decides which actions need which role.
        guard key.has(.client) || key.has(.authority) else {
            throw .invalidRequest(client: request.client, reason: key.revoked ? "its key was revoked" : "its key lacks the client role")
        }
        guard !verifySignature || key.publicKey.isValidSignature(request.signature, for: request.digest) else {
            throw .invalidRequest(client: request.client, reason: "the signature does not verify against its registered ML-DSA-65 key")
        }
        guard usedNonces[request.client]?.contains(request.nonce) != true else {
            throw .invalidRequest(client: request.client, reason: "nonce \(request.nonce) was already used (a replayed request)")
        }
    }

    /// What an entry changes in the registry, once every contract has accepted it.
    enum Change {
        case none
        case genesis(Genesis)
        case register(KeyRegistration)
        case revoke(String)
    }

    /// Checks an entry of any contract: its author and signature, its client request, and for the ledger's
    /// own entries the key it registers or revokes. Changes nothing; `commit` does.
    func validate(_ entry: LedgerEntry, verifySignatures: Bool) throws(LedgerError) -> Change {
        if entry.sequence == 0 { return try validateGenesis(entry) }
        try checkAuthor(entry, verifySignature: verifySignatures)
        if let request = entry.request {
            do { try checkRequest(request, verifySignature: verifySignatures) } catch {
                throw .invalidEntry(sequence: entry.sequence, reason: error.description)
            }
        }
        guard entry.contract == Self.contract else { return .none }
        switch entry.kind {
        case "key.register":
            let registration = try entry.decodePayload(KeyRegistration.self)
            guard keys[registration.id] == nil else {
                throw .invalidEntry(sequence: entry.sequence, reason: "key \"\(registration.id)\" is already registered")
            }
            guard !registration.revoked, !registration.roles.isEmpty else {
                throw .invalidEntry(sequence: entry.sequence, reason: "key \"\(registration.id)\" is registered with no roles, or revoked")
            }
            return .register(registration)
        case "key.revoke":
            let revocation = try entry.decodePayload(Revocation.self)
            guard keys[revocation.id] != nil else {
                throw .invalidEntry(sequence: entry.sequence, reason: "key \"\(revocation.id)\" is not registered")
            }
            return .revoke(revocation.id)
        default:
            throw .invalidEntry(sequence: entry.sequence, reason: "the ledger contract has no entry kind \"\(entry.kind)\"")
        }
    }

    /// Records what `validate` accepted: the request's nonce, and the key change.
    mutating func commit(_ change: Change, of entry: LedgerEntry) {
        if let request = entry.request {
            usedNonces[request.client, default: []].insert(request.nonce)
        }
        if case .none = change {} else { lastChange = entry.hash }
        switch change {
        case .none: break
        case .genesis(let genesis):
            realm = genesis.realm
            keys[genesis.authority.id] = genesis.authority
        case .register(let registration): keys[registration.id] = registration
        case .revoke(let id): keys[id]?.revoked = true
        }
    }

    private func validateGenesis(_ entry: LedgerEntry) throws(LedgerError) -> Change {
        guard entry.contract == Self.contract, entry.kind == "genesis", entry.previousHash == LedgerEntry.zeroHash else {
            throw .invalidEntry(sequence: 0, reason: "the first entry must be the ledger's genesis entry, found \(entry.contract) \(entry.kind)")
        }
        let genesis = try entry.decodePayload(Genesis.self)
        guard genesis.authority.id == entry.author, genesis.authority.has(.authority) else {
            throw .invalidEntry(sequence: 0, reason: "the genesis entry must register its own author \"\(entry.author)\" with the authority role")
        }
        guard genesis.authority.publicKey.isValidSignature(entry.signature, for: entry.hash) else {
            throw .invalidEntry(sequence: 0, reason: "its signature is not \"\(entry.author)\"'s ML-DSA-65 signature of its hash")
        }
        return .genesis(genesis)
    }
}
