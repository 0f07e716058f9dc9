import Allocation
import Quantities
import Testing

@Suite("Metering and accounting")
struct MeteringTests {
    /// Delft (4 qubits) draws 1000 W from noon and 2000 W from 12:30. alice holds q2 and q3 for research
    /// 12:00–13:00; bob holds q0 for education 12:30–13:00.
    func meteredRealm() throws -> AllocationState {
        var state = try realm([delft])
        try state.apply(.powerReported(node: "nodeA", watts: 1000), at: noon)
        _ = try state.grant(qubits(2), to: "alice", at: noon)
        try state.apply(.powerReported(node: "nodeA", watts: 2000), at: noon(plus: 1800))
        _ = try state.grant(qubits(1, for: "30min", purpose: .education), to: "bob", at: noon(plus: 1800))
        return state
    }

    @Test("Qubit-seconds and energy apportioned by each allocation's share of the node, by hand")
    func handComputedReport() throws {
        let state = try meteredRealm()
        let report = try state.usageReport(at: noon(plus: 7200))
        #expect(report.rows.map(\.resource) == ["nodeA/q2", "nodeA/q3", "nodeA/q0"])
        // alice's qubits: 3600 s each; ¼ of 1000 W for 1800 s plus ¼ of 2000 W for 1800 s.
        #expect(report.rows.map(\.qubitSeconds) == [3600, 3600, 1800])
        #expect(report.rows.map(\.energyJoules) == [1_350_000, 1_350_000, 900_000])
        #expect(report.byClient == [
            UsageTotal(key: "alice", qubitSeconds: 7200, energyJoules: 2_700_000),
            UsageTotal(key: "bob", qubitSeconds: 1800, energyJoules: 900_000),
        ])
        #expect(report.byPurpose.map(\.key) == ["education", "research"])
        #expect(report.byResource.map(\.key) == ["nodeA/q0", "nodeA/q2", "nodeA/q3"])
        // The node drew 1000·1800 + 2000·5400 = 12.6 MJ; 3.6 MJ went to allocations.
        #expect(report.idleEnergyByNode == [UsageTotal(key: "nodeA", qubitSeconds: 0, energyJoules: 9_000_000)])
        #expect(report.csv == """
            client,purpose,allocation,resource,node,type,qubit_seconds,energy_joules
            alice,research,alloc-1,nodeA/q2,nodeA,qubit,3600.0,1350000.0
            alice,research,alloc-1,nodeA/q3,nodeA,qubit,3600.0,1350000.0
            bob,education,alloc-2,nodeA/q0,nodeA,qubit,1800.0,900000.0

            """)
        // A report is a query: the state is unchanged.
        #expect(state == (try meteredRealm()))
    }

    @Test("A report mid-window meters up to its time; a release stops the meter")
    func partialUsage() throws {
        var state = try meteredRealm()
        let midway = try state.usageReport(at: noon(plus: 2700))
        // alice: 2700 s each; energy 450 kJ + ¼·2000·900 = 900 kJ. bob: 900 s, 450 kJ.
        #expect(midway.rows.map(\.qubitSeconds) == [2700, 2700, 900])
        #expect(midway.rows.map(\.energyJoules) == [900_000, 900_000, 450_000])
        try state.apply(.released(allocation: "alloc-1", by: "alice"), at: noon(plus: 2700))
        let later = try state.usageReport(at: noon(plus: 7200))
        #expect(later.rows.map(\.qubitSeconds) == [2700, 2700, 1800])
        #expect(later.rows.map(\.energyJoules) == [900_000, 900_000, 900_000])
        #expect(throws: AllocationError.outOfOrder(eventTime: noon(plus: 100), stateTime: noon(plus: 2700))) {
            try state.usageReport(at: noon(plus: 100))
        }
    }

    @Test("Confirmed allocations are charged to their client's balance")
    func charges() throws {
        let state = try meteredRealm()
        #expect(state.balances["alice"] == -720_000)
        #expect(state.balances["bob"] == -180_000)
    }
}
