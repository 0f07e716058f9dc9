import Allocation
import Telemetry
import Testing

@testable import Realm

@Suite("A node's power draw, from its channels in watts")
struct PowerMeterTests {
    @Test("The total is reported once every channel has read, then only after the interval and a change over 1 %")
    func reportsChangesNotTooOften() {
        var meter = PowerMeter(topics: ["n/ls372/mxcHeaterPower", "n/ls372/stillPower"], interval: .seconds(10))
        let t0 = ContinuousClock.now
        #expect(meter.read(2e-6, on: "n/ls372/mxcHeaterPower", now: t0) == nil)  // the still has not read yet
        #expect(meter.read(1e-3, on: "n/ls372/other", now: t0) == nil)  // not a power channel
        #expect(meter.read(3e-3, on: "n/ls372/stillPower", now: t0) == 3e-3 + 2e-6)
        #expect(meter.read(4e-3, on: "n/ls372/stillPower", now: t0 + .seconds(5)) == nil)  // too soon
        #expect(meter.read(4e-3, on: "n/ls372/stillPower", now: t0 + .seconds(11)) == 4e-3 + 2e-6)
        #expect(meter.read(4.02e-3, on: "n/ls372/stillPower", now: t0 + .seconds(30)) == nil)  // under 1 %
        #expect(meter.read(.nan, on: "n/ls372/stillPower", now: t0 + .seconds(40)) == nil)
        #expect(meter.read(-1, on: "n/ls372/stillPower", now: t0 + .seconds(40)) == nil)
        #expect(meter.read(0, on: "n/ls372/stillPower", now: t0 + .seconds(40)) == 2e-6)
    }
}

@Suite("A node's announcement, as the realm's inventory")
struct NodeAnnouncementTests {
    @Test("Each resource is the particle type the node advertises it as, a qubit when it names none; unadvertised ones are left out")
    func particleTypes() {
        func resource(_ id: String, type: String, coherence: Double?) -> WireQubit {
            WireQubit.with { wire in
                wire.id = id
                wire.particleType = type
                if let coherence {
                    wire.properties = [("coherenceTime", coherence), ("fidelity", 0.97), ("entanglementReady", 1)].map { name, value in
                        WireQuantity.with { $0.name = name; $0.value = value }
                    }
                }
            }
        }
        let wire = WireNodeAnnouncement.with {
            $0.nodeID = "n1"
            $0.qubits = [resource("q0", type: "", coherence: 150e-6), resource("q1", type: "qudit", coherence: 90e-6),
                         resource("spdc0", type: "photon-pair", coherence: 20e-6), resource("q2", type: "qubit", coherence: nil)]
        }
        let announcement = NodeLinks.announcement(wire, location: "Delft B1")
        #expect(announcement.resources.map(\.id) == ["n1/q0", "n1/q1", "n1/spdc0"])
        #expect(announcement.resources.map(\.type) == [.qubit, .qudit, .photonPair])
        #expect(announcement.resources[2].properties.coherenceTimeNanoseconds == 20_000 && announcement.location == "Delft B1")
    }
}
