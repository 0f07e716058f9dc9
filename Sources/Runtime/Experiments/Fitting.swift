import Foundation

/// Data a fit cannot use, or a fit that does not settle.
public enum FitError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Fewer points than the model has parameters (plus one, for a χ²).
    case tooFewPoints(model: String, needed: Int, got: Int)
    /// x, y and σ of different lengths.
    case mismatchedLengths(x: Int, y: Int, sigma: Int)
    /// A NaN or infinite x, y or σ.
    case notFinite(index: Int)
    /// σ ≤ 0: the point's weight would be infinite.
    case nonPositiveSigma(index: Int)
    /// A log–log fit met x ≤ 0 or y ≤ 0.
    case nonPositiveForLog(index: Int)
    /// The normal equations are singular: the data do not determine every parameter.
    case singular(model: String)
    /// Levenberg–Marquardt did not reach a finite minimum.
    case didNotConverge(model: String, iterations: Int)

    public var description: String {
        switch self {
        case let .tooFewPoints(model, needed, got): "\(model) fit needs at least \(needed) points, got \(got)"
        case let .mismatchedLengths(x, y, sigma): "x, y and σ must have equal lengths, got \(x), \(y) and \(sigma)"
        case let .notFinite(index): "point \(index + 1) has a NaN or infinite x, y or σ"
        case let .nonPositiveSigma(index): "point \(index + 1) has σ ≤ 0"
        case let .nonPositiveForLog(index): "point \(index + 1) has x ≤ 0 or y ≤ 0, which a log–log fit cannot take"
        case let .singular(model): "\(model) fit: the data do not determine every parameter (singular normal equations)"
        case let .didNotConverge(model, iterations): "\(model) fit did not converge in \(iterations) iterations"
        }
    }
}

/// A model y(x; p) a curve fit adjusts.
public enum FitModel: String, Sendable, Hashable, Codable {
    /// A·e^{−x/T} + B (T₁ relaxation). Parameters: amplitude, T, baseline.
    case exponentialDecay
    /// A·e^{−(x/T)^β} + B (CPMG and Ramsey decays under 1/f noise). Parameters: amplitude, T, β, baseline.
    case stretchedDecay
    /// a·x^γ (T₂ ∝ N^γ), fitted as a line in ln x, ln y. Parameters: prefactor, exponent.
    case powerLaw

    public var parameterNames: [String] {
        switch self {
        case .exponentialDecay: ["amplitude", "T", "baseline"]
        case .stretchedDecay: ["amplitude", "T", "beta", "baseline"]
        case .powerLaw: ["prefactor", "exponent"]
        }
    }

    public func value(at x: Double, _ p: [Double]) -> Double {
        switch self {
        case .exponentialDecay: p[0] * exp(-x / p[1]) + p[2]
        case .stretchedDecay: p[0] * exp(-pow(max(x, 0) / p[1], p[2])) + p[3]
        case .powerLaw: p[0] * pow(x, p[1])
        }
    }

    /// Whether `p` is physical: time constants and the stretch positive.
    func admits(_ p: [Double]) -> Bool {
        guard p.allSatisfy(\.isFinite) else { return false }
        switch self {
        case .exponentialDecay: return p[1] > 0
        case .stretchedDecay: return p[1] > 0 && p[2] > 0.2 && p[2] < 6
        case .powerLaw: return p[0] > 0
        }
    }

    /// A start for a decay: baseline from the last points, amplitude from the first, T where the curve has
    /// fallen by 1/e of the way.
    func initialGuess(x: [Double], y: [Double]) -> [Double] {
        let order = x.indices.sorted { x[$0] < x[$1] }
        let first = y[order[0]], last = y[order[order.count - 1]]
        let amplitude = first - last
        let target = last + amplitude / M_E
        let crossing = order.first { amplitude > 0 ? y[$0] <= target : y[$0] >= target }.map { x[$0] }
        let t = max(crossing ?? x[order[order.count / 2]], x[order[0]] > 0 ? x[order[0]] : 1e-12)
        switch self {
        case .exponentialDecay: return [amplitude, t, last]
        case .stretchedDecay: return [amplitude, t, 1.5, last]
        case .powerLaw: return [1, 1]
        }
    }
}

/// One fitted parameter and its standard error (the square root of the covariance's diagonal).
public struct FitParameter: Sendable, Hashable, Codable {
    public var name: String
    public var value: Double
    public var standardError: Double
}

/// The outcome of a weighted least-squares fit.
public struct FitResult: Sendable, Hashable {
    public var model: FitModel
    public var parameters: [FitParameter]
    /// χ²/(n − k); near 1 when the model and the σ are right.
    public var reducedChiSquare: Double
    public var degreesOfFreedom: Int

    /// The parameter called `name` (one of ``FitModel/parameterNames``).
    public subscript(_ name: String) -> FitParameter {
        parameters.first { $0.name == name }!
    }

    /// The fitted curve at `x`.
    public func value(at x: Double) -> Double { model.value(at: x, parameters.map(\.value)) }
}

/// Weighted nonlinear least squares by Levenberg–Marquardt (Marquardt's diagonal scaling), with a central-difference
/// Jacobian. σ are taken as absolute: the covariance is (JᵀWJ)⁻¹ at the minimum, unscaled by χ²_red.
public enum CurveFit {
    public static func fit(
        _ model: FitModel, x: [Double], y: [Double], sigma: [Double], initial: [Double]? = nil, maximumIterations: Int = 200
    ) throws(FitError) -> FitResult {
        if model == .powerLaw { return try powerLaw(x: x, y: y, sigma: sigma) }
        let k = model.parameterNames.count
        try check(model, x: x, y: y, sigma: sigma, parameters: k)
        var p = initial ?? model.initialGuess(x: x, y: y)
        func chiSquare(_ p: [Double]) -> Double {
            var sum = 0.0
            for i in x.indices {
                let r = (y[i] - model.value(at: x[i], p)) / sigma[i]
                sum += r * r
            }
            return sum
        }
        func jacobian(_ p: [Double]) -> [[Double]] {
            x.indices.map { i in
                (0..<k).map { j in
                    let h = max(abs(p[j]) * 1e-6, 1e-12)
                    var up = p, down = p
                    up[j] += h
                    down[j] -= h
                    return (model.value(at: x[i], up) - model.value(at: x[i], down)) / (2 * h) / sigma[i]
                }
            }
        }
        guard model.admits(p) else { throw .didNotConverge(model: model.rawValue, iterations: 0) }
        var chi2 = chiSquare(p)
        var lambda = 1e-3
        var converged = false
        for _ in 0..<maximumIterations {
            let j = jacobian(p)
            var a = [[Double]](repeating: [Double](repeating: 0, count: k), count: k)
            var g = [Double](repeating: 0, count: k)
            for i in x.indices {
                let r = (y[i] - model.value(at: x[i], p)) / sigma[i]
                for m in 0..<k {
                    g[m] += j[i][m] * r
                    for n in 0..<k { a[m][n] += j[i][m] * j[i][n] }
                }
            }
            var improved = false
            while lambda < 1e12 {
                var damped = a
                for m in 0..<k { damped[m][m] += lambda * max(a[m][m], 1e-300) }
                guard let step = solve(damped, g) else { lambda *= 10; continue }
                let trial = zip(p, step).map { $0 + $1 }
                let trialChi2 = model.admits(trial) ? chiSquare(trial) : .infinity
                if trialChi2 <= chi2 {
                    let change = chi2 - trialChi2
                    p = trial
                    chi2 = trialChi2
                    lambda = max(lambda / 10, 1e-12)
                    improved = true
                    if change <= 1e-10 * max(chi2, 1) { converged = true }
                    break
                }
                lambda *= 10
            }
            if !improved { converged = true }
            if converged { break }
        }
        guard converged, chi2.isFinite else { throw .didNotConverge(model: model.rawValue, iterations: maximumIterations) }
        let j = jacobian(p)
        var a = [[Double]](repeating: [Double](repeating: 0, count: k), count: k)
        for i in x.indices { for m in 0..<k { for n in 0..<k { a[m][n] += j[i][m] * j[i][n] } } }
        guard let covariance = invert(a) else { throw .singular(model: model.rawValue) }
        let dof = x.count - k
        return FitResult(
            model: model,
            parameters: (0..<k).map { FitParameter(name: model.parameterNames[$0], value: p[$0], standardError: max(covariance[$0][$0], 0).squareRoot()) },
            reducedChiSquare: dof > 0 ? chi2 / Double(dof) : .nan, degreesOfFreedom: dof)
    }

    /// y = a·x^γ by weighted linear least squares of ln y on ln x (σ_ln y = σ/y); a's error from ln a's.
    public static func powerLaw(x: [Double], y: [Double], sigma: [Double]) throws(FitError) -> FitResult {
        try check(.powerLaw, x: x, y: y, sigma: sigma, parameters: 2)
        if let bad = x.indices.first(where: { x[$0] <= 0 || y[$0] <= 0 }) { throw .nonPositiveForLog(index: bad) }
        var s = 0.0, sx = 0.0, sy = 0.0, sxx = 0.0, sxy = 0.0
        let lx = x.map { log($0) }, ly = y.map { log($0) }
        let w = x.indices.map { 1 / pow(sigma[$0] / y[$0], 2) }
        for i in x.indices {
            s += w[i]; sx += w[i] * lx[i]; sy += w[i] * ly[i]; sxx += w[i] * lx[i] * lx[i]; sxy += w[i] * lx[i] * ly[i]
        }
        let d = s * sxx - sx * sx
        guard d > 0, d.isFinite else { throw .singular(model: FitModel.powerLaw.rawValue) }
        let lnA = (sxx * sy - sx * sxy) / d, gamma = (s * sxy - sx * sy) / d
        var chi2 = 0.0
        for i in x.indices { chi2 += w[i] * pow(ly[i] - lnA - gamma * lx[i], 2) }
        let dof = x.count - 2
        return FitResult(
            model: .powerLaw,
            parameters: [FitParameter(name: "prefactor", value: exp(lnA), standardError: exp(lnA) * (sxx / d).squareRoot()),
                         FitParameter(name: "exponent", value: gamma, standardError: (s / d).squareRoot())],
            reducedChiSquare: dof > 0 ? chi2 / Double(dof) : .nan, degreesOfFreedom: dof)
    }

    private static func check(_ model: FitModel, x: [Double], y: [Double], sigma: [Double], parameters: Int) throws(FitError) {
        guard x.count == y.count, y.count == sigma.count else { throw .mismatchedLengths(x: x.count, y: y.count, sigma: sigma.count) }
        guard x.count >= parameters + 1 else { throw .tooFewPoints(model: model.rawValue, needed: parameters + 1, got: x.count) }
        for i in x.indices {
            guard x[i].isFinite, y[i].isFinite, sigma[i].isFinite else { throw .notFinite(index: i) }
            guard sigma[i] > 0 else { throw .nonPositiveSigma(index: i) }
        }
    }

    /// Solves a·s = b by Gaussian elimination with partial pivoting; nil when a is singular.
    static func solve(_ a: [[Double]], _ b: [Double]) -> [Double]? {
        let n = b.count
        var m = a, v = b
        for c in 0..<n {
            let pivot = (c..<n).max { abs(m[$0][c]) < abs(m[$1][c]) }!
            guard abs(m[pivot][c]) > 1e-300, m[pivot][c].isFinite else { return nil }
            m.swapAt(c, pivot)
            v.swapAt(c, pivot)
            for r in (c + 1)..<n {
                let f = m[r][c] / m[c][c]
                for q in c..<n { m[r][q] -= f * m[c][q] }
                v[r] -= f * v[c]
            }
        }
        var s = [Double](repeating: 0, count: n)
        for r in stride(from: n - 1, through: 0, by: -1) {
            var sum = v[r]
            for q in (r + 1)..<n { sum -= m[r][q] * s[q] }
            s[r] = sum / m[r][r]
        }
        return s.allSatisfy(\.isFinite) ? s : nil
    }

    /// a⁻¹, column by column; nil when a is singular.
    static func invert(_ a: [[Double]]) -> [[Double]]? {
        let n = a.count
        var columns: [[Double]] = []
        for c in 0..<n {
            guard let column = solve(a, (0..<n).map { $0 == c ? 1 : 0 }) else { return nil }
            columns.append(column)
        }
        return (0..<n).map { r in (0..<n).map { columns[$0][r] } }
    }
}
