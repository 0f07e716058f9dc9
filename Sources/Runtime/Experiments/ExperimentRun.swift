import Foundation
import HAL
import Quantities
import Sequences

/// How a decay's total times are chosen.
public enum DecaySampling: Sendable, Hashable {
    /// Exactly these times.
    case times([Time])
    /// Around an expected decay time: `DecaySampling.fractions` × the time.
    case around(Time)
    /// Around the T₂ that Sequences predicts for the family and N under this PSD (`DDSequence.coherenceTime`).
    case predicted(NoisePSD)
    /// A first pass of 8 times spaced geometrically over the range at a quarter of the shots, then the
    /// fractions × the time where that pass fell by 1/e.
    case coarse(from: Time, to: Time)

    /// The fine grid, in units of the expected decay time: well sampled from barely decayed to nearly flat.
    public static let fractions = [0.25, 0.45, 0.65, 0.85, 1.05, 1.3, 1.65, 2.2]
}

/// The state of one run: the points so far, the abort check, progress and the safe stop.
final class ExperimentRun {
    let kind: ExperimentKind
    let bench: QubitBench
    let control: ExperimentControl
    let started = Date()
    let axes: PlotAxes
    var points: [DataPoint] = []
    var curves: [FittedCurve] = []
    var values: [FittedValue] = []

    init(_ kind: ExperimentKind, bench: QubitBench, control: ExperimentControl, axes: PlotAxes) {
        self.kind = kind
        self.bench = bench
        self.control = control
        self.axes = axes
    }

    var qubit: String { bench.name }
    var sampleRate: Double { bench.compiler.sampleRate.siValue }

    func result(_ status: ExperimentStatus, summary: String) -> ExperimentResult {
        ExperimentResult(
            kind: kind, qubit: qubit, status: status, started: started, finished: Date(), axes: axes, points: points,
            curves: curves, values: values, summary: summary)
    }

    /// Calls the abort check; on a reason, stops the generator, turns its outputs off and throws with the partial data.
    func checkAbort() throws(ExperimentError) {
        guard let reason = control.abortReason() else { return }
        var why = reason
        do { try bench.stopOutputs() } catch { why += " (and stopping the generator failed: \(error))" }
        throw .aborted(reason: why, partial: result(.aborted, summary: "\(qubit) \(kind.rawValue): aborted after \(points.count) points: \(why)"))
    }

    /// Checks for an abort, then acquires; an instrument failure also leaves the generator stopped. A failure
    /// while an abort is pending (a trip stopped the generator mid-acquisition, so the readout timed out) is
    /// that abort.
    func measure(_ program: PulseProgram, shots: Int, windows: Int = 1) throws(ExperimentError) -> [QubitBench.ExcitedFraction] {
        try checkAbort()
        do {
            return try bench.acquire(program, shots: shots, windows: windows)
        } catch {
            try checkAbort()
            try? bench.stopOutputs()
            throw .instrument(experiment: kind, qubit: qubit, error)
        }
    }

    func record(_ point: DataPoint, step: Int, of steps: Int, _ message: String) {
        points.append(point)
        control.progress(ExperimentProgress(experiment: kind, qubit: qubit, step: step, steps: steps, message: message, latest: point))
    }

    func sequenceError<T>(_ body: () throws(SequenceError) -> T) throws(ExperimentError) -> T {
        do { return try body() } catch { throw .sequence(experiment: kind, qubit: qubit, message: error.message) }
    }

    func fit(_ model: FitModel, _ points: [DataPoint], what: String) throws(ExperimentError) -> FitResult {
        do {
            return try CurveFit.fit(model, x: points.map(\.x), y: points.map(\.y), sigma: points.map(\.sigma))
        } catch { throw .fit(experiment: kind, qubit: qubit, what: what, error) }
    }

    /// Stops the generator after the last acquisition and returns the completed result.
    func finish(summary: String) throws(ExperimentError) -> ExperimentResult {
        do { try bench.stopOutputs() } catch { throw .instrument(experiment: kind, qubit: qubit, error) }
        return result(.completed, summary: summary)
    }

    /// `total` rounded to a whole number of 2N samples, so every pulse interval is whole samples.
    func rounded(_ total: Double, pulses: Int) -> Time {
        let quantum = Double(2 * max(pulses, 1)) / sampleRate
        return .seconds(max((total / quantum).rounded(), 1) * quantum)
    }

    /// The sequence `family`-`pulses` over `total`, built from the bench's π pulse.
    func sequence(_ family: DDFamily, pulses: Int, total: Time) throws(ExperimentError) -> DDSequence {
        try sequenceError { () throws(SequenceError) in try DDSequence(family, pulses: pulses, total: total, piPulse: bench.piPulse) }
    }

    /// The times to sample a decay of `family`-`pulses` at, from `sampling`; a coarse pass measures (and
    /// records, as series `coarse`) its points first.
    func decayTimes(_ sampling: DecaySampling, family: DDFamily, pulses: Int, shots: Int, label: String) throws(ExperimentError) -> [Time] {
        let expected: Double
        switch sampling {
        case let .times(times): return times.map { rounded($0.seconds, pulses: pulses) }
        case let .around(time): expected = time.seconds
        case let .predicted(noise):
            // 1 µs per pulse: room for finite pulses; the search for T₂ starts there.
            let template = try sequence(family, pulses: pulses, total: .seconds(Double(max(pulses, 1)) * 1e-6))
            guard let t2 = try sequenceError({ () throws(SequenceError) in try template.coherenceTime(noise: noise, guess: template.total) }) else {
                throw .sequence(experiment: kind, qubit: qubit, message: "\(label): Sequences predicts no decay below 100 s under this noise")
            }
            expected = t2.seconds
        case let .coarse(from, to):
            let ratio = pow(to.seconds / from.seconds, 1 / 7.0)
            var coarse: [DataPoint] = []
            for k in 0..<8 {
                let total = rounded(from.seconds * pow(ratio, Double(k)), pulses: pulses)
                let program = try compile(try sequence(family, pulses: pulses, total: total))
                let p = try measure(program, shots: max(shots / 4, 2))[0]
                let point = DataPoint(series: "coarse \(label)", x: total.seconds, y: p.value, sigma: p.standardError)
                coarse.append(point)
                record(point, step: k + 1, of: 8, "\(label): coarse pass at T = \(total)")
            }
            expected = FitModel.stretchedDecay.initialGuess(x: coarse.map(\.x), y: coarse.map(\.y))[1]
        }
        return DecaySampling.fractions.map { rounded($0 * expected, pulses: pulses) }
    }

    func compile(_ sequence: DDSequence) throws(ExperimentError) -> PulseProgram {
        try sequenceError { () throws(SequenceError) in try bench.compiler.compile(sequence) }
    }

    /// Measures P(1) after `family`-`pulses` at each time and fits A·e^{−(T/T₂)^β} + B; the points go to
    /// series `label`, the curve with them.
    func decay(
        _ family: DDFamily, pulses: Int, sampling: DecaySampling, shots: Int, label: String
    ) throws(ExperimentError) -> (points: [DataPoint], fit: FitResult) {
        let times = try decayTimes(sampling, family: family, pulses: pulses, shots: shots, label: label)
        var measured: [DataPoint] = []
        for (index, total) in times.enumerated() {
            let program = try compile(try sequence(family, pulses: pulses, total: total))
            let p = try measure(program, shots: shots)[0]
            let point = DataPoint(series: label, x: total.seconds, y: p.value, sigma: p.standardError)
            measured.append(point)
            record(point, step: index + 1, of: times.count, "\(label): T = \(total), P(1) = \(String(format: "%.3f", p.value))")
        }
        let fit = try fit(.stretchedDecay, measured, what: "the \(label) decay")
        curves.append(FittedCurve(series: label, model: .stretchedDecay, parameters: fit.parameters.map(\.value)))
        return (measured, fit)
    }
}

extension FitParameter {
    func value(_ name: String, unit: String) -> FittedValue {
        FittedValue(name: name, value: value, uncertainty: standardError, unit: unit)
    }
}

/// `x ± σ` with two significant digits of σ.
func formatted(_ value: Double, _ sigma: Double, scale: Double = 1, unit: String = "") -> String {
    let digits = sigma > 0 && sigma.isFinite ? max(0, 1 - Int(floor(log10(sigma * scale)))) : 3
    return String(format: "%.\(digits)f ± %.\(digits)f", value * scale, sigma * scale) + (unit.isEmpty ? "" : " \(unit)")
}
