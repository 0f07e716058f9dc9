import Quantities

extension AllocationState {
    /// What the contract would grant `client` for `request` at `now`, without changing anything.
    ///
    /// The start is the earliest time at or after the reservation time (or `now`) when enough eligible
    /// resources are free for the whole duration: existing grants are never moved, and a request fits
    /// into a gap between them only if it ends before the next one begins (conservative backfill).
    /// A critical request may instead start earlier by preempting preemptible low and normal allocations.
    /// Resources are chosen to span the fewest nodes, then the closest fit to the minimums, then by id.
    ///
    /// Resources in `held` (those of other clients' open quotes) are left out where the request can be met
    /// without them, so concurrent quotes offer different resources instead of racing for the same ones.
    public func quote(_ request: AllocationRequest, client: String, at now: Timestamp,
                      avoiding held: Set<String> = []) throws(AllocationError) -> Quote {
        guard now >= clock else { throw .outOfOrder(eventTime: now, stateTime: clock) }
        let validated = try request.validated()
        if let reservation = validated.reservationTime, reservation < now {
            throw .reservationExpired(reservationTime: reservation, now: now)
        }
        let pools = try eligiblePools(validated)
        let earliest = validated.reservationTime ?? now
        let duration = validated.durationNanoseconds
        var plan = (held.isEmpty ? nil : findSlot(validated, pools.map { $0.filter { !held.contains($0.id) } },
                                                  earliest: earliest, preempting: false))
            ?? findSlot(validated, pools, earliest: earliest, preempting: false)!
        if request.priority == .critical, plan.start > earliest,
           let preempting = findSlot(validated, pools, earliest: earliest, preempting: true), preempting.start < plan.start {
            plan = preempting
        }
        let end = plan.start.adding(nanoseconds: duration)
        try checkLimit(client: client, units: validated.units, start: plan.start, end: end, preempting: plan.preempts)
        try checkQuota(client: client, purpose: request.purpose, units: validated.units, start: plan.start,
                       durationNanoseconds: duration, preempting: plan.preempts)
        let chosen = plan.resources.sorted()
        return Quote(
            client: client, request: request, resources: chosen,
            nodes: Array(Set(chosen.map { resources[$0]!.node })).sorted(),
            price: try price(validated), issuedAt: now, start: plan.start, end: end,
            expiry: now.adding(nanoseconds: configuration.quoteLifetimeSeconds * 1_000_000_000),
            preempts: plan.preempts.map { allocations[$0].id })
    }

    /// For each requested type, the resources that meet the minimums now; throws when too few could
    /// ever meet them or too few do now.
    private func eligiblePools(_ request: ValidatedRequest) throws(AllocationError) -> [[Resource]] {
        var pools: [[Resource]] = []
        for entry in request.counts {
            let ofType = resources.values.filter { $0.type == entry.type && $0.status != .retired }
            let capable = ofType.count { request.isMet(by: $0.advertised) }
            guard capable >= entry.count else {
                throw .impossibleProperties(type: entry.type, requested: entry.count, capable: capable,
                                            minimums: request.minimumsDescription)
            }
            let eligible = ofType.filter {
                ($0.status == .available || $0.status == .degraded) && request.isMet(by: $0.measured)
            }
            guard eligible.count >= entry.count else {
                throw .insufficientResources(type: entry.type, requested: entry.count, eligible: eligible.count)
            }
            pools.append(eligible)
        }
        return pools
    }

    private struct Plan {
        var start: Timestamp
        var resources: [String]
        /// Indices of the allocations it preempts, ascending.
        var preempts: [Int]
    }

    /// Whether a live allocation may be preempted by a critical request.
    private func isPreemptible(_ index: Int) -> Bool {
        allocations[index].preemptible && allocations[index].priority < .high && allocations[index].status.isLive
    }

    /// The earliest start at or after `earliest` when every pool has enough resources free, and the
    /// resources chosen then. Candidate starts are `earliest` and the ends of grants on the pools'
    /// resources; without preemption some candidate always fits (the last end frees everything).
    private func findSlot(_ request: ValidatedRequest, _ pools: [[Resource]], earliest: Timestamp, preempting: Bool) -> Plan? {
        var candidates = [earliest]
        for pool in pools {
            for resource in pool {
                for index in grants[resource.id] ?? [] {
                    for meter in allocations[index].meters where meter.resource == resource.id && meter.until > earliest {
                        candidates.append(meter.until)
                    }
                }
            }
        }
        for start in Set(candidates).sorted() {
            let end = start.adding(nanoseconds: request.durationNanoseconds)
            var chosen: [Resource] = []
            var preempts: Set<Int> = []
            var feasible = true
            for (entry, pool) in zip(request.counts, pools) {
                var free: [(resource: Resource, preempts: [Int])] = []
                for resource in pool {
                    let blocking = holders(of: resource.id, from: start, until: end)
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
                for pick in select(entry.count, from: free, request: request, alreadyChosen: chosen) {
                    chosen.append(pick.resource)
                    preempts.formUnion(pick.preempts)
                }
            }
            if feasible {
                return Plan(start: start, resources: chosen.map(\.id), preempts: preempts.sorted())
            }
        }
        return nil
    }

    /// Picks `count` resources: nodes that can supply the most of what is still needed first (ties to
    /// nodes already chosen, then by node id); within a node, those that need no preemption, then the
    /// closest fit (entanglement-ready ones kept for requests that need them, shortest coherence, lowest
    /// fidelity), then by id.
    private func select(
        _ count: Int, from free: [(resource: Resource, preempts: [Int])], request: ValidatedRequest,
        alreadyChosen: [Resource]
    ) -> [(resource: Resource, preempts: [Int])] {
        func fitsBefore(_ a: (resource: Resource, preempts: [Int]), _ b: (resource: Resource, preempts: [Int])) -> Bool {
            let ka = (a.preempts.isEmpty ? 0 : 1, !request.entanglementReady && a.resource.measured.entanglementReady ? 1 : 0)
            let kb = (b.preempts.isEmpty ? 0 : 1, !request.entanglementReady && b.resource.measured.entanglementReady ? 1 : 0)
            if ka != kb { return ka < kb }
            let (ma, mb) = (a.resource.measured, b.resource.measured)
            if ma.coherenceTimeNanoseconds != mb.coherenceTimeNanoseconds {
                return ma.coherenceTimeNanoseconds < mb.coherenceTimeNanoseconds
            }
            if ma.fidelity != mb.fidelity { return ma.fidelity < mb.fidelity }
            return a.resource.id < b.resource.id
        }
        var byNode: [String: [(resource: Resource, preempts: [Int])]] = [:]
        for candidate in free {
            byNode[candidate.resource.node, default: []].append(candidate)
        }
        let usedNodes = Set(alreadyChosen.map(\.node))
        let order = byNode.keys.sorted { a, b in
            let (ca, cb) = (min(byNode[a]!.count, count), min(byNode[b]!.count, count))
            if ca != cb { return ca > cb }
            if usedNodes.contains(a) != usedNodes.contains(b) { return usedNodes.contains(a) }
            return a < b
        }
        var picked: [(resource: Resource, preempts: [Int])] = []
        for node in order where picked.count < count {
            picked += byNode[node]!.sorted(by: fitsBefore).prefix(count - picked.count)
        }
        return picked
    }

    /// Σ count × price per second × duration, rounded up to the micro-credit.
    private func price(_ request: ValidatedRequest) throws(AllocationError) -> Int64 {
        var total: Int128 = 0
        for entry in request.counts {
            total += Int128(entry.count) * Int128(price(of: entry.type)) * Int128(request.durationNanoseconds)
        }
        guard let credits = Int64(exactly: (total + 999_999_999) / 1_000_000_000) else {
            throw .invalidProperty(key: "duration", value: "\(request.durationNanoseconds) ns",
                                   reason: "the price would exceed 9.2e18 micro-credits")
        }
        return credits
    }

    /// Throws when `client` would hold more than its limit: the resources of its live allocations whose
    /// windows overlap [start, end) plus `units` (an upper bound of what it holds at once). Allocations
    /// being preempted do not count.
    private func checkLimit(
        client: String, units: Int, start: Timestamp, end: Timestamp, preempting: [Int]
    ) throws(AllocationError) {
        var held = units
        for index in open
        where allocations[index].client == client && allocations[index].status.isLive && !preempting.contains(index) {
            held += allocations[index].meters.count { overlapNanoseconds($0.from, $0.until, start, end) > 0 }
        }
        let limit = limit(of: client)
        guard held <= limit else { throw .overLimit(client: client, limit: limit, requested: held) }
    }

    /// Throws when a quota for `purpose` exists and `client`'s resource-time in the period containing
    /// `start` (granted allocations of that purpose starting in the period) plus the request exceeds it.
    /// Allocations being preempted count up to the state's clock.
    private func checkQuota(
        client: String, purpose: Purpose, units: Int, start: Timestamp, durationNanoseconds: Int64, preempting: [Int]
    ) throws(AllocationError) {
        guard let quota = quotas[purpose] else { return }
        let period = quota.periodSeconds * 1_000_000_000
        let periodIndex = start.nanosecondsSinceEpoch.dividedRoundingDown(by: period)
        var used: Int128 = Int128(units) * Int128(durationNanoseconds)
        for (index, allocation) in allocations.enumerated()
        where allocation.client == client && allocation.purpose == purpose
            && allocation.start.nanosecondsSinceEpoch.dividedRoundingDown(by: period) == periodIndex {
            for meter in allocation.meters {
                let until = preempting.contains(index) ? min(meter.until, max(clock, meter.from)) : meter.until
                used += Int128(max(0, until.nanoseconds(since: meter.from)))
            }
        }
        let requested = Int64(clamping: (used + 999_999_999) / 1_000_000_000)
        guard requested <= quota.qubitSeconds else {
            throw .overQuota(client: client, purpose: purpose, quota: quota.qubitSeconds, requested: requested)
        }
    }

    /// Grants a quote after re-checking every term against the state now (all checks come before any
    /// change). A quote confirmed after its start is metered from the confirmation.
    mutating func confirm(_ quote: Quote) throws(AllocationError) {
        guard quote.isIntact else { throw .quoteMismatch(quote: quote.id, reason: "its content does not match its id") }
        guard clock <= quote.expiry else { throw .quoteExpired(quote: quote.id, expiry: quote.expiry, now: clock) }
        let request = try quote.request.validated()
        guard quote.end.nanoseconds(since: quote.start) == request.durationNanoseconds,
              quote.start >= (request.reservationTime ?? quote.issuedAt) else {
            throw .quoteMismatch(quote: quote.id, reason: "its window does not match the request")
        }
        guard quote.preempts.isEmpty || quote.request.priority == .critical else {
            throw .quoteMismatch(quote: quote.id, reason: "only critical requests may preempt")
        }
        var preempted: [Int] = []
        for id in quote.preempts {
            let index = try allocationIndex(id)
            guard isPreemptible(index) else {
                throw .quoteMismatch(quote: quote.id, reason: "\(id) can no longer be preempted")
            }
            preempted.append(index)
        }
        var remaining = request.counts
        var meters: [ResourceMeter] = []
        for id in quote.resources {
            guard let resource = resources[id] else { throw .unknownResource(id) }
            guard resource.status == .available || resource.status == .degraded else {
                throw .unavailable(resource: id, reason: "it is \(resource.status.rawValue)")
            }
            guard request.isMet(by: resource.measured) else {
                throw .unavailable(resource: id, reason: "it no longer meets \(request.minimumsDescription)")
            }
            guard let slot = remaining.firstIndex(where: { $0.type == resource.type && $0.count > 0 }) else {
                throw .quoteMismatch(quote: quote.id, reason: "it lists more \(resource.type) resources than requested")
            }
            remaining[slot].count -= 1
            if let holder = holders(of: id, from: quote.start, until: quote.end).first(where: { !preempted.contains($0) }) {
                throw .alreadyGranted(resource: id, allocation: allocations[holder].id)
            }
            meters.append(ResourceMeter(resource: id, node: resource.node, type: resource.type, from: max(quote.start, clock),
                                        until: quote.end, energyJoules: 0, lost: false))
        }
        guard remaining.allSatisfy({ $0.count == 0 }), Set(quote.resources).count == quote.resources.count else {
            throw .quoteMismatch(quote: quote.id, reason: "its resources do not match the requested counts")
        }
        try checkLimit(client: quote.client, units: request.units, start: quote.start, end: quote.end,
                       preempting: preempted)
        try checkQuota(client: quote.client, purpose: quote.request.purpose, units: request.units, start: quote.start,
                       durationNanoseconds: request.durationNanoseconds, preempting: preempted)
        for index in preempted {
            end(index, as: .preempted)
            allocations[index].preemptedBy = "alloc-\(allocations.count + 1)"
        }
        let index = allocations.count
        allocations.append(Allocation(
            id: "alloc-\(index + 1)", quote: quote.id, client: quote.client, purpose: quote.request.purpose,
            priority: quote.request.priority, preemptible: quote.request.preemptible, price: quote.price,
            confirmedAt: clock, start: quote.start, end: quote.end, status: quote.start <= clock ? .active : .scheduled,
            meters: meters, shares: [], preemptedBy: nil))
        open.append(index)
        for id in quote.resources {
            grants[id, default: []].append(index)
        }
        balances[quote.client, default: 0] -= quote.price
    }
}

extension Int64 {
    /// The quotient rounded toward −∞.
    func dividedRoundingDown(by divisor: Int64) -> Int64 {
        let (quotient, remainder) = quotientAndRemainder(dividingBy: divisor)
        return remainder < 0 ? quotient - 1 : quotient
    }
}
