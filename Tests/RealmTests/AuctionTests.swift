import Allocation
import Foundation
import Ledger
import Quantities
import Realm
import Synchronization
import Testing

@Suite("The marketplace over the wire: sealed bids, kept unseen until the auction closes and clears")
struct AuctionTests {
    /// The wall clock plus an offset the test moves forward: auctions close an hour out, whatever the load.
    final class Clock: Sendable {
        private let offset = Mutex<Int64>(0)
        func now() -> Timestamp { Timestamp(nanosecondsSinceEpoch: Timestamp.now().nanosecondsSinceEpoch + offset.withLock { $0 }) }
        func advance(hours: Int64) { offset.withLock { $0 += hours * 3_600_000_000_000 } }
    }

    /// Polls `condition` every 50 ms for up to `seconds`.
    func eventually(_ seconds: Double, _ condition: () async throws -> Bool) async rethrows -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if try await condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return try await condition()
    }

    @Test("A second-price auction over ZeroMQ: bids stay sealed, the highest wins at the second price, the ledger proves it")
    func vickreyOverTheWire() async throws {
        let clock = Clock()
        let fixture = try await RealmFixture(clock: clock.now)
        let carol = try LedgerSigningKey(id: "carol")
        try await fixture.ledger.register(KeyRegistration(id: carol.id, publicKey: carol.publicKey, roles: [.client]))
        let server = try RealmServer(realm: fixture.realm, endpoint: "tcp://127.0.0.1:*", security: .plaintext)
        defer { server.stop() }
        let operator_ = try RealmSystem(endpoint: server.endpoint, key: fixture.authority)
        let alice = try RealmSystem(endpoint: server.endpoint, key: fixture.alice)
        let bob = try RealmSystem(endpoint: server.endpoint, key: fixture.bob)
        let carolSystem = try RealmSystem(endpoint: server.endpoint, key: carol)

        let closes = Timestamp(nanosecondsSinceEpoch: clock.now().nanosecondsSinceEpoch + 3_600_000_000_000)
        let notice = AuctionNotice(id: "night-q3", kind: .vickrey, item: "node-a/q3, 22:00–06:00", seller: "node-a-lab", reserve: 100, closes: closes)
        await expectRealmError(.invalidRequest, containing: "authority") { try await alice.openAuction(notice) }
        try await operator_.openAuction(notice)
        await expectRealmError(.invalidEvent, containing: "already used") { try await operator_.openAuction(notice) }

        let receipt = try await alice.bid(500, in: "night-q3")
        #expect(receipt.auction == "night-q3" && receipt.party == "alice" && receipt.side == .bid && receipt.closes == closes)
        try await bob.bid(300, in: "night-q3")
        try await bob.bid(350, in: "night-q3")  // replaces bob's first bid
        try await carolSystem.bid(50, in: "night-q3")  // below the reserve
        await expectRealmError(.invalidEvent, containing: "not asks") { try await bob.bid(10, in: "night-q3", side: .ask) }
        await expectRealmError(.invalidEvent, containing: "below 0") { try await bob.bid(-1, in: "night-q3") }
        await expectRealmError(.unknownAuction) { try await bob.bid(10, in: "no-such-auction") }
        await expectRealmError(.invalidEvent, containing: "not before") { _ = try await operator_.closeAuction("night-q3") }

        // Sealed: nothing of the bids is in the ledger, which anyone may read, before the auction closes.
        let open = try await bob.auctions()
        #expect(open.open.map(\.notice) == [notice] && open.open.first?.sealedBids == 3 && open.cleared.isEmpty)
        #expect(try await fixture.store.entries(from: 0, limit: 10_000).allSatisfy { $0.kind != "allocation.bidSealed" })

        // At its closing time the authority closes it (`qrrm realm serve` does, every second).
        clock.advance(hours: 2)
        let record = try await operator_.closeAuction("night-q3")
        #expect(try await bob.auctions().cleared == [record])
        #expect(record.id == "night-q3")
        #expect(record.trades == [Trade(buyer: "alice", seller: "node-a-lab", buyerPays: 350, sellerReceives: 350)])
        let state = await fixture.realm.state
        #expect(state.balances["alice"] == -350 && state.balances["node-a-lab"] == 350 && state.openAuctions.keys.isEmpty)
        await expectRealmError(.unknownAuction) { try await alice.bid(900, in: "night-q3") }

        // Each sealed bid is an entry carrying its party's signature; a replay gives the same state (once the
        // closing group is stored: the writer applies a group before it stores it); all verifies.
        #expect(try await eventually(30) {
            try await LedgerReplica<RealmState>.replay(fixture.store).state == (await fixture.ledger.state)
        })
        let sealed = try await fixture.store.entries(from: 0, limit: 10_000).filter { $0.kind == "allocation.bidSealed" }
        #expect(sealed.compactMap(\.request?.client) == ["alice", "bob", "carol"])
        #expect(try await LedgerVerifier.verify(fixture.store, state: RealmState.self).isValid)
    }

    @Test("Sealed bids outlive the realm process that took them, and another process on the store writes them at the close")
    func sealedBidsAreShared() async throws {
        let clock = Clock()
        let fixture = try await RealmFixture(clock: clock.now)
        try await fixture.system(fixture.authority).openAuction(AuctionNotice(
            id: "spare-q1", kind: .vickrey, item: "node-a/q1", seller: "lab", reserve: 5,
            closes: Timestamp(nanosecondsSinceEpoch: clock.now().nanosecondsSinceEpoch + 3_600_000_000_000)))
        try await fixture.system(fixture.alice).bid(40, in: "spare-q1")
        // A second realm process on the same store (or this one restarted) takes Bob's bid and sees both.
        let second = Realm(ledger: try await Ledger<RealmState>(store: fixture.store, signer: fixture.authority, clock: clock.now), clock: clock.now)
        try await RealmSystem(realm: second, key: fixture.bob).bid(30, in: "spare-q1")
        #expect(try await second.auctionBook().open.first?.sealedBids == 2)
        clock.advance(hours: 2)
        let record = try #require(try await second.closeDueAuctions().first)
        #expect(record.trades == [Trade(buyer: "alice", seller: "lab", buyerPays: 30, sellerReceives: 30)])
        #expect(try await fixture.store.sealed(scope: "auction/spare-q1").isEmpty)
        // The first process, catching up, finds nothing left to close.
        #expect(try await fixture.realm.closeDueAuctions().isEmpty)
        #expect(try await LedgerVerifier.verify(fixture.store, state: RealmState.self).isValid)
    }

    @Test("An authority's open, close and retire ride in the ledger with its signature, once; a client's cannot")
    func authoritySignaturesAreKept() async throws {
        let clock = Clock()
        let fixture = try await RealmFixture(clock: clock.now)
        let authority = fixture.system(fixture.authority)
        try await authority.openAuction(AuctionNotice(id: "a1", kind: .double, item: "qubit-hour",
                                                     closes: Timestamp(nanosecondsSinceEpoch: clock.now().nanosecondsSinceEpoch + 3_600_000_000_000)))
        try await authority.retire("node-b/q3")
        clock.advance(hours: 2)
        _ = try await authority.closeAuction("a1")
        let entries = try await fixture.store.entries(from: 0, limit: 10_000)
        for kind in ["allocation.auctionOpened", "allocation.retired", "allocation.auctionClosed"] {
            #expect(entries.first { $0.kind == kind }?.request?.client == "realm-authority", "\(kind)")
        }
        // The same signed action again: its nonce is spent.
        let signed = try SignedRequest(signing: ClientAction.retire(resource: "node-b/q2").body, nonce: 7, with: fixture.authority)
        _ = try await fixture.realm.retire(signed)
        await expectRealmError(.invalidRequest, containing: "already used") { _ = try await fixture.realm.retire(signed) }
        // A client's signed retire is refused by the realm, and by the contract if written anyway.
        let alices = try SignedRequest(signing: ClientAction.retire(resource: "node-b/q1").body, nonce: 1, with: fixture.alice)
        await expectRealmError(.invalidRequest, containing: "authority role") { _ = try await fixture.realm.retire(alices) }
        await #expect(throws: LedgerError.self) {
            try await fixture.ledger.submit(contract: RealmState.allocationContract, kind: "allocation.retired",
                                            payload: canonicalJSON(AllocationEvent.retired(resource: "node-b/q1")), request: alices)
        }
        #expect(await fixture.realm.state.resources["node-b/q1"]?.status != .retired)
        #expect(try await LedgerVerifier.verify(fixture.store, state: RealmState.self).isValid)
    }

    @Test("A double auction: providers ask, clients bid, McAfee's rule trades at one price")
    func doubleAuction() async throws {
        let clock = Clock()
        let fixture = try await RealmFixture(clock: clock.now)
        var systems: [String: RealmSystem] = ["alice": fixture.system(fixture.alice), "bob": fixture.system(fixture.bob)]
        for name in ["carol", "lab-1", "lab-2", "lab-3"] {
            let key = try LedgerSigningKey(id: name)
            try await fixture.ledger.register(KeyRegistration(id: name, publicKey: key.publicKey, roles: [.client]))
            systems[name] = fixture.system(key)
        }
        let authority = fixture.system(fixture.authority)
        try await authority.openAuction(AuctionNotice(id: "qubit-hours", kind: .double, item: "qubit-hour",
                                                     closes: Timestamp(nanosecondsSinceEpoch: clock.now().nanosecondsSinceEpoch + 3_600_000_000_000)))
        // Bids 10, 8, 6; asks 3, 5, 9: k = 2, p = ⌊(6 + 9) / 2⌋ = 7 lies in [5, 8], so two units trade at 7.
        for (party, amount) in [("alice", 10), ("bob", 8), ("carol", 6)] { try await systems[party]!.bid(Int64(amount), in: "qubit-hours") }
        for (party, amount) in [("lab-1", 3), ("lab-2", 5), ("lab-3", 9)] {
            try await systems[party]!.bid(Int64(amount), in: "qubit-hours", side: .ask)
        }
        #expect(try await fixture.realm.closeDueAuctions().isEmpty)
        clock.advance(hours: 2)
        let record = try #require(try await fixture.realm.closeDueAuctions().first)
        #expect(try await authority.auctions().cleared == [record])
        #expect(record.trades == [Trade(buyer: "alice", seller: "lab-1", buyerPays: 7, sellerReceives: 7),
                                  Trade(buyer: "bob", seller: "lab-2", buyerPays: 7, sellerReceives: 7)])
    }
}
