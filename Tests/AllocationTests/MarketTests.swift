import Allocation
import Quantities
import Testing

func bids(_ amounts: [Int64], prefix: String) -> [SealedBid] {
    amounts.enumerated().map { SealedBid(party: "\(prefix)\($0.offset + 1)", amount: $0.element) }
}

@Suite("Marketplace")
struct MarketTests {
    @Test("Vickrey: the highest bid wins and pays the second-highest bid or the reserve")
    func vickrey() {
        let three = [SealedBid(party: "a", amount: 100), SealedBid(party: "b", amount: 80), SealedBid(party: "c", amount: 120)]
        func auction(_ reserve: Int64, _ bids: [SealedBid]) -> Trade? {
            VickreyAuction(item: "nodeB/q0 overnight", seller: "nodeB", reserve: reserve, bids: bids).outcome
        }
        #expect(auction(50, three) == Trade(buyer: "c", seller: "nodeB", buyerPays: 100, sellerReceives: 100))
        #expect(auction(110, three) == Trade(buyer: "c", seller: "nodeB", buyerPays: 110, sellerReceives: 110))
        #expect(auction(130, three) == nil)
        #expect(auction(50, [SealedBid(party: "a", amount: 70)])?.buyerPays == 50)
        // Equal highest bids: the name that sorts first wins, at that same price.
        let tie = [SealedBid(party: "b", amount: 100), SealedBid(party: "a", amount: 100), SealedBid(party: "c", amount: 10)]
        #expect(auction(0, tie) == Trade(buyer: "a", seller: "nodeB", buyerPays: 100, sellerReceives: 100))
    }

    @Test("Vickrey is truthful: no misreport gains, in an exhaustive small check")
    func vickreyTruthful() {
        for reserve: Int64 in [0, 3] {
            for value: Int64 in 0...8 {
                for x: Int64 in 0...8 {
                    for y: Int64 in 0...8 {
                        func utility(_ bid: Int64) -> Int64 {
                            let bids = [SealedBid(party: "me", amount: bid), SealedBid(party: "x", amount: x),
                                        SealedBid(party: "y", amount: y)]
                            let trade = VickreyAuction(item: "i", seller: "s", reserve: reserve, bids: bids).outcome
                            return trade?.buyer == "me" ? value - trade!.buyerPays : 0
                        }
                        let truthful = utility(value)
                        for misreport: Int64 in 0...10 where utility(misreport) > truthful {
                            Issue.record("value \(value) vs \(x), \(y), reserve \(reserve): bidding \(misreport) gains")
                        }
                    }
                }
            }
        }
    }

    @Test("McAfee: k pairs trade at p when s_k ≤ p ≤ b_k")
    func mcAfeeAtMidpoint() {
        let auction = DoubleAuction(unit: "qubit-hour", bids: bids([4, 10, 6, 8], prefix: "b"), asks: bids([8, 2, 9, 5], prefix: "s"))
        // Sorted: bids 10 8 6 4, asks 2 5 8 9; k = 2 (6 < 8); p = (6 + 8) / 2 = 7, and 5 ≤ 7 ≤ 8.
        #expect(auction.outcome == [
            Trade(buyer: "b2", seller: "s2", buyerPays: 7, sellerReceives: 7),
            Trade(buyer: "b4", seller: "s4", buyerPays: 7, sellerReceives: 7),
        ])
    }

    @Test("McAfee: otherwise k − 1 pairs trade, buyers paying b_k and sellers receiving s_k")
    func mcAfeeReduced() {
        // bids 10 9 3, asks 1 2 20: k = 2, p = (3 + 20) / 2 = 11 > b₂ = 9.
        let auction = DoubleAuction(unit: "qubit-hour", bids: bids([10, 9, 3], prefix: "b"), asks: bids([1, 2, 20], prefix: "s"))
        #expect(auction.outcome == [Trade(buyer: "b1", seller: "s1", buyerPays: 9, sellerReceives: 2)])
        // No (k+1)-th bid: the reduced rule applies as well.
        let short = DoubleAuction(unit: "u", bids: bids([10, 9], prefix: "b"), asks: bids([1, 2, 3], prefix: "s"))
        #expect(short.outcome == [Trade(buyer: "b1", seller: "s1", buyerPays: 9, sellerReceives: 2)])
        #expect(DoubleAuction(unit: "u", bids: bids([1], prefix: "b"), asks: bids([5], prefix: "s")).outcome.isEmpty)
    }

    @Test("McAfee is truthful for buyers and sellers, individually rational and budget-balanced (exhaustive, small)")
    func mcAfeeTruthful() {
        let range: ClosedRange<Int64> = 0...6
        for value in range {
            for b2 in range {
                for b3 in range {
                    for s1 in range {
                        for s2 in range {
                            let others = [SealedBid(party: "x", amount: b2), SealedBid(party: "y", amount: b3)]
                            let asks = [SealedBid(party: "s", amount: s1), SealedBid(party: "t", amount: s2)]
                            func buyerUtility(_ bid: Int64) -> Int64 {
                                let trades = DoubleAuction(unit: "u", bids: others + [SealedBid(party: "me", amount: bid)], asks: asks).outcome
                                return trades.first { $0.buyer == "me" }.map { value - $0.buyerPays } ?? 0
                            }
                            func sellerUtility(_ ask: Int64) -> Int64 {
                                let trades = DoubleAuction(unit: "u", bids: others + [SealedBid(party: "b", amount: s2)],
                                                           asks: [asks[0], SealedBid(party: "me", amount: ask)]).outcome
                                return trades.first { $0.seller == "me" }.map { $0.sellerReceives - value } ?? 0
                            }
                            let (buyer, seller) = (buyerUtility(value), sellerUtility(value))
                            #expect(buyer >= 0 && seller >= 0)
                            for misreport in 0...Int64(8) {
                                if buyerUtility(misreport) > buyer {
                                    Issue.record("buyer value \(value) vs \(b2), \(b3) / \(s1), \(s2): bidding \(misreport) gains")
                                }
                                if sellerUtility(misreport) > seller {
                                    Issue.record("seller cost \(value) vs \(s1) / \(b2), \(b3), \(s2): asking \(misreport) gains")
                                }
                            }
                            let trades = DoubleAuction(unit: "u", bids: others + [SealedBid(party: "me", amount: value)], asks: asks).outcome
                            #expect(trades.reduce(0) { $0 + $1.buyerPays } >= trades.reduce(0) { $0 + $1.sellerReceives })
                        }
                    }
                }
            }
        }
    }

    @Test("Clearing an auction is an event: the contract computes the trades and settles balances")
    func clearingEvent() throws {
        var state = AllocationState()
        let auction = DoubleAuction(unit: "qubit-hour", bids: bids([10, 9, 3], prefix: "b"), asks: bids([1, 2, 20], prefix: "s"))
        try state.apply(.auctionCleared(.double(auction)), at: noon)
        #expect(state.balances["b1"] == -9)
        #expect(state.balances["s1"] == 2)
        #expect(state.balances[AllocationState.marketAccount] == 7)
        try state.apply(.auctionCleared(.vickrey(VickreyAuction(item: "i", seller: "nodeB", reserve: 5, bids: [
            SealedBid(party: "b1", amount: 30), SealedBid(party: "b2", amount: 20),
        ]))), at: noon(plus: 1))
        #expect(state.balances["b1"] == -29)
        #expect(state.balances["nodeB"] == 20)
        #expect(state.auctions.map(\.trades.count) == [1, 1])
        #expect(state.auctions.map(\.at) == [noon, noon(plus: 1)])
        #expect(throws: AllocationError.invalidEvent(reason: "b1 bid twice")) {
            try state.apply(.auctionCleared(.vickrey(VickreyAuction(item: "i", seller: "s", reserve: 0, bids: [
                SealedBid(party: "b1", amount: 3), SealedBid(party: "b1", amount: 4),
            ]))), at: noon(plus: 2))
        }
    }

    @Test("Dynamic price from utilisation and recent demand, by hand")
    func dynamicPrice() throws {
        var state = try realm([delft])
        #expect(state.suggestedPrice(for: .qubit, base: 100, at: noon) == 100)
        _ = try state.grant(qubits(2), to: "alice", at: noon)
        // u = 1000·2/4 = 500, d = 1000·2/4 = 500: 100·(1000 + 500 + 250)/1000 = 175.
        #expect(state.suggestedPrice(for: .qubit, base: 100, at: noon(plus: 1800)) == 175)
        // After the window and the demand horizon, back to the base.
        #expect(state.suggestedPrice(for: .qubit, base: 100, at: noon(plus: 3601)) == 100)
        // No qudits in service: the base.
        #expect(state.suggestedPrice(for: .qudit, base: 100, at: noon) == 100)
        try state.apply(.priceUpdated(type: .qubit, microCreditsPerSecond: 175), at: noon(plus: 1800))
        #expect(try state.quote(qubits(1, for: "10s"), client: "bob", at: noon(plus: 1800)).price == 1750)
    }
}
