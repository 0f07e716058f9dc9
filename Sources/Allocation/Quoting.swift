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
        let earliest = validated.reservationTime ?? now
        let duration = validated.durationNanoseconds
        var heldSlots: Set<Int> = []
        for id in held {
            if let slot = derived.slotOf[id] { heldSlots.insert(slot) }
        }
        var plan: Plan
        if let quick = quickPlan(validated, earliest: earliest, avoiding: heldSlots) {
            plan = quick
        } else {
            let pools = try eligiblePools(validated)
            // Held resources matter only when some are in the pools; otherwise the filtered pools are the pools.
            var avoiding: [[Int]]?
            if !heldSlots.isEmpty {
                let filtered = pools.map { $0.filter { !heldSlots.contains($0) } }
                if zip(filtered, pools).contains(where: { $0.count != $1.count }) { avoiding = filtered }
            }
            plan = (avoiding.flatMap { findSlot(validated, $0, earliest: earliest, preempting: false) })
                ?? findSlot(validated, pools, earliest: earliest, preempting: false)!
            if request.priority == .critical, plan.start > earliest,
               let preempting = findSlot(validated, pools, earliest: earliest, preempting: true), preempting.start < plan.start {
                plan = preempting
            }
        }
        let end = plan.start.adding(nanoseconds: duration)
        try checkLimit(client: client, units: validated.units, start: plan.start, end: end, preempting: plan.preempts)
        try checkQuota(client: client, purpose: request.purpose, units: validated.units, start: plan.start,
                       durationNanoseconds: duration, preempting: plan.preempts)
        let chosen = plan.resources.map { derived.slotIDs[$0] }.sorted()
        return Quote(
            client: client, request: request, resources: chosen,
            nodes: Array(Set(plan.resources.map { derived.nodeIDs[derived.slots[$0].node] })).sorted(),
            price: try price(validated), issuedAt: now, start: plan.start, end: end,
            expiry: now.adding(nanoseconds: configuration.quoteLifetimeSeconds * 1_000_000_000),
            preempts: plan.preempts.map { allocations[$0].id })
    }

    /// The plan when, for every requested type, one node has enough free at `earliest` (leaving out `held`),
    /// without preemption. Such a node heads `select`'s order (nodes already chosen first, then by id)
    /// whatever the others hold, so this scans nodes in that order and stops at the first one, instead of
    /// building the whole pools; it also counts enough capable resources on the way to know that
    /// `eligiblePools` would not throw. Nil when that is not so: the full search decides then.
    private func quickPlan(_ request: ValidatedRequest, earliest: Timestamp, avoiding held: Set<Int>) -> Plan? {
        let end = earliest.adding(nanoseconds: request.durationNanoseconds)
        var chosen: [Int] = []
        for entry in request.counts {
            var usedNodes: [Int] = []
            for slot in chosen where !usedNodes.contains(derived.slots[slot].node) {
                usedNodes.append(derived.slots[slot].node)
            }
            usedNodes.sort { derived.nodeRank[$0] < derived.nodeRank[$1] }
            var capable = 0
            var winner: [Int]?
            for node in usedNodes + derived.nodesByRank.lazy.filter({ !usedNodes.contains($0) }) {
                // A node that surely lacks enough free resources that fit cannot win: pass it by.
                if winner == nil, derived.cannotServe(node, entry.type, entry.count, request, at: earliest) { continue }
                var free: [Int] = []
                for slot in derived.slots(of: entry.type, on: node) {
                    let facts = derived.slots[slot]
                    guard facts.status != .retired else { continue }
                    if request.isMet(by: facts.advertised) { capable += 1 }
                    if winner == nil, facts.status == .available || facts.status == .degraded,
                       request.isMet(by: facts.measured), held.isEmpty || !held.contains(slot),
                       isFree(slot, from: earliest, until: end) {
                        free.append(slot)
                    }
                }
                if winner == nil, free.count >= entry.count { winner = free }
                if winner != nil, capable >= entry.count { break }
            }
            guard let members = winner, capable >= entry.count else { return nil }
            chosen += members.sorted { fits($0, before: $1, request, blockers: [:]) }.prefix(entry.count)
        }
        return Plan(start: earliest, resources: chosen, preempts: [])
    }

    /// `select`'s order within a node: those that need no preemption (not in `blockers`), then the closest
    /// fit (entanglement-ready ones kept for requests that need them, shortest coherence, lowest fidelity),
    /// then by id.
    private func fits(_ a: Int, before b: Int, _ request: ValidatedRequest, blockers: [Int: [Int]]) -> Bool {
        let (ma, mb) = (derived.slots[a].measured, derived.slots[b].measured)
        let ka = (blockers[a] == nil ? 0 : 1, !request.entanglementReady && ma.entanglementReady ? 1 : 0)
        let kb = (blockers[b] == nil ? 0 : 1, !request.entanglementReady && mb.entanglementReady ? 1 : 0)
        if ka != kb { return ka < kb }
        if ma.coherenceTimeNanoseconds != mb.coherenceTimeNanoseconds {
            return ma.coherenceTimeNanoseconds < mb.coherenceTimeNanoseconds
        }
        if ma.fidelity != mb.fidelity { return ma.fidelity < mb.fidelity }
        return derived.slotIDs[a] < derived.slotIDs[b]
    }

    /// For each requested type, the slots of the resources that meet the minimums now (in no particular
    /// order); throws when too few could ever meet them or too few do now.
    private func eligiblePools(_ request: ValidatedRequest) throws(AllocationError) -> [[Int]] {
        var pools: [[Int]] = []
        for entry in request.counts {
            var capable = 0
            var eligible: [Int] = []
            for slot in (derived.byType[entry.type] ?? []).joined() {
                let status = derived.slots[slot].status
                guard status != .retired else { continue }
                if request.isMet(by: derived.slots[slot].advertised) { capable += 1 }
                if status == .available || status == .degraded, request.isMet(by: derived.slots[slot].measured) {
                    eligible.append(slot)
                }
            }
            guard capable >= entry.count else {
                throw .impossibleProperties(type: entry.type, requested: entry.count, capable: capable,
                                            minimums: request.minimumsDescription)
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
        /// The chosen resources' slots.
        var resources: [Int]
        /// Indices of the allocations it preempts, ascending.
        var preempts: [Int]
    }

    /// Whether a live allocation may be preempted by a critical request.
    private func isPreemptible(_ index: Int) -> Bool {
        allocations[index].preemptible && allocations[index].priority < .high && allocations[index].status.isLive
    }

    /// The earliest start at or after `earliest` when every pool has enough resources free, and the
    /// resources chosen then. Candidate starts are `earliest` and the ends of grants on the pools'
    /// resources (gathered only when `earliest` does not fit); without preemption some candidate always
    /// fits (the last end frees everything).
    private func findSlot(_ request: ValidatedRequest, _ pools: [[Int]], earliest: Timestamp, preempting: Bool) -> Plan? {
        if let plan = plan(request, pools, start: earliest, preempting: preempting) { return plan }
        var candidates: Set<Int64> = []
        for pool in pools {
            for slot in pool {
                for grant in derived.grants[slot] where grant.until > earliest {
                    candidates.insert(grant.until.nanosecondsSinceEpoch)
                }
            }
        }
        // Without preemption, a resource is free for a window from c only if c is at or after its earliest
        // such window; so no candidate before the count-th earliest of those, in every pool, can fit.
        var bound = Int64.min
        if !preempting {
            for (entry, pool) in zip(request.counts, pools) {
                guard pool.count >= entry.count else { return nil }
                var starts = pool.map { earliestFree($0, from: earliest, for: request.durationNanoseconds) }
                starts.sort()
                bound = max(bound, starts[entry.count - 1])
            }
        }
        for start in candidates.sorted() where start >= bound {
            if let plan = plan(request, pools, start: Timestamp(nanosecondsSinceEpoch: start), preempting: preempting) {
                return plan
            }
        }
        return nil
    }

    /// The earliest start at or after `earliest` of a window of `duration` in which `slot` is free, in
    /// nanoseconds: past each live grant that overlaps the window, in order of their starts.
    private func earliestFree(_ slot: Int, from earliest: Timestamp, for duration: Int64) -> Int64 {
        var start = earliest.nanosecondsSinceEpoch
        let grants = derived.grants[slot]
        guard !grants.isEmpty else { return start }
        for grant in grants.count == 1 ? grants : grants.sorted(by: { $0.from < $1.from })
        where allocations[grant.allocation].status.isLive {
            if grant.until.nanosecondsSinceEpoch <= start { continue }
            let (end, overflow) = start.addingReportingOverflow(duration)
            if !overflow, grant.from.nanosecondsSinceEpoch >= end { break }
            start = grant.until.nanosecondsSinceEpoch
        }
        return start
    }

    /// The resources chosen for a window from `start`, or nil when some pool has too few free then.
    private func plan(_ request: ValidatedRequest, _ pools: [[Int]], start: Timestamp, preempting: Bool) -> Plan? {
        let end = start.adding(nanoseconds: request.durationNanoseconds)
        var chosen: [Int] = []
        var preempts: Set<Int> = []
        for (entry, pool) in zip(request.counts, pools) {
            var free: [Int] = []
            var blockers: [Int: [Int]] = [:]
            for slot in pool {
                if isFree(slot, from: start, until: end) {
                    free.append(slot)
                } else if preempting {
                    let blocking = holders(ofSlot: slot, from: start, until: end)
                    if blocking.allSatisfy(isPreemptible) {
                        free.append(slot)
                        blockers[slot] = blocking
                    }
                }
            }
            guard free.count >= entry.count else { return nil }
            for slot in select(entry.count, from: free, blockers: blockers, request: request, alreadyChosen: chosen) {
                chosen.append(slot)
                preempts.formUnion(blockers[slot] ?? [])
            }
        }
        return Plan(start: start, resources: chosen, preempts: preempts.sorted())
    }

    /// Picks `count` of the `free` slots (those in `blockers` need preemption): nodes that can supply the
    /// most of what is still needed first (ties to nodes already chosen, then by node id); within a node,
    /// those that need no preemption, then the closest fit (entanglement-ready ones kept for requests that
    /// need them, shortest coherence, lowest fidelity), then by id.
    private func select(
        _ count: Int, from free: [Int], blockers: [Int: [Int]], request: ValidatedRequest, alreadyChosen: [Int]
    ) -> [Int] {
        // Bucket the free slots by node (a counting sort), then rank the nodes present.
        let nodeCount = derived.nodeIDs.count
        var perNode = [Int](repeating: 0, count: nodeCount)
        for slot in free {
            perNode[derived.slots[slot].node] += 1
        }
        var used = [Bool](repeating: false, count: nodeCount)
        for slot in alreadyChosen {
            used[derived.slots[slot].node] = true
        }
        var first = [Int](repeating: 0, count: nodeCount + 1)
        for node in 0..<nodeCount {
            first[node + 1] = first[node] + perNode[node]
        }
        var fill = first
        var bucketed = [Int](repeating: 0, count: free.count)
        for slot in free {
            let node = derived.slots[slot].node
            bucketed[fill[node]] = slot
            fill[node] += 1
        }
        let order = (0..<nodeCount).filter { perNode[$0] > 0 }.sorted { a, b in
            let (ca, cb) = (min(perNode[a], count), min(perNode[b], count))
            if ca != cb { return ca > cb }
            if used[a] != used[b] { return used[a] }
            return derived.nodeRank[a] < derived.nodeRank[b]
        }
        var picked: [Int] = []
        for node in order where picked.count < count {
            picked += bucketed[first[node]..<first[node + 1]].sorted { fits($0, before: $1, request, blockers: blockers) }.prefix(count - picked.count)
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
        let limit = limit(of: client)
        // Every meter of the client's open allocations is an upper bound of what it holds in any window.
        let (bound, overflow) = units.addingReportingOverflow(derived.openMeterCount[client] ?? 0)
        if !overflow, bound <= limit { return }
        var held = units
        for index in derived.openByClient[client] ?? []
        where allocations[index].status.isLive && !preempting.contains(index) {
            held += allocations[index].meters.count { overlapNanoseconds($0.from, $0.until, start, end) > 0 }
        }
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
        // The client's allocations of the purpose, by start: only those starting in the period are visited.
        let history = derived.byClientPurpose[.init(client: client, purpose: purpose)] ?? []
        var range = history.indices
        let (low, lowOverflow) = periodIndex.multipliedReportingOverflow(by: period)
        if !lowOverflow {
            let first = history.partitioningIndex { $0.start.nanosecondsSinceEpoch >= low }
            let (high, highOverflow) = low.addingReportingOverflow(period)
            let last = highOverflow ? history.count : history.partitioningIndex { $0.start.nanosecondsSinceEpoch >= high }
            range = first..<max(first, last)
        }
        for entry in history[range]
        where entry.start.nanosecondsSinceEpoch.dividedRoundingDown(by: period) == periodIndex {
            let index = entry.allocation
            let preempted = preempting.contains(index)
            for meter in allocations[index].meters {
                let until = preempted ? min(meter.until, max(clock, meter.from)) : meter.until
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
        let allocation = Allocation(
            id: "alloc-\(index + 1)", quote: quote.id, client: quote.client, purpose: quote.request.purpose,
            priority: quote.request.priority, preemptible: quote.request.preemptible, price: quote.price,
            confirmedAt: clock, start: quote.start, end: quote.end, status: quote.start <= clock ? .active : .scheduled,
            meters: meters, shares: [], preemptedBy: nil)
        allocations.append(allocation)
        open.append(index)
        for id in quote.resources {
            grants[id, default: []].append(index)
        }
        derived.addOpen(index, allocation)
        derived.addToHistory(index, allocation)
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
