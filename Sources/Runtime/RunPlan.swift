import Emulator
import Foundation
import Quantities
import Sequences

/// The station's `run:` list, read into steps `qrrm run` executes in order:
///
///     run:
///       - cooldownCheck: {timeout: 30s}
///       - cpmgSweep: {qubit: q0, pulses: [1, 2, 4, 8, 16], shots: 400, from: 2us, to: 2ms}
///       - zeno: {qubit: q0, measurements: [1, 2, 4, 8], duration: 16us, shots: 1000}
///       - refresh: {qubit: q0, threshold: 0.9, horizon: 200us, shots: 400}
///
/// Experiments are `cpmgSweep` (any DD `family`), `t1`, `ramsey`, `echo`, `zeno`, `noiseSpectroscopy` and
/// `refresh`; decays are sampled by a coarse pass over `from`…`to`, then around where it fell by 1/e.
/// A bad step is reported at its file, line and key.
public enum RunStepPlan: Sendable {
    /// Wait until the station admits experiments (cold enough, no alarm), at most `timeout`.
    case cooldownCheck(timeout: Double)
    case experiment(name: String, qubit: String, plan: ExperimentPlan)
}

/// One experiment's parameters, validated.
public enum ExperimentPlan: Sendable {
    case cpmgSweep(CPMGSweep)
    case t1(T1Experiment)
    case ramsey(RamseyExperiment)
    case echo(EchoExperiment)
    case zeno(ZenoExperiment)
    case noiseSpectroscopy(NoiseSpectroscopyExperiment)
    /// Refresh cycles planned from a Ramsey measurement of the memory made just before (`ramsey`).
    case refresh(ramsey: RamseyExperiment, threshold: Double, horizon: Time, shots: Int)
}

public enum RunPlan {
    public static let experiments = ["cpmgSweep", "t1", "ramsey", "echo", "zeno", "noiseSpectroscopy", "refresh"]

    /// Checks every step of the station's plan.
    public static func validate(_ station: Station) throws(ProfileError) {
        _ = try steps(station)
    }

    /// The station's plan, read and validated.
    public static func steps(_ station: Station) throws(ProfileError) -> [RunStepPlan] {
        try station.run.map { (step) throws(ProfileError) in try plan(step) }
    }

    /// Reads one step (also used for a command's `start`, whose parameters arrive as text).
    public static func plan(_ step: RunStep) throws(ProfileError) -> RunStepPlan {
        var reader = ParameterReader(step: step)
        if step.experiment == "cooldownCheck" {
            let timeout = try reader.time("timeout", default: 60)
            try reader.finish()
            return .cooldownCheck(timeout: timeout)
        }
        guard experiments.contains(step.experiment) else {
            throw step.location.with("unknown step \"\(step.experiment)\"; the steps are cooldownCheck, \(experiments.joined(separator: ", "))")
        }
        guard let qubit = step.qubit else { throw step.location.with("\(step.experiment) needs a qubit") }
        let shots = try reader.integer("shots", default: 400, in: 2...1_000_000)
        let sampling = { () throws(ProfileError) -> DecaySampling in
            let from = try reader.time("from", default: 2e-6), to = try reader.time("to", default: 2e-3)
            guard to > from * 4 else { throw step.location.with("\(step.experiment): to must be at least 4 × from") }
            return .coarse(from: .seconds(from), to: .seconds(to))
        }
        let plan: ExperimentPlan
        switch step.experiment {
        case "cpmgSweep":
            let familyText = try reader.text("family", default: "CPMG")
            guard let family = DDFamily.allCases.first(where: { $0.rawValue.lowercased() == familyText.lowercased() }) else {
                throw step.location.with("family: unknown DD family \"\(familyText)\"; the families are \(DDFamily.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            plan = .cpmgSweep(CPMGSweep(family: family, pulseCounts: try reader.integers("pulses", default: [1, 2, 4, 8, 16]), sampling: try sampling(), shots: shots))
        case "t1": plan = .t1(T1Experiment(sampling: try sampling(), shots: shots))
        case "ramsey": plan = .ramsey(RamseyExperiment(sampling: try sampling(), shots: shots))
        case "echo": plan = .echo(EchoExperiment(sampling: try sampling(), shots: shots))
        case "zeno":
            plan = .zeno(ZenoExperiment(
                measurements: try reader.integers("measurements", default: [1, 2, 4, 8, 16]),
                duration: .seconds(try reader.time("duration", default: 16e-6)), shots: shots))
        case "noiseSpectroscopy":
            plan = .noiseSpectroscopy(NoiseSpectroscopyExperiment(
                pulseCounts: try reader.integers("pulses", default: [1, 4, 16]), sampling: try sampling(), shots: shots))
        default:
            let threshold = try reader.number("threshold", default: 0.9)
            guard threshold > 0.5, threshold < 1 else { throw step.location.with("threshold must lie between 0.5 and 1, got \(threshold)") }
            plan = .refresh(
                ramsey: RamseyExperiment(sampling: try sampling(), shots: shots), threshold: threshold,
                horizon: .seconds(try reader.time("horizon", default: 200e-6)), shots: shots)
        }
        try reader.finish()
        return .experiment(name: step.experiment, qubit: qubit, plan: plan)
    }
}

/// Reads a step's parameters by name, remembering which were used so a misspelt one is reported.
struct ParameterReader {
    let step: RunStep
    private var used = Set<String>()

    init(step: RunStep) { self.step = step }

    private mutating func take(_ name: String) -> RunStep.Parameter? {
        used.insert(name)
        return step.parameters[name]
    }

    mutating func text(_ name: String, default value: String) throws(ProfileError) -> String {
        guard let p = take(name) else { return value }
        guard p.items == nil else { throw p.error("expected one value, not a list") }
        return p.text
    }

    mutating func number(_ name: String, default value: Double) throws(ProfileError) -> Double {
        guard let p = take(name) else { return value }
        guard p.items == nil, let number = Double(p.text), number.isFinite else { throw p.error("expected a number, got \"\(p.text)\"") }
        return number
    }

    mutating func integer(_ name: String, default value: Int, in range: ClosedRange<Int>) throws(ProfileError) -> Int {
        guard let p = take(name) else { return value }
        guard p.items == nil, let number = Int(p.text), range.contains(number) else {
            throw p.error("expected a whole number from \(range.lowerBound) to \(range.upperBound), got \"\(p.text)\"")
        }
        return number
    }

    mutating func integers(_ name: String, default value: [Int]) throws(ProfileError) -> [Int] {
        guard let p = take(name) else { return value }
        let items = p.items ?? p.text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let numbers = items.compactMap { Int($0) }
        guard !numbers.isEmpty, numbers.count == items.count, numbers.allSatisfy({ $0 >= 1 && $0 <= 100_000 }) else {
            throw p.error("expected a list of whole numbers from 1 to 100000, got \(items)")
        }
        return numbers
    }

    /// A duration with its unit, in seconds.
    mutating func time(_ name: String, default value: Double) throws(ProfileError) -> Double {
        guard let p = take(name) else { return value }
        guard p.items == nil else { throw p.error("expected one duration, not a list") }
        let seconds: Double
        do { seconds = try Time(parsing: p.text).siValue } catch { throw p.error("\(error)") }
        guard seconds > 0 else { throw p.error("expected a positive duration, got \"\(p.text)\"") }
        return seconds
    }

    func finish() throws(ProfileError) {
        if let unknown = step.parameters.keys.sorted().first(where: { !used.contains($0) }) {
            throw step.parameters[unknown]!.error("unknown parameter \"\(unknown)\" for \(step.experiment); it takes \(used.sorted().joined(separator: ", "))")
        }
    }
}

extension ProfileError {
    /// This location with another message.
    func with(_ message: String) -> ProfileError {
        ProfileError(file: file, line: line, column: column, keyPath: keyPath, message: message)
    }
}
