import Quantities

/// Why the contract refused a request, a quote or an event. Each case names what was wrong.
public enum AllocationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A request field could not be read or is out of range.
    case invalidProperty(key: String, value: String, reason: String)
    /// Fewer resources of the type than requested exist, announced, that could ever meet the minimums.
    case impossibleProperties(type: ParticleType, requested: Int, capable: Int, minimums: String)
    /// Enough resources could meet the minimums, but too few are in service and measure up now.
    case insufficientResources(type: ParticleType, requested: Int, eligible: Int)
    /// One resource of a quote can no longer be granted.
    case unavailable(resource: String, reason: String)
    /// The client would hold more resources at once than its limit allows.
    case overLimit(client: String, limit: Int, requested: Int)
    /// The client's program quota for the period would be exceeded (qubit-seconds).
    case overQuota(client: String, purpose: Purpose, quota: Int64, requested: Int64)
    /// The requested reservation time has already passed.
    case reservationExpired(reservationTime: Timestamp, now: Timestamp)
    /// The quote was confirmed after its expiry.
    case quoteExpired(quote: String, expiry: Timestamp, now: Timestamp)
    /// The quote's content does not match its id, or its terms no longer hold.
    case quoteMismatch(quote: String, reason: String)
    case unknownAllocation(String)
    case unknownResource(String)
    case unknownNode(String)
    /// The party lacks the right on the allocation.
    case notPermitted(party: String, right: Right, allocation: String)
    /// The resource is granted to the allocation for an overlapping window.
    case alreadyGranted(resource: String, allocation: String)
    /// The allocation has already ended.
    case allocationEnded(allocation: String, status: AllocationStatus)
    /// A resource id is announced by a second node.
    case conflictingAnnouncement(resource: String, node: String, owner: String)
    /// The resource has no reset pending.
    case noPendingReset(resource: String)
    /// An event is older than the state it would be applied to.
    case outOfOrder(eventTime: Timestamp, stateTime: Timestamp)
    /// A value in an event is out of range.
    case invalidEvent(reason: String)
    /// No auction of that id is open for bids.
    case unknownAuction(String)
    /// The auction stopped taking bids at `closes`.
    case auctionClosed(auction: String, closes: Timestamp)

    public var description: String {
        switch self {
        case .invalidProperty(let key, let value, let reason):
            "The request's \(key) \"\(value)\" is invalid: \(reason)"
        case .impossibleProperties(let type, let requested, let capable, let minimums):
            "The request asks for \(requested) \(type) resources with \(minimums), but only \(capable) in the inventory can ever meet that."
        case .insufficientResources(let type, let requested, let eligible):
            "The request asks for \(requested) \(type) resources, but only \(eligible) are in service and meet its minimums now."
        case .unavailable(let resource, let reason):
            "Resource \(resource) cannot be granted: \(reason)."
        case .overLimit(let client, let limit, let requested):
            "Client \(client) would hold \(requested) resources at once, over its limit of \(limit)."
        case .overQuota(let client, let purpose, let quota, let requested):
            "Client \(client) would use \(requested) qubit-seconds of \(purpose.rawValue) time this period, over its quota of \(quota)."
        case .reservationExpired(let reservationTime, let now):
            "The reservation time \(reservationTime) has passed (it is now \(now))."
        case .quoteExpired(let quote, let expiry, let now):
            "Quote \(quote) expired at \(expiry) and was confirmed at \(now); ask for a new quote."
        case .quoteMismatch(let quote, let reason):
            "Quote \(quote) cannot be confirmed: \(reason)."
        case .unknownAllocation(let id):
            "There is no allocation \(id)."
        case .unknownResource(let id):
            "There is no resource \(id)."
        case .unknownNode(let id):
            "There is no node \(id)."
        case .notPermitted(let party, let right, let allocation):
            "\(party) does not have the right to \(right.rawValue) allocation \(allocation)."
        case .alreadyGranted(let resource, let allocation):
            "Resource \(resource) is already granted to \(allocation) for an overlapping time."
        case .allocationEnded(let allocation, let status):
            "Allocation \(allocation) has already ended (\(status.rawValue))."
        case .conflictingAnnouncement(let resource, let node, let owner):
            "Node \(node) announces resource \(resource), which belongs to node \(owner)."
        case .noPendingReset(let resource):
            "Resource \(resource) has no reset pending."
        case .outOfOrder(let eventTime, let stateTime):
            "An event at \(eventTime) cannot follow the state's last event at \(stateTime)."
        case .invalidEvent(let reason):
            "The event is invalid: \(reason)."
        case .unknownAuction(let id):
            "No auction \(id) is open for bids."
        case .auctionClosed(let id, let closes):
            "Auction \(id) stopped taking bids at \(closes)."
        }
    }
}
