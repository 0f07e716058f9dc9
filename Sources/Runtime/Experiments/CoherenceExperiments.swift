import Foundation
import HAL
import Quantities
import Sequences

/// Checks the parameters every decay plan shares.
func validateDecayPlan(_ kind: ExperimentKind, shots: Int, sampling: DecaySampling) throws(ExperimentError) {
    guard shots >= 2, shots <= 1_000_000 else { throw .invalidPlan(experiment: kind, parameter: "shots", reason: "must be 2…1000000, got \(shots)") }
    switch sampling {
    case let .times(times):
        guard times.count >= 5 else { throw .invalidPlan(experiment: kind, parameter: "times", reason: "needs at least 5 times for a decay fit, got \(times.count)") }
        if let bad = times.first(where: { !($0.seconds > 0 && $0.seconds.isFinite) }) {
            throw .invalidPlan(experiment: kind, parameter: "times", reason: "must be positive and finite, got \(bad)")
        }
    case let .around(time):
        guard time.seconds > 0, time.seconds.isFinite else { throw .invalidPlan(experiment: kind, parameter: "expected time", reason: "must be positive, got \(time)") }
    case .predicted:
        guard kind != .t1 else { throw .invalidPlan(experiment: kind, parameter: "sampling", reason: "T₁ has no Sequences prediction; give times, an expected T₁ or a coarse range") }
    case let .coarse(from, to):
        guard from.seconds > 0, to.seconds > from.seconds, to.seconds.isFinite else {
            throw .invalidPlan(experiment: kind, parameter: "coarse range", reason: "needs 0 < from < to, got \(from)…\(to)")
        }
    }
}

/// A DD sweep: for each N, P(1) after the family's sequence over a range of T, fitted with
/// A·e^{−(T/T₂)^β} + B to give T₂(N) and β; with three or more N, T₂ ∝ N^γ fitted in log–log.
/// One N is a sweep over T at fixed N.
public struct CPMGSweep: Sendable {
    public var family: DDFamily
    public var pulseCounts: [Int]
    public var sampling: DecaySampling
    public var shots: Int

    public init(family: DDFamily = .cpmg, pulseCounts: [Int], sampling: DecaySampling, shots: Int = 400) {
        self.family = family
        self.pulseCounts = pulseCounts
        self.sampling = sampling
        self.shots = shots
    }

    public func validate() throws(ExperimentError) {
        guard family != .fid else { throw .invalidPlan(experiment: .cpmg, parameter: "family", reason: "FID has no refocusing pulses; use RamseyExperiment") }
        guard !pulseCounts.isEmpty, Set(pulseCounts).count == pulseCounts.count else {
            throw .invalidPlan(experiment: .cpmg, parameter: "pulse counts", reason: "must be one or more distinct N, got \(pulseCounts)")
        }
        for n in pulseCounts where n < 1 || n % family.pulseMultiple != 0 || (family == .hahn && n != 1) || (family == .cdd && n > 12) {
            throw .invalidPlan(experiment: .cpmg, parameter: "pulse count", reason: "\(n) is not a valid N for \(family.rawValue)")
        }
        try validateDecayPlan(.cpmg, shots: shots, sampling: sampling)
    }

    public func run(on bench: QubitBench, control: ExperimentControl = .unattended) throws(ExperimentError) -> ExperimentResult {
        try validate()
        let run = ExperimentRun(.cpmg, bench: bench, control: control, axes: PlotAxes(x: "total time T (s)", y: "P(1)"))
        var ns: [Double] = [], t2s: [Double] = [], sigmas: [Double] = []
        for n in pulseCounts.sorted() {
            let label = "N=\(n)"
            let (_, fit) = try run.decay(family, pulses: n, sampling: sampling, shots: shots, label: label)
            run.values += [fit["T"].value("T2 \(label)", unit: "s"), fit["beta"].value("beta \(label)", unit: "")]
            ns.append(Double(n))
            t2s.append(fit["T"].value)
            sigmas.append(fit["T"].standardError)
        }
        var summary = "\(bench.name) \(family.rawValue): T₂ = " + zip(ns, zip(t2s, sigmas)).map { "\(formatted($0.1.0, $0.1.1, scale: 1e6)) µs (N=\(Int($0.0)))" }.joined(separator: ", ")
        if ns.count >= 3 {
            let law = try run.fit(.powerLaw, zip(ns, zip(t2s, sigmas)).map { DataPoint(series: "T2", x: $0.0, y: $0.1.0, sigma: $0.1.1) }, what: "T₂ against N")
            run.values.append(law["exponent"].value("gamma", unit: ""))
            summary += "; T₂ ∝ N^γ with γ = \(formatted(law["exponent"].value, law["exponent"].standardError))"
        }
        return try run.finish(summary: summary)
    }
}

/// Ramsey (free induction): P(1) after π/2ₓ, a wait T, π/2ₓ, fitted with A·e^{−(T/T₂*)^β} + B: T₂*.
public struct RamseyExperiment: Sendable {
    public var sampling: DecaySampling
    public var shots: Int

    public init(sampling: DecaySampling, shots: Int = 400) {
        self.sampling = sampling
        self.shots = shots
    }

    public func validate() throws(ExperimentError) { try validateDecayPlan(.ramsey, shots: shots, sampling: sampling) }

    public func run(on bench: QubitBench, control: ExperimentControl = .unattended) throws(ExperimentError) -> ExperimentResult {
        try validate()
        let run = ExperimentRun(.ramsey, bench: bench, control: control, axes: PlotAxes(x: "free evolution T (s)", y: "P(1)"))
        let (_, fit) = try run.decay(.fid, pulses: 0, sampling: sampling, shots: shots, label: "Ramsey")
        run.values += [fit["T"].value("T2*", unit: "s"), fit["beta"].value("beta", unit: ""),
                       fit["amplitude"].value("amplitude", unit: ""), fit["baseline"].value("baseline", unit: "")]
        return try run.finish(summary: "\(bench.name) Ramsey: T₂* = \(formatted(fit["T"].value, fit["T"].standardError, scale: 1e6)) µs, β = \(formatted(fit["beta"].value, fit["beta"].standardError))")
    }
}

/// Hahn echo: P(1) after π/2ₓ, π_y at T/2, π/2ₓ, fitted with A·e^{−(T/T₂)^β} + B: the echo T₂.
public struct EchoExperiment: Sendable {
    public var sampling: DecaySampling
    public var shots: Int

    public init(sampling: DecaySampling, shots: Int = 400) {
        self.sampling = sampling
        self.shots = shots
    }

    public func validate() throws(ExperimentError) { try validateDecayPlan(.echo, shots: shots, sampling: sampling) }

    public func run(on bench: QubitBench, control: ExperimentControl = .unattended) throws(ExperimentError) -> ExperimentResult {
        try validate()
        let run = ExperimentRun(.echo, bench: bench, control: control, axes: PlotAxes(x: "total time T (s)", y: "P(1)"))
        let (_, fit) = try run.decay(.hahn, pulses: 1, sampling: sampling, shots: shots, label: "echo")
        run.values += [fit["T"].value("T2 echo", unit: "s"), fit["beta"].value("beta", unit: "")]
        return try run.finish(summary: "\(bench.name) Hahn echo: T₂ = \(formatted(fit["T"].value, fit["T"].standardError, scale: 1e6)) µs")
    }
}

/// T₁ by inversion and recovery: π, a measurement that projects onto |1⟩, a wait, π again, and a second
/// measurement, which reads |1⟩ exactly when the qubit relaxed during the wait. The population still excited
/// after the wait, 1 − P₂(1), is fitted with A·e^{−t/T₁} + B. The program is Sequences' Zeno loop of two
/// measurements with a drive of one π pulse per period and the wait as its pause.
public struct T1Experiment: Sendable {
    public var sampling: DecaySampling
    public var shots: Int

    public init(sampling: DecaySampling, shots: Int = 400) {
        self.sampling = sampling
        self.shots = shots
    }

    public func validate() throws(ExperimentError) { try validateDecayPlan(.t1, shots: shots, sampling: sampling) }

    public func run(on bench: QubitBench, control: ExperimentControl = .unattended) throws(ExperimentError) -> ExperimentResult {
        try validate()
        let run = ExperimentRun(.t1, bench: bench, control: control, axes: PlotAxes(x: "wait t (s)", y: "excited population"))
        let pulse = bench.piPulse.duration
        let rate = run.sampleRate
        /// The population still excited after waiting `wait`, and the wait the program really plays.
        func point(_ wait: Time, series: String, shots: Int) throws(ExperimentError) -> DataPoint {
            let program = try run.sequenceError { () throws(SequenceError) in
                try bench.compiler.compileZeno(rabi: .pi / pulse.seconds, duration: .seconds(2 * pulse.seconds), measurements: 2, pause: wait)
            }
            // The period is the segment (repeated twice) or half of it (both periods in one segment), padded to a legal length.
            let period = Double(program.segments[0].length) / (program.steps[0].repeats == 2 ? 1 : 2)
            let played = period / rate - pulse.seconds
            let p = try run.measure(program, shots: shots, windows: 2)[1]
            return DataPoint(series: series, x: played, y: 1 - p.value, sigma: p.standardError)
        }
        let waits: [Time]
        switch sampling {
        case let .times(times): waits = times
        case let .around(time): waits = DecaySampling.fractions.map { .seconds($0 * 1.4 * time.seconds) }
        case .predicted: throw .invalidPlan(experiment: .t1, parameter: "sampling", reason: "T₁ has no Sequences prediction")
        case let .coarse(from, to):
            let ratio = pow(to.seconds / from.seconds, 1 / 7.0)
            var coarse: [DataPoint] = []
            for k in 0..<8 {
                let p = try point(.seconds(from.seconds * pow(ratio, Double(k))), series: "coarse", shots: max(shots / 4, 2))
                coarse.append(p)
                run.record(p, step: k + 1, of: 8, "coarse pass at t = \(Time.seconds(p.x))")
            }
            let t1 = FitModel.exponentialDecay.initialGuess(x: coarse.map(\.x), y: coarse.map(\.y))[1]
            waits = DecaySampling.fractions.map { .seconds($0 * 1.4 * t1) }
        }
        var measured: [DataPoint] = []
        for (index, wait) in waits.enumerated() {
            let p = try point(wait, series: "T1", shots: shots)
            measured.append(p)
            run.record(p, step: index + 1, of: waits.count, "t = \(Time.seconds(p.x)), excited \(String(format: "%.3f", p.y))")
        }
        let fit = try run.fit(.exponentialDecay, measured, what: "the T₁ decay")
        run.curves.append(FittedCurve(series: "T1", model: .exponentialDecay, parameters: fit.parameters.map(\.value)))
        run.values += [fit["T"].value("T1", unit: "s"), fit["amplitude"].value("amplitude", unit: ""), fit["baseline"].value("baseline", unit: "")]
        return try run.finish(summary: "\(bench.name) T₁ = \(formatted(fit["T"].value, fit["T"].standardError, scale: 1e6)) µs")
    }
}
