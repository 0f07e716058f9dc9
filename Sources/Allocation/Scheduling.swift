import Quantities

/// A request waiting in the realm's queue.
public struct PendingRequest: Codable, Equatable, Sendable {
    /// The realm's id for it; the last tie-break.
    public var id: String
    public var client: String
    public var request: AllocationRequest
    @RFC3339Coded public var submittedAt: Timestamp

    public init(id: String, client: String, request: AllocationRequest, submittedAt: Timestamp) {
        self.id = id
        self.client = client
        self.request = request
        self.submittedAt = submittedAt
    }
}

/// What `admit` decided for one pending request.
public struct Admission: Equatable, Sendable {
    public let request: PendingRequest
    /// Its scheduling priority when the batch was ordered.
    public let priority: Double
    /// The quote to confirm, or why it cannot be served now.
    public let outcome: Result<Quote, AllocationError>
}

extension AllocationState {
    /// A client's past usage in resource-seconds, each use decayed by its age with the configured half-life
    /// (a use that ended one half-life ago counts half). Uses still running count in full up to `time`.
    public func effectiveUsage(of client: String, at time: Timestamp) -> Double {
        effectiveUsages(at: time)[client] ?? 0
    }

    /// Every client's effective usage, each summed in allocation order. It visits every allocation, so a
    /// caller that ranks many batches may reuse it for a while, as Slurm recalculates fair share only
    /// every `PriorityCalcPeriod`.
    public func effectiveUsages(at time: Timestamp) -> [String: Double] {
        let halfLife = Double(configuration.usageHalfLifeSeconds)
        var usages: [String: Double] = [:]
        for allocation in allocations {
            for meter in allocation.meters {
                let held = meter.heldNanoseconds(upTo: time)
                guard held > 0 else { continue }
                let age = Double(time.nanoseconds(since: min(meter.until, time))) / 1e9
                usages[allocation.client, default: 0] += Double(held) / 1e9 * exp2Negative(age / halfLife)
            }
        }
        return usages
    }

    /// Slurm's classic fair-share factor F = 2^(−U/S): U is the client's share of all clients' effective
    /// usage, S its share of all shares (default 1 each), over the clients with usage or shares and those
    /// in `peers`. F is 1 for a client that has used nothing and ½ for one that used exactly its share.
    public func fairShareFactor(of client: String, at time: Timestamp, peers: [String] = []) -> Double {
        fairShareFactor(of: client, usages: effectiveUsages(at: time), peers: peers)
    }

    private func fairShareFactor(of client: String, usages: [String: Double], peers: [String]) -> Double {
        let names = Set(peers + [client] + shares.keys + usages.keys).sorted()
        let totalUsage = names.reduce(0) { $0 + (usages[$1] ?? 0) }
        guard totalUsage > 0 else { return 1 }
        let totalShares = names.reduce(0) { $0 + (shares[$1] ?? 1) }
        let usage = (usages[client] ?? 0) / totalUsage
        let share = Double(shares[client] ?? 1) / Double(totalShares)
        return exp2Negative(usage / share)
    }

    /// The multifactor priority of a pending request (Slurm's style): fair-share weight × F + priority
    /// weight × class factor (low 0.25 … critical 1) + age weight × min(wait / max age, 1).
    public func schedulingPriority(of pending: PendingRequest, at time: Timestamp, peers: [String] = []) -> Double {
        schedulingPriority(of: pending, at: time, usages: effectiveUsages(at: time), peers: peers)
    }

    private func schedulingPriority(
        of pending: PendingRequest, at time: Timestamp, usages: [String: Double], peers: [String]
    ) -> Double {
        let waited = Double(max(0, time.nanoseconds(since: pending.submittedAt))) / 1e9
        let age = min(waited / Double(configuration.maxAgeSeconds), 1)
        return configuration.fairShareWeight * fairShareFactor(of: pending.client, usages: usages, peers: peers)
            + configuration.priorityWeight * pending.request.priority.factor
            + configuration.ageWeight * age
    }

    /// Orders a batch of competing requests by scheduling priority (ties: earlier submission, then id) and
    /// quotes them in that order, each against the state with the ones before it confirmed, so later
    /// requests backfill around earlier ones and never delay them. Pure: the realm confirms the admitted
    /// quotes by applying `.confirmed` events in the returned order. Quotes avoid the resources in `held`
    /// while they can, as `quote(_:client:at:avoiding:)` does. `usages` are the clients' effective usages
    /// to rank by (`effectiveUsages(at: time)` when nil).
    ///
    /// Confirming on a copy of the state costs as much as the state is large, so a request is first quoted
    /// on the state itself, avoiding what the batch was quoted so far: when that quote takes none of those
    /// resources, preempts nothing, starts as early as the request allows, and its client has no earlier
    /// request in the batch (whose grant its limits and quotas would count), the earlier grants cannot
    /// touch it and the copy could offer no earlier start, so it stands. Only the first
    /// request for which that fails makes the copy, with the quotes before it confirmed.
    public func admit(_ batch: [PendingRequest], at time: Timestamp, avoiding held: Set<String> = [],
                      usages: [String: Double]? = nil) -> [Admission] {
        let peers = batch.map(\.client)
        let usages = usages ?? effectiveUsages(at: time)
        let ranked = batch.map { ($0, schedulingPriority(of: $0, at: time, usages: usages, peers: peers)) }.sorted { a, b in
            if a.1 != b.1 { return a.1 > b.1 }
            if a.0.submittedAt != b.0.submittedAt { return a.0.submittedAt < b.0.submittedAt }
            return a.0.id < b.0.id
        }
        var scratch: AllocationState?
        var quoted: [Quote] = []
        var avoiding = held
        var batchResources: Set<String> = []
        var batchClients: Set<String> = []
        var admissions: [Admission] = []
        for (index, (pending, priority)) in ranked.enumerated() {
            let outcome: Result<Quote, AllocationError>
            do {
                let quote: Quote
                if scratch == nil, !batchClients.contains(pending.client),
                   let alone = try? self.quote(pending.request, client: pending.client, at: time, avoiding: avoiding),
                   alone.preempts.isEmpty, batchResources.isDisjoint(with: alone.resources),
                   alone.start <= (try? pending.request.validated().reservationTime) ?? time {
                    quote = alone
                } else {
                    if scratch == nil {
                        var copy = self
                        for earlier in quoted { try? copy.apply(.confirmed(earlier), at: time) }
                        scratch = copy
                    }
                    quote = try scratch!.quote(pending.request, client: pending.client, at: time, avoiding: held)
                    // The last one need not be confirmed on the copy: nothing is quoted after it.
                    if index < ranked.count - 1 { try scratch!.apply(.confirmed(quote), at: time) }
                }
                quoted.append(quote)
                avoiding.formUnion(quote.resources)
                batchResources.formUnion(quote.resources)
                batchClients.insert(pending.client)
                outcome = .success(quote)
            } catch {
                outcome = .failure(error)
            }
            admissions.append(Admission(request: pending, priority: priority, outcome: outcome))
        }
        return admissions
    }
}

/// Jain's fairness index (Σx)² / (n·Σx²): 1 when all get the same, 1/n when one gets everything.
/// It is 1 for an empty list or all zeros.
public func jainFairnessIndex(_ xs: [Double]) -> Double {
    let sum = xs.reduce(0, +)
    let sumOfSquares = xs.reduce(0) { $0 + $1 * $1 }
    guard sumOfSquares > 0 else { return 1 }
    return sum * sum / (Double(xs.count) * sumOfSquares)
}
