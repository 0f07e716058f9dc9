import Quantities

/// A change to the allocation contract. The realm stores each one in the ledger with the time it was
/// applied at; replaying them in order rebuilds the state bit for bit.
public enum AllocationEvent: Codable, Equatable, Sendable {
    /// A node announced (or re-announced) its resources.
    case nodeAnnounced(NodeAnnouncement)
    /// Telemetry measured a resource's properties.
    case resourceObserved(resource: String, properties: ResourceProperties)
    /// A node stopped answering: its resources are lost.
    case nodeLost(node: String)
    /// A resource is taken out of service; its node must reset it.
    case retired(resource: String)
    /// The node reported that it reset a retired resource; for a qubit, with the excited population it then
    /// read with nothing driving it (the realm records the reset only once that is within the node's bound).
    case resetCompleted(resource: String, excitedPopulation: Double? = nil)
    /// A client accepted a quote.
    case confirmed(Quote)
    /// A party released an allocation.
    case released(allocation: String, by: String)
    /// A party shared an allocation with others; each grant replaces that party's earlier rights.
    case groupShared(allocation: String, by: String, grants: [PartyRights])
    /// A client's limit of resources held at once.
    case limitsSet(client: String, maxResources: Int)
    /// A program's quota per client and period (open access, education).
    case quotaSet(purpose: Purpose, qubitSeconds: Int64, periodSeconds: Int64)
    /// A client's fair-share shares (default 1).
    case sharesSet(client: String, shares: Int)
    /// A type's price in micro-credits per resource-second.
    case priceUpdated(type: ParticleType, microCreditsPerSecond: Int64)
    /// A node reported its cooling and control power draw.
    case powerReported(node: String, watts: Double)
    /// A sealed-bid auction was cleared; the contract computes its outcome from the bids.
    case auctionCleared(Auction)
    /// The realm opened an auction for sealed bids until its closing time.
    case auctionOpened(AuctionNotice)
    /// A party's sealed bid (or ask), written when the auction closes so that no bid is seen before then;
    /// it carries the party's signed `bid` action.
    case bidSealed(auction: String, side: BidSide, bid: SealedBid)
    /// The auction closed: the contract clears it from the bids written for it.
    case auctionClosed(auction: String)
}

/// The contract's fixed parameters, set when the realm is created.
public struct AllocationConfiguration: Codable, Equatable, Sendable {
    /// How long a quote may be confirmed.
    public var quoteLifetimeSeconds: Int64
    /// Resources a client may hold at once unless `limitsSet` says otherwise.
    public var defaultMaxResources: Int
    /// Price in micro-credits per resource-second until `priceUpdated` sets one.
    public var defaultPricePerSecond: Int64
    /// Half-life of past usage in the fair-share factor.
    public var usageHalfLifeSeconds: Int64
    /// Weights of the fair-share, priority-class and age factors in the scheduling priority.
    public var fairShareWeight: Double
    public var priorityWeight: Double
    public var ageWeight: Double
    /// The wait at which the age factor reaches 1.
    public var maxAgeSeconds: Int64
    /// The window of recent demand in dynamic pricing.
    public var demandWindowSeconds: Int64

    public init(
        quoteLifetimeSeconds: Int64 = 300, defaultMaxResources: Int = 10_000, defaultPricePerSecond: Int64 = 100,
        usageHalfLifeSeconds: Int64 = 7 * 86_400, fairShareWeight: Double = 1000, priorityWeight: Double = 1000,
        ageWeight: Double = 100, maxAgeSeconds: Int64 = 7 * 86_400, demandWindowSeconds: Int64 = 3600
    ) {
        self.quoteLifetimeSeconds = quoteLifetimeSeconds
        self.defaultMaxResources = defaultMaxResources
        self.defaultPricePerSecond = defaultPricePerSecond
        self.usageHalfLifeSeconds = usageHalfLifeSeconds
        self.fairShareWeight = fairShareWeight
        self.priorityWeight = priorityWeight
        self.ageWeight = ageWeight
        self.maxAgeSeconds = maxAgeSeconds
        self.demandWindowSeconds = demandWindowSeconds
    }
}

/// A program quota: each client may use `qubitSeconds` per period of `periodSeconds`, periods
/// counted from the Unix epoch.
public struct Quota: Codable, Equatable, Sendable {
    public var qubitSeconds: Int64
    public var periodSeconds: Int64
}

/// The offer `quote` returns: the resources, window and price the contract would grant. Confirming it
/// re-checks every term.
public struct Quote: Codable, Equatable, Sendable {
    /// "q-" and the FNV-1a hash of the content.
    public let id: String
    public let client: String
    public let request: AllocationRequest
    /// Resource ids, sorted.
    public let resources: [String]
    /// Node ids, sorted.
    public let nodes: [String]
    /// Micro-credits.
    public let price: Int64
    @RFC3339Coded public var issuedAt: Timestamp
    @RFC3339Coded public var start: Timestamp
    @RFC3339Coded public var end: Timestamp
    @RFC3339Coded public var expiry: Timestamp
    /// Allocations a critical request would preempt, sorted.
    public let preempts: [String]

    init(
        client: String, request: AllocationRequest, resources: [String], nodes: [String], price: Int64,
        issuedAt: Timestamp, start: Timestamp, end: Timestamp, expiry: Timestamp, preempts: [String]
    ) {
        self.client = client
        self.request = request
        self.resources = resources
        self.nodes = nodes
        self.price = price
        self.issuedAt = issuedAt
        self.start = start
        self.end = end
        self.expiry = expiry
        self.preempts = preempts
        self.id = "q-" + fnv1a(Self.canonicalText(client, request, resources, price, issuedAt, start, end, expiry, preempts))
    }

    /// Whether the id matches the content.
    var isIntact: Bool {
        id == "q-" + fnv1a(Self.canonicalText(client, request, resources, price, issuedAt, start, end, expiry, preempts))
    }

    private static func canonicalText(
        _ client: String, _ request: AllocationRequest, _ resources: [String], _ price: Int64, _ issuedAt: Timestamp,
        _ start: Timestamp, _ end: Timestamp, _ expiry: Timestamp, _ preempts: [String]
    ) -> String {
        [client, request.canonicalText, resources.joined(separator: ","), "\(price)", "\(issuedAt)", "\(start)",
         "\(end)", "\(expiry)", preempts.joined(separator: ",")].joined(separator: "|")
    }
}
