import Allocation
import Foundation
import Quantities
import Testing

@Suite("Typed errors")
struct ErrorTests {
    @Test("No resource in the inventory can ever meet the minimums")
    func impossibleProperties() throws {
        let state = try realm([delft, boston])
        #expect(throws: AllocationError.impossibleProperties(
            type: .qubit, requested: 3, capable: 2, minimums: "coherence time ≥ 1000000 ns, fidelity ≥ 0.0")) {
            try state.quote(qubits(3, minCoherence: "1ms"), client: "alice", at: noon)
        }
        let sixQubitDs = AllocationRequest(particleTypes: [.qudit: 3], purpose: .research, duration: "1h")
        #expect(throws: AllocationError.impossibleProperties(
            type: .qudit, requested: 3, capable: 2, minimums: "coherence time ≥ 0 ns, fidelity ≥ 0.0")) {
            try state.quote(sixQubitDs, client: "alice", at: noon)
        }
    }

    @Test("Unreadable and out-of-range request fields name their key and value")
    func invalidProperties() throws {
        let state = try realm([delft])
        var reason = ""
        do { _ = try Duration(parsing: "500μx") } catch { reason = error.description }
        #expect(reason.contains("500μx"))
        #expect(throws: AllocationError.invalidProperty(key: "minCoherenceTime", value: "500μx", reason: reason)) {
            try state.quote(qubits(1, minCoherence: "500μx"), client: "alice", at: noon)
        }
        #expect(throws: AllocationError.invalidProperty(
            key: "duration", value: "0s", reason: "it must be a positive time of at most 292 years")) {
            try state.quote(qubits(1, for: "0s"), client: "alice", at: noon)
        }
        let fidelity = AllocationRequest(particleTypes: [.qubit: 1], properties: .init(minFidelity: 1.5),
                                         purpose: .research, duration: "1h")
        #expect(throws: AllocationError.invalidProperty(
            key: "minFidelity", value: "1.5", reason: "a fidelity lies between 0 and 1")) {
            try state.quote(fidelity, client: "alice", at: noon)
        }
        #expect(throws: AllocationError.invalidProperty(
            key: "particleTypes", value: "qubit: 0", reason: "each count must be at least 1")) {
            try state.quote(qubits(0), client: "alice", at: noon)
        }
        do {
            _ = try state.quote(qubits(1, from: "2023-08-15T25:00:00Z"), client: "alice", at: noon)
            Issue.record("a 25th hour was accepted")
        } catch {
            guard case .invalidProperty(let key, let value, let why) = error else {
                Issue.record("expected invalidProperty, got \(error)")
                return
            }
            #expect(key == "reservationTime" && value == "2023-08-15T25:00:00Z" && why.contains("hour"))
        }
    }

    @Test("A client over its limit of simultaneous resources; windows that do not overlap do not count")
    func overLimit() throws {
        var state = try realm([delft, boston])
        #expect(state.limit(of: "alice") == 10_000)
        try state.apply(.limitsSet(client: "alice", maxResources: 3), at: noon)
        _ = try state.grant(qubits(2), to: "alice", at: noon)
        #expect(throws: AllocationError.overLimit(client: "alice", limit: 3, requested: 4)) {
            try state.quote(qubits(2), client: "alice", at: noon)
        }
        #expect(throws: AllocationError.overLimit(client: "alice", limit: 3, requested: 4)) {
            try state.quote(qubits(2, from: "2023-08-15T12:59:59Z"), client: "alice", at: noon)
        }
        #expect(try state.quote(qubits(2, from: "2023-08-15T13:00:00Z"), client: "alice", at: noon).start
            == at("2023-08-15T13:00:00Z"))
        #expect(try state.quote(qubits(1), client: "alice", at: noon).resources.count == 1)
        #expect(AllocationError.overLimit(client: "alice", limit: 3, requested: 4).description
            == "Client alice would hold 4 resources at once, over its limit of 3.")
    }

    @Test("A reservation time in the past, and a quote confirmed after its expiry")
    func expired() throws {
        var state = try realm([pair])
        #expect(throws: AllocationError.reservationExpired(reservationTime: at("2023-08-15T11:00:00Z"), now: noon)) {
            try state.quote(qubits(1, from: "2023-08-15T11:00:00Z"), client: "alice", at: noon)
        }
        let quote = try state.quote(qubits(1), client: "alice", at: noon)
        #expect(throws: AllocationError.quoteExpired(
            quote: quote.id, expiry: at("2023-08-15T12:05:00Z"), now: at("2023-08-15T12:05:01Z"))) {
            try state.apply(.confirmed(quote), at: at("2023-08-15T12:05:01Z"))
        }
        try state.apply(.confirmed(quote), at: at("2023-08-15T12:05:00Z"))
        #expect(state.allocations.count == 1)
    }

    @Test("Unknown allocations, resources and nodes")
    func unknown() throws {
        var state = try realm([pair])
        #expect(throws: AllocationError.unknownAllocation("alloc-9")) {
            try state.apply(.released(allocation: "alloc-9", by: "alice"), at: noon)
        }
        #expect(throws: AllocationError.unknownAllocation("nine")) {
            try state.allocation("nine")
        }
        #expect(throws: AllocationError.unknownResource("nodeZ/q0")) {
            try state.apply(.resourceObserved(resource: "nodeZ/q0", properties: .init(
                coherenceTimeNanoseconds: 1, fidelity: 0.5, entanglementReady: false)), at: noon)
        }
        #expect(throws: AllocationError.unknownNode("nodeZ")) {
            try state.apply(.powerReported(node: "nodeZ", watts: 10), at: noon)
        }
        #expect(throws: AllocationError.conflictingAnnouncement(resource: "nodeP/q0", node: "nodeQ", owner: "nodeP")) {
            try state.apply(.nodeAnnounced(NodeAnnouncement(node: "nodeQ", location: "Bern", resources: [
                qubit("nodeP/q0", coherence: .microseconds(1), fidelity: 0.9),
            ])), at: noon)
        }
    }

    @Test("Rights on a shared allocation are checked on release and on sharing")
    func notPermitted() throws {
        var state = try realm([pair])
        _ = try state.grant(qubits(2), to: "alice", at: noon)
        #expect(throws: AllocationError.notPermitted(party: "mallory", right: .release, allocation: "alloc-1")) {
            try state.apply(.released(allocation: "alloc-1", by: "mallory"), at: noon)
        }
        try state.apply(.groupShared(allocation: "alloc-1", by: "alice", grants: [
            PartyRights(party: "carol", rights: [.release, .manage, .use]), PartyRights(party: "bob", rights: [.use]),
        ]), at: noon(plus: 10))
        let shared = try state.allocation("alloc-1")
        #expect(shared.shares == [PartyRights(party: "bob", rights: [.use]),
                                  PartyRights(party: "carol", rights: [.manage, .release, .use])])
        #expect(shared.permits("bob", .use) && !shared.permits("bob", .release))
        #expect(throws: AllocationError.notPermitted(party: "bob", right: .release, allocation: "alloc-1")) {
            try state.apply(.released(allocation: "alloc-1", by: "bob"), at: noon(plus: 20))
        }
        #expect(throws: AllocationError.notPermitted(party: "bob", right: .manage, allocation: "alloc-1")) {
            try state.apply(.groupShared(allocation: "alloc-1", by: "bob", grants: [
                PartyRights(party: "mallory", rights: [.release]),
            ]), at: noon(plus: 20))
        }
        try state.apply(.groupShared(allocation: "alloc-1", by: "carol", grants: [
            PartyRights(party: "dave", rights: [.use]),
        ]), at: noon(plus: 30))
        try state.apply(.released(allocation: "alloc-1", by: "carol"), at: noon(plus: 40))
        #expect(try state.allocation("alloc-1").status == .released)
    }

    @Test("Program quotas cap each client's qubit-seconds per period")
    func overQuota() throws {
        var state = try realm([delft])
        try state.apply(.quotaSet(purpose: .openAccess, qubitSeconds: 7200, periodSeconds: 86_400), at: noon)
        _ = try state.grant(qubits(1, purpose: .openAccess), to: "alice", at: noon)
        _ = try state.grant(qubits(1, purpose: .openAccess), to: "alice", at: noon)
        #expect(throws: AllocationError.overQuota(client: "alice", purpose: .openAccess, quota: 7200, requested: 7260)) {
            try state.quote(qubits(1, for: "1min", purpose: .openAccess), client: "alice", at: noon)
        }
        // Other clients, other purposes and the next period are not affected.
        _ = try state.quote(qubits(1, purpose: .openAccess), client: "bob", at: noon)
        _ = try state.quote(qubits(1, purpose: .research), client: "alice", at: noon)
        _ = try state.quote(qubits(1, from: "2023-08-16T00:00:00Z", purpose: .openAccess), client: "alice", at: noon)
    }

    @Test("Too few resources in service now, events out of order, and a tampered quote")
    func otherRefusals() throws {
        var state = try realm([delft, boston])
        for id in ["nodeB/q0", "nodeB/q1"] {
            try state.apply(.resourceObserved(resource: id, properties: .init(
                coherenceTime: .microseconds(50), fidelity: 0.99, entanglementReady: true)), at: noon)
        }
        #expect(throws: AllocationError.insufficientResources(type: .qubit, requested: 2, eligible: 0)) {
            try state.quote(qubits(2, minCoherence: "1ms"), client: "alice", at: noon)
        }
        #expect(throws: AllocationError.outOfOrder(eventTime: noon(plus: -1), stateTime: noon)) {
            try state.apply(.limitsSet(client: "alice", maxResources: 1), at: noon(plus: -1))
        }
        let quote = try state.quote(qubits(2), client: "alice", at: noon)
        let json = String(decoding: try JSONEncoder().encode(quote), as: UTF8.self)
        #expect(json.contains("\"price\":720000"))
        let forged = try JSONDecoder().decode(
            Quote.self, from: Data(json.replacingOccurrences(of: "\"price\":720000", with: "\"price\":1").utf8))
        #expect(throws: AllocationError.quoteMismatch(quote: quote.id, reason: "its content does not match its id")) {
            try state.apply(.confirmed(forged), at: noon)
        }
    }

    @Test("Each error is a sentence naming what was wrong", arguments: [
        (AllocationError.invalidProperty(key: "duration", value: "4x", reason: "x is not a unit"),
         "The request's duration \"4x\" is invalid: x is not a unit"),
        (.impossibleProperties(type: .photonPair, requested: 15, capable: 1, minimums: "fidelity ≥ 0.995"),
         "The request asks for 15 photon-pair resources with fidelity ≥ 0.995, but only 1 in the inventory can ever meet that."),
        (.unavailable(resource: "nodeA/q0", reason: "it is lost"), "Resource nodeA/q0 cannot be granted: it is lost."),
        (.notPermitted(party: "bob", right: .release, allocation: "alloc-1"),
         "bob does not have the right to release allocation alloc-1."),
        (.alreadyGranted(resource: "nodeP/q0", allocation: "alloc-1"),
         "Resource nodeP/q0 is already granted to alloc-1 for an overlapping time."),
        (.reservationExpired(reservationTime: at("2023-08-15T11:00:00Z"), now: noon),
         "The reservation time 2023-08-15T11:00:00Z has passed (it is now 2023-08-15T12:00:00Z)."),
        (.overQuota(client: "alice", purpose: .education, quota: 100, requested: 120),
         "Client alice would use 120 qubit-seconds of education time this period, over its quota of 100."),
        (.unknownAllocation("alloc-9"), "There is no allocation alloc-9."),
    ])
    func descriptions(_ error: AllocationError, _ sentence: String) {
        #expect(error.description == sentence)
    }
}
