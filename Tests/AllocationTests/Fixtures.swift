import Allocation
import Quantities

/// The instant `text` (RFC 3339); traps on a typo in a test.
func at(_ text: String) -> Timestamp {
    try! Timestamp(parsing: text)
}

/// 12:00 on the test day.
let noon = at("2023-08-15T12:00:00Z")

/// `noon` plus `seconds`.
func noon(plus seconds: Int64) -> Timestamp {
    noon + .seconds(seconds)
}

func qubit(_ id: String, coherence: Duration, fidelity: Double, entangling: Bool = false) -> AnnouncedResource {
    AnnouncedResource(id: id, type: .qubit,
                      properties: .init(coherenceTime: coherence, fidelity: fidelity, entanglementReady: entangling))
}

/// Delft: four class-B qubits (800 µs, 0.999; q0 and q1 entanglement-ready).
let delft = NodeAnnouncement(node: "nodeA", location: "Delft", resources: [
    qubit("nodeA/q0", coherence: .microseconds(800), fidelity: 0.999, entangling: true),
    qubit("nodeA/q1", coherence: .microseconds(800), fidelity: 0.999, entangling: true),
    qubit("nodeA/q2", coherence: .microseconds(800), fidelity: 0.999),
    qubit("nodeA/q3", coherence: .microseconds(800), fidelity: 0.999),
])

/// Boston: two class-A qubits (2 ms, 0.997), two qudits (200 µs, 0.99) and a photon-pair source.
let boston = NodeAnnouncement(node: "nodeB", location: "Boston", resources: [
    qubit("nodeB/q0", coherence: .milliseconds(2), fidelity: 0.997, entangling: true),
    qubit("nodeB/q1", coherence: .milliseconds(2), fidelity: 0.997, entangling: true),
    AnnouncedResource(id: "nodeB/d0", type: .qudit,
                      properties: .init(coherenceTime: .microseconds(200), fidelity: 0.99, entanglementReady: false)),
    AnnouncedResource(id: "nodeB/d1", type: .qudit,
                      properties: .init(coherenceTime: .microseconds(200), fidelity: 0.99, entanglementReady: false)),
    AnnouncedResource(id: "nodeB/p0", type: .photonPair,
                      properties: .init(coherenceTime: .microseconds(50), fidelity: 0.98, entanglementReady: true)),
])

/// One node with two identical qubits: the smallest inventory where scheduling is visible.
let pair = NodeAnnouncement(node: "nodeP", location: "Zürich", resources: [
    qubit("nodeP/q0", coherence: .microseconds(800), fidelity: 0.999),
    qubit("nodeP/q1", coherence: .microseconds(800), fidelity: 0.999),
])

/// A realm that knows `nodes`, announced at `noon`.
func realm(_ nodes: [NodeAnnouncement], configuration: AllocationConfiguration = .init()) throws -> AllocationState {
    var state = AllocationState(configuration: configuration)
    for node in nodes {
        try state.apply(.nodeAnnounced(node), at: noon)
    }
    return state
}

/// A request for `qubits` qubits for `duration` (research, normal priority).
func qubits(
    _ count: Int, for duration: DurationText = "1h", from reservation: TimestampText? = nil,
    minCoherence: DurationText? = nil, priority: Priority = .normal, purpose: Purpose = .research,
    preemptible: Bool = false
) -> AllocationRequest {
    AllocationRequest(particleTypes: [.qubit: count], properties: .init(minCoherenceTime: minCoherence),
                      purpose: purpose, priority: priority, duration: duration, reservationTime: reservation,
                      preemptible: preemptible)
}

extension AllocationState {
    /// Quotes and confirms `request` for `client` at `time`; returns the allocation.
    mutating func grant(_ request: AllocationRequest, to client: String, at time: Timestamp) throws -> Allocation {
        let quote = try quote(request, client: client, at: time)
        try apply(.confirmed(quote), at: time)
        return allocations.last!
    }
}
