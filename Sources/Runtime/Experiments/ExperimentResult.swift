import Foundation
import HAL
import Telemetry

/// Which experiment produced a result.
public enum ExperimentKind: String, Sendable, Hashable, Codable, CaseIterable {
    case cpmg, t1, ramsey, echo, zeno, noiseSpectroscopy = "noise-spectroscopy", refresh
}

/// How an experiment ended.
public enum ExperimentStatus: String, Sendable, Hashable, Codable {
    case completed, aborted, failed
}

/// One measured (or predicted) point of a series, with its standard error.
public struct DataPoint: Sendable, Hashable, Codable {
    public var series: String
    public var x: Double
    public var y: Double
    public var sigma: Double

    public init(series: String, x: Double, y: Double, sigma: Double) {
        self.series = series
        self.x = x
        self.y = y
        self.sigma = sigma
    }
}

/// A fitted or derived value with its one-σ uncertainty.
public struct FittedValue: Sendable, Hashable, Codable {
    public var name: String
    public var value: Double
    public var uncertainty: Double
    public var unit: String

    public init(name: String, value: Double, uncertainty: Double, unit: String) {
        self.name = name
        self.value = value
        self.uncertainty = uncertainty
        self.unit = unit
    }
}

/// A fitted curve sampled for plotting: the model and its parameters for one series.
public struct FittedCurve: Sendable, Hashable, Codable {
    /// The data series the curve was fitted to.
    public var series: String
    public var model: FitModel
    public var parameters: [Double]

    public init(series: String, model: FitModel, parameters: [Double]) {
        self.series = series
        self.model = model
        self.parameters = parameters
    }

    public func value(at x: Double) -> Double { model.value(at: x, parameters) }
}

/// How a result's axes are labelled and scaled.
public struct PlotAxes: Sendable, Hashable, Codable {
    public var x: String
    public var y: String
    public var logX: Bool
    public var logY: Bool

    public init(x: String, y: String, logX: Bool = false, logY: Bool = false) {
        self.x = x
        self.y = y
        self.logX = logX
        self.logY = logY
    }
}

/// What one experiment measured and fitted: the JSON `qrrm experiment … --json` prints.
public struct ExperimentResult: Sendable, Hashable, Codable {
    public var kind: ExperimentKind
    public var qubit: String
    public var status: ExperimentStatus
    public var started: Date
    public var finished: Date
    public var axes: PlotAxes
    public var points: [DataPoint]
    public var curves: [FittedCurve]
    public var values: [FittedValue]
    /// One line for people, e.g. "q0 CPMG: T₂ grows as N^0.47±0.03".
    public var summary: String

    public init(
        kind: ExperimentKind, qubit: String, status: ExperimentStatus, started: Date, finished: Date, axes: PlotAxes,
        points: [DataPoint], curves: [FittedCurve] = [], values: [FittedValue] = [], summary: String
    ) {
        self.kind = kind
        self.qubit = qubit
        self.status = status
        self.started = started
        self.finished = finished
        self.axes = axes
        self.points = points
        self.curves = curves
        self.values = values
        self.summary = summary
    }

    /// The value called `name`, if the experiment produced it.
    public func value(_ name: String) -> FittedValue? { values.first { $0.name == name } }

    /// The points of series `series`, in measurement order.
    public func points(in series: String) -> [DataPoint] { points.filter { $0.series == series } }

    /// The telemetry message: the fitted values as `Quantity`s, times in ns since the Unix epoch.
    public func telemetry(experimentID: String) -> WireExperimentResult {
        var wire = WireExperimentResult()
        wire.experimentID = experimentID
        wire.kind = kind.rawValue
        wire.status = status.rawValue
        wire.values = values.map { value in
            var quantity = WireQuantity()
            quantity.name = value.name
            quantity.value = value.value
            quantity.unit = value.unit
            quantity.uncertainty = value.uncertainty.isFinite ? value.uncertainty : 0
            return quantity
        }
        wire.startedNs = Int64((started.timeIntervalSince1970 * 1e9).rounded())
        wire.finishedNs = Int64((finished.timeIntervalSince1970 * 1e9).rounded())
        return wire
    }
}

/// What stopped an experiment.
public enum ExperimentError: Error, Sendable, CustomStringConvertible {
    /// A plan parameter is out of range.
    case invalidPlan(experiment: ExperimentKind, parameter: String, reason: String)
    /// The qubit is not on the station, or not wired for this.
    case unknownQubit(name: String, reason: String)
    /// Sequences could not build or compile a sequence.
    case sequence(experiment: ExperimentKind, qubit: String, message: String)
    /// An instrument failed.
    case instrument(experiment: ExperimentKind, qubit: String, InstrumentError)
    /// The data could not be fitted.
    case fit(experiment: ExperimentKind, qubit: String, what: String, FitError)
    /// The abort check asked to stop; the generator was stopped and its outputs turned off.
    case aborted(reason: String, partial: ExperimentResult)

    public var description: String {
        switch self {
        case let .invalidPlan(experiment, parameter, reason): "\(experiment.rawValue) plan: \(parameter) \(reason)"
        case let .unknownQubit(name, reason): "qubit \(name): \(reason)"
        case let .sequence(experiment, qubit, message): "\(experiment.rawValue) on \(qubit): \(message)"
        case let .instrument(experiment, qubit, error): "\(experiment.rawValue) on \(qubit): \(error)"
        case let .fit(experiment, qubit, what, error): "\(experiment.rawValue) on \(qubit): fitting \(what): \(error)"
        case let .aborted(reason, partial):
            "\(partial.kind.rawValue) on \(partial.qubit) aborted after \(partial.points.count) points: \(reason)"
        }
    }
}

/// Progress of a running experiment, for a terminal or telemetry.
public struct ExperimentProgress: Sendable, Hashable {
    public var experiment: ExperimentKind
    public var qubit: String
    /// The step just finished, from 1.
    public var step: Int
    public var steps: Int
    public var message: String
    public var latest: DataPoint?

    public init(experiment: ExperimentKind, qubit: String, step: Int, steps: Int, message: String, latest: DataPoint?) {
        self.experiment = experiment
        self.qubit = qubit
        self.step = step
        self.steps = steps
        self.message = message
        self.latest = latest
    }
}

/// How the caller steers a run: an abort check the runner calls before each acquisition (a non-nil reason
/// aborts, e.g. "mixing chamber above 20 mK"), and a progress callback after each point.
public struct ExperimentControl: Sendable {
    public var abortReason: @Sendable () -> String?
    public var progress: @Sendable (ExperimentProgress) -> Void

    public init(abortReason: @escaping @Sendable () -> String? = { nil }, progress: @escaping @Sendable (ExperimentProgress) -> Void = { _ in }) {
        self.abortReason = abortReason
        self.progress = progress
    }

    /// Never aborts, reports nothing.
    public static let unattended = ExperimentControl()
}
