import Allocation
import Quantities
import Testing

@Suite("Resource and allocation lifecycle")
struct LifecycleTests {
    @Test("A node lost mid-allocation: its resources are lost, the allocation ends, nothing is granted twice")
    func nodeLost() throws {
        var state = try realm([delft, boston])
        let held = try state.grant(qubits(2), to: "alice", at: noon)
        #expect(held.resources == ["nodeA/q2", "nodeA/q3"])
        let stale = try state.quote(qubits(2), client: "bob", at: noon(plus: 1700))
        #expect(stale.resources == ["nodeA/q0", "nodeA/q1"])

        try state.apply(.nodeLost(node: "nodeA"), at: noon(plus: 1800))
        let lost = try state.allocation("alloc-1")
        #expect(lost.status == .lost)
        #expect(lost.lostResources == ["nodeA/q2", "nodeA/q3"])
        #expect(lost.meters.map(\.until) == [noon(plus: 1800), noon(plus: 1800)])
        #expect(try state.status(of: "nodeA/q0") == .lost)
        #expect(state.nodes["nodeA"]?.isLost == true)
        #expect(throws: AllocationError.unavailable(resource: "nodeA/q0", reason: "it is lost")) {
            try state.apply(.confirmed(stale), at: noon(plus: 1801))
        }
        #expect(try state.quote(qubits(2), client: "bob", at: noon(plus: 1801)).resources == ["nodeB/q0", "nodeB/q1"])
        #expect(throws: AllocationError.insufficientResources(type: .qubit, requested: 5, eligible: 2)) {
            try state.quote(qubits(5), client: "bob", at: noon(plus: 1801))
        }

        // The node comes back: its resources serve again, and the lost grant is not revived.
        try state.apply(.nodeAnnounced(delft), at: noon(plus: 3600))
        let again = try state.grant(qubits(4), to: "bob", at: noon(plus: 3600))
        #expect(again.resources == ["nodeA/q0", "nodeA/q1", "nodeA/q2", "nodeA/q3"])
        #expect(try state.allocation("alloc-1").status == .lost)
        for id in again.resources {
            let holders = state.allocations.filter { $0.status.isLive && $0.resources.contains(id) }
            #expect(holders.map(\.id) == ["alloc-2"])
        }
    }

    @Test("An allocation that loses some of its resources goes on with the rest and is listed as affected")
    func partialLoss() throws {
        var state = try realm([delft, boston])
        let held = try state.grant(qubits(5), to: "alice", at: noon)
        #expect(held.nodes == ["nodeA", "nodeB"])
        try state.apply(.nodeLost(node: "nodeB"), at: noon(plus: 600))
        let affected = try state.allocation("alloc-1")
        #expect(affected.status == .active)
        #expect(affected.lostResources == ["nodeB/q0"])
        #expect(state.affectedAllocations == ["alloc-1"])
    }

    @Test("Telemetry below the advertised class reclassifies and degrades a resource; recovery restores it")
    func reclassification() throws {
        var state = try realm([delft])
        #expect(state.resources["nodeA/q0"]?.advertisedClass == .b)
        let fiftyMicroseconds = ResourceProperties(coherenceTime: .microseconds(50), fidelity: 0.999, entanglementReady: true)
        try state.apply(.resourceObserved(resource: "nodeA/q0", properties: fiftyMicroseconds), at: noon(plus: 60))
        var resource = try #require(state.resources["nodeA/q0"])
        #expect(resource.currentClass == .c)
        #expect(resource.status == .degraded)
        #expect(throws: AllocationError.insufficientResources(type: .qubit, requested: 4, eligible: 3)) {
            try state.quote(qubits(4, minCoherence: "500μs"), client: "alice", at: noon(plus: 60))
        }
        // Quoted by what it measures now: it still serves requests it meets.
        #expect(try state.quote(qubits(4, minCoherence: "20μs"), client: "alice", at: noon(plus: 60)).resources.count == 4)
        try state.apply(.resourceObserved(resource: "nodeA/q0", properties: .init(
            coherenceTime: .microseconds(5), fidelity: 0.999, entanglementReady: true)), at: noon(plus: 120))
        #expect(state.resources["nodeA/q0"]?.currentClass == .d)
        // A better-than-advertised measurement never lifts it above its advertised class.
        try state.apply(.resourceObserved(resource: "nodeA/q0", properties: .init(
            coherenceTime: .milliseconds(2), fidelity: 0.999, entanglementReady: true)), at: noon(plus: 180))
        resource = try #require(state.resources["nodeA/q0"])
        #expect(resource.currentClass == .b)
        #expect(resource.status == .available)
        #expect(try state.quote(qubits(4, minCoherence: "500μs"), client: "alice", at: noon(plus: 180)).resources.count == 4)
    }

    @Test("A held resource that degrades lists its allocation as affected")
    func degradedWhileHeld() throws {
        var state = try realm([pair])
        _ = try state.grant(qubits(1), to: "alice", at: noon)
        #expect(state.affectedAllocations.isEmpty)
        try state.apply(.resourceObserved(resource: "nodeP/q0", properties: .init(
            coherenceTime: .microseconds(90), fidelity: 0.99, entanglementReady: false)), at: noon(plus: 10))
        #expect(state.affectedAllocations == ["alloc-1"])
        #expect(try state.status(of: "nodeP/q0") == .allocated)
    }

    @Test("Retiring a resource waits for its grants, then records the reset its node owes")
    func retirement() throws {
        var state = try realm([pair])
        _ = try state.grant(qubits(2), to: "alice", at: noon)
        #expect(throws: AllocationError.alreadyGranted(resource: "nodeP/q0", allocation: "alloc-1")) {
            try state.apply(.retired(resource: "nodeP/q0"), at: noon(plus: 10))
        }
        try state.apply(.released(allocation: "alloc-1", by: "alice"), at: noon(plus: 20))
        try state.apply(.retired(resource: "nodeP/q0"), at: noon(plus: 30))
        #expect(try state.status(of: "nodeP/q0") == .retired)
        #expect(state.pendingResets.map(\.node) == ["nodeP"])
        #expect(state.pendingResets.map(\.resources) == [["nodeP/q0"]])
        #expect(throws: AllocationError.impossibleProperties(
            type: .qubit, requested: 2, capable: 1, minimums: "coherence time ≥ 0 ns, fidelity ≥ 0.0")) {
            try state.quote(qubits(2), client: "alice", at: noon(plus: 30))
        }
        // Announcing it again does not bring a retired resource back.
        try state.apply(.nodeAnnounced(pair), at: noon(plus: 40))
        #expect(try state.status(of: "nodeP/q0") == .retired)
        try state.apply(.resetCompleted(resource: "nodeP/q0"), at: noon(plus: 50))
        #expect(state.pendingResets.isEmpty)
        #expect(throws: AllocationError.noPendingReset(resource: "nodeP/q0")) {
            try state.apply(.resetCompleted(resource: "nodeP/q0"), at: noon(plus: 60))
        }
    }

    @Test("A critical request preempts preemptible low and normal allocations, and nothing else")
    func preemption() throws {
        var state = try realm([pair])
        _ = try state.grant(qubits(2, for: "2h", priority: .low, preemptible: true), to: "alice", at: noon)
        let urgent = try state.quote(qubits(2, priority: .critical), client: "bob", at: noon(plus: 600))
        #expect(urgent.preempts == ["alloc-1"])
        #expect(urgent.start == noon(plus: 600))
        // A normal request waits instead.
        #expect(try state.quote(qubits(2), client: "carol", at: noon(plus: 600)).start == noon(plus: 7200))
        try state.apply(.confirmed(urgent), at: noon(plus: 660))
        let victim = try state.allocation("alloc-1")
        #expect(victim.status == .preempted)
        #expect(victim.preemptedBy == "alloc-2")
        #expect(victim.meters.map(\.until) == [noon(plus: 660), noon(plus: 660)])
        #expect(try state.allocation("alloc-2").status == .active)

        // High-priority and non-preemptible allocations are never preempted.
        var other = try realm([pair])
        _ = try other.grant(qubits(1, for: "2h", priority: .high, preemptible: true), to: "alice", at: noon)
        _ = try other.grant(qubits(1, for: "3h"), to: "dave", at: noon)
        let waits = try other.quote(qubits(1, priority: .critical), client: "bob", at: noon)
        #expect(waits.preempts.isEmpty)
        #expect(waits.start == noon(plus: 7200))
    }

    @Test("A preempting quote goes stale when its victim ends first")
    func stalePreemption() throws {
        var state = try realm([pair])
        _ = try state.grant(qubits(2, priority: .normal, preemptible: true), to: "alice", at: noon)
        let urgent = try state.quote(qubits(1, priority: .critical), client: "bob", at: noon)
        #expect(urgent.preempts == ["alloc-1"])
        try state.apply(.released(allocation: "alloc-1", by: "alice"), at: noon(plus: 5))
        #expect(throws: AllocationError.quoteMismatch(quote: urgent.id, reason: "alloc-1 can no longer be preempted")) {
            try state.apply(.confirmed(urgent), at: noon(plus: 6))
        }
    }

    @Test("A preempting confirm refused for the client's limit leaves its victim running")
    func refusedPreemption() throws {
        var state = try realm([pair])
        _ = try state.grant(qubits(2, for: "2h", priority: .low, preemptible: true), to: "alice", at: noon)
        let urgent = try state.quote(qubits(2, priority: .critical), client: "bob", at: noon(plus: 60))
        try state.apply(.limitsSet(client: "bob", maxResources: 1), at: noon(plus: 60))
        let before = state
        #expect(throws: AllocationError.overLimit(client: "bob", limit: 1, requested: 2)) {
            try state.apply(.confirmed(urgent), at: noon(plus: 120))
        }
        #expect(state == before)
        #expect(try state.allocation("alloc-1").status == .active)
    }
}
