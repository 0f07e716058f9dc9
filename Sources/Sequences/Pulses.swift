import Foundation
import Quantities

/// The envelope of a drive pulse.
public enum PulseShape: Sendable, Hashable {
    /// Constant amplitude for the whole duration.
    case square
    /// A Gaussian truncated at ±`truncation` standard deviations (the duration spans 2·truncation·σ),
    /// shifted to start and end at zero.
    case gaussian(truncation: Double)
    /// A Gaussian with a DRAG quadrature of weight `beta` (seconds): Q(t) = β·dI/dt (Motzoi et al.,
    /// PRL 103, 110501 (2009)), which cancels leakage to a transmon's second excited state to first order.
    case drag(truncation: Double, beta: Double)

    /// The in-phase envelope at `x` ∈ [0, 1] of the pulse, normalised to peak 1.
    public func envelope(at x: Double) -> Double {
        switch self {
        case .square:
            return (0...1).contains(x) ? 1 : 0
        case let .gaussian(truncation), let .drag(truncation, _):
            guard (0...1).contains(x) else { return 0 }
            let u = (x - 0.5) * 2 * truncation
            let edge = exp(-truncation * truncation / 2)
            return (exp(-u * u / 2) - edge) / (1 - edge)
        }
    }

    /// ∫₀¹ envelope(x) dx: the pulse's area relative to a square pulse of the same peak and duration.
    public var areaFraction: Double {
        switch self {
        case .square:
            return 1
        case let .gaussian(truncation), let .drag(truncation, _):
            // ∫ exp(−u²/2) over ±truncation = √(2π)·erf(truncation/√2); the edge offset is subtracted.
            let edge = exp(-truncation * truncation / 2)
            let gauss = (2 * Double.pi).squareRoot() * erf(truncation / 2.squareRoot()) / (2 * truncation)
            return (gauss - edge) / (1 - edge)
        }
    }
}

/// A rotation of the qubit about an axis in the xy-plane (phase φ from x), by `angle`, lasting `duration`
/// (zero for an ideal, instantaneous pulse).
public struct Pulse: Sendable, Hashable {
    /// The rotation angle, e.g. π for a refocusing pulse.
    public var angle: Double
    /// The axis, as the drive phase: 0 is x, π/2 is y.
    public var phase: Double
    public var duration: Time
    public var shape: PulseShape

    public init(angle: Double, phase: Double, duration: Time = .seconds(0), shape: PulseShape = .square) {
        self.angle = angle
        self.phase = phase
        self.duration = duration
        self.shape = shape
    }

    /// The peak Rabi frequency (rad/s) that turns the qubit by `angle` in `duration` with this shape.
    public var peakRabiFrequency: Double {
        duration.seconds > 0 ? angle / (duration.seconds * shape.areaFraction) : .infinity
    }
}

/// One thing a sequence does at a time: a pulse centred there, or a virtual Z (a frame change that adds
/// `angle` to the phase of every later pulse, taking no time).
public enum SequenceOperation: Sendable, Hashable {
    case pulse(Pulse)
    case virtualZ(angle: Double)
}

/// An operation at a time, measured from the start of the sequence.
public struct TimedOperation: Sendable, Hashable {
    /// The operation's centre (a pulse is centred on its ideal position).
    public var time: Time
    public var operation: SequenceOperation

    public init(time: Time, operation: SequenceOperation) {
        self.time = time
        self.operation = operation
    }
}
