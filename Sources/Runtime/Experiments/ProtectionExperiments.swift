import Foundation
import HAL
import Quantities
import Sequences

/// The quantum Zeno effect: a resonant π drive of length T interrupted by n equally spaced measurements
/// (Sequences' `compileZeno`); the default 640 ns keeps the drive above an AWG5200's smallest amplitude
/// and divides into whole samples at 250 MS/s for n up to 32; P(1) at the last measurement against Itano's `ZenoPrediction`, with the
/// deviation of each n in standard errors.
public struct ZenoExperiment: Sendable {
    public var measurements: [Int]
    public var duration: Time
    public var shots: Int

    public init(measurements: [Int] = [1, 2, 4, 8, 16], duration: Time = .seconds(640e-9), shots: Int = 400) {
        self.measurements = measurements
        self.duration = duration
        self.shots = shots
    }

    public func validate() throws(ExperimentError) {
        guard !measurements.isEmpty, measurements.allSatisfy({ $0 >= 1 && $0 <= 1000 }) else {
            throw .invalidPlan(experiment: .zeno, parameter: "measurements", reason: "must be one or more counts in 1…1000, got \(measurements)")
        }
        guard duration.seconds > 0, duration.seconds.isFinite else { throw .invalidPlan(experiment: .zeno, parameter: "duration", reason: "must be positive, got \(duration)") }
        guard shots >= 2, shots <= 1_000_000 else { throw .invalidPlan(experiment: .zeno, parameter: "shots", reason: "must be 2…1000000, got \(shots)") }
    }

    public func run(on bench: QubitBench, control: ExperimentControl = .unattended) throws(ExperimentError) -> ExperimentResult {
        try validate()
        let run = ExperimentRun(.zeno, bench: bench, control: control, axes: PlotAxes(x: "measurements n", y: "P(1)", logX: true))
        let rabi = Double.pi / duration.seconds
        var worst = 0.0
        for (index, n) in measurements.enumerated() {
            let program = try run.sequenceError { () throws(SequenceError) in try bench.compiler.compileZeno(rabi: rabi, duration: duration, measurements: n) }
            let predicted = try run.sequenceError { () throws(SequenceError) in try ZenoPrediction.transitionProbability(rabi: rabi, duration: duration, measurements: n) }
            let p = try run.measure(program, shots: shots, windows: n)[n - 1]
            run.points.append(DataPoint(series: "Itano", x: Double(n), y: predicted, sigma: 0))
            run.record(DataPoint(series: "measured", x: Double(n), y: p.value, sigma: p.standardError), step: index + 1, of: measurements.count,
                       "n = \(n): P(1) = \(String(format: "%.3f", p.value)), predicted \(String(format: "%.3f", predicted))")
            let deviation = (p.value - predicted) / p.standardError
            worst = max(worst, abs(deviation))
            run.values += [FittedValue(name: "P n=\(n)", value: p.value, uncertainty: p.standardError, unit: ""),
                           FittedValue(name: "deviation n=\(n)", value: deviation, uncertainty: 0, unit: "σ")]
        }
        return try run.finish(summary: "\(bench.name) Zeno: P(1) falls from \(String(format: "%.3f", run.points(last: "measured").first ?? .nan)) to \(String(format: "%.3f", run.points(last: "measured").last ?? .nan)) over n = \(measurements.map(String.init).joined(separator: ", ")); largest deviation from Itano \(String(format: "%.1f", worst))σ")
    }
}

extension ExperimentRun {
    /// The y values of series `series`, in order.
    func points(last series: String) -> [Double] { points.filter { $0.series == series }.map(\.y) }
}

/// Noise spectroscopy: CPMG-N decays for each N (fitted to normalise P(1) into coherence (P − B)/A), turned
/// into S(ω) at ω₀ = πN/T with standard errors by Sequences' `NoiseSpectroscopy.estimate` (Álvarez–Suter).
public struct NoiseSpectroscopyExperiment: Sendable {
    public var pulseCounts: [Int]
    public var sampling: DecaySampling
    public var shots: Int
    /// Filter harmonics kept in the inversion.
    public var harmonics: Int

    public init(pulseCounts: [Int] = [1, 4, 16], sampling: DecaySampling, shots: Int = 400, harmonics: Int = 15) {
        self.pulseCounts = pulseCounts
        self.sampling = sampling
        self.shots = shots
        self.harmonics = harmonics
    }

    public func validate() throws(ExperimentError) {
        guard !pulseCounts.isEmpty, pulseCounts.allSatisfy({ $0 >= 1 }), Set(pulseCounts).count == pulseCounts.count else {
            throw .invalidPlan(experiment: .noiseSpectroscopy, parameter: "pulse counts", reason: "must be distinct N ≥ 1, got \(pulseCounts)")
        }
        guard harmonics >= 1 else { throw .invalidPlan(experiment: .noiseSpectroscopy, parameter: "harmonics", reason: "must be ≥ 1, got \(harmonics)") }
        try validateDecayPlan(.noiseSpectroscopy, shots: shots, sampling: sampling)
    }

    public func run(on bench: QubitBench, control: ExperimentControl = .unattended) throws(ExperimentError) -> ExperimentResult {
        try validate()
        let run = ExperimentRun(.noiseSpectroscopy, bench: bench, control: control,
                                axes: PlotAxes(x: "ω (rad/s)", y: "S(ω) (rad²/s)", logX: true, logY: true))
        var decays: [CPMGDecay] = []
        for n in pulseCounts.sorted() {
            let (points, fit) = try run.decay(.cpmg, pulses: n, sampling: sampling, shots: shots, label: "N=\(n)")
            let a = fit["amplitude"].value, b = fit["baseline"].value
            run.values.append(fit["T"].value("T2 N=\(n)", unit: "s"))
            for point in points {
                let coherence = (point.y - b) / a
                guard coherence > 0.05, coherence < 0.95 else { continue }
                decays.append(CPMGDecay(pulses: n, total: .seconds(point.x), coherence: coherence, coherenceError: point.sigma / abs(a)))
            }
        }
        // The decays served the estimate; the result shows the spectrum.
        run.points.removeAll()
        run.curves.removeAll()
        let estimate = try run.sequenceError { () throws(SequenceError) in try NoiseSpectroscopy.estimate(decays, harmonics: harmonics) }
        for point in estimate.points {
            run.points.append(DataPoint(series: "S(ω)", x: point.omega, y: point.value, sigma: point.standardError))
        }
        let positive = run.points.filter { $0.y > 0 }
        var summary = "\(bench.name) noise spectroscopy: S(ω) at \(estimate.points.count) frequencies from \(decays.count) decay points"
        if positive.count >= 3, let law = try? CurveFit.powerLaw(x: positive.map(\.x), y: positive.map(\.y), sigma: positive.map(\.sigma)) {
            run.curves.append(FittedCurve(series: "S(ω)", model: .powerLaw, parameters: law.parameters.map(\.value)))
            run.values.append(FittedValue(name: "alpha", value: -law["exponent"].value, uncertainty: law["exponent"].standardError, unit: ""))
            summary += "; S ∝ 1/ω^α with α = \(formatted(-law["exponent"].value, law["exponent"].standardError))"
        }
        return try run.finish(summary: summary)
    }
}

/// Refresh cycles: `RefreshPlanner` schedules refreshes of a memory (the qubit after π/2ₓ) so its fidelity,
/// forecast by the measured coherence model, stays above a threshold. The run measures the fidelity P(1) after
/// the closing π/2ₓ just before each planned refresh: with re-preparation the memory has been idle since the
/// last refresh; with a DD block, protected by that block since the last refresh. The same instants without
/// any refresh (idle since the first preparation) are measured for comparison.
public struct RefreshExperiment: Sendable {
    public enum Refresh: Sendable, Hashable {
        /// Prepare the memory again.
        case reprepare
        /// Re-prepare and protect it with `family`-`pulses` until the next refresh; `t2Factor` is the T₂ gain
        /// the block is planned with (e.g. a measured CPMG T₂ over T₂*).
        case decouple(family: DDFamily, pulses: Int, t2Factor: Double)
    }

    /// The memory's coherence, e.g. from a Ramsey result (``CoherenceModel/init(ramsey:)``).
    public var model: CoherenceModel
    public var threshold: Double
    public var horizon: Time
    public var refresh: Refresh
    public var shots: Int

    public init(model: CoherenceModel, threshold: Double, horizon: Time, refresh: Refresh = .reprepare, shots: Int = 400) {
        self.model = model
        self.threshold = threshold
        self.horizon = horizon
        self.refresh = refresh
        self.shots = shots
    }

    public func validate() throws(ExperimentError) {
        guard threshold > 0.5, threshold < model.initialFidelity else {
            throw .invalidPlan(experiment: .refresh, parameter: "threshold", reason: "must lie between 0.5 and F₀ = \(model.initialFidelity), got \(threshold)")
        }
        guard horizon.seconds > 0, horizon.seconds.isFinite else { throw .invalidPlan(experiment: .refresh, parameter: "horizon", reason: "must be positive, got \(horizon)") }
        guard shots >= 2, shots <= 1_000_000 else { throw .invalidPlan(experiment: .refresh, parameter: "shots", reason: "must be 2…1000000, got \(shots)") }
        if case let .decouple(family, pulses, factor) = refresh {
            guard [.cpmg, .udd, .xy4, .xy8, .xy16].contains(family), pulses >= 1, pulses % family.pulseMultiple == 0, factor >= 1 else {
                throw .invalidPlan(experiment: .refresh, parameter: "DD block", reason: "must be CPMG, UDD or XY with a valid N and a T₂ factor ≥ 1, got \(family.rawValue)-\(pulses) × \(factor)")
            }
        }
    }

    public func run(on bench: QubitBench, control: ExperimentControl = .unattended) throws(ExperimentError) -> ExperimentResult {
        try validate()
        let run = ExperimentRun(.refresh, bench: bench, control: control, axes: PlotAxes(x: "time since first preparation (s)", y: "memory fidelity"))
        let kind: RefreshKind
        let block: (family: DDFamily, pulses: Int)
        switch refresh {
        case .reprepare: (kind, block) = (.reprepare, (.fid, 0))
        case let .decouple(family, pulses, factor): (kind, block) = (.decouple(t2Factor: factor), (family, pulses))
        }
        let resource = RefreshResource(id: bench.name, model: model, threshold: threshold, priority: 0, kind: kind, duration: bench.piPulse.duration)
        let plan = try run.sequenceError { () throws(SequenceError) in try RefreshPlanner.plan([resource], horizon: horizon) }
        guard plan.violations.isEmpty, !plan.cycles.isEmpty else {
            throw .sequence(experiment: .refresh, qubit: bench.name, message: plan.cycles.isEmpty
                ? "no refresh falls within the \(horizon) horizon; lengthen it"
                : "the planner cannot keep \(bench.name) above \(threshold): \(plan.violations.count) violations")
        }
        run.curves.append(FittedCurve(series: "no refresh", model: .stretchedDecay,
                                      parameters: [model.initialFidelity - 0.5, model.t2.seconds, model.stretch, 0.5]))
        /// P(1) of the memory after `age` of `family`-`pulses` (FID: idle).
        func fidelity(_ family: DDFamily, _ pulses: Int, age: Double) throws(ExperimentError) -> QubitBench.ExcitedFraction {
            let total = run.rounded(age, pulses: pulses)
            return try run.measure(try run.compile(try run.sequence(family, pulses: pulses, total: total)), shots: shots)[0]
        }
        var lowest = (value: Double.infinity, sigma: 0.0)
        var restored = 0.0
        for (index, cycle) in plan.cycles.enumerated() {
            // Before the first refresh the memory is bare; after it, protected by the block (if any).
            let (family, pulses) = index == 0 ? (DDFamily.fid, 0) : block
            let refreshed = try fidelity(family, pulses, age: cycle.start - restored)
            let bare = try fidelity(.fid, 0, age: cycle.start)
            run.points.append(DataPoint(series: "no refresh", x: cycle.start, y: bare.value, sigma: bare.standardError))
            run.record(DataPoint(series: "refreshed", x: cycle.start, y: refreshed.value, sigma: refreshed.standardError),
                       step: index + 1, of: plan.cycles.count,
                       "refresh \(index + 1) at \(Time.seconds(cycle.start)): F = \(String(format: "%.3f", refreshed.value)), without refresh \(String(format: "%.3f", bare.value))")
            if refreshed.value < lowest.value { lowest = (refreshed.value, refreshed.standardError) }
            restored = cycle.end
        }
        run.values += [FittedValue(name: "threshold", value: threshold, uncertainty: 0, unit: ""),
                       FittedValue(name: "lowest refreshed fidelity", value: lowest.value, uncertainty: lowest.sigma, unit: ""),
                       FittedValue(name: "refreshes", value: Double(plan.cycles.count), uncertainty: 0, unit: ""),
                       FittedValue(name: "first refresh", value: plan.cycles[0].start, uncertainty: 0, unit: "s")]
        return try run.finish(summary: "\(bench.name) refresh: \(plan.cycles.count) refreshes over \(horizon); lowest fidelity before a refresh \(formatted(lowest.value, lowest.sigma)) against a threshold of \(threshold)")
    }
}

extension CoherenceModel {
    /// The memory model a Ramsey result measured: T₂*, β and F₀ = A + B (P(1) at zero wait).
    public init?(ramsey result: ExperimentResult) {
        guard result.kind == .ramsey, let t2 = result.value("T2*"), let beta = result.value("beta"),
              let a = result.value("amplitude"), let b = result.value("baseline") else { return nil }
        self.init(t2: .seconds(t2.value), stretch: beta.value, initialFidelity: min(a.value + b.value, 1))
    }
}
