import Allocation
import Ledger

/// What a realm call can fail with: the contract's refusal, the ledger's, or the way to the realm or a node.
public enum RealmError: Error, Sendable, CustomStringConvertible {
    /// The allocation contract refused: impossible properties, over the limit, an expired reservation, …
    case allocation(AllocationError)
    /// The ledger refused or failed: a bad signature, an unknown key, storage.
    case ledger(LedgerError)
    /// No quote `id` is open at this realm (never issued here, confirmed already, or expired).
    case unknownQuote(String)
    /// The realm could not be reached, or answered something that is not the realm protocol.
    case transport(endpoint: String, reason: String)
    /// A node's command endpoint refused or failed.
    case node(node: String, reason: String)
    /// A malformed request: names the field.
    case badRequest(String)
    /// An error a realm reported over the wire.
    case remote(code: RealmErrorCode, message: String)

    public var description: String {
        switch self {
        case .allocation(let error): error.description
        case .ledger(let error): error.description
        case .unknownQuote(let id): "no open quote \(id) at this realm: confirm a quote from the realm that issued it, before it expires"
        case .transport(let endpoint, let reason): "realm at \(endpoint): \(reason)"
        case .node(let node, let reason): "node \(node): \(reason)"
        case .badRequest(let reason): "bad request: \(reason)"
        case .remote(_, let message): message
        }
    }

    /// A ledger error as the realm reports it: the contract's own refusal when it is one.
    init(_ error: LedgerError) {
        if case .rejected(_, _, let reason) = error, let refusal = reason as? RealmRefusal, case .allocation(let allocation) = refusal {
            self = .allocation(allocation)
        } else {
            self = .ledger(error)
        }
    }
}
