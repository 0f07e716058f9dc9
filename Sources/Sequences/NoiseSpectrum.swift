import Foundation

/// A two-sided noise power spectral density S(ω) of the qubit frequency fluctuation β(t), in angular
/// units (rad²/s² per rad/s), with H = ½[Ω + β(t)]σ_z and S(ω) = ∫dt e^{iωt}⟨β(t)β(0)⟩ (REFERENCES.md).
public indirect enum NoisePSD: Sendable, Hashable {
    /// S(ω) = S₀ at every frequency.
    case white(s0: Double)
    /// S(ω) = A/|ω|^α for low ≤ |ω| ≤ high (rad/s), 0 outside; `low` 0 and `high` ∞ mean no cutoff.
    case powerLaw(amplitude: Double, alpha: Double, low: Double, high: Double)
    /// Ornstein–Uhlenbeck noise of variance σ² and correlation time τ: S(ω) = 2σ²τ/(1 + ω²τ²).
    case lorentzian(variance: Double, correlationTime: Double)
    /// A measured PSD: (ω, S) points with ω increasing, interpolated linearly, 0 outside the table.
    case tabulated([Point])
    /// Independent noises add.
    case sum([NoisePSD])

    public struct Point: Sendable, Hashable {
        public var omega: Double
        public var value: Double
        public init(omega: Double, value: Double) {
            self.omega = omega
            self.value = value
        }
    }

    /// S(ω) at angular frequency ω (its absolute value is used: S is even).
    public func value(at omega: Double) -> Double {
        let w = abs(omega)
        switch self {
        case let .white(s0): return s0
        case let .powerLaw(a, alpha, low, high): return w >= low && w <= high && w > 0 ? a / pow(w, alpha) : 0
        case let .lorentzian(variance, tau): return 2 * variance * tau / (1 + w * w * tau * tau)
        case let .tabulated(points):
            guard let first = points.first, let last = points.last, w >= first.omega, w <= last.omega else { return 0 }
            var lo = 0, hi = points.count - 1
            while hi - lo > 1 {
                let mid = (lo + hi) / 2
                if points[mid].omega <= w { lo = mid } else { hi = mid }
            }
            let (p, q) = (points[lo], points[hi])
            guard q.omega > p.omega else { return p.value }
            return p.value + (q.value - p.value) * (w - p.omega) / (q.omega - p.omega)
        case let .sum(parts): return parts.reduce(0) { $0 + $1.value(at: w) }
        }
    }

    /// Checks the parameters; the first problem is thrown in words.
    public func validate() throws(SequenceError) {
        switch self {
        case let .white(s0):
            guard s0.isFinite, s0 >= 0 else { throw SequenceError("white noise: S₀ must be zero or positive, got \(s0)") }
        case let .powerLaw(a, alpha, low, high):
            guard a.isFinite, a >= 0 else { throw SequenceError("1/f^α noise: the amplitude must be zero or positive, got \(a)") }
            guard alpha.isFinite, alpha > 0, alpha <= 3 else { throw SequenceError("1/f^α noise: α must lie in (0, 3], got \(alpha)") }
            guard low >= 0, low.isFinite, high > low else {
                throw SequenceError("1/f^α noise: the cutoffs must satisfy 0 ≤ low < high, got low \(low), high \(high)")
            }
        case let .lorentzian(variance, tau):
            guard variance.isFinite, variance >= 0, tau.isFinite, tau > 0 else {
                throw SequenceError("Lorentzian noise: the variance must be ≥ 0 and the correlation time > 0, got \(variance), \(tau)")
            }
        case let .tabulated(points):
            guard points.count >= 2 else { throw SequenceError("a tabulated PSD needs at least two points, got \(points.count)") }
            for (i, p) in points.enumerated() {
                guard p.omega.isFinite, p.omega >= 0, p.value.isFinite, p.value >= 0 else {
                    throw SequenceError("tabulated PSD point \(i + 1): ω and S must be finite and ≥ 0, got (\(p.omega), \(p.value))")
                }
                if i > 0, p.omega <= points[i - 1].omega {
                    throw SequenceError("tabulated PSD point \(i + 1): ω must increase, got \(p.omega) after \(points[i - 1].omega)")
                }
            }
        case let .sum(parts):
            guard !parts.isEmpty else { throw SequenceError("a sum of noises needs at least one term") }
            for part in parts { try part.validate() }
        }
    }

    /// The white part S₀ (summed over terms), handled exactly by Parseval's theorem.
    var whiteLevel: Double {
        switch self {
        case let .white(s0): s0
        case let .sum(parts): parts.reduce(0) { $0 + $1.whiteLevel }
        default: 0
        }
    }

    /// The non-white terms.
    var colouredTerms: [NoisePSD] {
        switch self {
        case .white: []
        case let .sum(parts): parts.flatMap(\.colouredTerms)
        default: [self]
        }
    }

    /// Frequencies where S has a kink or an edge, so integration panels can end there.
    var breakpoints: [Double] {
        switch self {
        case let .powerLaw(_, _, low, high): [low, high].filter { $0 > 0 && $0.isFinite }
        case let .lorentzian(_, tau): [1 / tau]
        case let .tabulated(points): points.map(\.omega)
        case let .sum(parts): parts.flatMap(\.breakpoints)
        case .white: []
        }
    }

    /// An upper bound on ∫_Ω^∞ S(ω)/ω² dω, for the high-frequency tail of χ.
    func tailBound(above cutoff: Double) -> Double {
        switch self {
        case .white: return .infinity  // never used: white noise is integrated exactly
        case let .powerLaw(a, alpha, low, high):
            if cutoff >= high { return 0 }
            let from = max(cutoff, low)
            return a * pow(from, -1 - alpha) / (1 + alpha)
        case let .lorentzian(variance, tau):
            // S ≤ 2σ²/(τω²), so ∫ S/ω² ≤ 2σ²/(3τΩ³).
            return 2 * variance / (3 * tau * cutoff * cutoff * cutoff)
        case let .tabulated(points):
            guard let last = points.last, cutoff < last.omega else { return 0 }
            let peak = points.filter { $0.omega >= cutoff }.map(\.value).max() ?? 0
            return peak / cutoff
        case let .sum(parts):
            return parts.reduce(0) { $0 + $1.tailBound(above: cutoff) }
        }
    }

    /// ∫_Ω^∞ S(ω)/ω² dω exactly, where S/ω² is non-increasing in closed form; nil for a table (not monotone).
    func exactTail(above cutoff: Double) -> Double? {
        switch self {
        case .white: return nil
        case let .powerLaw(a, alpha, low, high):
            if cutoff >= high { return 0 }
            let from = max(cutoff, low)
            let upper = high.isFinite ? pow(high, -1 - alpha) : 0
            return a * (pow(from, -1 - alpha) - upper) / (1 + alpha)
        case let .lorentzian(variance, tau):
            return 2 * variance * tau * (1 / cutoff - tau * (Double.pi / 2 - atan(cutoff * tau)))
        case .tabulated: return nil
        case let .sum(parts):
            var total = 0.0
            for part in parts {
                guard let tail = part.exactTail(above: cutoff) else { return nil }
                total += tail
            }
            return total
        }
    }

    /// g = S(ω)/ω² and its slope g′ at ω, as the limit from above or below (they differ at a cutoff), for a
    /// PSD whose g is convex between its breakpoints and tends to 0 with g′ at ∞; nil for a table (not convex).
    func kernel(at omega: Double, fromAbove: Bool) -> (value: Double, slope: Double)? {
        guard omega.isFinite else { return (0, 0) }
        switch self {
        case .white, .tabulated: return nil
        case let .powerLaw(a, alpha, low, high):
            let inside = fromAbove ? omega >= low && omega < high : omega > low && omega <= high
            guard inside, omega > 0 else { return (0, 0) }
            let g = a * pow(omega, -alpha - 2)
            return (g, -(alpha + 2) * g / omega)
        case let .lorentzian(variance, tau):
            // g = 2σ²τ/(ω²(1 + ω²τ²)): g″ ≥ 0 since 6/u⁴ ≥ (6u² − 2)/(1 + u²)³ for u = ωτ > 0.
            let u2 = omega * omega * tau * tau
            let g = 2 * variance * tau / ((1 + u2) * omega * omega)
            return (g, -g * (2 + 4 * u2) / (omega * (1 + u2)))
        case let .sum(parts):
            var total = (value: 0.0, slope: 0.0)
            for part in parts {
                guard let k = part.kernel(at: omega, fromAbove: fromAbove) else { return nil }
                total = (total.value + k.value, total.slope + k.slope)
            }
            return total
        }
    }

    /// An upper bound on ∫₀^ε S(ω)·ω^k dω (k = 0 or 2), for the low-frequency end of χ; infinite when it diverges.
    func headBound(below epsilon: Double, power k: Double) -> Double {
        switch self {
        case .white: return 0
        case let .powerLaw(a, alpha, low, _):
            if epsilon <= low { return 0 }
            let exponent = k + 1 - alpha
            guard exponent > 0 else { return .infinity }
            return a * (pow(epsilon, exponent) - pow(low, exponent)) / exponent
        case let .lorentzian(variance, tau):
            return 2 * variance * tau * pow(epsilon, k + 1) / (k + 1)
        case let .tabulated(points):
            let peak = points.filter { $0.omega <= epsilon }.map(\.value).max() ?? 0
            return peak * pow(epsilon, k + 1) / (k + 1)
        case let .sum(parts):
            return parts.reduce(0) { $0 + $1.headBound(below: epsilon, power: k) }
        }
    }
}
