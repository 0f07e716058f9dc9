import Quantities

/// The allocation contract: a deterministic state machine over `AllocationEvent`s.
///
/// Time only enters through `apply(_:at:)` and the queries' `at:`; maps are `SortedMap`s, so replaying the
/// same events at the same times gives an equal state, and the same JSON, on every machine.
public struct AllocationState: Codable, Equatable, Sendable {
    public let configuration: AllocationConfiguration
    /// The time of the last applied event.
    @RFC3339Coded public internal(set) var clock: Timestamp
    public internal(set) var nodes = SortedMap<String, Node>()
    /// Every resource ever announced. Change it only through `setResource`, which keeps `derived` in step.
    public internal(set) var resources = SortedMap<String, Resource>()
    /// Every allocation ever confirmed; "alloc-N" is at index N − 1.
    public internal(set) var allocations: [Allocation] = []
    /// Indices of scheduled and active allocations, ascending.
    var open: [Int] = []
    /// For each resource, the indices of the live allocations granted it, ascending.
    var grants = SortedMap<String, [Int]>()
    public internal(set) var limits = SortedMap<String, Int>()
    public internal(set) var quotas = SortedMap<Purpose, Quota>()
    public internal(set) var shares = SortedMap<String, Int>()
    public internal(set) var prices = SortedMap<ParticleType, Int64>()
    /// Micro-credit balances: clients pay for allocations and auction wins, sellers earn.
    public internal(set) var balances = SortedMap<String, Int64>()
    /// Each node's energy not apportioned to any allocation, in joules.
    public internal(set) var idleEnergy = SortedMap<String, Double>()
    public internal(set) var auctions: [AuctionRecord] = []
    /// Auctions opened and not yet closed, with the sealed bids written so far, by id.
    public internal(set) var openAuctions = SortedMap<String, OpenAuction>()
    /// Derived lookups: neither coded nor compared, rebuilt after decoding.
    var derived = AllocationIndex()

    /// An empty realm whose clock starts at `genesis`.
    public init(configuration: AllocationConfiguration = .init(), genesis: Timestamp = Timestamp(nanosecondsSinceEpoch: 0)) {
        self.configuration = configuration
        self.clock = genesis
    }

    private enum CodingKeys: String, CodingKey {
        case configuration, clock, nodes, resources, allocations, open, grants, limits, quotas, shares, prices, balances,
             idleEnergy, auctions, openAuctions
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        configuration = try container.decode(AllocationConfiguration.self, forKey: .configuration)
        _clock = try container.decode(RFC3339Coded.self, forKey: .clock)
        nodes = try container.decode(SortedMap<String, Node>.self, forKey: .nodes)
        resources = try container.decode(SortedMap<String, Resource>.self, forKey: .resources)
        allocations = try container.decode([Allocation].self, forKey: .allocations)
        open = try container.decode([Int].self, forKey: .open)
        grants = try container.decode(SortedMap<String, [Int]>.self, forKey: .grants)
        limits = try container.decode(SortedMap<String, Int>.self, forKey: .limits)
        quotas = try container.decode(SortedMap<Purpose, Quota>.self, forKey: .quotas)
        shares = try container.decode(SortedMap<String, Int>.self, forKey: .shares)
        prices = try container.decode(SortedMap<ParticleType, Int64>.self, forKey: .prices)
        balances = try container.decode(SortedMap<String, Int64>.self, forKey: .balances)
        idleEnergy = try container.decode(SortedMap<String, Double>.self, forKey: .idleEnergy)
        auctions = try container.decode([AuctionRecord].self, forKey: .auctions)
        openAuctions = try container.decode(SortedMap<String, OpenAuction>.self, forKey: .openAuctions)
        try rebuildIndex()
    }

    /// Derives `derived` from the coded state; throws when that state is inconsistent.
    private mutating func rebuildIndex() throws {
        struct Inconsistent: Error, CustomStringConvertible { let description: String }
        var index = AllocationIndex()
        for id in nodes.keys {
            _ = index.nodeSlot(id)
            if nodes[id]!.powerWatts > 0 { index.setPowered(id, true) }
        }
        for resource in resources.values {
            index.update(resource)
        }
        for i in allocations.indices {
            index.addToHistory(i, allocations[i])
        }
        for i in open {
            guard allocations.indices.contains(i) else { throw Inconsistent(description: "open allocation \(i) does not exist") }
            for meter in allocations[i].meters where resources[meter.resource] == nil {
                throw Inconsistent(description: "\(allocations[i].id) holds unknown resource \(meter.resource)")
            }
            index.addOpen(i, allocations[i])
        }
        // `grants` is what the contract consults; rebuild the slots' grants from it, not from `open`.
        for slot in index.grants.indices { index.grants[slot] = [] }
        for id in grants.keys {
            guard let slot = index.slotOf[id] else { throw Inconsistent(description: "grants of unknown resource \(id)") }
            for i in grants[id]! {
                guard allocations.indices.contains(i),
                      let m = allocations[i].meters.firstIndex(where: { $0.resource == id }) else {
                    throw Inconsistent(description: "resource \(id) is granted to allocation \(i), which does not hold it")
                }
                let meter = allocations[i].meters[m]
                index.grants[slot].append(.init(allocation: i, meter: m, from: meter.from, until: meter.until))
            }
        }
        index.stale = Set(index.nodeIDs.indices)
        index.refreshCoverage()
        derived = index
    }

    /// Stores `resource` and updates the index.
    mutating func setResource(_ resource: Resource) {
        resources[resource.id] = resource
        derived.update(resource)
    }

    // MARK: Applying events

    /// Applies `event` at `time`, which must not be before the last event's. Throws, leaving the state
    /// unchanged, when the event is not valid now.
    ///
    /// Every handler checks all it needs before it changes anything, so undoing a refused event only
    /// means undoing the advance of the clock, which touches just the allocations whose window started or
    /// ended, the meters on powered nodes, their nodes' idle energy and the clock: no event copies the
    /// whole state, and none walks every open allocation.
    public mutating func apply(_ event: AllocationEvent, at time: Timestamp) throws(AllocationError) {
        guard time >= clock else { throw .outOfOrder(eventTime: time, stateTime: clock) }
        let before = clock
        var undo = AdvanceUndo()
        advance(to: time, undo: &undo)
        do {
            try handle(event)
        } catch {
            clock = before
            for (id, energy) in undo.idleEnergy.reversed() {
                idleEnergy[id] = energy
            }
            for (index, meter, energy) in undo.energy {
                allocations[index].meters[meter].energyJoules = energy
            }
            for (index, status) in undo.statuses.reversed() {
                allocations[index].status = status
            }
            for transition in undo.transitions {
                derived.transitions.insert(transition)
            }
            derived.ended = []
            derived.refreshCoverage()
            throw error
        }
        forgetEnded()
        derived.refreshCoverage()
    }

    /// What `advance` changed, to undo it when the event is refused.
    struct AdvanceUndo {
        var idleEnergy: [(String, Double?)] = []
        var energy: [(Int, Int, Double)] = []
        var statuses: [(Int, AllocationStatus)] = []
        var transitions: [AllocationIndex.Transition] = []
    }

    /// Applies one event to a state already advanced to its time; throws before changing anything.
    private mutating func handle(_ event: AllocationEvent) throws(AllocationError) {
        switch event {
        case .nodeAnnounced(let announcement): try announce(announcement)
        case .resourceObserved(let id, let properties): try observe(id, properties)
        case .nodeLost(let node): try loseNode(node)
        case .retired(let id): try retire(id)
        case .resetCompleted(let id, _): try completeReset(id)
        case .confirmed(let quote): try confirm(quote)
        case .released(let id, let party): try release(id, by: party)
        case .groupShared(let id, let party, let grants): try share(id, by: party, grants: grants)
        case .limitsSet(let client, let maxResources):
            guard maxResources >= 0 else { throw .invalidEvent(reason: "a limit of \(maxResources) resources is negative") }
            limits[client] = maxResources
        case .quotaSet(let purpose, let qubitSeconds, let periodSeconds):
            guard qubitSeconds >= 0, periodSeconds > 0 else {
                throw .invalidEvent(reason: "a quota needs qubit-seconds ≥ 0 and a positive period, got \(qubitSeconds) per \(periodSeconds) s")
            }
            quotas[purpose] = Quota(qubitSeconds: qubitSeconds, periodSeconds: periodSeconds)
        case .sharesSet(let client, let count):
            guard count > 0 else { throw .invalidEvent(reason: "client \(client) needs at least 1 share, got \(count)") }
            shares[client] = count
        case .priceUpdated(let type, let price):
            guard price >= 0 else { throw .invalidEvent(reason: "the \(type) price \(price) is negative") }
            prices[type] = price
        case .powerReported(let node, let watts):
            guard nodes[node] != nil else { throw .unknownNode(node) }
            guard watts >= 0, watts.isFinite else { throw .invalidEvent(reason: "node \(node) reported \(watts) W") }
            nodes[node]!.powerWatts = watts
            derived.setPowered(node, watts > 0)
        case .auctionCleared(let auction): try clear(auction)
        case .auctionOpened(let notice): try open(notice)
        case .bidSealed(let auction, let side, let bid): try seal(bid, side: side, in: auction)
        case .auctionClosed(let auction): try close(auction)
        }
    }

    /// Moves the clock forward to `time` (for queries that look ahead on a copy).
    mutating func advance(to time: Timestamp) {
        var undo = AdvanceUndo()
        advance(to: time, undo: &undo)
    }

    /// Moves the clock forward to `time`: apportions each node's power over the elapsed interval to the
    /// resources held on it, starts scheduled allocations and completes those whose window ended. It
    /// changes only those allocations, `idleEnergy` and the clock (recording the old values in `undo`);
    /// `forgetEnded` tidies up after.
    ///
    /// Only powered nodes' meters of open allocations are visited, each node's in (allocation, meter)
    /// order, so every sum is taken in the same order as a walk over all open allocations would.
    private mutating func advance(to time: Timestamp, undo: inout AdvanceUndo) {
        guard time > clock else { return }
        let elapsedSeconds = Double(time.nanoseconds(since: clock)) / 1e9
        for node in derived.powered {
            let id = derived.nodeIDs[node]
            let watts = nodes[id]!.powerWatts
            let count = max(1, derived.inService[node])
            var attributed = 0.0
            for (index, m) in derived.openMeters[node] {
                let meter = allocations[index].meters[m]
                let overlap = overlapNanoseconds(meter.from, meter.until, clock, time)
                guard overlap > 0 else { continue }
                let energy = watts * (Double(overlap) / 1e9) / Double(count)
                undo.energy.append((index, m, meter.energyJoules))
                allocations[index].meters[m].energyJoules += energy
                attributed += energy
            }
            undo.idleEnergy.append((id, idleEnergy[id]))
            idleEnergy[id, default: 0] += watts * elapsedSeconds - attributed
        }
        while let next = derived.transitions.min, next.time <= time {
            derived.transitions.removeMin()
            undo.transitions.append(next)
            let index = next.allocation
            let status = allocations[index].status
            if next.kind == 0 {
                if status == .scheduled {
                    undo.statuses.append((index, status))
                    allocations[index].status = .active
                }
            } else if status.isLive {
                undo.statuses.append((index, status))
                allocations[index].status = .completed
                derived.ended.append(index)
                derived.markStale(allocations[index])
            }
        }
        clock = time
    }

    /// Drops allocations that have ended from `open` and from their resources' grants, so the cost of
    /// quoting follows the live grants, not the history.
    mutating func forgetEnded() {
        guard !derived.ended.isEmpty else { return }
        let ended = Array(Set(derived.ended)).sorted()
        derived.ended = []
        if ended.count > 16 {
            let gone = Set(ended)
            open.removeAll { gone.contains($0) }
        } else {
            for index in ended {
                let at = open.partitioningIndex { $0 >= index }
                if at < open.count, open[at] == index { open.remove(at: at) }
            }
        }
        for index in ended {
            for id in allocations[index].resources {
                grants[id]?.removeAll { $0 == index }
                if grants[id]?.isEmpty == true {
                    grants[id] = nil
                }
            }
            derived.removeOpen(index, allocations[index])
        }
    }

    private mutating func announce(_ announcement: NodeAnnouncement) throws(AllocationError) {
        var ids: [String] = []
        var listed: Set<String> = []
        for entry in announcement.resources {
            guard listed.insert(entry.id).inserted else {
                throw .invalidEvent(reason: "node \(announcement.node) announces \(entry.id) twice")
            }
            ids.append(entry.id)
            if let existing = resources[entry.id], existing.node != announcement.node {
                throw .conflictingAnnouncement(resource: entry.id, node: announcement.node, owner: existing.node)
            }
            let fidelity = entry.properties.fidelity
            guard fidelity >= 0, fidelity <= 1, entry.properties.coherenceTimeNanoseconds >= 0 else {
                throw .invalidEvent(reason: "resource \(entry.id) announces coherence \(entry.properties.coherenceTimeNanoseconds) ns and fidelity \(fidelity)")
            }
        }
        let dropped = (nodes[announcement.node]?.resources ?? []).filter { !listed.contains($0) }
        loseResources(dropped)
        for entry in announcement.resources {
            let kept = resources[entry.id]?.status == .retired
            let cls = entry.properties.coherenceClass
            setResource(Resource(
                id: entry.id, node: announcement.node, location: announcement.location, type: entry.type,
                advertised: entry.properties, measured: entry.properties, advertisedClass: cls, currentClass: cls,
                status: kept ? .retired : .available))
        }
        let previous = nodes[announcement.node]
        nodes[announcement.node] = Node(
            id: announcement.node, location: announcement.location, resources: (ids + dropped).sorted(), isLost: false,
            powerWatts: previous?.powerWatts ?? 0, pendingResets: previous?.pendingResets ?? [])
        derived.setPowered(announcement.node, (previous?.powerWatts ?? 0) > 0)
    }

    /// Reclassifies a resource from a measurement: its current class drops to what it measures (never
    /// above the advertised one) and it is degraded while that is below the advertised class.
    private mutating func observe(_ id: String, _ properties: ResourceProperties) throws(AllocationError) {
        guard var resource = resources[id] else { throw .unknownResource(id) }
        guard properties.fidelity >= 0, properties.fidelity <= 1, properties.coherenceTimeNanoseconds >= 0 else {
            throw .invalidEvent(reason: "resource \(id) measured coherence \(properties.coherenceTimeNanoseconds) ns and fidelity \(properties.fidelity)")
        }
        resource.measured = properties
        resource.currentClass = min(properties.coherenceClass, resource.advertisedClass)
        if resource.status == .available || resource.status == .degraded {
            resource.status = resource.currentClass < resource.advertisedClass ? .degraded : .available
        }
        setResource(resource)
    }

    private mutating func loseNode(_ id: String) throws(AllocationError) {
        guard var node = nodes[id] else { throw .unknownNode(id) }
        loseResources(node.resources)
        node.isLost = true
        node.powerWatts = 0
        nodes[id] = node
        derived.setPowered(id, false)
    }

    /// Marks resources lost and ends their grants now; allocations left with nothing are lost.
    private mutating func loseResources(_ ids: [String]) {
        for id in ids {
            guard var resource = resources[id], resource.status != .retired else { continue }
            resource.status = .lost
            setResource(resource)
            for grant in derived.grants[derived.slotOf[id]!] where allocations[grant.allocation].status.isLive {
                let (index, m) = (grant.allocation, grant.meter)
                let meter = allocations[index].meters[m]
                setUntil(min(meter.until, max(clock, meter.from)), allocation: index, meter: m)
                allocations[index].meters[m].lost = true
                if allocations[index].meters.allSatisfy(\.lost) {
                    allocations[index].status = .lost
                    derived.ended.append(index)
                    derived.markStale(allocations[index])
                }
            }
        }
    }

    /// Sets when meter `meter` of allocation `index` stops holding its resource, in the index too.
    private mutating func setUntil(_ until: Timestamp, allocation index: Int, meter m: Int) {
        allocations[index].meters[m].until = until
        derived.setUntil(until, resource: allocations[index].meters[m].resource, allocation: index, meter: m)
    }

    private mutating func retire(_ id: String) throws(AllocationError) {
        guard var resource = resources[id] else { throw .unknownResource(id) }
        if let holder = holders(of: id, from: clock, until: Timestamp(nanosecondsSinceEpoch: .max)).first {
            throw .alreadyGranted(resource: id, allocation: allocations[holder].id)
        }
        guard resource.status != .retired else { throw .invalidEvent(reason: "resource \(id) is already retired") }
        resource.status = .retired
        setResource(resource)
        nodes[resource.node]!.pendingResets = (nodes[resource.node]!.pendingResets + [id]).sorted()
    }

    private mutating func completeReset(_ id: String) throws(AllocationError) {
        guard let resource = resources[id] else { throw .unknownResource(id) }
        guard nodes[resource.node]!.pendingResets.contains(id) else { throw .noPendingReset(resource: id) }
        nodes[resource.node]!.pendingResets.removeAll { $0 == id }
    }

    private mutating func release(_ id: String, by party: String) throws(AllocationError) {
        let index = try allocationIndex(id)
        guard allocations[index].permits(party, .release) else {
            throw .notPermitted(party: party, right: .release, allocation: id)
        }
        guard allocations[index].status.isLive else {
            throw .allocationEnded(allocation: id, status: allocations[index].status)
        }
        end(index, as: .released)
    }

    /// Ends a live allocation now (at its start if it has not begun); `apply` then forgets it.
    mutating func end(_ index: Int, as status: AllocationStatus) {
        for m in allocations[index].meters.indices {
            let meter = allocations[index].meters[m]
            setUntil(min(meter.until, max(clock, meter.from)), allocation: index, meter: m)
        }
        if allocations[index].status.isLive {
            derived.ended.append(index)
            derived.markStale(allocations[index])
        }
        allocations[index].status = status
    }

    private mutating func share(_ id: String, by party: String, grants: [PartyRights]) throws(AllocationError) {
        let index = try allocationIndex(id)
        guard allocations[index].permits(party, .manage) else {
            throw .notPermitted(party: party, right: .manage, allocation: id)
        }
        guard allocations[index].status.isLive else {
            throw .allocationEnded(allocation: id, status: allocations[index].status)
        }
        var shares = allocations[index].shares
        for grant in grants {
            shares.removeAll { $0.party == grant.party }
            shares.append(PartyRights(party: grant.party, rights: grant.rights))
        }
        allocations[index].shares = shares.sorted { $0.party < $1.party }
    }

    // MARK: Queries

    /// The allocation with `id`.
    public func allocation(_ id: String) throws(AllocationError) -> Allocation {
        allocations[try allocationIndex(id)]
    }

    func allocationIndex(_ id: String) throws(AllocationError) -> Int {
        guard id.hasPrefix("alloc-"), let sequence = Int(id.dropFirst(6)), sequence >= 1,
              sequence <= allocations.count else { throw .unknownAllocation(id) }
        return sequence - 1
    }

    /// The resource's status at the state's clock: `.allocated` when a live allocation holds it now.
    public func status(of id: String) throws(AllocationError) -> ResourceStatus {
        guard let resource = resources[id] else { throw .unknownResource(id) }
        guard resource.status == .available || resource.status == .degraded else { return resource.status }
        let holding = derived.grants[derived.slotOf[id]!].contains { grant in
            allocations[grant.allocation].status == .active && grant.from <= clock && clock < grant.until
        }
        return holding ? .allocated : resource.status
    }

    /// Retired resources each node must still reset, by node (nodes with none left out).
    public var pendingResets: [(node: String, resources: [String])] {
        nodes.values.filter { !$0.pendingResets.isEmpty }.map { ($0.id, $0.pendingResets) }
    }

    /// Live allocations holding a resource that measures below its advertised class or was lost.
    public var affectedAllocations: [String] {
        open.filter { index in
            allocations[index].meters.contains { $0.lost || resources[$0.resource]?.status == .degraded }
        }.map { allocations[$0].id }
    }

    /// Indices of live allocations granted `resource` for a window overlapping [from, until), ascending.
    func holders(of resource: String, from: Timestamp, until: Timestamp) -> [Int] {
        guard let slot = derived.slotOf[resource] else { return [] }
        return holders(ofSlot: slot, from: from, until: until)
    }

    /// Indices of live allocations granted the resource in `slot` for a window overlapping [from, until).
    func holders(ofSlot slot: Int, from: Timestamp, until: Timestamp) -> [Int] {
        derived.grants[slot].filter { grant in
            max(grant.from, from) < min(grant.until, until) && allocations[grant.allocation].status.isLive
        }.map(\.allocation)
    }

    /// Whether no live allocation is granted the resource in `slot` for a window overlapping [from, until).
    func isFree(_ slot: Int, from: Timestamp, until: Timestamp) -> Bool {
        for grant in derived.grants[slot] where max(grant.from, from) < min(grant.until, until) {
            if allocations[grant.allocation].status.isLive { return false }
        }
        return true
    }

    /// The price of one resource of `type` per second, in micro-credits.
    public func price(of type: ParticleType) -> Int64 {
        prices[type] ?? configuration.defaultPricePerSecond
    }

    /// The price per resource-second of every particle type in the inventory, in micro-credits.
    public var inventoryPrices: [ParticleType: Int64] {
        Dictionary(uniqueKeysWithValues: Set(resources.values.map(\.type)).map { ($0, price(of: $0)) })
    }

    /// How many resources `client` may hold at once.
    public func limit(of client: String) -> Int {
        limits[client] ?? configuration.defaultMaxResources
    }
}
