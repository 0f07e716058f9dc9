import Quantities

/// Lookup structures derived from the rest of `AllocationState`, so that quoting and applying events cost
/// what they touch rather than the whole inventory or history.
///
/// Nothing here is coded or compared: `AllocationState` leaves it out of its `Codable` keys, rebuilds it
/// after decoding (`rebuild`), and `==` treats any two as equal, since it is a function of the coded state.
/// No decision may depend on the order of its slots or of any Dictionary in it: every result the contract
/// computes from it is either order-free (counts, sets, integer sums) or ordered by the same total orders
/// the coded state uses (resource and node ids, allocation indices).
struct AllocationIndex: Equatable, Sendable {
    static func == (_: Self, _: Self) -> Bool { true }

    /// A resource's quoting facts, kept in step with `resources` (all trivial values, cheap to scan).
    struct Slot: Sendable {
        var node: Int
        var status: ResourceStatus
        var advertised: ResourceProperties
        var measured: ResourceProperties
    }

    /// One live grant of a resource: allocation `allocation` holds it over [from, until) through its meter
    /// `meter`. Mirrors `grants` and the meters' windows.
    struct Grant: Sendable {
        var allocation: Int
        var meter: Int
        var from: Timestamp
        var until: Timestamp
    }

    /// A pending status change of an open allocation: it starts (`kind` 0) or ends (`kind` 1) at `time`.
    struct Transition: Comparable, Sendable {
        var time: Timestamp
        var kind: UInt8
        var allocation: Int

        static func < (a: Self, b: Self) -> Bool {
            (a.time, a.kind, a.allocation) < (b.time, b.kind, b.allocation)
        }
    }

    struct ClientPurpose: Hashable, Sendable {
        var client: String
        var purpose: Purpose
    }

    // Resources.
    var slotOf: [String: Int] = [:]
    var slotIDs: [String] = []
    var slots: [Slot] = []
    var slotTypes: [ParticleType] = []
    /// Each slot's live grants, in ascending allocation order (as `grants`).
    var grants: [[Grant]] = []
    /// Slots by type, then by node (indexed by node slot; a list may be shorter than `nodeIDs`).
    var byType: [ParticleType: [[Int]]] = [:]

    // Nodes.
    var nodeOf: [String: Int] = [:]
    var nodeIDs: [String] = []
    /// Each node's position in ascending id order.
    var nodeRank: [Int] = []
    /// The nodes in ascending id order.
    var nodesByRank: [Int] = []
    /// Each node's resources that are not retired: the shares its power is split into.
    var inService: [Int] = []
    /// Nodes drawing power, ascending.
    var powered: [Int] = []
    /// Each node's meters of open allocations, as (allocation, meter), ascending.
    var openMeters: [[(allocation: Int, meter: Int)]] = []
    /// Per node and type, what quoting needs to pass a node by without visiting its resources.
    var coverage: [[ParticleType: Coverage]] = []
    /// Nodes whose resources or grants changed since `refreshCoverage` last computed their `coverage`.
    var stale: Set<Int> = []

    // Allocations.
    /// Start and end transitions of open allocations (stale ones are skipped when they come up).
    var transitions = MinHeap<Transition>()
    /// Each client's open allocations, ascending.
    var openByClient: [String: [Int]] = [:]
    /// Each client's meters over its open allocations: an upper bound of what it holds at any time.
    var openMeterCount: [String: Int] = [:]
    /// Every allocation of a client and purpose, ordered by (start, index).
    var byClientPurpose: [ClientPurpose: [(start: Timestamp, allocation: Int)]] = [:]
    /// Allocations that stopped being live during the event being applied, for `forgetEnded`.
    var ended: [Int] = []

    /// Records `resource`'s facts in its slot, creating the slot when the resource is new.
    mutating func update(_ resource: Resource) {
        let node = nodeSlot(resource.node)
        if let slot = slotOf[resource.id] {
            let old = slots[slot]
            if slotTypes[slot] != resource.type {
                byType[slotTypes[slot]]![node].removeAll { $0 == slot }
                addToType(slot, resource.type, node)
                slotTypes[slot] = resource.type
            }
            if (old.status == .retired) != (resource.status == .retired) {
                inService[node] += resource.status == .retired ? -1 : 1
            }
            slots[slot] = Slot(node: node, status: resource.status,
                               advertised: resource.advertised, measured: resource.measured)
            stale.insert(old.node)
        } else {
            let slot = slots.count
            slotOf[resource.id] = slot
            slotIDs.append(resource.id)
            slots.append(Slot(node: node, status: resource.status,
                              advertised: resource.advertised, measured: resource.measured))
            slotTypes.append(resource.type)
            grants.append([])
            addToType(slot, resource.type, node)
            if resource.status != .retired { inService[node] += 1 }
        }
        stale.insert(node)
    }

    private mutating func addToType(_ slot: Int, _ type: ParticleType, _ node: Int) {
        var lists = byType.removeValue(forKey: type) ?? []
        while lists.count <= node { lists.append([]) }
        lists[node].append(slot)
        byType[type] = lists
    }

    /// The slots of `type` on `node`.
    func slots(of type: ParticleType, on node: Int) -> [Int] {
        guard let lists = byType[type], node < lists.count else { return [] }
        return lists[node]
    }

    /// The slot of node `id`, creating it when new (and re-ranking the nodes by id).
    mutating func nodeSlot(_ id: String) -> Int {
        if let node = nodeOf[id] { return node }
        let node = nodeIDs.count
        nodeOf[id] = node
        nodeIDs.append(id)
        inService.append(0)
        openMeters.append([])
        coverage.append([:])
        let at = nodesByRank.partitioningIndex { nodeIDs[$0] > id }
        nodesByRank.insert(node, at: at)
        nodeRank.append(0)
        for rank in at..<nodesByRank.count {
            nodeRank[nodesByRank[rank]] = rank
        }
        return node
    }

    /// Records whether node `id` draws power.
    mutating func setPowered(_ id: String, _ isPowered: Bool) {
        let node = nodeSlot(id)
        let at = powered.partitioningIndex { $0 >= node }
        let present = at < powered.count && powered[at] == node
        if isPowered, !present { powered.insert(node, at: at) }
        if !isPowered, present { powered.remove(at: at) }
    }

    /// Indexes a newly confirmed allocation, which is open.
    mutating func addOpen(_ index: Int, _ allocation: Allocation) {
        for (m, meter) in allocation.meters.enumerated() {
            let slot = slotOf[meter.resource]!
            grants[slot].append(Grant(allocation: index, meter: m, from: meter.from, until: meter.until))
            openMeters[nodeSlot(meter.node)].append((index, m))
            stale.insert(slots[slot].node)
        }
        openByClient[allocation.client, default: []].append(index)
        openMeterCount[allocation.client, default: 0] += allocation.meters.count
        if allocation.status == .scheduled {
            transitions.insert(Transition(time: allocation.start, kind: 0, allocation: index))
        }
        transitions.insert(Transition(time: allocation.end, kind: 1, allocation: index))
    }

    /// Indexes an allocation of the history for its client's quota.
    mutating func addToHistory(_ index: Int, _ allocation: Allocation) {
        let key = ClientPurpose(client: allocation.client, purpose: allocation.purpose)
        let entry = (start: allocation.start, allocation: index)
        var list = byClientPurpose.removeValue(forKey: key) ?? []
        let at = list.partitioningIndex { ($0.start, $0.allocation) > (entry.start, entry.allocation) }
        list.insert(entry, at: at)
        byClientPurpose[key] = list
    }

    /// Forgets open allocation `index`, which has ended.
    mutating func removeOpen(_ index: Int, _ allocation: Allocation) {
        for meter in allocation.meters {
            let slot = slotOf[meter.resource]!
            grants[slot].removeAll { $0.allocation == index }
            stale.insert(slots[slot].node)
            let node = nodeOf[meter.node]!
            let at = openMeters[node].partitioningIndex { $0.allocation >= index }
            var end = at
            while end < openMeters[node].count, openMeters[node][end].allocation == index { end += 1 }
            openMeters[node].removeSubrange(at..<end)
        }
        if var list = openByClient.removeValue(forKey: allocation.client) {
            let at = list.partitioningIndex { $0 >= index }
            if at < list.count, list[at] == index { list.remove(at: at) }
            if !list.isEmpty { openByClient[allocation.client] = list }
        }
        let remaining = (openMeterCount[allocation.client] ?? 0) - allocation.meters.count
        openMeterCount[allocation.client] = remaining > 0 ? remaining : nil
    }

    /// Sets the end of the grant through which allocation `index` holds `resource` by its meter `meter`.
    mutating func setUntil(_ until: Timestamp, resource: String, allocation index: Int, meter: Int) {
        guard let slot = slotOf[resource],
              let g = grants[slot].firstIndex(where: { $0.allocation == index && $0.meter == meter }) else { return }
        grants[slot][g].until = until
        stale.insert(slots[slot].node)
    }

    /// Marks the nodes of `allocation`'s resources stale: it has stopped being live, so its grants no
    /// longer hold them, though they stay in `grants` until `forgetEnded`.
    mutating func markStale(_ allocation: Allocation) {
        for meter in allocation.meters {
            if let slot = slotOf[meter.resource] { stale.insert(slots[slot].node) }
        }
    }

    /// A bound on what a node's resources of one type can offer during [from, until): the others are
    /// all out of service or held by their grants then.
    struct Coverage: Sendable {
        var from: Timestamp
        var until: Timestamp
        /// How many are not known to be held then.
        var open: Int
        /// The best measured properties among those, field by field (none meets a request this fails).
        var best: ResourceProperties
    }

    /// Recomputes `coverage` for the stale nodes. Each in-service resource with grants is held throughout
    /// its first run of back-to-back grants; the interval is where those runs overlap (a resource whose run
    /// would leave no overlap counts as open instead), and the open ones bound what the node can offer.
    mutating func refreshCoverage() {
        for node in stale {
            var result: [ParticleType: Coverage] = [:]
            for (type, lists) in byType where node < lists.count {
                var from = Int64.min, until = Int64.max, open = 0
                var best = ResourceProperties(coherenceTimeNanoseconds: .min, fidelity: -.infinity, entanglementReady: false)
                for slot in lists[node] where slots[slot].status == .available || slots[slot].status == .degraded {
                    if let run = firstRun(of: slot), max(from, run.from) < min(until, run.until) {
                        from = max(from, run.from)
                        until = min(until, run.until)
                        continue
                    }
                    open += 1
                    let measured = slots[slot].measured
                    best.coherenceTimeNanoseconds = max(best.coherenceTimeNanoseconds, measured.coherenceTimeNanoseconds)
                    best.fidelity = max(best.fidelity, measured.fidelity)
                    best.entanglementReady = best.entanglementReady || measured.entanglementReady
                }
                result[type] = Coverage(from: Timestamp(nanosecondsSinceEpoch: from), until: Timestamp(nanosecondsSinceEpoch: until),
                                        open: open, best: best)
            }
            coverage[node] = result
        }
        stale = []
    }

    /// Whether `node` surely has fewer than `count` resources of `type` free at `time` that meet
    /// `request` (false when unknown).
    func cannotServe(_ node: Int, _ type: ParticleType, _ count: Int, _ request: ValidatedRequest, at time: Timestamp) -> Bool {
        guard !stale.contains(node), let bound = coverage[node][type], bound.from <= time, time < bound.until else { return false }
        return bound.open < count || !request.isMet(by: bound.best)
    }

    /// The first run of back-to-back grants of `slot`, in nanoseconds; nil when it has none.
    private func firstRun(of slot: Int) -> (from: Int64, until: Int64)? {
        let list = grants[slot]
        guard let first = list.first else { return nil }
        if list.count == 1 { return (first.from.nanosecondsSinceEpoch, first.until.nanosecondsSinceEpoch) }
        let sorted = list.sorted { $0.from < $1.from }
        var run = (from: sorted[0].from.nanosecondsSinceEpoch, until: sorted[0].until.nanosecondsSinceEpoch)
        for grant in sorted.dropFirst() {
            guard grant.from.nanosecondsSinceEpoch <= run.until else { break }
            run.until = max(run.until, grant.until.nanosecondsSinceEpoch)
        }
        return run
    }
}

/// A binary min-heap: O(log n) insert and removal of the least element.
struct MinHeap<Element: Comparable & Sendable>: Sendable {
    private(set) var elements: [Element] = []

    var isEmpty: Bool { elements.isEmpty }
    var min: Element? { elements.first }

    mutating func insert(_ element: Element) {
        elements.append(element)
        var child = elements.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard elements[child] < elements[parent] else { break }
            elements.swapAt(child, parent)
            child = parent
        }
    }

    @discardableResult
    mutating func removeMin() -> Element? {
        guard !elements.isEmpty else { return nil }
        elements.swapAt(0, elements.count - 1)
        let least = elements.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < elements.count, elements[left] < elements[smallest] { smallest = left }
            if right < elements.count, elements[right] < elements[smallest] { smallest = right }
            guard smallest != parent else { break }
            elements.swapAt(parent, smallest)
            parent = smallest
        }
        return least
    }
}

extension Array {
    /// The first index whose element satisfies `predicate`, which must be false then true along the array.
    func partitioningIndex(where predicate: (Element) -> Bool) -> Int {
        var low = 0, high = count
        while low < high {
            let mid = (low + high) / 2
            if predicate(self[mid]) { high = mid } else { low = mid + 1 }
        }
        return low
    }
}
