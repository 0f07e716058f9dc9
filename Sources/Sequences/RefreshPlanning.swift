import Foundation
import Quantities

/// How a resource's fidelity decays: F(t) = ½ + (F₀ − ½)·exp(−(t/T₂)^β), the stretched exponential that
/// covers exponential (β = 1, white noise) and Gaussian (β = 2, quasi-static noise) dephasing.
public struct CoherenceModel: Sendable, Hashable {
    public var t2: Time
    public var stretch: Double
    /// F₀, just after preparation.
    public var initialFidelity: Double

    public init(t2: Time, stretch: Double = 1, initialFidelity: Double = 1) {
        self.t2 = t2
        self.stretch = stretch
        self.initialFidelity = initialFidelity
    }

    public func fidelity(after t: Double, t2Factor: Double = 1) -> Double {
        0.5 + (initialFidelity - 0.5) * exp(-pow(max(t, 0) / (t2.seconds * t2Factor), stretch))
    }

    /// When F falls to `threshold`.
    public func crossing(_ threshold: Double, t2Factor: Double = 1) -> Double {
        t2.seconds * t2Factor * pow(log((initialFidelity - 0.5) / (threshold - 0.5)), 1 / stretch)
    }
}

/// What a refresh does.
public enum RefreshKind: Sendable, Hashable {
    /// Prepare the state again: fidelity back to F₀.
    case reprepare
    /// A dynamical-decoupling block: fidelity back to F₀ and, until the next refresh, T₂ stretched by `factor`
    /// (the factor the chosen DD sequence gains under the resource's noise, e.g. from `coherenceTime`).
    case decouple(t2Factor: Double)
    /// An error-correction round: fidelity back to F₀.
    case correct
}

/// One resource to keep above its fidelity threshold.
public struct RefreshResource: Sendable, Hashable {
    public var id: String
    public var model: CoherenceModel
    public var threshold: Double
    /// 0 is the most important; higher numbers yield when refreshes collide.
    public var priority: Int
    public var kind: RefreshKind
    /// How long one refresh occupies the node's refresh lane.
    public var duration: Time

    public init(id: String, model: CoherenceModel, threshold: Double, priority: Int, kind: RefreshKind, duration: Time) {
        self.id = id
        self.model = model
        self.threshold = threshold
        self.priority = priority
        self.kind = kind
        self.duration = duration
    }

    var t2Factor: Double {
        if case let .decouple(factor) = kind { return factor }
        return 1
    }
}

/// The refresh cycles scheduled over a horizon, and the fidelity each resource is forecast to keep.
public struct RefreshPlan: Sendable, Hashable {
    public struct Cycle: Sendable, Hashable {
        public var resource: String
        /// When the refresh starts; the resource is restored when it ends.
        public var start: Double
        public var end: Double
    }

    /// A resource that would cross its threshold before a refresh could finish.
    public struct Violation: Sendable, Hashable {
        public var resource: String
        public var at: Double
    }

    public var cycles: [Cycle]
    public var violations: [Violation]
    let resources: [RefreshResource]

    /// The forecast fidelity of `resource` at time t (seconds from now, all resources fresh at 0).
    public func forecast(_ resource: String, at t: Double) -> Double? {
        guard let r = resources.first(where: { $0.id == resource }) else { return nil }
        let last = cycles.filter { $0.resource == resource && $0.end <= t }.map(\.end).max()
        return r.model.fidelity(after: t - (last ?? 0), t2Factor: last == nil ? 1 : r.t2Factor)
    }
}

/// Schedules refreshes so no resource falls below its threshold, on `lanes` refreshes at a time.
///
/// Each resource's next refresh must end before its fidelity crosses the threshold, less a margin graduated
/// by priority (priority p keeps (p + 1)·10 % of the interval in hand for priority 0, shrinking for less
/// important ones: margin = interval·0.1/(p + 1)). Refreshes are placed by earliest deadline, ties to the
/// more important; when a lane is busy, the refresh moves earlier to end before the lane's next commitment,
/// never later than its deadline; one that cannot fit is a violation at its crossing time.
public enum RefreshPlanner {
    public static func plan(_ resources: [RefreshResource], horizon: Time, lanes: Int = 1) throws(SequenceError) -> RefreshPlan {
        guard lanes >= 1 else { throw SequenceError("at least one refresh lane, got \(lanes)") }
        guard horizon.seconds.isFinite, horizon.seconds > 0 else { throw SequenceError("the horizon must be positive, got \(horizon)") }
        for r in resources {
            guard r.model.t2.seconds > 0, r.model.stretch > 0, r.model.initialFidelity > 0.5, r.model.initialFidelity <= 1 else {
                throw SequenceError("\(r.id): T₂ and the stretch must be positive and 0.5 < F₀ ≤ 1")
            }
            guard r.threshold > 0.5, r.threshold < r.model.initialFidelity else {
                throw SequenceError("\(r.id): the threshold must lie between 0.5 and F₀ = \(r.model.initialFidelity), got \(r.threshold)")
            }
            guard r.duration.seconds >= 0, r.priority >= 0 else { throw SequenceError("\(r.id): negative duration or priority") }
            if case let .decouple(factor) = r.kind, !(factor >= 1) {
                throw SequenceError("\(r.id): a DD block stretches T₂ by a factor ≥ 1, got \(factor)")
            }
        }
        var busy: [[(start: Double, end: Double)]] = Array(repeating: [], count: lanes)
        var cycles: [RefreshPlan.Cycle] = []
        var violations: [RefreshPlan.Violation] = []
        // Each resource's clock: when it was last restored and with which T₂ factor.
        var restored = Dictionary(uniqueKeysWithValues: resources.map { ($0.id, (at: 0.0, factor: 1.0)) })
        let end = horizon.seconds
        while true {
            // The next deadlines: the latest end time of each resource's next refresh.
            let pending = resources.compactMap { r -> (RefreshResource, deadline: Double, crossing: Double)? in
                let state = restored[r.id]!
                let interval = r.model.crossing(r.threshold, t2Factor: state.factor)
                let crossing = state.at + interval
                guard crossing < end else { return nil }
                return (r, crossing - interval * 0.1 / Double(r.priority + 1), crossing)
            }.sorted { ($0.deadline, $0.0.priority) < ($1.deadline, $1.0.priority) }
            guard let (r, deadline, crossing) = pending.first else { break }
            guard cycles.count + violations.count < 1_000_000 else {
                throw SequenceError("over a million refreshes before \(horizon); shorten the horizon")
            }
            let length = r.duration.seconds
            var placed: (lane: Int, start: Double)? = nil
            for lane in 0..<lanes {
                // The latest start ≤ deadline − length that overlaps nothing on this lane.
                var start = deadline - length
                for slot in busy[lane].sorted(by: { $0.start > $1.start }) where slot.start < start + length && slot.end > start {
                    start = slot.start - length
                }
                if start >= restored[r.id]!.at, placed.map({ start > $0.start }) ?? true { placed = (lane, start) }
            }
            if let placed {
                busy[placed.lane].append((placed.start, placed.start + length))
                cycles.append(.init(resource: r.id, start: placed.start, end: placed.start + length))
                restored[r.id] = (placed.start + length, r.t2Factor)
            } else {
                violations.append(.init(resource: r.id, at: crossing))
                restored[r.id] = (crossing, 1)  // it crossed; count again from a fresh preparation after it
            }
        }
        return RefreshPlan(cycles: cycles.sorted { $0.start < $1.start }, violations: violations, resources: resources)
    }
}
