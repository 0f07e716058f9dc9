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

    /// An empty realm whose clock starts at `genesis`.
    public init(configuration: AllocationConfiguration = .init(), genesis: Timestamp = Timestamp(nanosecondsSinceEpoch: 0)) {
        self.configuration = configuration
        self.clock = genesis
    }

    // MARK: Applying events

    /// Applies `event` at `time`, which must not be before the last event's. Throws, leaving the state
    /// unchanged, when the event is not valid now.
    ///
    /// Every handler checks all it needs before it changes anything, so undoing a refused event only
    /// means undoing the advance of the clock, which touches just the open allocations, the nodes' idle
    /// energy and the clock: no event copies the whole state.
    public mutating func apply(_ event: AllocationEvent, at time: Timestamp) throws(AllocationError) {
        guard time >= clock else { throw .outOfOrder(eventTime: time, stateTime: clock) }
        let undo = (clock: clock, idleEnergy: idleEnergy, open: open.map { ($0, allocations[$0]) })
        advance(to: time)
        do {
            try handle(event)
        } catch {
            clock = undo.clock
            idleEnergy = undo.idleEnergy
            for (index, allocation) in undo.open {
                allocations[index] = allocation
            }
            throw error
        }
        forgetEnded()
    }

    /// Applies one event to a state already advanced to its time; throws before changing anything.
    private mutating func handle(_ event: AllocationEvent) throws(AllocationError) {
        switch event {
        case .nodeAnnounced(let announcement): try announce(announcement)
        case .resourceObserved(let id, let properties): try observe(id, properties)
        case .nodeLost(let node): try loseNode(node)
        case .retired(let id): try retire(id)
        case .resetCompleted(let id): try completeReset(id)
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
        case .auctionCleared(let auction): try clear(auction)
        }
    }

    /// Moves the clock forward to `time`: apportions each node's power over the elapsed interval to the
    /// resources held on it, starts scheduled allocations and completes those whose window ended. It
    /// changes only the open allocations, `idleEnergy` and the clock; `forgetEnded` tidies up after.
    mutating func advance(to time: Timestamp) {
        guard time > clock else { return }
        let elapsedSeconds = Double(time.nanoseconds(since: clock)) / 1e9
        var attributed: [String: Double] = [:]
        var resourceCounts: [String: Int] = [:]
        for index in open {
            for m in allocations[index].meters.indices {
                let meter = allocations[index].meters[m]
                guard let node = nodes[meter.node], node.powerWatts > 0 else { continue }
                let overlap = overlapNanoseconds(meter.from, meter.until, clock, time)
                guard overlap > 0 else { continue }
                let count = resourceCounts[meter.node] ?? inServiceCount(node)
                resourceCounts[meter.node] = count
                let energy = node.powerWatts * (Double(overlap) / 1e9) / Double(count)
                allocations[index].meters[m].energyJoules += energy
                attributed[meter.node, default: 0] += energy
            }
        }
        for node in nodes.values where node.powerWatts > 0 {
            idleEnergy[node.id, default: 0] += node.powerWatts * elapsedSeconds - (attributed[node.id] ?? 0)
        }
        for index in open {
            if allocations[index].status == .scheduled, allocations[index].start <= time {
                allocations[index].status = .active
            }
            if allocations[index].end <= time {
                allocations[index].status = .completed
            }
        }
        clock = time
    }

    /// Drops allocations that have ended from `open` and from their resources' grants, so the cost of
    /// quoting follows the live grants, not the history.
    mutating func forgetEnded() {
        let ended = open.filter { !allocations[$0].status.isLive }
        guard !ended.isEmpty else { return }
        open.removeAll { ended.contains($0) }
        for index in ended {
            for id in allocations[index].resources {
                grants[id]?.removeAll { $0 == index }
                if grants[id]?.isEmpty == true {
                    grants[id] = nil
                }
            }
        }
    }

    /// The node's resources that are not retired: the shares its power is split into.
    private func inServiceCount(_ node: Node) -> Int {
        max(1, node.resources.count { resources[$0]?.status != .retired })
    }

    private mutating func announce(_ announcement: NodeAnnouncement) throws(AllocationError) {
        var ids: [String] = []
        for entry in announcement.resources {
            guard !ids.contains(entry.id) else {
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
        let dropped = (nodes[announcement.node]?.resources ?? []).filter { !ids.contains($0) }
        loseResources(dropped)
        for entry in announcement.resources {
            let kept = resources[entry.id]?.status == .retired
            let cls = entry.properties.coherenceClass
            resources[entry.id] = Resource(
                id: entry.id, node: announcement.node, location: announcement.location, type: entry.type,
                advertised: entry.properties, measured: entry.properties, advertisedClass: cls, currentClass: cls,
                status: kept ? .retired : .available)
        }
        let previous = nodes[announcement.node]
        nodes[announcement.node] = Node(
            id: announcement.node, location: announcement.location, resources: (ids + dropped).sorted(), isLost: false,
            powerWatts: previous?.powerWatts ?? 0, pendingResets: previous?.pendingResets ?? [])
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
        resources[id] = resource
    }

    private mutating func loseNode(_ id: String) throws(AllocationError) {
        guard var node = nodes[id] else { throw .unknownNode(id) }
        loseResources(node.resources)
        node.isLost = true
        node.powerWatts = 0
        nodes[id] = node
    }

    /// Marks resources lost and ends their grants now; allocations left with nothing are lost.
    private mutating func loseResources(_ ids: [String]) {
        for id in ids {
            guard var resource = resources[id], resource.status != .retired else { continue }
            resource.status = .lost
            resources[id] = resource
            for index in grants[id] ?? [] where allocations[index].status.isLive {
                for m in allocations[index].meters.indices where allocations[index].meters[m].resource == id {
                    let meter = allocations[index].meters[m]
                    allocations[index].meters[m].until = min(meter.until, max(clock, meter.from))
                    allocations[index].meters[m].lost = true
                }
                if allocations[index].meters.allSatisfy(\.lost) {
                    allocations[index].status = .lost
                }
            }
        }
    }

    private mutating func retire(_ id: String) throws(AllocationError) {
        guard var resource = resources[id] else { throw .unknownResource(id) }
        if let holder = holders(of: id, from: clock, until: Timestamp(nanosecondsSinceEpoch: .max)).first {
            throw .alreadyGranted(resource: id, allocation: allocations[holder].id)
        }
        guard resource.status != .retired else { throw .invalidEvent(reason: "resource \(id) is already retired") }
        resource.status = .retired
        resources[id] = resource
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
            allocations[index].meters[m].until = min(meter.until, max(clock, meter.from))
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
        let holding = (grants[id] ?? []).contains { index in
            allocations[index].status == .active
                && allocations[index].meters.contains { $0.resource == id && $0.from <= clock && clock < $0.until }
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

    /// Indices of live allocations granted `resource` for a window overlapping [from, until).
    func holders(of resource: String, from: Timestamp, until: Timestamp) -> [Int] {
        (grants[resource] ?? []).filter { index in
            allocations[index].status.isLive
                && allocations[index].meters.contains {
                    $0.resource == resource && overlapNanoseconds($0.from, $0.until, from, until) > 0
                }
        }
    }

    /// The price of one resource of `type` per second, in micro-credits.
    public func price(of type: ParticleType) -> Int64 {
        prices[type] ?? configuration.defaultPricePerSecond
    }

    /// How many resources `client` may hold at once.
    public func limit(of client: String) -> Int {
        limits[client] ?? configuration.defaultMaxResources
    }
}
