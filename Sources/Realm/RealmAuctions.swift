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
        let action = try await authorityAction(in: signed)
        guard case .openAuction(let notice) = action else {
            throw .badRequest("openAuction needs a signed {\"openAuction\": {…}} action")
        }
        try await record(.auctionOpened(notice), authorizedBy: signed, action: action)
        let wait = notice.closes.nanosecondsSinceEpoch - now().nanosecondsSinceEpoch
        Task {
            if wait > 0 { try? await Task.sleep(for: .nanoseconds(wait)) }
            _ = try? await self.closeAuction(notice.id)
        }
        return notice
    }

    /// Takes a sealed bid or ask: `signed` is the party's signed `ClientAction.bid`. The signature is checked
    /// now; the bid is kept unseen, as a sealed record in the ledger's store (outside the chain, so every
    /// realm process sharing the store, and this one after a restart, has it), and written to the ledger
    /// with that signature only when the auction closes. A later bid of the same party and side replaces
    /// the earlier one.
    public func bid(_ signed: SignedRequest) async throws(RealmError) -> SealedBidReceipt {
        let action = try Self.action(in: signed)
        guard case .bid(let id, let side, let amount) = action else {
            throw .badRequest("bid needs a signed {\"bid\": {\"auction\": …, \"side\": …, \"amount\": …}} action")
        }
        try await checkSignature(signed, role: .client)
        do { try await ledger.catchUp() } catch { throw RealmError(error) }
        guard let open = await ledger.state.allocation.openAuctions[id], !closingAuctions.contains(id) else {
            throw .allocation(.unknownAuction(id))
        }
        guard now() < open.notice.closes else { throw .allocation(.auctionClosed(auction: id, closes: open.notice.closes)) }
        guard amount >= 0 else { throw .allocation(.invalidEvent(reason: "\(signed.client) bid \(amount), below 0")) }
        guard side == .bid || open.notice.kind == .double else {
            throw .allocation(.invalidEvent(reason: "auction \(id) sells one item: it takes bids, not asks"))
        }
        do {
            try await ledger.store.putSealed(scope: Self.sealedScope(id), key: "\(side.rawValue)/\(signed.client)", value: canonicalJSON(signed))
        } catch { throw RealmError(error) }
        return SealedBidReceipt(auction: id, party: signed.client, side: side, closes: open.notice.closes)
    }

    /// Closes an auction at its closing time: `signed` is an authority's signed `ClientAction.closeAuction`.
    public func closeAuction(_ signed: SignedRequest) async throws(RealmError) -> AuctionRecord {
        let action = try await authorityAction(in: signed)
        guard case .closeAuction(let id) = action else {
            throw .badRequest("closeAuction needs a signed {\"closeAuction\": {\"auction\": …}} action")
        }
        return try await closeAuction(id, authorizedBy: signed, action: action)
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

    /// Writes the auction's sealed bids, each with its party's signature, then closes and clears it (the
    /// closing entry carrying `signed`, an authority's request, when there is one).
    func closeAuction(_ id: String, authorizedBy signed: SignedRequest? = nil, action: ClientAction? = nil) async throws(RealmError) -> AuctionRecord {
        guard let open = await ledger.state.allocation.openAuctions[id], closingAuctions.insert(id).inserted else {
            throw .allocation(.unknownAuction(id))
        }
        defer { closingAuctions.remove(id) }
        guard now() >= open.notice.closes else {
            throw .allocation(.invalidEvent(reason: "auction \(id) closes at \(open.notice.closes), not before"))
        }
        let scope = Self.sealedScope(id)
        let sealed: [(key: String, value: Data)]
        do { sealed = try await ledger.store.sealed(scope: scope) } catch { throw RealmError(error) }
        for (key, value) in sealed {
            // Each record is a signed bid this realm (or another process on the store) checked; one that no
            // longer decodes or verifies is left out, not the auction.
            guard let signed = try? JSONDecoder().decode(SignedRequest.self, from: value), let action = try? Self.action(in: signed),
                  case .bid(id, let side, let amount) = action, key == "\(side.rawValue)/\(signed.client)" else { continue }
            let event = AllocationEvent.bidSealed(auction: id, side: side, bid: SealedBid(party: signed.client, amount: amount))
            do {
                _ = try await submit(event, request: signed, action: action) { _ in () }
            } catch where error.code == .invalidRequest {
                // A revoked key, or a nonce used meanwhile (another process wrote this bid first).
            }
            // Any other failure leaves the sealed records in place for the next attempt to close.
        }
        let record = try await submit(.auctionClosed(auction: id), request: signed, action: action) { state in
            state.allocation.auctions.last { $0.id == id }
        }.value
        guard let record else { throw .badRequest("auction \(id) closed but cleared nothing") }
        // Written: the sealed copies go. (If this fails they linger unused; the auction is closed.)
        try? await ledger.store.removeSealed(scope: scope)
        return record
    }

    /// Where an auction's sealed bids are kept until it closes.
    static func sealedScope(_ auction: String) -> String { "auction/" + auction }

    /// The open auctions (with how many sealed bids and asks each holds) and the cleared ones.
    public func auctionBook() async throws(RealmError) -> AuctionBook {
        do { try await ledger.catchUp() } catch { throw RealmError(error) }
        let state = await ledger.state.allocation
        var open: [AuctionBook.Listing] = []
        for auction in state.openAuctions.values {
            let keys: [String]
            do { keys = try await ledger.store.sealed(scope: Self.sealedScope(auction.notice.id)).map(\.key) } catch { throw RealmError(error) }
            open.append(.init(notice: auction.notice, sealedBids: keys.count { $0.hasPrefix("bid/") }, sealedAsks: keys.count { $0.hasPrefix("ask/") }))
        }
        return AuctionBook(open: open, cleared: state.auctions)
    }
}
