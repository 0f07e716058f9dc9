import Foundation
import Quantities
import Testing

@testable import Allocation

@Suite("Quote, confirm and release")
struct QuoteTests {
    @Test("A quote picks the closest fit on one node, prices it and changes nothing")
    func quoteIsPure() throws {
        let state = try realm([delft, boston])
        let quote = try state.quote(qubits(2, minCoherence: "500μs"), client: "alice", at: noon)
        // Both nodes could serve; nodeA sorts first; q2 and q3 are not entanglement-ready, so they fit best.
        #expect(quote.resources == ["nodeA/q2", "nodeA/q3"])
        #expect(quote.nodes == ["nodeA"])
        #expect(quote.price == 2 * 100 * 3600)
        #expect(quote.start == noon)
        #expect(quote.end == at("2023-08-15T13:00:00Z"))
        #expect(quote.expiry == at("2023-08-15T12:05:00Z"))
        #expect(quote.id.hasPrefix("q-") && quote.id.count == 18)
        #expect(try state.quote(qubits(2, minCoherence: "500μs"), client: "alice", at: noon) == quote)
        #expect(state == (try realm([delft, boston])))
    }

    @Test("Entanglement-ready requests get the entanglement-ready qubits")
    func entanglementReady() throws {
        let state = try realm([delft, boston])
        let request = AllocationRequest(particleTypes: [.qubit: 2], properties: .init(entanglementReady: true),
                                        purpose: .communication, duration: "10min")
        #expect(try state.quote(request, client: "alice", at: noon).resources == ["nodeA/q0", "nodeA/q1"])
    }

    @Test("A mixed request stays on the one node that has every type")
    func fewestNodes() throws {
        let state = try realm([delft, boston])
        let request = AllocationRequest(particleTypes: [.qubit: 1, .qudit: 1, .photonPair: 1], purpose: .sensing,
                                        duration: "30min")
        let quote = try state.quote(request, client: "alice", at: noon)
        #expect(quote.resources == ["nodeB/d0", "nodeB/p0", "nodeB/q0"])
        #expect(quote.nodes == ["nodeB"])
    }

    @Test("A request larger than one node spans the node that gives most, then the next")
    func spansNodes() throws {
        let state = try realm([delft, boston])
        let quote = try state.quote(qubits(5), client: "alice", at: noon)
        #expect(quote.resources == ["nodeA/q0", "nodeA/q1", "nodeA/q2", "nodeA/q3", "nodeB/q0"])
        #expect(quote.nodes == ["nodeA", "nodeB"])
    }

    @Test("Quote, confirm, release: the allocation holds, meters and frees its resources")
    func roundTrip() throws {
        var state = try realm([delft, boston])
        let quote = try state.quote(qubits(2, minCoherence: "500μs"), client: "alice", at: noon)
        try state.apply(.confirmed(quote), at: noon(plus: 60))
        let allocation = try state.allocation("alloc-1")
        #expect(allocation.client == "alice")
        #expect(allocation.quote == quote.id)
        #expect(allocation.resources == ["nodeA/q2", "nodeA/q3"])
        #expect(allocation.status == .active)
        #expect(state.balances["alice"] == -720_000)
        #expect(try state.status(of: "nodeA/q2") == .allocated)
        #expect(try state.status(of: "nodeA/q0") == .available)
        // Held, the same two are not offered again; the next best fit is q0 and q1.
        #expect(try state.quote(qubits(2), client: "bob", at: noon(plus: 60)).resources == ["nodeA/q0", "nodeA/q1"])

        try state.apply(.released(allocation: "alloc-1", by: "alice"), at: noon(plus: 1800))
        let released = try state.allocation("alloc-1")
        #expect(released.status == .released)
        #expect(released.meters.map(\.until) == [noon(plus: 1800), noon(plus: 1800)])
        #expect(released.meters.map(\.from) == [noon(plus: 60), noon(plus: 60)])
        #expect(released.start == noon)
        #expect(try state.status(of: "nodeA/q2") == .available)
        #expect(try state.quote(qubits(2), client: "bob", at: noon(plus: 1800)).resources == ["nodeA/q2", "nodeA/q3"])
        #expect(throws: AllocationError.allocationEnded(allocation: "alloc-1", status: .released)) {
            try state.apply(.released(allocation: "alloc-1", by: "alice"), at: noon(plus: 1900))
        }
    }

    @Test("An allocation completes by itself at the end of its window")
    func completes() throws {
        var state = try realm([pair])
        _ = try state.grant(qubits(1, for: "30min"), to: "alice", at: noon)
        try state.apply(.limitsSet(client: "alice", maxResources: 5), at: noon(plus: 1800))
        #expect(try state.allocation("alloc-1").status == .completed)
        #expect(try state.status(of: "nodeP/q0") == .available)
    }

    @Test("Two confirms for overlapping windows on the same resource: the second is refused")
    func noDoubleGrant() throws {
        var state = try realm([pair])
        let first = try state.quote(qubits(2), client: "alice", at: noon)
        let second = try state.quote(qubits(1, for: "10min"), client: "bob", at: noon)
        #expect(second.resources == ["nodeP/q0"])
        try state.apply(.confirmed(first), at: noon(plus: 1))
        let before = state
        #expect(throws: AllocationError.alreadyGranted(resource: "nodeP/q0", allocation: "alloc-1")) {
            try state.apply(.confirmed(second), at: noon(plus: 2))
        }
        #expect(state == before)
        // Confirming the same quote twice is a double grant too.
        #expect(throws: AllocationError.alreadyGranted(resource: "nodeP/q0", allocation: "alloc-1")) {
            try state.apply(.confirmed(first), at: noon(plus: 3))
        }
        #expect(state.allocations.count == 1)
    }

    @Test("Advance reservations, and backfill into a gap only where the request fits")
    func advanceReservationAndBackfill() throws {
        var state = try realm([pair])
        // X reserves both qubits for 14:00–15:00.
        let x = try state.grant(qubits(2, for: "1h", from: "2023-08-15T14:00:00Z"), to: "x", at: noon)
        #expect(x.start == at("2023-08-15T14:00:00Z"))
        #expect(x.status == .scheduled)
        // Y needs 3 h: the 2 h gap before X is too short, so Y starts when X ends.
        let y = try state.quote(qubits(2, for: "3h"), client: "y", at: noon)
        #expect(y.start == at("2023-08-15T15:00:00Z"))
        // Z needs 1 h: it backfills the gap, and X is not moved.
        let z = try state.grant(qubits(2, for: "1h"), to: "z", at: noon)
        #expect(z.start == noon)
        #expect(try state.allocation("alloc-1").start == at("2023-08-15T14:00:00Z"))
        // W needs 2 h of one qubit: 13:00–14:00 is a 1 h gap, so W waits for 15:00.
        #expect(try state.quote(qubits(1, for: "2h"), client: "w", at: noon).start == at("2023-08-15T15:00:00Z"))
        // …but 45 min of one qubit fit into 13:00–14:00.
        #expect(try state.quote(qubits(1, for: "45min"), client: "w", at: noon).start == at("2023-08-15T13:00:00Z"))
        // X becomes active when its window starts.
        try state.apply(.sharesSet(client: "x", shares: 2), at: at("2023-08-15T14:00:00Z"))
        #expect(try state.allocation("alloc-1").status == .active)
        #expect(try state.allocation("alloc-2").status == .completed)
    }

    @Test("The request reads as users write it and codes its texts verbatim")
    func requestShape() throws {
        let request = AllocationRequest(
            particleTypes: [.qubit: 50, .qudit: 10, .photonPair: 15],
            properties: .init(minCoherenceTime: "500μs", minFidelity: 0.995, entanglementReady: true),
            purpose: .quantumMachineLearning, priority: .high, duration: "4h", reservationTime: "2023-08-15T14:30:00Z")
        #expect(request.particleTypes.map(\.type) == [.photonPair, .qubit, .qudit])
        #expect(request.particleTypes.map(\.count) == [15, 50, 10])
        #expect(request.properties.minCoherenceTime?.text == "500μs")
        #expect(ParticleType("photon-pair") == .photonPair)
        #expect(ParticleType("qutrit") == .other("qutrit"))
        #expect("\(ParticleType.photonPair)" == "photon-pair")
        #expect(CoherenceClass(coherenceNanoseconds: 800_000) == .b)
        #expect(CoherenceClass(coherenceNanoseconds: 1_000_000) == .a)
        #expect(CoherenceClass(coherenceNanoseconds: 9_999) == .d)
    }

    @Test("Quoting passes by a node whose free resources cannot serve, and only while they cannot")
    func fullNodesArePassedBy() throws {
        var state = try realm([delft, pair])
        let a = state.derived.nodeOf["nodeA"]!, p = state.derived.nodeOf["nodeP"]!
        let one = try qubits(1).validated()
        #expect(!state.derived.cannotServe(a, .qubit, 1, one, at: noon))
        // nodeA ranks first: four one-qubit grants fill it for an hour from noon+60.
        for _ in 0..<4 { _ = try state.grant(qubits(1), to: "alice", at: noon(plus: 60)) }
        #expect(state.derived.cannotServe(a, .qubit, 1, one, at: noon(plus: 60)))
        #expect(state.derived.cannotServe(a, .qubit, 1, one, at: noon(plus: 3659)))
        #expect(!state.derived.cannotServe(a, .qubit, 1, one, at: noon(plus: 3660)))
        #expect(!state.derived.cannotServe(a, .qubit, 1, one, at: noon))
        #expect(!state.derived.cannotServe(p, .qubit, 1, one, at: noon(plus: 60)))
        // nodeP's two free qubits bound what it can offer: not three, and none with 1 ms coherence.
        #expect(state.derived.cannotServe(p, .qubit, 3, try qubits(3).validated(), at: noon(plus: 60)))
        #expect(state.derived.cannotServe(p, .qubit, 1, try qubits(1, minCoherence: "1ms").validated(), at: noon))
        #expect(!state.derived.cannotServe(p, .qubit, 1, try qubits(1, minCoherence: "800μs").validated(), at: noon))
        #expect(try state.quote(qubits(1), client: "bob", at: noon(plus: 120)).nodes == ["nodeP"])
        // After the grants end, nodeA is first again.
        #expect(try state.quote(qubits(1, from: TimestampText(noon(plus: 3700))), client: "bob", at: noon(plus: 120)).nodes == ["nodeA"])
        // One release reopens nodeA at once (q3 was the second closest fit).
        try state.apply(.released(allocation: "alloc-2", by: "alice"), at: noon(plus: 180))
        #expect(!state.derived.cannotServe(a, .qubit, 1, one, at: noon(plus: 180)))
        #expect(try state.quote(qubits(1), client: "bob", at: noon(plus: 180)).resources == ["nodeA/q3"])
        // A lost resource is never free: with q3 no longer offered and the rest held, nodeA is full again.
        try state.apply(.nodeAnnounced(NodeAnnouncement(node: "nodeA", location: "Delft", resources: Array(delft.resources.dropLast()))),
                        at: noon(plus: 200))
        #expect(try state.status(of: "nodeA/q3") == .lost)
        #expect(state.derived.cannotServe(a, .qubit, 1, one, at: noon(plus: 240)))
        // A decoded state rebuilds the same coverage.
        let decoded = try JSONDecoder().decode(AllocationState.self, from: try JSONEncoder().encode(state))
        #expect(decoded.derived.cannotServe(a, .qubit, 1, one, at: noon(plus: 240)))
        #expect(!decoded.derived.cannotServe(p, .qubit, 1, one, at: noon(plus: 240)))
    }
}
