import Foundation

/// A qubit's physics in the form the shot loop uses: the dephasing noise as exactly-sampled white and
/// OU parts, and the coefficients of one interval of evolution.
struct QubitDynamics: Sendable {
    let spec: QubitSpec
    let white: Double
    let components: [OUComponent]
    /// Stationary standard deviation of each OU component, to draw its value at the start of a shot.
    let stationarySigma: [Double]

    init(_ spec: QubitSpec) throws(NoiseSpectrumError) {
        let synthesis = try NoiseSynthesis(spec.dephasing)
        self.spec = spec
        white = synthesis.white
        components = synthesis.components
        stationarySigma = synthesis.components.map { $0.variance.squareRoot() }
    }

    /// Numbers per interval in a noise table: decay, noise scale, mean gain and noise gain for each OU
    /// component, then the standard deviation of the rest of the accrued phase.
    var noiseStride: Int { 4 * components.count + 1 }

    /// Appends to `table` the exact update over `seconds` of every OU component x_k and of the phase
    /// φ = ∫β dt it accrues. Given x_k(0), (x_k(Δ), ∫x_k) are jointly Gaussian (Gillespie, Phys. Rev. E
    /// 54, 2084 (1996)), with a = γΔ, E = e^{−a}:
    ///   mean (x₀E, x₀(1−E)/γ), Var x = σ²(1−E²), Cov = σ²(1−E)²/γ, Var ∫ = σ²(2a − 3 + 4E − E²)/γ².
    /// Sampled as x(Δ) = x₀E + w with w ~ N(0, Var x), ∫ = x₀(1−E)/γ + w·Cov/Var x + (independent rest);
    /// the rests of all components and the white part (variance s0·Δ) merge into one Gaussian, so an
    /// interval costs K + 1 normal draws, whatever its length.
    func appendNoiseStep(seconds: Double, to table: inout [Double]) {
        let k = components.count
        let base = table.count
        table += [Double](repeating: 0, count: noiseStride)
        var rest = white * seconds
        for (j, component) in components.enumerated() {
            let gamma = component.rate, variance = component.variance
            let a = gamma * seconds
            let decay = exp(-a)
            let oneMinusDecay = -expm1(-a)
            let varianceX = variance * -expm1(-2 * a)
            let covariance = variance * oneMinusDecay * oneMinusDecay / gamma
            let varianceIntegral = variance * Self.integralShape(a) / (gamma * gamma)
            let noiseGain = varianceX > 0 ? covariance / varianceX : 0
            rest += max(0, varianceIntegral - noiseGain * covariance)
            table[base + j] = decay
            table[base + k + j] = varianceX.squareRoot()
            table[base + 2 * k + j] = oneMinusDecay / gamma
            table[base + 3 * k + j] = noiseGain
        }
        table[base + 4 * k] = rest.squareRoot()
    }

    /// 2a − 3 + 4e^{−a} − e^{−2a}, by its series Σ_{n≥3} (−1)ⁿ(4 − 2ⁿ)aⁿ/n! below a = 0.5, where the
    /// closed form cancels (it is 2a³/3 + O(a⁴)).
    static func integralShape(_ a: Double) -> Double {
        guard a < 0.5 else { return 2 * a - 3 + 4 * exp(-a) - exp(-2 * a) }
        var sum = 0.0, power = a * a, factorial = 2.0, twoPower = 4.0
        for n in 3...24 {
            power *= a
            factorial *= Double(n)
            twoPower *= 2
            let term = (4 - twoPower) * power / factorial
            sum += n % 2 == 0 ? term : -term
        }
        return sum
    }
}
