import Foundation

/// One Ornstein–Uhlenbeck process: ⟨x(t)x(0)⟩ = variance·e^{−rate·|t|}, PSD 2·variance·rate/(rate² + ω²).
public struct OUComponent: Sendable, Hashable {
    /// σ², rad²/s².
    public var variance: Double
    /// 1/τ_c, s⁻¹.
    public var rate: Double

    public init(variance: Double, rate: Double) {
        self.variance = variance
        self.rate = rate
    }

    /// This component's two-sided PSD at `omega` (rad/s).
    public func value(at omega: Double) -> Double {
        2 * variance * rate / (rate * rate + omega * omega)
    }
}

/// What the emulator samples for a `NoiseSpectrum`: a white part, sampled exactly, plus independent OU
/// components, each sampled exactly. Lorentzian terms are OU components as they are; each 1/f^α term is
/// a sum of OU components with log-spaced rates from a decade below its low cutoff to a decade above its
/// high one, weighted by non-negative least squares (Lawson & Hanson, *Solving Least Squares Problems*,
/// ch. 23) on the relative error at 20 points per decade between the cutoffs. It starts at 1.5 rates
/// per decade and densifies (2, 3, 4) until the synthesised PSD is within `tolerance` of the target
/// everywhere between the cutoffs (checked at 80 points per decade). Outside the cutoffs the synthesis
/// rolls off smoothly (flat below, 1/ω² above) rather than stopping dead: it matters only for a free
/// induction decay longer than 1/low.
public struct NoiseSynthesis: Sendable, Hashable {
    /// The summed white level s0, rad²/s.
    public let white: Double
    public let components: [OUComponent]
    /// The largest relative deviation from the target found between the cutoffs of the power-law terms
    /// (0 when there are none).
    public let maximumRelativeError: Double

    /// The bound on `maximumRelativeError` that synthesis guarantees.
    public static let tolerance = 0.01

    public init(_ spectrum: NoiseSpectrum) throws(NoiseSpectrumError) {
        var white = 0.0, components: [OUComponent] = [], worst = 0.0
        for term in spectrum.terms {
            switch term {
            case let .white(s0):
                white += s0
            case let .lorentzian(variance, tau):
                if variance > 0 { components.append(OUComponent(variance: variance, rate: 1 / tau)) }
            case let .powerLaw(amplitude, alpha, low, high):
                guard amplitude > 0 else { continue }
                let (fitted, error) = try Self.fitPowerLaw(alpha: alpha, low: low, high: high, term: term)
                components += fitted.map { OUComponent(variance: $0.variance * amplitude, rate: $0.rate) }
                worst = max(worst, error)
            }
        }
        self.white = white
        self.components = components.sorted { $0.rate < $1.rate }
        self.maximumRelativeError = worst
    }

    /// The synthesised two-sided PSD at `omega`.
    public func value(at omega: Double) -> Double {
        components.reduce(white) { $0 + $1.value(at: omega) }
    }

    /// OU components whose summed PSD approximates 1/|ω|^α (amplitude 1) between `low` and `high`.
    static func fitPowerLaw(alpha: Double, low: Double, high: Double, term: NoiseSpectrum.Term) throws(NoiseSpectrumError) -> ([OUComponent], Double) {
        let lowLog = log10(low), highLog = log10(high)
        func grid(from a: Double, to b: Double, perDecade: Double) -> [Double] {
            let count = max(2, Int(((b - a) * perDecade).rounded(.up)) + 1)
            return (0..<count).map { pow(10, a + (b - a) * Double($0) / Double(count - 1)) }
        }
        let fitPoints = grid(from: lowLog, to: highLog, perDecade: 20)
        let checkPoints = grid(from: lowLog, to: highLog, perDecade: 80)
        var best: ([OUComponent], Double)?
        for perDecade in [1.5, 2, 3, 4] {
            let rates = grid(from: lowLog - 1, to: highLog + 1, perDecade: perDecade)
            // Columns: each rate's unit-variance Lorentzian relative to the target, normalised.
            var matrix = [Double](repeating: 0, count: fitPoints.count * rates.count)
            var norms = [Double](repeating: 0, count: rates.count)
            for (row, omega) in fitPoints.enumerated() {
                let target = pow(omega, -alpha)
                for (column, rate) in rates.enumerated() {
                    let value = 2 * rate / (rate * rate + omega * omega) / target
                    matrix[row * rates.count + column] = value
                    norms[column] += value * value
                }
            }
            norms = norms.map { $0.squareRoot() }
            for row in fitPoints.indices {
                for column in rates.indices { matrix[row * rates.count + column] /= norms[column] }
            }
            let weights = nonNegativeLeastSquares(matrix, rows: fitPoints.count, columns: rates.count,
                                                  [Double](repeating: 1, count: fitPoints.count))
            let fitted = zip(weights, zip(rates, norms)).compactMap { w, rn -> OUComponent? in
                w > 0 ? OUComponent(variance: w / rn.1, rate: rn.0) : nil
            }
            var error = 0.0
            for omega in checkPoints {
                let synthesised = fitted.reduce(0) { $0 + $1.value(at: omega) }
                error = max(error, abs(synthesised * pow(omega, alpha) - 1))
            }
            if error <= tolerance { return (fitted, error) }
            if best == nil || error < best!.1 { best = (fitted, error) }
        }
        throw NoiseSpectrumError(term: term, message: "cannot synthesise 1/f^\(alpha) between \(low) and \(high) rad/s within \(tolerance * 100) % (best \(((best?.1 ?? .infinity) * 100)) %)")
    }
}

/// Lawson–Hanson active-set NNLS: minimises |A·x − b|² subject to x ≥ 0. `a` is row-major rows × columns.
func nonNegativeLeastSquares(_ a: [Double], rows: Int, columns: Int, _ b: [Double]) -> [Double] {
    var x = [Double](repeating: 0, count: columns)
    var passive = [Bool](repeating: false, count: columns)
    func gradient() -> [Double] {
        var w = [Double](repeating: 0, count: columns)
        for r in 0..<rows {
            var residual = b[r]
            for c in 0..<columns { residual -= a[r * columns + c] * x[c] }
            for c in 0..<columns { w[c] += a[r * columns + c] * residual }
        }
        return w
    }
    /// Unconstrained least squares on the passive columns (normal equations, Cholesky), others 0.
    func solvePassive() -> [Double] {
        let index = (0..<columns).filter { passive[$0] }
        let n = index.count
        var g = [Double](repeating: 0, count: n * n), rhs = [Double](repeating: 0, count: n)
        for r in 0..<rows {
            for (i, ci) in index.enumerated() {
                let ai = a[r * columns + ci]
                rhs[i] += ai * b[r]
                for (j, cj) in index.enumerated() where j <= i { g[i * n + j] += ai * a[r * columns + cj] }
            }
        }
        for i in 0..<n { g[i * n + i] *= 1 + 1e-12 }
        // In-place Cholesky, lower triangle.
        for i in 0..<n {
            for j in 0...i {
                var sum = g[i * n + j]
                for k in 0..<j { sum -= g[i * n + k] * g[j * n + k] }
                g[i * n + j] = i == j ? max(sum, 1e-300).squareRoot() : sum / g[j * n + j]
            }
        }
        for i in 0..<n {
            var sum = rhs[i]
            for k in 0..<i { sum -= g[i * n + k] * rhs[k] }
            rhs[i] = sum / g[i * n + i]
        }
        for i in stride(from: n - 1, through: 0, by: -1) {
            var sum = rhs[i]
            for k in (i + 1)..<n { sum -= g[k * n + i] * rhs[k] }
            rhs[i] = sum / g[i * n + i]
        }
        var s = [Double](repeating: 0, count: columns)
        for (i, ci) in index.enumerated() { s[ci] = rhs[i] }
        return s
    }
    let tolerance = 1e-12 * Double(rows)
    for _ in 0..<(3 * columns) {
        let w = gradient()
        guard let t = (0..<columns).filter({ !passive[$0] && w[$0] > tolerance }).max(by: { w[$0] < w[$1] }) else { break }
        passive[t] = true
        for _ in 0..<(3 * columns) {
            let s = solvePassive()
            if (0..<columns).allSatisfy({ !passive[$0] || s[$0] > 0 }) {
                x = s
                break
            }
            var step = 1.0
            for c in 0..<columns where passive[c] && s[c] <= 0 { step = min(step, x[c] / (x[c] - s[c])) }
            for c in 0..<columns { x[c] += step * (s[c] - x[c]) }
            for c in 0..<columns where passive[c] && x[c] <= 1e-15 {
                passive[c] = false
                x[c] = 0
            }
        }
    }
    return x
}
