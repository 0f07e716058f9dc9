import Quantities

/// A sealed bid (or ask) of one party for one unit, in micro-credits.
public struct SealedBid: Codable, Equatable, Sendable {
    public var party: String
    public var amount: Int64

    public init(party: String, amount: Int64) {
        self.party = party
        self.amount = amount
    }
}

/// One unit changing hands. A double auction may charge the buyer more than the seller receives;
/// the difference goes to the market.
public struct Trade: Codable, Equatable, Sendable {
    public let buyer: String
    public let seller: String
    public let buyerPays: Int64
    public let sellerReceives: Int64

    public init(buyer: String, seller: String, buyerPays: Int64, sellerReceives: Int64) {
        self.buyer = buyer
        self.seller = seller
        self.buyerPays = buyerPays
        self.sellerReceives = sellerReceives
    }
}

/// A second-price (Vickrey) sealed-bid auction of one scarce item, e.g. a long-coherence qubit for a night.
/// Bidding one's true value is a dominant strategy.
public struct VickreyAuction: Codable, Equatable, Sendable {
    public var item: String
    public var seller: String
    /// The lowest price the seller accepts.
    public var reserve: Int64
    public var bids: [SealedBid]

    public init(item: String, seller: String, reserve: Int64, bids: [SealedBid]) {
        self.item = item
        self.seller = seller
        self.reserve = reserve
        self.bids = bids
    }

    /// The highest bid at or above the reserve wins (equal bids: the party whose name sorts first) and
    /// pays the larger of the second-highest bid and the reserve; nil when no bid reaches the reserve.
    public var outcome: Trade? {
        let ranked = bids.filter { $0.amount >= reserve }.sorted(by: descending)
        guard let winner = ranked.first else { return nil }
        let price = ranked.dropFirst().first.map { max($0.amount, reserve) } ?? reserve
        return Trade(buyer: winner.party, seller: seller, buyerPays: price, sellerReceives: price)
    }
}

/// McAfee's double auction: providers ask for capacity units, clients bid for them, one unit each. It is
/// truthful for both sides and never pays out more than it takes in.
public struct DoubleAuction: Codable, Equatable, Sendable {
    /// What one unit is, e.g. "qubit-hour".
    public var unit: String
    public var bids: [SealedBid]
    public var asks: [SealedBid]

    public init(unit: String, bids: [SealedBid], asks: [SealedBid]) {
        self.unit = unit
        self.bids = bids
        self.asks = asks
    }

    /// Bids sorted b₁ ≥ b₂ ≥ …, asks s₁ ≤ s₂ ≤ … (ties by party name); k is the largest index with
    /// b_k ≥ s_k. With p = ⌊(b_{k+1} + s_{k+1}) / 2⌋, if both exist and s_k ≤ p ≤ b_k the first k pairs
    /// trade at p; otherwise the first k − 1 pairs trade, buyers paying b_k and sellers receiving s_k.
    public var outcome: [Trade] {
        let b = bids.sorted(by: descending)
        let s = asks.sorted { $0.amount != $1.amount ? $0.amount < $1.amount : $0.party < $1.party }
        var k = 0
        while k < min(b.count, s.count), b[k].amount >= s[k].amount {
            k += 1
        }
        guard k > 0 else { return [] }
        if k < b.count, k < s.count {
            let p = (b[k].amount + s[k].amount) / 2
            if s[k - 1].amount <= p, p <= b[k - 1].amount {
                return (0..<k).map { Trade(buyer: b[$0].party, seller: s[$0].party, buyerPays: p, sellerReceives: p) }
            }
        }
        return (0..<(k - 1)).map {
            Trade(buyer: b[$0].party, seller: s[$0].party, buyerPays: b[k - 1].amount, sellerReceives: s[k - 1].amount)
        }
    }
}

/// Highest amount first, ties by party name.
private func descending(_ x: SealedBid, _ y: SealedBid) -> Bool {
    x.amount != y.amount ? x.amount > y.amount : x.party < y.party
}

/// A cleared auction, as stored in the ledger: the sealed bids, from which the contract computes the trades.
public enum Auction: Codable, Equatable, Sendable {
    case vickrey(VickreyAuction)
    case double(DoubleAuction)

    /// The trades its rules give.
    public var trades: [Trade] {
        switch self {
        case .vickrey(let auction): auction.outcome.map { [$0] } ?? []
        case .double(let auction): auction.outcome
        }
    }

    /// Throws unless amounts are non-negative and no party bids twice on one side.
    func validate() throws(AllocationError) {
        let sides: [[SealedBid]]
        switch self {
        case .vickrey(let auction):
            guard auction.reserve >= 0 else { throw .invalidEvent(reason: "the reserve \(auction.reserve) is negative") }
            sides = [auction.bids]
        case .double(let auction):
            sides = [auction.bids, auction.asks]
        }
        for side in sides {
            var parties: Set<String> = []
            for bid in side {
                guard bid.amount >= 0 else { throw .invalidEvent(reason: "\(bid.party) bid \(bid.amount), below 0") }
                guard parties.insert(bid.party).inserted else { throw .invalidEvent(reason: "\(bid.party) bid twice") }
            }
        }
    }
}

/// An auction cleared by the contract and the trades it gave.
public struct AuctionRecord: Codable, Equatable, Sendable {
    /// The id it was opened under (`auctionOpened`); nil for one cleared at once (`auctionCleared`).
    public let id: String?
    @RFC3339Coded public var at: Timestamp
    public let auction: Auction
    public let trades: [Trade]
}

extension AllocationState {
    /// Records the auction's trades and settles them: buyers pay, sellers receive, the market keeps the rest.
    mutating func clear(_ auction: Auction, id: String? = nil) throws(AllocationError) {
        try auction.validate()
        let trades = auction.trades
        for trade in trades {
            balances[trade.buyer, default: 0] -= trade.buyerPays
            balances[trade.seller, default: 0] += trade.sellerReceives
            if trade.buyerPays != trade.sellerReceives {
                balances[Self.marketAccount, default: 0] += trade.buyerPays - trade.sellerReceives
            }
        }
        auctions.append(AuctionRecord(id: id, at: clock, auction: auction, trades: trades))
    }

    /// The balance that collects a double auction's budget surplus.
    public static let marketAccount = "market"

    /// The price per resource-second for `type` that utilisation and demand suggest at `time`:
    ///
    ///     price = ⌊base × (1000 + u + d / 2) / 1000⌋
    ///
    /// where, per mille of the type's resources in service (available or degraded), u is how many are held
    /// at `time` and d, capped at 2000, how many were granted by allocations confirmed in the last demand
    /// window. An idle type costs `base`; a fully held one with demand for twice its capacity, 3 × `base`.
    /// The realm applies the result with `.priceUpdated`.
    public func suggestedPrice(for type: ParticleType, base: Int64, at time: Timestamp) -> Int64 {
        let capacity = resources.values.count { $0.type == type && ($0.status == .available || $0.status == .degraded) }
        guard capacity > 0 else { return base }
        let windowStart = time.adding(nanoseconds: -configuration.demandWindowSeconds * 1_000_000_000)
        var held = 0
        var demanded = 0
        for allocation in allocations {
            let ofType = allocation.meters.filter { $0.type == type }
            held += ofType.count { $0.from <= time && time < $0.until }
            if allocation.confirmedAt > windowStart, allocation.confirmedAt <= time {
                demanded += ofType.count
            }
        }
        let utilisation = Int128(1000 * held / capacity)
        let demand = Int128(min(2000, 1000 * demanded / capacity))
        return Int64(clamping: Int128(base) * (1000 + utilisation + demand / 2) / 1000)
    }
}

/// An auction the realm opens for sealed bids until `closes`: a second-price sale of one item by `seller`
/// at no less than `reserve`, or a double auction of units of `item` that providers ask for.
public struct AuctionNotice: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable {
        case vickrey, double
    }

    public var id: String
    public var kind: Kind
    /// The item sold (Vickrey), or what one unit is (double), e.g. "qubit-hour".
    public var item: String
    /// Who sells the item (Vickrey only).
    public var seller: String?
    /// The least the seller accepts (Vickrey only), micro-credits.
    public var reserve: Int64
    @RFC3339Coded public var closes: Timestamp

    public init(id: String, kind: Kind, item: String, seller: String? = nil, reserve: Int64 = 0, closes: Timestamp) {
        self.id = id
        self.kind = kind
        self.item = item
        self.seller = seller
        self.reserve = reserve
        self.closes = closes
    }
}

/// Which side of an auction a sealed amount is on: a buyer's bid or a provider's ask (double auctions).
public enum BidSide: String, Codable, Sendable, Comparable {
    case bid, ask

    public static func < (a: BidSide, b: BidSide) -> Bool { a.rawValue < b.rawValue }
}

/// An open auction and the sealed bids written for it so far.
public struct OpenAuction: Codable, Equatable, Sendable {
    public let notice: AuctionNotice
    public internal(set) var bids: [SealedBid] = []
    public internal(set) var asks: [SealedBid] = []

    /// The auction its rules clear.
    var auction: Auction {
        switch notice.kind {
        case .vickrey: .vickrey(VickreyAuction(item: notice.item, seller: notice.seller ?? "", reserve: notice.reserve, bids: bids))
        case .double: .double(DoubleAuction(unit: notice.item, bids: bids, asks: asks))
        }
    }
}

extension AllocationState {
    /// Opens `notice` for bids; its id must be new, and a Vickrey sale needs a seller and a reserve ≥ 0.
    mutating func open(_ notice: AuctionNotice) throws(AllocationError) {
        guard !notice.id.isEmpty, openAuctions[notice.id] == nil, !auctions.contains(where: { $0.id == notice.id }) else {
            throw .invalidEvent(reason: "auction id \"\(notice.id)\" is empty or already used")
        }
        guard notice.closes > clock else { throw .auctionClosed(auction: notice.id, closes: notice.closes) }
        if notice.kind == .vickrey {
            guard let seller = notice.seller, !seller.isEmpty, notice.reserve >= 0 else {
                throw .invalidEvent(reason: "a Vickrey auction needs a seller and a reserve of 0 or more")
            }
        }
        openAuctions[notice.id] = OpenAuction(notice: notice)
    }

    /// Adds a party's sealed amount to an open auction: one per party and side, asks only in double auctions.
    mutating func seal(_ bid: SealedBid, side: BidSide, in id: String) throws(AllocationError) {
        guard var open = openAuctions[id] else { throw .unknownAuction(id) }
        guard bid.amount >= 0 else { throw .invalidEvent(reason: "\(bid.party) bid \(bid.amount), below 0") }
        guard side == .bid || open.notice.kind == .double else {
            throw .invalidEvent(reason: "auction \(id) sells one item: it takes bids, not asks")
        }
        guard !(side == .bid ? open.bids : open.asks).contains(where: { $0.party == bid.party }) else {
            throw .invalidEvent(reason: "\(bid.party) already has a sealed \(side.rawValue) in auction \(id)")
        }
        if side == .bid { open.bids.append(bid) } else { open.asks.append(bid) }
        openAuctions[id] = open
    }

    /// Closes an open auction, no earlier than its closing time, and clears it.
    mutating func close(_ id: String) throws(AllocationError) {
        guard let open = openAuctions[id] else { throw .unknownAuction(id) }
        guard clock >= open.notice.closes else {
            throw .invalidEvent(reason: "auction \(id) closes at \(open.notice.closes), not before")
        }
        try clear(open.auction, id: id)
        openAuctions[id] = nil
    }
}
