import Allocation
import Foundation
import Ledger

/// A request to a realm: one JSON object per ZeroMQ message,
/// `{"id": "7", "op": "quote", "client": "alice", "request": {…}}`,
/// `{"id": "8", "op": "confirm", "signed": {"client": "alice", "nonce": 1, "body": …, "signature": …}}`.
/// The marketplace: `bid` (a party's signed `ClientAction.bid`), `openAuction` and `closeAuction` (an
/// authority's signed action), and `auctions` (the open and cleared auctions). `retire`: an authority's
/// signed action that takes a resource out of service.
public struct RealmRequest: Codable, Sendable {
    public enum Operation: String, Codable, Sendable {
        case quote, confirm, allocate, release, share, allocation, status
        case bid, openAuction, closeAuction, auctions, retire
    }

    public var id: String
    public var op: Operation
    /// For quote: who asks (a registered client key).
    public var client: String?
    /// For quote.
    public var request: AllocationRequest?
    /// For confirm, allocate, release, share, bid, openAuction and closeAuction: the signed `ClientAction`.
    public var signed: SignedRequest?
    /// For allocation: its id.
    public var allocation: String?

    public init(id: String, op: Operation, client: String? = nil, request: AllocationRequest? = nil,
                signed: SignedRequest? = nil, allocation: String? = nil) {
        self.id = id
        self.op = op
        self.client = client
        self.request = request
        self.signed = signed
        self.allocation = allocation
    }
}

/// The answer: `{"id": "7", "ok": true, "quote": {…}}` or `{"id": "7", "ok": false, "error": {"code": "overLimit", "message": "…"}}`.
public struct RealmReply: Codable, Sendable {
    public var id: String
    public var ok: Bool
    public var quote: Quote?
    public var allocation: Allocation?
    public var status: RealmStatus?
    /// For bid.
    public var receipt: SealedBidReceipt?
    /// For retire: the sequence number of the ledger entry that retired the resource.
    public var sequence: Int64?
    /// For openAuction.
    public var notice: AuctionNotice?
    /// For closeAuction.
    public var cleared: AuctionRecord?
    /// For auctions.
    public var auctions: AuctionBook?
    public var error: RemoteError?

    public struct RemoteError: Codable, Sendable, Equatable {
        public var code: RealmErrorCode
        public var message: String
    }
}

/// What a realm holds, for `qrrm realm status`.
public struct RealmStatus: Codable, Sendable, Equatable {
    public struct NodeSummary: Codable, Sendable, Equatable {
        public var id: String
        public var location: String
        public var resources: Int
        public var available: Int
        public var allocated: Int
        public var degraded: Int
        public var lost: Int
        public var retired: Int
    }

    public var realm: String?
    /// The ledger's last entry.
    public var ledgerHead: Int64
    public var nodes: [NodeSummary]
    public var liveAllocations: Int
    public var totalAllocations: Int
    /// Each particle type's price per resource-second, in micro-credits, by type name.
    public var prices: [String: Int64]
}

/// The kind of a realm error, the same in-process and over the wire, for programs to switch on.
public enum RealmErrorCode: String, Codable, Sendable {
    case invalidProperty, impossibleProperties, insufficientResources, unavailable, overLimit, overQuota
    case reservationExpired, quoteExpired, quoteMismatch, unknownAllocation, unknownResource, unknownNode
    case notPermitted, alreadyGranted, allocationEnded, invalidEvent, unknownAuction, auctionClosed
    /// A bad signature, an unknown or revoked key, a reused nonce.
    case invalidRequest
    /// The ledger's storage or chain failed.
    case ledger
    case unknownQuote, transport, node, badRequest
}

extension RealmError {
    public var code: RealmErrorCode {
        switch self {
        case .allocation(let error):
            switch error {
            case .invalidProperty: .invalidProperty
            case .impossibleProperties: .impossibleProperties
            case .insufficientResources: .insufficientResources
            case .unavailable: .unavailable
            case .overLimit: .overLimit
            case .overQuota: .overQuota
            case .reservationExpired: .reservationExpired
            case .quoteExpired: .quoteExpired
            case .quoteMismatch: .quoteMismatch
            case .unknownAllocation: .unknownAllocation
            case .unknownResource: .unknownResource
            case .unknownNode: .unknownNode
            case .notPermitted: .notPermitted
            case .alreadyGranted: .alreadyGranted
            case .allocationEnded: .allocationEnded
            case .unknownAuction: .unknownAuction
            case .auctionClosed: .auctionClosed
            default: .invalidEvent
            }
        case .ledger(let error):
            if case .invalidRequest = error { .invalidRequest } else { .ledger }
        case .unknownQuote: .unknownQuote
        case .transport: .transport
        case .node: .node
        case .badRequest: .badRequest
        case .remote(let code, _): code
        }
    }
}

extension Realm {
    /// Answers one request: the same code serves in-process callers and `qrrm realm serve`.
    public func handle(_ request: RealmRequest) async -> RealmReply {
        var reply = RealmReply(id: request.id, ok: true)
        do throws(RealmError) {
            switch request.op {
            case .quote:
                guard let client = request.client, let allocationRequest = request.request else {
                    throw .badRequest("quote needs \"client\" and \"request\"")
                }
                reply.quote = try await quote(allocationRequest, client: client)
            case .confirm, .allocate, .release, .share:
                guard let signed = request.signed else { throw .badRequest("\(request.op.rawValue) needs \"signed\", the client's signed action") }
                reply.allocation = switch request.op {
                case .confirm: try await confirm(signed)
                case .allocate: try await allocate(signed)
                case .release: try await release(signed)
                default: try await share(signed)
                }
            case .allocation:
                guard let id = request.allocation else { throw .badRequest("allocation needs \"allocation\", its id") }
                reply.allocation = try await allocation(id)
            case .status:
                reply.status = try await status()
            case .bid, .openAuction, .closeAuction, .retire:
                guard let signed = request.signed else { throw .badRequest("\(request.op.rawValue) needs \"signed\", the signed action") }
                switch request.op {
                case .bid: reply.receipt = try await bid(signed)
                case .openAuction: reply.notice = try await openAuction(signed)
                case .retire: reply.sequence = try await retire(signed).sequence
                default: reply.cleared = try await closeAuction(signed)
                }
            case .auctions:
                reply.auctions = try await auctionBook()
            }
        } catch {
            reply = RealmReply(id: request.id, ok: false, error: .init(code: error.code, message: error.description))
        }
        return reply
    }

    /// The realm's nodes and allocations.
    public func status() async throws(RealmError) -> RealmStatus {
        do { try await ledger.catchUp() } catch { throw RealmError(error) }
        let state = await ledger.state.allocation
        let nodes = state.nodes.values.map { node in
            let statuses = state.resources.values.filter { $0.node == node.id }.map { (try? state.status(of: $0.id)) ?? .lost }
            return RealmStatus.NodeSummary(
                id: node.id, location: node.location, resources: statuses.count,
                available: statuses.filter { $0 == .available }.count, allocated: statuses.filter { $0 == .allocated }.count,
                degraded: statuses.filter { $0 == .degraded }.count, lost: statuses.filter { $0 == .lost }.count,
                retired: statuses.filter { $0 == .retired }.count)
        }
        return RealmStatus(realm: await ledger.realmName, ledgerHead: await ledger.head?.sequence ?? -1, nodes: nodes,
                           liveAllocations: state.allocations.filter { $0.status.isLive }.count,
                           totalAllocations: state.allocations.count,
                           prices: Dictionary(uniqueKeysWithValues: state.inventoryPrices.map { ($0.key.description, $0.value) }))
    }
}
