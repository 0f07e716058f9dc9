import Allocation
import Foundation
import Ledger

/// What a client signs: the action it takes on the allocation contract. The realm carries the signed
/// action inside the entry that applies it, so the log alone proves each client asked for what it got.
public enum ClientAction: Codable, Equatable, Sendable {
    /// Accept quote `quote` as offered.
    case confirm(quote: String)
    /// Quote and confirm in one step, for whatever the realm offers for `request` at no more than
    /// `maxPrice` micro-credits: an action a client can sign before it has a quote.
    case allocate(request: AllocationRequest, maxPrice: Int64)
    /// End allocation `allocation` (the holder, or a party with the release right).
    case release(allocation: String)
    /// Share allocation `allocation` with other parties.
    case share(allocation: String, grants: [PartyRights])
    /// A sealed bid (or, from a provider in a double auction, an ask) of `amount` micro-credits in auction
    /// `auction`. The realm keeps it unseen until the auction closes, then writes it with this signature.
    case bid(auction: String, side: BidSide, amount: Int64)
    /// Open an auction (a key with the authority role).
    case openAuction(AuctionNotice)
    /// Close an auction at or after its closing time (a key with the authority role).
    case closeAuction(auction: String)
    /// Take a resource out of service for good; its node resets it (a key with the authority role).
    case retire(resource: String)

    /// The canonical JSON the client signs.
    public var body: Data { canonicalJSON(self) }
}

/// Why the realm's replayed state refuses an entry.
public enum RealmRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    /// The allocation contract's own refusal.
    case allocation(AllocationError)
    /// The entry is not an allocation event, or its signed request does not match it.
    case malformed(String)

    public var description: String {
        switch self {
        case .allocation(let error): error.description
        case .malformed(let reason): reason
        }
    }
}

/// The realm's contracts, replayed from its ledger: the allocation contract now; state tracking, the
/// entanglement network and decoherence prevention hang off the same state later.
public struct RealmState: LedgerState, Equatable {
    public static let allocationContract = "allocation"

    public private(set) var allocation = AllocationState()

    public init() {}

    /// What the realm holds decoded when it submits an entry: the event its payload encodes, and the
    /// client's action its request's body encodes.
    public struct Prepared: Sendable {
        public var event: AllocationEvent
        public var action: ClientAction?

        public init(event: AllocationEvent, action: ClientAction?) {
            self.event = event
            self.action = action
        }
    }

    /// Applies an allocation event. Client actions (confirm, release, share, sealed bids) must carry the
    /// client's signed request for exactly that action. Retiring a resource, opening and closing an auction
    /// may carry an authority's signed request for exactly that action (or none: the realm's own decision,
    /// such as closing an auction on time). Everything else (node announcements and losses, observations,
    /// limits, prices) is the realm's own and carries none.
    public mutating func apply(_ entry: LedgerEntry, keys: KeyRegistry) throws(RealmRefusal) {
        try checkContract(entry)
        let event: AllocationEvent
        do { event = try JSONDecoder().decode(AllocationEvent.self, from: entry.payload) } catch {
            throw .malformed("entry \(entry.sequence): its payload is not an allocation event: \(error)")
        }
        try apply(entry, event: event, action: entry.request.flatMap { try? JSONDecoder().decode(ClientAction.self, from: $0.body) },
                  keys: keys)
    }

    /// Applies an entry the realm has just submitted, with the event and action it encoded the entry from.
    public mutating func apply(_ entry: LedgerEntry, keys: KeyRegistry, prepared: Prepared) throws(RealmRefusal) {
        try checkContract(entry)
        assert((try? JSONDecoder().decode(AllocationEvent.self, from: entry.payload)) == prepared.event
               && entry.request.flatMap { try? JSONDecoder().decode(ClientAction.self, from: $0.body) } == prepared.action,
               "entry \(entry.sequence) was prepared from other values than it encodes")
        try apply(entry, event: prepared.event, action: entry.request == nil ? nil : prepared.action, keys: keys)
    }

    private func checkContract(_ entry: LedgerEntry) throws(RealmRefusal) {
        guard entry.contract == Self.allocationContract else {
            throw .malformed("entry \(entry.sequence): no contract \"\(entry.contract)\" in this realm")
        }
    }

    /// Applies `event`, which `entry` carries, checking it against `action`, the decoded body of the
    /// entry's signed request (nil when it has none, or when that is not a client action).
    private mutating func apply(_ entry: LedgerEntry, event: AllocationEvent, action: ClientAction?,
                                keys: KeyRegistry) throws(RealmRefusal) {
        if let authorized = Self.authorityAction(for: event) {
            if let request = entry.request {
                guard keys.registration(request.client)?.has(.authority) == true, action == authorized else {
                    throw .malformed("entry \(entry.sequence): \(entry.kind) carries a request that is not an authority's signed \(entry.kind)")
                }
            }
            do { try allocation.apply(event, at: entry.timestamp) } catch { throw .allocation(error) }
            return
        }
        let expected: (client: String, action: ClientAction)?
        switch event {
        case .confirmed(let quote):
            // Either the client confirmed this very quote, or signed a one-step allocate it fits.
            if let request = entry.request, case .allocate(let asked, let maxPrice)? = action {
                guard request.client == quote.client, asked == quote.request, quote.price <= maxPrice else {
                    throw .malformed("entry \(entry.sequence): the quote does not fit the allocate request \(request.client) signed")
                }
                expected = nil
                break
            }
            expected = (quote.client, .confirm(quote: quote.id))
        case .released(let id, let party): expected = (party, .release(allocation: id))
        case .groupShared(let id, let party, let grants): expected = (party, .share(allocation: id, grants: grants))
        case .bidSealed(let auction, let side, let bid): expected = (bid.party, .bid(auction: auction, side: side, amount: bid.amount))
        default: expected = nil
        }
        let isOneStepAllocate: Bool
        if case .confirmed = event, expected == nil { isOneStepAllocate = true } else { isOneStepAllocate = false }
        switch (expected, entry.request) {
        case (nil, nil): break
        case (nil, .some) where isOneStepAllocate: break
        case (nil, .some(let request)):
            throw .malformed("entry \(entry.sequence): \(entry.kind) is the realm's own event, but carries a request from \(request.client)")
        case (.some(let expected), nil):
            throw .malformed("entry \(entry.sequence): \(entry.kind) needs \(expected.client)'s signed request, and carries none")
        case (.some(let expected), .some(let request)):
            guard request.client == expected.client, action == expected.action else {
                throw .malformed("entry \(entry.sequence): \(entry.kind) does not match the request \(request.client) signed")
            }
        }
        do { try allocation.apply(event, at: entry.timestamp) } catch { throw .allocation(error) }
    }
}

extension RealmState {
    /// The authority's action that may stand behind `event`, for the events an authority decides.
    static func authorityAction(for event: AllocationEvent) -> ClientAction? {
        switch event {
        case .retired(let resource): .retire(resource: resource)
        case .auctionOpened(let notice): .openAuction(notice)
        case .auctionClosed(let auction): .closeAuction(auction: auction)
        default: nil
        }
    }
}

extension AllocationEvent {
    /// The entry kind: "allocation." and the event's case.
    var kind: String {
        let name: String = switch self {
        case .nodeAnnounced: "nodeAnnounced"
        case .resourceObserved: "resourceObserved"
        case .nodeLost: "nodeLost"
        case .retired: "retired"
        case .resetCompleted: "resetCompleted"
        case .confirmed: "confirmed"
        case .released: "released"
        case .groupShared: "groupShared"
        case .limitsSet: "limitsSet"
        case .quotaSet: "quotaSet"
        case .sharesSet: "sharesSet"
        case .priceUpdated: "priceUpdated"
        case .powerReported: "powerReported"
        case .auctionCleared: "auctionCleared"
        case .auctionOpened: "auctionOpened"
        case .bidSealed: "bidSealed"
        case .auctionClosed: "auctionClosed"
        }
        return "allocation." + name
    }
}
