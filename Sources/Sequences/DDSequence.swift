import Foundation
import Quantities

/// The dynamical-decoupling families (REFERENCES.md; Cywiński et al., PRB 77, 174509 (2008)).
public enum DDFamily: String, Sendable, Hashable, CaseIterable {
    /// Free induction decay (Ramsey): no refocusing pulse.
    case fid = "FID"
    /// Hahn echo: one π pulse at T/2.
    case hahn = "Hahn"
    /// Carr–Purcell: δⱼ = (j − ½)/N, pulses perpendicular to the prepared coherence (x).
    case cp = "CP"
    /// Carr–Purcell–Meiboom–Gill: CP timing, pulses along the prepared coherence (π/2ₓ then π_y).
    case cpmg = "CPMG"
    /// Periodic DD: δⱼ = j/(N+1).
    case pdd = "PDD"
    /// Uhrig DD: δⱼ = sin²(πj/(2N+2)) (Uhrig, PRL 98, 100504 (2007)).
    case udd = "UDD"
    /// CPMG timing with phases XYXY (Gullion et al., JMR 89, 479 (1990)); N a multiple of 4.
    case xy4 = "XY4"
    /// XYXYYXYX; N a multiple of 8.
    case xy8 = "XY8"
    /// XY8 then its phase-inverted copy; N a multiple of 16.
    case xy16 = "XY16"
    /// Knill DD: each XY4 pulse becomes (π)_{φ+π/6}(π)_φ(π)_{φ+π/2}(π)_φ(π)_{φ+π/6}, 20 pulses per
    /// cycle (Souza, Álvarez & Suter, PRL 106, 240501 (2011)); N a multiple of 20.
    case kdd = "KDD"
    /// Concatenated DD of order N: C₀ = free, C_l(T) = C_{l−1}(T/2) π C_{l−1}(T/2) π, coinciding pulse
    /// pairs cancelled (Khodjasteh & Lidar, PRL 95, 180501 (2005)).
    case cdd = "CDD"

    /// The family named `text`, any case; `Ramsey` is FID, `echo` and `SE` are Hahn.
    public init?(name text: String) {
        let upper = text.uppercased()
        switch upper {
        case "RAMSEY": self = .fid
        case "ECHO", "SE", "HAHN": self = .hahn
        default:
            guard let family = DDFamily.allCases.first(where: { $0.rawValue.uppercased() == upper }) else { return nil }
            self = family
        }
    }

    /// How many pulses (or, for CDD, which order) one must ask for: a multiple of this.
    public var pulseMultiple: Int {
        switch self {
        case .xy4: 4
        case .xy8: 8
        case .xy16: 16
        case .kdd: 20
        default: 1
        }
    }

    /// Whether consecutive pulses are equally spaced (so a pulse interval defines the sequence).
    var isUniform: Bool {
        switch self {
        case .udd, .cdd, .fid: false
        default: true
        }
    }
}

/// A sequence that cannot be built as asked.
public struct SequenceError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// One refocusing π pulse: where it sits as a fraction of the total time, and its axis.
public struct RefocusingPulse: Sendable, Hashable {
    /// δⱼ: the pulse centre at δⱼ·T.
    public var position: Double
    /// The drive phase (0: x, π/2: y), relative to the preparation pulse's x axis.
    public var phase: Double
}

/// A dynamical-decoupling sequence: a π/2ₓ preparation at t = 0, refocusing π pulses centred on their ideal
/// positions δⱼ·T, and a closing π/2 at t = T, all built from one π-pulse template (ideal when its duration
/// is zero).
public struct DDSequence: Sendable, Hashable {
    public let family: DDFamily
    /// The number of refocusing pulses (for CDD: the order asked for is `order`).
    public var pulseCount: Int { pulses.count }
    /// The CDD order, or the pulse count asked for.
    public let order: Int
    /// T: from the preparation's centre to the closing pulse's centre.
    public let total: Time
    public let pulses: [RefocusingPulse]
    /// The template every refocusing pulse is made from (its angle π, its phase replaced per pulse).
    public let piPulse: Pulse
    /// The largest total time the qubit's coherence allows, when one was given.
    public let coherenceBudget: Time?

    /// The family `family` with `n` refocusing pulses (for CDD, concatenation order `n`; ignored for FID)
    /// over a total time `total`. Throws when n < 1 (except FID), n is not a multiple of the family's cycle,
    /// T is not positive or exceeds `coherenceBudget`, or two pulses (or a pulse and an end) sit closer
    /// than one pulse duration.
    public init(
        _ family: DDFamily, pulses n: Int, total: Time, piPulse: Pulse = Pulse(angle: .pi, phase: .pi / 2),
        coherenceBudget: Time? = nil
    ) throws(SequenceError) {
        guard total.seconds.isFinite, total.seconds > 0 else {
            throw SequenceError("\(family.rawValue): the total time must be positive, got \(total)")
        }
        if let coherenceBudget, total.seconds > coherenceBudget.seconds {
            throw SequenceError(
                "\(family.rawValue): a total time of \(total) exceeds the coherence budget of \(coherenceBudget)")
        }
        guard piPulse.duration.seconds >= 0, piPulse.duration.seconds.isFinite else {
            throw SequenceError("\(family.rawValue): the π pulse's duration must be zero or positive, got \(piPulse.duration)")
        }
        let count = family == .fid ? 0 : n
        if family != .fid {
            guard n >= 1 else { throw SequenceError("\(family.rawValue) needs N ≥ 1 pulses, got \(n)") }
            guard n % family.pulseMultiple == 0 else {
                throw SequenceError("\(family.rawValue) needs N to be a multiple of \(family.pulseMultiple), got \(n)")
            }
            if family == .hahn, n != 1 { throw SequenceError("a Hahn echo has exactly one π pulse, got N = \(n); use CPMG for more") }
            if family == .cdd, n > 20 { throw SequenceError("CDD order \(n) would need over a million pulses; the largest order is 20") }
            if family != .cdd, n > 10_000_000 { throw SequenceError("\(family.rawValue) with \(n) pulses is beyond the 10⁷ this library builds") }
        }
        self.family = family
        order = count
        self.total = total
        self.piPulse = piPulse
        self.coherenceBudget = coherenceBudget
        pulses = Self.refocusing(family, count)
        try checkSpacing()
    }

    /// The family with `n` pulses spaced `pulseInterval` apart (centre to centre), as users write it
    /// (`pulseInterval: 50ns`): T = N·τ for CP, CPMG and the XY and KDD families (half an interval at each
    /// end), T = (N+1)·τ for PDD, T = 2τ for a Hahn echo. UDD, CDD and FID have no single interval.
    public init(
        _ family: DDFamily, pulses n: Int, pulseInterval: Time, piPulse: Pulse = Pulse(angle: .pi, phase: .pi / 2),
        coherenceBudget: Time? = nil
    ) throws(SequenceError) {
        guard family.isUniform else {
            throw SequenceError("\(family.rawValue) pulses are not equally spaced; give the total time instead of a pulse interval")
        }
        guard pulseInterval.seconds.isFinite, pulseInterval.seconds > 0 else {
            throw SequenceError("\(family.rawValue): the pulse interval must be positive, got \(pulseInterval)")
        }
        if piPulse.duration.seconds > pulseInterval.seconds {
            throw SequenceError(
                "\(family.rawValue): the pulse interval \(pulseInterval) is shorter than the \(piPulse.duration) π pulse")
        }
        let slots = family == .pdd ? n + 1 : (family == .hahn ? 2 : n)
        try self.init(
            family, pulses: n, total: .seconds(pulseInterval.seconds * Double(max(slots, 1))), piPulse: piPulse,
            coherenceBudget: coherenceBudget)
    }

    private static func refocusing(_ family: DDFamily, _ n: Int) -> [RefocusingPulse] {
        let x = 0.0, y = Double.pi / 2
        func cpmgTiming(_ phases: [Double]) -> [RefocusingPulse] {
            (0..<n).map { RefocusingPulse(position: (Double($0) + 0.5) / Double(n), phase: phases[$0 % phases.count]) }
        }
        switch family {
        case .fid: return []
        case .hahn, .cpmg: return cpmgTiming([y])
        case .cp: return cpmgTiming([x])
        case .pdd: return (1...n).map { RefocusingPulse(position: Double($0) / Double(n + 1), phase: x) }
        case .udd:
            return (1...n).map {
                let s = sin(Double.pi * Double($0) / Double(2 * n + 2))
                return RefocusingPulse(position: s * s, phase: y)
            }
        case .xy4: return cpmgTiming([x, y, x, y])
        case .xy8: return cpmgTiming([x, y, x, y, y, x, y, x])
        case .xy16:
            let xy8 = [x, y, x, y, y, x, y, x]
            return cpmgTiming(xy8 + xy8.map { $0 + .pi })
        case .kdd:
            let knill = [Double.pi / 6, 0, Double.pi / 2, 0, Double.pi / 6]
            return cpmgTiming([x, y, x, y].flatMap { phi in knill.map { phi + $0 } })
        case .cdd:
            return concatenated(order: n).map { RefocusingPulse(position: $0, phase: x) }
        }
    }

    /// CDD pulse positions in (0, 1): C_l = C_{l−1}(½) π C_{l−1}(½) π with coinciding pairs cancelled and a
    /// pulse at exactly T dropped (it flips the state after the last free period, not the phase accrued).
    static func concatenated(order: Int) -> [Double] {
        // Positions as integers in units of 2^-order, so coincidences are exact.
        var positions: [Int] = []
        var scale = 1
        for _ in 0..<order {
            let shifted = positions.map { $0 + scale }
            var next = positions + [scale] + shifted + [2 * scale]
            next.sort()
            var cancelled: [Int] = []
            for p in next {
                if cancelled.last == p { cancelled.removeLast() } else { cancelled.append(p) }
            }
            positions = cancelled
            scale *= 2
        }
        return positions.filter { $0 < scale }.map { Double($0) / Double(scale) }
    }

    private func checkSpacing() throws(SequenceError) {
        let width = piPulse.duration.seconds
        guard width > 0 else { return }
        var previous = 0.0
        for pulse in pulses {
            let centre = pulse.position * total.seconds
            if centre - previous < width {
                throw SequenceError(
                    "\(family.rawValue)-\(order) over \(total): pulses \(Self.format(centre - previous)) apart are closer than the \(piPulse.duration) π pulse")
            }
            previous = centre
        }
        if !pulses.isEmpty, total.seconds - previous < width / 2 {
            throw SequenceError("\(family.rawValue)-\(order) over \(total): the last pulse overruns the end of the sequence")
        }
    }

    private static func format(_ seconds: Double) -> String { Time.seconds(seconds).description }

    /// The refocusing pulses' centre times.
    public var pulseTimes: [Time] { pulses.map { .seconds($0.position * total.seconds) } }

    /// Everything the sequence plays, in time order: π/2ₓ at 0, the refocusing pulses, and the closing π/2ₓ
    /// at T (it maps the refocused coherence back onto z for readout).
    public var operations: [TimedOperation] {
        // The same duration as the π pulse at half its amplitude, as the compiler plays it.
        let half = Pulse(angle: .pi / 2, phase: 0, duration: piPulse.duration, shape: piPulse.shape)
        var operations = [TimedOperation(time: .seconds(0), operation: .pulse(half))]
        for pulse in pulses {
            var p = piPulse
            p.phase = pulse.phase
            operations.append(TimedOperation(time: .seconds(pulse.position * total.seconds), operation: .pulse(p)))
        }
        operations.append(TimedOperation(time: total, operation: .pulse(half)))
        return operations
    }
}
