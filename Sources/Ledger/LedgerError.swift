/// What went wrong with a ledger: a broken chain, a bad signature, a rejected entry, or the storage underneath.
public enum LedgerError: Error, Sendable, CustomStringConvertible {
    /// The storage backend failed: `backend` is "sqlite <path>" or "postgresql <host>", `operation` what we were doing.
    case storage(backend: String, operation: String, reason: String)
    /// Another writer appended first; the caller catches up and tries again.
    case conflict(expectedHead: Int64?, found: Int64?)
    /// Entry `sequence` does not verify: its hash, its link to the previous entry, its signer or its signature.
    case invalidEntry(sequence: Int64, reason: String)
    /// A client request does not verify: unknown or revoked key, wrong role, bad signature or a reused nonce.
    case invalidRequest(client: String, reason: String)
    /// A contract refused the entry; `reason` is the contract's own typed error.
    case rejected(contract: String, kind: String, reason: any Error & Sendable)
    /// A key file or key text is malformed.
    case invalidKey(source: String, reason: String)
    /// The ledger has no genesis entry yet, or it was asked to create one twice.
    case genesis(String)

    public var description: String {
        switch self {
        case .storage(let backend, let operation, let reason): "ledger on \(backend): \(operation): \(reason)"
        case .conflict(let expected, let found):
            "ledger: another writer appended first (expected the head at \(expected.map(String.init) ?? "none"), found \(found.map(String.init) ?? "none"))"
        case .invalidEntry(let sequence, let reason): "ledger entry \(sequence): \(reason)"
        case .invalidRequest(let client, let reason): "request from client \"\(client)\": \(reason)"
        case .rejected(let contract, let kind, let reason): "\(contract) contract rejected \(kind): \(reason)"
        case .invalidKey(let source, let reason): "key \(source): \(reason)"
        case .genesis(let reason): "ledger genesis: \(reason)"
        }
    }
}
