import Allocation
import Quantities
import Testing

/// A realm with Delft's four qubits, a 1000 s usage half-life and a 1000 s age horizon, in which alice
/// used 3 qubits and bob 1 qubit for 100 s from noon.
func usedRealm() throws -> AllocationState {
    var state = try realm([delft], configuration: .init(usageHalfLifeSeconds: 1000, maxAgeSeconds: 1000))
    _ = try state.grant(qubits(3, for: "100s"), to: "alice", at: noon)
    _ = try state.grant(qubits(1, for: "100s"), to: "bob", at: noon)
    return state
}

func isClose(_ x: Double, _ y: Double) -> Bool { abs(x - y) <= 1e-15 * max(1, abs(y)) }

@Suite("Fair-share scheduling")
struct SchedulingTests {
    @Test("Usage decays with its half-life")
    func decayingUsage() throws {
        let state = try usedRealm()
        #expect(state.effectiveUsage(of: "alice", at: noon(plus: 50)) == 150)
        #expect(state.effectiveUsage(of: "alice", at: noon(plus: 100)) == 300)
        #expect(state.effectiveUsage(of: "alice", at: noon(plus: 1100)) == 150)
        #expect(state.effectiveUsage(of: "bob", at: noon(plus: 2100)) == 25)
        #expect(isClose(state.effectiveUsage(of: "bob", at: noon(plus: 600)), 100 * 0.7071067811865476))
        #expect(state.effectiveUsage(of: "carol", at: noon(plus: 100)) == 0)
    }

    @Test("F = 2^(−U/S) on hand-computed shares of usage and shares")
    func fairShareFactor() throws {
        var state = try usedRealm()
        let t = noon(plus: 100)
        // U = 300/400 and 100/400, S = 1/2 each.
        #expect(isClose(state.fairShareFactor(of: "alice", at: t), 0.35355339059327373))  // 2^−1.5
        #expect(isClose(state.fairShareFactor(of: "bob", at: t), 0.7071067811865476))  // 2^−0.5
        // With carol in the queue, S = 1/3 each.
        let peers = ["alice", "bob", "carol"]
        #expect(isClose(state.fairShareFactor(of: "alice", at: t, peers: peers), 0.21022410381342863))  // 2^−2.25
        #expect(isClose(state.fairShareFactor(of: "bob", at: t, peers: peers), 0.5946035575013605))  // 2^−0.75
        #expect(state.fairShareFactor(of: "carol", at: t, peers: peers) == 1)
        // Shares in proportion to usage put both at ½.
        try state.apply(.sharesSet(client: "alice", shares: 3), at: t)
        #expect(isClose(state.fairShareFactor(of: "alice", at: t), 0.5))
        #expect(isClose(state.fairShareFactor(of: "bob", at: t), 0.5))
    }

    @Test("A batch is ordered by fair share, class and age, and later requests backfill around earlier ones")
    func batchAdmission() throws {
        let state = try usedRealm()
        let t = noon(plus: 100)
        let batch = [
            PendingRequest(id: "p1", client: "alice", request: qubits(2), submittedAt: t),
            PendingRequest(id: "p2", client: "bob", request: qubits(2), submittedAt: t),
            PendingRequest(id: "p3", client: "carol", request: qubits(2, priority: .low), submittedAt: noon(plus: -400)),
            PendingRequest(id: "p4", client: "alice", request: qubits(2, priority: .critical), submittedAt: t),
        ]
        let admissions = state.admit(batch, at: t)
        // carol: 1000·1 + 1000·0.25 + 100·0.5 = 1300; alice critical: 1000·2^−2.25 + 1000 ≈ 1210.2;
        // bob: 1000·2^−0.75 + 500 ≈ 1094.6; alice normal: 1000·2^−2.25 + 500 ≈ 710.2.
        #expect(admissions.map(\.request.id) == ["p3", "p4", "p2", "p1"])
        #expect(isClose(admissions[0].priority, 1300))
        #expect(isClose(admissions[1].priority, 1210.2241038134286))
        let starts = admissions.map { try? $0.outcome.get().start }
        #expect(starts == [t, t, t + .seconds(3600), t + .seconds(3600)])
        // Applying the admitted quotes in order grants them all.
        var granted = state
        for admission in admissions {
            try granted.apply(.confirmed(try admission.outcome.get()), at: t)
        }
        #expect(granted.allocations.map(\.client) == ["alice", "bob", "carol", "alice", "bob", "alice"])
    }

    @Test("A request the contract refuses is reported with its error; the rest are still served")
    func batchRefusal() throws {
        var state = try usedRealm()
        let t = noon(plus: 100)
        try state.apply(.limitsSet(client: "bob", maxResources: 1), at: t)
        let admissions = state.admit([
            PendingRequest(id: "a", client: "alice", request: qubits(1), submittedAt: t),
            PendingRequest(id: "b", client: "bob", request: qubits(2), submittedAt: t),
        ], at: t)
        #expect(admissions.map(\.request.id) == ["b", "a"])
        #expect(throws: AllocationError.overLimit(client: "bob", limit: 1, requested: 2)) {
            try admissions[0].outcome.get()
        }
        #expect(try admissions[1].outcome.get().start == t)
    }

    @Test("Jain's fairness index on hand-computed numbers", arguments: [
        ([1.0, 1, 1, 1], 1.0),
        ([1.0, 0, 0, 0], 0.25),
        ([1.0, 2, 3], 36.0 / 42),
        ([3.0, 1], 16.0 / 20),
        ([], 1.0),
    ])
    func jain(_ xs: [Double], _ expected: Double) {
        #expect(isClose(jainFairnessIndex(xs), expected))
    }
}
