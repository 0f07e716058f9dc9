import Allocation
import Foundation
import Ledger
import Quantities

/// What a bidder gets back for a sealed bid: the bid is held, unseen, until the auction closes.
public struct SealedBidReceipt: Codable, Sendable, Equatable {
    public var auction: String
    public var party: String
    public var side: BidSide
    @RFC3339Coded public var closes: Timestamp
}

/// The realm's auctions: those open for bids (with how many sealed bids each holds so far) and those cleared.
public struct AuctionBook: Codable, Sendable, Equatable {
    public struct Listing: Codable, Sendable, Equatable {
        public var notice: AuctionNotice
        public var sealedBids: Int
        public var sealedAsks: Int
    }

    public var open: [Listing]
    public var cleared: [AuctionRecord]
}

extension Realm {
    /// Opens an auction: `signed` is an authority's signed `ClientAction.openAuction`. It closes itself at its
    /// closing time (and `closeDueAuctions` closes any whose timer a restart lost).
    public func openAuction(_ signed: SignedRequest) async throws(RealmError) -> AuctionNotice {
        guard case .openAuction(let notice) = try await authorityAction(in: signed) else {
            throw .badRequest("openAuction needs a signed {\"openAuction\": {…}} action")
        }
        try await record(.auctionOpened(notice))
        let wait = notice.closes.nanosecondsSinceEpoch - now().nanosecondsSinceEpoch
        Task {
            if wait > 0 { try? await Task.sleep(for: .nanoseconds(wait)) }
            _ = try? await self.closeAuction(notice.id)
        }
        return notice
    }

    /// Takes a sealed bid or ask: `signed` is the party's signed `ClientAction.bid`. The signature is checked
    /// now; the bid is kept here, unseen, and written to the ledger (with that signature) only when the
    /// auction closes. A later bid of the same party and side replaces the earlier one.
    public func bid(_ signed: SignedRequest) async throws(RealmError) -> SealedBidReceipt {
        let action = try Self.action(in: signed)
        guard case .bid(let id, let side, let amount) = action else {
            throw .badRequest("bid needs a signed {\"bid\": {\"auction\": …, \"side\": …, \"amount\": …}} action")
        }
        try await checkSignature(signed, role: .client)
        guard let open = await ledger.state.allocation.openAuctions[id], !closingAuctions.contains(id) else {
            throw .allocation(.unknownAuction(id))
        }
        guard now() < open.notice.closes else { throw .allocation(.auctionClosed(auction: id, closes: open.notice.closes)) }
        guard amount >= 0 else { throw .allocation(.invalidEvent(reason: "\(signed.client) bid \(amount), below 0")) }
        guard side == .bid || open.notice.kind == .double else {
            throw .allocation(.invalidEvent(reason: "auction \(id) sells one item: it takes bids, not asks"))
        }
        sealedBids[id, default: [:]][SealedKey(side: side, party: signed.client)] = SealedEntry(signed: signed, action: action, amount: amount)
        return SealedBidReceipt(auction: id, party: signed.client, side: side, closes: open.notice.closes)
    }

    /// Closes an auction at its closing time: `signed` is an authority's signed `ClientAction.closeAuction`.
    public func closeAuction(_ signed: SignedRequest) async throws(RealmError) -> AuctionRecord {
        guard case .closeAuction(let id) = try await authorityAction(in: signed) else {
            throw .badRequest("closeAuction needs a signed {\"closeAuction\": {\"auction\": …}} action")
        }
        return try await closeAuction(id)
    }

    /// Closes every open auction whose closing time has passed; returns what they cleared.
    @discardableResult
    public func closeDueAuctions() async throws(RealmError) -> [AuctionRecord] {
        do { try await ledger.catchUp() } catch { throw RealmError(error) }
        let due = await ledger.state.allocation.openAuctions.values.filter { $0.notice.closes <= now() }.map(\.notice.id)
        var records: [AuctionRecord] = []
        for id in due {
            // Another realm process (or this one's timer) may have closed it meanwhile.
            do { records.append(try await closeAuction(id)) } catch {
                if case .allocation(.unknownAuction) = error { continue }
                throw error
            }
        }
        return records
    }

    /// Writes the auction's sealed bids, each with its party's signature, then closes and clears it.
    func closeAuction(_ id: String) async throws(RealmError) -> AuctionRecord {
        guard let open = await ledger.state.allocation.openAuctions[id], closingAuctions.insert(id).inserted else {
            throw .allocation(.unknownAuction(id))
        }
        defer { closingAuctions.remove(id) }
        guard now() >= open.notice.closes else {
            throw .allocation(.invalidEvent(reason: "auction \(id) closes at \(open.notice.closes), not before"))
        }
        var sealed = (sealedBids.removeValue(forKey: id) ?? [:]).sorted { ($0.key.side, $0.key.party) < ($1.key.side, $1.key.party) }
        while let (key, entry) = sealed.first {
            let event = AllocationEvent.bidSealed(auction: id, side: key.side, bid: SealedBid(party: key.party, amount: entry.amount))
            do {
                _ = try await submit(event, request: entry.signed, action: entry.action) { _ in () }
            } catch where error.code == .invalidRequest {
                // A bid whose key was revoked or whose nonce was used meanwhile is left out, not the auction.
            } catch {
                // The ledger failed: keep the bids not yet written for the next attempt to close.
                sealedBids[id, default: [:]].merge(sealed.map { ($0.key, $0.value) }) { kept, _ in kept }
                throw error
            }
            sealed.removeFirst()
        }
        let record = try await submit(.auctionClosed(auction: id), request: nil, action: nil) { state in
            state.allocation.auctions.last { $0.id == id }
        }.value
        guard let record else { throw .badRequest("auction \(id) closed but cleared nothing") }
        return record
    }

    /// The open auctions and the cleared ones.
    public func auctionBook() async throws(RealmError) -> AuctionBook {
        do { try await ledger.catchUp() } catch { throw RealmError(error) }
        let state = await ledger.state.allocation
        return AuctionBook(
            open: state.openAuctions.values.map { open in
                let sealed = sealedBids[open.notice.id]?.keys ?? [:].keys
                return .init(notice: open.notice, sealedBids: sealed.count { $0.side == .bid }, sealedAsks: sealed.count { $0.side == .ask })
            },
            cleared: state.auctions)
    }
}

/// One party's sealed amount on one side of an auction.
struct SealedKey: Hashable, Sendable {
    var side: BidSide
    var party: String
}

struct SealedEntry: Sendable {
    var signed: SignedRequest
    var action: ClientAction
    var amount: Int64
}
