import Foundation
import Quantities
import Testing

@testable import Allocation
import TestSupport

/// The quoting rules as first written: plain scans over every resource and every live allocation, with no
/// index. The contract's indexed `quote` must give exactly what this gives, error for error.
extension AllocationState {
    func referenceQuote(_ request: AllocationRequest, client: String, at now: Timestamp,
                        avoiding held: Set<String> = []) throws(AllocationError) -> Quote {
        guard now >= clock else { throw .outOfOrder(eventTime: now, stateTime: clock) }
        let validated = try request.validated()
        if let reservation = validated.reservationTime, reservation < now {
            throw .reservationExpired(reservationTime: reservation, now: now)
        }
        var liveGrants: [String: [Int]] = [:]
        for (index, allocation) in allocations.enumerated() where allocation.status.isLive {
            for meter in allocation.meters { liveGrants[meter.resource, default: []].append(index) }
        }
        func holders(_ resource: String, _ from: Timestamp, _ until: Timestamp) -> [Int] {
            (liveGrants[resource] ?? []).filter { index in
                allocations[index].meters.contains {
                    $0.resource == resource && overlapNanoseconds($0.from, $0.until, from, until) > 0
                }
            }
        }
        func isPreemptible(_ index: Int) -> Bool {
            allocations[index].preemptible && allocations[index].priority < .high && allocations[index].status.isLive
        }
        var pools: [[Resource]] = []
        for entry in validated.counts {
            let ofType = resources.values.filter { $0.type == entry.type && $0.status != .retired }
            let capable = ofType.count { validated.isMet(by: $0.advertised) }
            guard capable >= entry.count else {
                throw .impossibleProperties(type: entry.type, requested: entry.count, capable: capable,
                                            minimums: validated.minimumsDescription)
            }
            let eligible = ofType.filter {
                ($0.status == .available || $0.status == .degraded) && validated.isMet(by: $0.measured)
            }
            guard eligible.count >= entry.count else {
                throw .insufficientResources(type: entry.type, requested: entry.count, eligible: eligible.count)
            }
            pools.append(eligible)
        }
        typealias Pick = (resource: Resource, preempts: [Int])
        func select(_ count: Int, _ free: [Pick], _ alreadyChosen: [Resource]) -> [Pick] {
            func fitsBefore(_ a: Pick, _ b: Pick) -> Bool {
                let ka = (a.preempts.isEmpty ? 0 : 1, !validated.entanglementReady && a.resource.measured.entanglementReady ? 1 : 0)
                let kb = (b.preempts.isEmpty ? 0 : 1, !validated.entanglementReady && b.resource.measured.entanglementReady ? 1 : 0)
                if ka != kb { return ka < kb }
                let (ma, mb) = (a.resource.measured, b.resource.measured)
                if ma.coherenceTimeNanoseconds != mb.coherenceTimeNanoseconds {
                    return ma.coherenceTimeNanoseconds < mb.coherenceTimeNanoseconds
                }
                if ma.fidelity != mb.fidelity { return ma.fidelity < mb.fidelity }
                return a.resource.id < b.resource.id
            }
            var byNode: [String: [Pick]] = [:]
            for candidate in free { byNode[candidate.resource.node, default: []].append(candidate) }
            let usedNodes = Set(alreadyChosen.map(\.node))
            let order = byNode.keys.sorted { a, b in
                let (ca, cb) = (min(byNode[a]!.count, count), min(byNode[b]!.count, count))
                if ca != cb { return ca > cb }
                if usedNodes.contains(a) != usedNodes.contains(b) { return usedNodes.contains(a) }
                return a < b
            }
            var picked: [Pick] = []
            for node in order where picked.count < count {
                picked += byNode[node]!.sorted(by: fitsBefore).prefix(count - picked.count)
            }
            return picked
        }
        func findSlot(_ pools: [[Resource]], _ earliest: Timestamp, _ preempting: Bool)
            -> (start: Timestamp, resources: [String], preempts: [Int])? {
            var candidates = [earliest]
            for pool in pools {
                for resource in pool {
                    for index in liveGrants[resource.id] ?? [] {
                        for meter in allocations[index].meters where meter.resource == resource.id && meter.until > earliest {
                            candidates.append(meter.until)
                        }
                    }
                }
            }
            for start in Set(candidates).sorted() {
                let end = start.adding(nanoseconds: validated.durationNanoseconds)
                var chosen: [Resource] = []
                var preempts: Set<Int> = []
                var feasible = true
                for (entry, pool) in zip(validated.counts, pools) {
                    var free: [Pick] = []
                    for resource in pool {
                        let blocking = holders(resource.id, start, end)
                        if blocking.isEmpty {
                            free.append((resource, []))
                        } else if preempting, blocking.allSatisfy(isPreemptible) {
                            free.append((resource, blocking))
                        }
                    }
                    guard free.count >= entry.count else {
                        feasible = false
                        break
                    }
                    for pick in select(entry.count, free, chosen) {
                        chosen.append(pick.resource)
                        preempts.formUnion(pick.preempts)
                    }
                }
                if feasible { return (start, chosen.map(\.id), preempts.sorted()) }
            }
            return nil
        }
        let earliest = validated.reservationTime ?? now
        let duration = validated.durationNanoseconds
        var plan = (held.isEmpty ? nil : findSlot(pools.map { $0.filter { !held.contains($0.id) } }, earliest, false))
            ?? findSlot(pools, earliest, false)!
        if request.priority == .critical, plan.start > earliest,
           let preempting = findSlot(pools, earliest, true), preempting.start < plan.start {
            plan = preempting
        }
        let end = plan.start.adding(nanoseconds: duration)
        // The limit: every open allocation of the client overlapping the window.
        var heldUnits = validated.units
        for (index, allocation) in allocations.enumerated()
        where allocation.client == client && allocation.status.isLive && !plan.preempts.contains(index) {
            heldUnits += allocation.meters.count { overlapNanoseconds($0.from, $0.until, plan.start, end) > 0 }
        }
        guard heldUnits <= limit(of: client) else {
            throw .overLimit(client: client, limit: limit(of: client), requested: heldUnits)
        }
        // The quota: the whole history.
        if let quota = quotas[request.purpose] {
            let period = quota.periodSeconds * 1_000_000_000
            let periodIndex = plan.start.nanosecondsSinceEpoch.dividedRoundingDown(by: period)
            var used = Int128(validated.units) * Int128(duration)
            for (index, allocation) in allocations.enumerated()
            where allocation.client == client && allocation.purpose == request.purpose
                && allocation.start.nanosecondsSinceEpoch.dividedRoundingDown(by: period) == periodIndex {
                for meter in allocation.meters {
                    let until = plan.preempts.contains(index) ? min(meter.until, max(clock, meter.from)) : meter.until
                    used += Int128(max(0, until.nanoseconds(since: meter.from)))
                }
            }
            let requested = Int64(clamping: (used + 999_999_999) / 1_000_000_000)
            guard requested <= quota.qubitSeconds else {
                throw .overQuota(client: client, purpose: request.purpose, quota: quota.qubitSeconds, requested: requested)
            }
        }
        var total: Int128 = 0
        for entry in validated.counts {
            total += Int128(entry.count) * Int128(price(of: entry.type)) * Int128(duration)
        }
        guard let credits = Int64(exactly: (total + 999_999_999) / 1_000_000_000) else {
            throw .invalidProperty(key: "duration", value: "\(duration) ns", reason: "the price would exceed 9.2e18 micro-credits")
        }
        let chosen = plan.resources.sorted()
        return Quote(
            client: client, request: request, resources: chosen,
            nodes: Array(Set(chosen.map { resources[$0]!.node })).sorted(), price: credits, issuedAt: now,
            start: plan.start, end: end,
            expiry: now.adding(nanoseconds: configuration.quoteLifetimeSeconds * 1_000_000_000),
            preempts: plan.preempts.map { allocations[$0].id })
    }
}

extension AllocationState {
    /// Admission as first written: every request quoted on one copy of the state with the ones before it
    /// confirmed. `admit` must rank as this does, and where no two requests of the batch could share a
    /// resource or a client, offer exactly the same quotes.
    func referenceAdmit(_ batch: [PendingRequest], at time: Timestamp, avoiding held: Set<String>) -> [Admission] {
        let ranking = admit(batch, at: time, avoiding: held).map { ($0.request, $0.priority) }
        var scratch = self
        return ranking.map { pending, priority in
            let outcome = Result { () throws(AllocationError) -> Quote in
                let quote = try scratch.quote(pending.request, client: pending.client, at: time, avoiding: held)
                try scratch.apply(.confirmed(quote), at: time)
                return quote
            }
            return Admission(request: pending, priority: priority, outcome: outcome)
        }
    }
}

/// A node of `count` qubits with spread-out properties, some entanglement-ready, and a qudit or two.
private func spread(_ node: String, qubits count: Int, seed: Int, qudits: Int = 0) -> NodeAnnouncement {
    var resources: [AnnouncedResource] = []
    for q in 0..<count {
        let coherence: Int = 50_000 + (seed * 7919 + q * 104_729) % 1_500_000
        let fidelity: Double = 0.99 + Double((q + seed) % 10) / 1000
        let properties = ResourceProperties(coherenceTimeNanoseconds: Int64(coherence), fidelity: fidelity,
                                            entanglementReady: (q + seed) % 3 == 0)
        resources.append(AnnouncedResource(id: "\(node)/q\(q)", type: .qubit, properties: properties))
    }
    resources += (0..<qudits).map { d in
        AnnouncedResource(id: "\(node)/d\(d)", type: .qudit, properties: .init(
            coherenceTimeNanoseconds: 300_000, fidelity: 0.99, entanglementReady: false))
    }
    return NodeAnnouncement(node: node, location: "site-\(seed % 3)", resources: resources.shuffledDeterministically(seed))
}

extension Array {
    fileprivate func shuffledDeterministically(_ seed: Int) -> [Element] {
        var random = SplitMix64(seed: UInt64(seed))
        var copy = self
        for i in copy.indices.reversed() where i > 0 {
            copy.swapAt(i, random.below(i + 1))
        }
        return copy
    }
}

@Suite("Indexed quoting matches the plain scans")
struct EquivalenceTests {
    @Test("Quotes and errors equal the reference's through a long random script, also after a JSON round trip",
          arguments: [UInt64(7), 2024, 99_991])
    func indexedQuotesMatchReference(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        var state = AllocationState(configuration: .init(quoteLifetimeSeconds: 600))
        let clients = ["alice", "bob", "carol"]
        var announcements = (0..<6).map { spread("node-\($0)", qubits: 4 + $0 * 2, seed: $0 + Int(seed % 17), qudits: $0 % 3) }
        // A re-announcement that changes a resource's type, and one that drops half of a node.
        var retyped = announcements[1]
        retyped.resources[0].type = .photonPair
        var shrunk = announcements[4]
        shrunk.resources.removeLast(shrunk.resources.count / 2)
        announcements += [retyped, shrunk]
        var time = noon
        var compared = 0, granted = 0, refused = 0, admitted = 0

        func request() -> AllocationRequest {
            var types: [ParticleType: Int] = [:]
            if random.below(5) == 0 {
                types[.qubit] = 1 + random.below(3)
                types[.qudit] = 1 + random.below(2)
            } else {
                types[.qubit] = 1 + random.below(random.below(4) == 0 ? 30 : 6)
            }
            var reservation: TimestampText?
            if random.below(4) == 0 { reservation = TimestampText(time + .seconds(Int64(random.below(7200)))) }
            let coherences: [DurationText?] = ["100μs", "400μs", "1ms", nil, nil]
            let fidelities: [Double?] = [0.993, 0.996, nil, nil]
            let minCoherence = coherences[random.below(5)]
            let minFidelity = fidelities[random.below(4)]
            return AllocationRequest(
                particleTypes: types,
                properties: .init(minCoherenceTime: minCoherence, minFidelity: minFidelity, entanglementReady: random.below(6) == 0),
                purpose: [.research, .education, .openAccess][random.below(3)], priority: Priority.allCases[random.below(4)],
                duration: DurationText("\(5 + random.below(90))min"), reservationTime: reservation,
                preemptible: random.below(2) == 0)
        }

        func compare(_ state: AllocationState, _ request: AllocationRequest, _ client: String, _ held: Set<String>) throws
            -> Quote? {
            let indexed = Result { () throws(AllocationError) in try state.quote(request, client: client, at: time, avoiding: held) }
            let reference = Result { () throws(AllocationError) in try state.referenceQuote(request, client: client, at: time, avoiding: held) }
            #expect(indexed == reference, "seed \(seed) step \(compared): \(request) for \(client) avoiding \(held.sorted())")
            compared += 1
            return try? indexed.get()
        }

        for announcement in announcements.prefix(6) {
            try state.apply(.nodeAnnounced(announcement), at: time)
        }
        try state.apply(.quotaSet(purpose: .education, qubitSeconds: 40 * 3600, periodSeconds: 86_400), at: time)
        try state.apply(.limitsSet(client: "carol", maxResources: 12), at: time)
        for step in 0..<800 {
            time = time + .seconds(Int64(random.below(4) == 0 ? 0 : random.below(900)))
            let ids = state.resources.keys
            let event: AllocationEvent
            switch random.below(100) {
            case 0..<45:
                let client = clients[random.below(3)]
                let held: Set<String> = random.below(3) == 0 ? Set((0..<random.below(12)).map { _ in ids[random.below(ids.count)] }) : []
                guard let quote = try compare(state, request(), client, held) else { refused += 1; continue }
                event = .confirmed(quote)
            case 45..<60:
                let live = state.allocations.filter(\.status.isLive)
                guard !live.isEmpty else { continue }
                let allocation = live[random.below(live.count)]
                event = .released(allocation: allocation.id, by: allocation.client)
            case 60..<68:
                event = .resourceObserved(resource: ids[random.below(ids.count)], properties: .init(
                    coherenceTimeNanoseconds: Int64(20_000 + random.below(2_000_000)),
                    fidelity: 0.99 + Double(random.below(100)) / 10_000, entanglementReady: random.below(2) == 0))
            case 68..<74:
                event = .powerReported(node: "node-\(random.below(6))", watts: Double(random.below(4000)) / 7)
            case 74..<77:
                event = .nodeLost(node: "node-\(random.below(6))")
            case 77..<83:
                event = .nodeAnnounced(announcements[random.below(announcements.count)])
            case 83..<87:
                event = .retired(resource: ids[random.below(ids.count)])
            case 87..<89:
                event = .resetCompleted(resource: ids[random.below(ids.count)])
            case 89..<92:
                event = .limitsSet(client: clients[random.below(3)], maxResources: 4 + random.below(30))
            case 92..<96:
                // A round of one-step allocates: whatever `admit` offers must all be grantable, in its order.
                let batch = (0..<(2 + random.below(5))).map { n in
                    PendingRequest(id: "r\(step)-\(n)", client: clients[random.below(3)], request: request(),
                                   submittedAt: time + .seconds(-Int64(random.below(600))))
                }
                var confirmed = state
                let admissions = state.admit(batch, at: time)
                #expect(admissions.map(\.request) == state.referenceAdmit(batch, at: time, avoiding: []).map(\.request))
                for case .success(let quote) in admissions.map(\.outcome) {
                    #expect(throws: Never.self, "seed \(seed) step \(step): \(quote.id) was admitted") {
                        try confirmed.apply(.confirmed(quote), at: time)
                    }
                    admitted += 1
                }
                continue
            default:
                for _ in 0..<3 { _ = try compare(state, request(), clients[random.below(3)], []) }
                continue
            }
            do {
                try state.apply(event, at: time)
                granted += 1
            } catch {}
            if step % 50 == 49 {
                // A decoded state rebuilds its index from scratch: it must quote as the live one does.
                let decoded = try JSONDecoder().decode(AllocationState.self, from: try JSONEncoder().encode(state))
                #expect(decoded == state)
                for _ in 0..<5 {
                    let (r, c) = (request(), clients[random.below(3)])
                    let live = Result { () throws(AllocationError) in try state.quote(r, client: c, at: time) }
                    #expect(live == Result { () throws(AllocationError) in try decoded.quote(r, client: c, at: time) })
                    _ = try compare(decoded, r, c, [])
                }
                state = decoded
            }
        }
        #expect(compared > 300)
        #expect(granted > 200)
        #expect(state.allocations.count > 60)
        #expect(state.allocations.contains { $0.status == .preempted })
        #expect(state.allocations.contains { $0.status == .lost || !$0.lostResources.isEmpty })
        #expect(refused > 10)
        #expect(admitted > 20)
    }

    @Test("Admitting a round of distinct clients on ample capacity offers exactly what quoting each on a copy does")
    func admissionWithoutCopyMatchesReference() throws {
        var state = AllocationState()
        for n in 0..<8 { try state.apply(.nodeAnnounced(spread("node-\(n)", qubits: 12, seed: n)), at: noon) }
        let t = noon + .seconds(60)
        _ = try state.grant(qubits(5), to: "zed", at: t)
        let held = Set(state.resources.keys.filter { $0.hasSuffix("/q3") })
        let batch = (0..<24).map { n in
            PendingRequest(id: "p\(n)", client: "client-\(n)", request: qubits(1 + n % 4, minCoherence: n % 3 == 0 ? "400μs" : nil),
                           submittedAt: t + .seconds(-Int64(n)))
        }
        let admissions = state.admit(batch, at: t, avoiding: held)
        #expect(admissions == state.referenceAdmit(batch, at: t, avoiding: held))
        #expect(admissions.allSatisfy { (try? $0.outcome.get()) != nil })
        // The same client twice in a round: the second sees the first's grant, as on a copy.
        let twice = [PendingRequest(id: "a", client: "amy", request: qubits(3), submittedAt: t),
                     PendingRequest(id: "b", client: "amy", request: qubits(2), submittedAt: t)]
        var limited = state
        try limited.apply(.limitsSet(client: "amy", maxResources: 4), at: t)
        let outcomes = limited.admit(twice, at: t)
        #expect(outcomes == limited.referenceAdmit(twice, at: t, avoiding: []))
        #expect(throws: AllocationError.self) { try outcomes[1].outcome.get() }
    }

    @Test("Apply keeps the index in step: a refused event is undone and replay equals the original")
    func replayThroughIndexMatches() throws {
        let (events, original) = try script(steps: 800, seed: 77)
        let replayed = try replay(events)
        #expect(replayed == original)
        #expect(summary(replayed) == summary(original))
        let decoded = try JSONDecoder().decode(AllocationState.self, from: try JSONEncoder().encode(original))
        var a = original, b = decoded
        let time = events.last!.at + .seconds(7200)
        #expect(try a.usageReport(at: time) == b.usageReport(at: time))
        try a.apply(.powerReported(node: "nodeA", watts: 10), at: time)
        try b.apply(.powerReported(node: "nodeA", watts: 10), at: time)
        #expect(a == b)
    }
}
