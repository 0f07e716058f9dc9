import Foundation
import Quantities

/// One measured CPMG decay point: N pulses over T, and the coherence seen with its standard error.
public struct CPMGDecay: Sendable, Hashable {
    public var pulses: Int
    public var total: Time
    public var coherence: Double
    public var coherenceError: Double

    public init(pulses: Int, total: Time, coherence: Double, coherenceError: Double) {
        self.pulses = pulses
        self.total = total
        self.coherence = coherence
        self.coherenceError = coherenceError
    }
}

/// A PSD estimated from decays: S at each probed frequency with its standard error.
public struct SpectrumEstimate: Sendable, Hashable {
    public struct Point: Sendable, Hashable {
        /// ω₀ = πN/T, the CPMG filter's main peak (rad/s).
        public var omega: Double
        public var value: Double
        public var standardError: Double
    }

    public var points: [Point]

    /// The estimate as a tabulated PSD, for predictions.
    public var psd: NoisePSD { .tabulated(points.map { .init(omega: $0.omega, value: max($0.value, 0)) }) }
}

/// Noise spectroscopy from CPMG decays, in the style of Álvarez & Suter (PRL 107, 230501 (2011)) and Bylander
/// et al. (Nat. Phys. 7, 565 (2011)).
///
/// The CPMG-N filter is a comb of peaks at odd harmonics kω₀ of ω₀ = πN/T with weights 8/(π²k²) (which sum to
/// 1), so χ ≈ (T/2)Σ_{k odd} 8/(π²k²)·S(kω₀) — exact for white noise, where it gives S₀T/2. With S unknown on
/// the grid of probed ω₀ (linear in between, constant beyond the ends), the χᵢ = −ln Cᵢ are a linear system in
/// those values, solved by weighted least squares (σ_χ = σ_C/C); the covariance gives the standard errors.
/// Harmonics beyond `harmonics` are dropped (their weight falls as 1/k²).
public enum NoiseSpectroscopy {
    public static func estimate(_ decays: [CPMGDecay], harmonics: Int = 15) throws(SequenceError) -> SpectrumEstimate {
        guard !decays.isEmpty else { throw SequenceError("noise spectroscopy needs at least one decay") }
        for (i, d) in decays.enumerated() {
            guard d.pulses >= 1, d.total.seconds > 0, d.coherence > 0, d.coherence < 1, d.coherenceError > 0 else {
                throw SequenceError("decay \(i + 1): needs N ≥ 1, T > 0, 0 < coherence < 1 and a positive error, got N = \(d.pulses), T = \(d.total), C = \(d.coherence) ± \(d.coherenceError)")
            }
        }
        let grid = Array(Set(decays.map { Double.pi * Double($0.pulses) / $0.total.seconds })).sorted()
        let m = grid.count
        guard decays.count >= m else { throw SequenceError("\(m) frequencies from \(decays.count) decays: need at least one decay per frequency") }
        // Design matrix rows: (T/2)Σ_k w_k·(interpolation weights of kω₀ on the grid).
        var a = [[Double]](repeating: [Double](repeating: 0, count: m), count: decays.count)
        var y = [Double](repeating: 0, count: decays.count), w = y
        for (i, d) in decays.enumerated() {
            let t = d.total.seconds
            let omega0 = Double.pi * Double(d.pulses) / t
            var k = 1
            while k <= harmonics {
                let weight = 8 / (Double.pi * Double.pi * Double(k * k)) * t / 2
                let omega = Double(k) * omega0
                if omega <= grid[0] {
                    a[i][0] += weight
                } else if omega >= grid[m - 1] {
                    a[i][m - 1] += weight
                } else {
                    let j = grid.lastIndex { $0 <= omega }!
                    let f = (omega - grid[j]) / (grid[j + 1] - grid[j])
                    a[i][j] += weight * (1 - f)
                    a[i][j + 1] += weight * f
                }
                k += 2
            }
            y[i] = -log(d.coherence)
            let sigma = d.coherenceError / d.coherence
            w[i] = 1 / (sigma * sigma)
        }
        // Normal equations AᵀWA s = AᵀWy, solved by Cholesky; (AᵀWA)⁻¹ is the covariance.
        var normal = [[Double]](repeating: [Double](repeating: 0, count: m), count: m)
        var rhs = [Double](repeating: 0, count: m)
        for i in decays.indices {
            for p in 0..<m where a[i][p] != 0 {
                rhs[p] += a[i][p] * w[i] * y[i]
                for q in 0..<m { normal[p][q] += a[i][p] * w[i] * a[i][q] }
            }
        }
        let inverse = try invertSymmetric(normal)
        var values = [Double](repeating: 0, count: m)
        for p in 0..<m { for q in 0..<m { values[p] += inverse[p][q] * rhs[q] } }
        return SpectrumEstimate(points: (0..<m).map {
            .init(omega: grid[$0], value: values[$0], standardError: max(inverse[$0][$0], 0).squareRoot())
        })
    }

    /// The inverse of a symmetric positive-definite matrix (Cholesky, then solve for each column).
    static func invertSymmetric(_ matrix: [[Double]]) throws(SequenceError) -> [[Double]] {
        let n = matrix.count
        var l = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        for i in 0..<n {
            for j in 0...i {
                var sum = matrix[i][j]
                for k in 0..<j { sum -= l[i][k] * l[j][k] }
                if i == j {
                    guard sum > 1e-300 * max(1, abs(matrix[i][i])) else {
                        throw SequenceError("the decays do not determine the spectrum at every frequency (singular system); add decays")
                    }
                    l[i][i] = sum.squareRoot()
                } else {
                    l[i][j] = sum / l[j][j]
                }
            }
        }
        var inverse = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        for column in 0..<n {
            var z = [Double](repeating: 0, count: n)
            for i in 0..<n {
                var sum = i == column ? 1.0 : 0
                for k in 0..<i { sum -= l[i][k] * z[k] }
                z[i] = sum / l[i][i]
            }
            for i in stride(from: n - 1, through: 0, by: -1) {
                var sum = z[i]
                for k in (i + 1)..<n { sum -= l[k][i] * inverse[k][column] }
                inverse[i][column] = sum / l[i][i]
            }
        }
        return inverse
    }
}

/// The best dynamical decoupling for a noise spectrum within a pulse budget.
public enum SequenceChoice {
    public struct Candidate: Sendable, Hashable {
        public var family: DDFamily
        public var pulses: Int
        /// e^{−χ}·(1 − ε)^N: dephasing and the pulses' own errors.
        public var fidelity: Double
        public var chi: Double
    }

    /// Every family in `families` with every admissible N up to `maximumPulses` (powers of two and the family's
    /// cycle multiples), scored by e^{−χ(T)}·(1 − ε)^N where ε is the error probability each pulse adds; the
    /// candidates best first.
    public static func rank(
        noise: NoisePSD, total: Time, maximumPulses: Int, pulseError: Double,
        families: [DDFamily] = [.cpmg, .udd, .xy4, .xy8, .xy16, .kdd]
    ) throws(SequenceError) -> [Candidate] {
        guard maximumPulses >= 1 else { throw SequenceError("the pulse budget must be at least 1, got \(maximumPulses)") }
        guard pulseError.isFinite, pulseError >= 0, pulseError < 1 else {
            throw SequenceError("the per-pulse error must lie in [0, 1), got \(pulseError)")
        }
        var candidates: [Candidate] = []
        for family in families {
            var counts = Set<Int>()
            var n = family.pulseMultiple
            while n <= maximumPulses { counts.insert(n); n *= 2 }
            if family.pulseMultiple == 1 { counts.insert(maximumPulses) }
            for n in counts.sorted() {
                let sequence = try DDSequence(family, pulses: n, total: total)
                let chi = try sequence.predict(noise: noise, tolerance: 1e-7).chi
                candidates.append(Candidate(family: family, pulses: n, fidelity: exp(-chi) * pow(1 - pulseError, Double(n)), chi: chi))
            }
        }
        return candidates.sorted { $0.fidelity > $1.fidelity }
    }
}
