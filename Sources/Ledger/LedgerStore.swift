import Foundation

/// The last entry of a chain: where the next one attaches.
public struct LedgerHead: Sendable, Hashable {
    public var sequence: Int64
    public var hash: Data

    public init(sequence: Int64, hash: Data) {
        self.sequence = sequence
        self.hash = hash
    }
}

/// Where a ledger's entries live. Appends are all-or-nothing and conditional on the head, so several
/// writers (realm processes on several machines) can share one store without ever forking the chain.
public protocol LedgerStore: Sendable {
    /// "sqlite <path>" or "postgresql <host>:<port>/<database>", for messages.
    var backend: String { get }
    /// The last entry, or nil for an empty ledger.
    func head() async throws(LedgerError) -> LedgerHead?
    /// Appends `entries` (consecutive, the first continuing `head`) in one transaction.
    /// Throws `.conflict` when the stored head is no longer `head`: another writer got there first.
    func append(_ entries: [LedgerEntry], after head: LedgerHead?) async throws(LedgerError)
    /// Up to `limit` entries from `sequence` on, in order.
    func entries(from sequence: Int64, limit: Int) async throws(LedgerError) -> [LedgerEntry]

    /// Sealed records: data the realm processes sharing this store hold for later, outside the chain and
    /// unseen by anyone who reads only the ledger (an auction's sealed bids until it closes). Stores
    /// `value` under `scope` and `key`, replacing what was there.
    func putSealed(scope: String, key: String, value: Data) async throws(LedgerError)
    /// The sealed records of `scope`, by key, in key order.
    func sealed(scope: String) async throws(LedgerError) -> [(key: String, value: Data)]
    /// Deletes the sealed records of `scope`.
    func removeSealed(scope: String) async throws(LedgerError)
}

extension LedgerStore {
    /// Every entry from `sequence` on, a page at a time.
    public func forEachEntry(from sequence: Int64 = 0, pageSize: Int = 2048,
                             _ body: (LedgerEntry) throws(LedgerError) -> Void) async throws(LedgerError) {
        var next = sequence
        while true {
            let page = try await entries(from: next, limit: pageSize)
            for entry in page { try body(entry) }
            guard page.count == pageSize, let last = page.last else { return }
            next = last.sequence + 1
        }
    }
}

/// The columns both SQL backends store, one row per entry.
enum LedgerColumns {
    static let names = "sequence, previous_hash, hash, timestamp_ns, contract, kind, payload, author, signature, request_client, request_nonce, request_body, request_signature"
}
