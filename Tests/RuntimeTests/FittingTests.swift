import Foundation
import Runtime
import Testing
import TestSupport

/// A reproducible Gaussian source (SplitMix64 and Box–Muller) for synthetic data.
struct GaussianNoise {
    private var random: SplitMix64

    init(state: UInt64) { random = SplitMix64(seed: state) }

    mutating func uniform() -> Double { random.uniform() }

    mutating func next() -> Double { (-2 * log(uniform())).squareRoot() * cos(2 * .pi * uniform()) }
}

@Suite("Weighted Levenberg–Marquardt fits recover known parameters within their errors")
struct FittingTests {
    static func synthetic(_ model: FitModel, _ p: [Double], x: [Double], sigma: Double, seed: UInt64) -> [Double] {
        var noise = GaussianNoise(state: seed)
        return x.map { model.value(at: $0, p) + sigma * noise.next() }
    }

    @Test("Exponential and stretched decays: every parameter within 4σ, χ²_red near 1", arguments: [1, 2, 3] as [UInt64])
    func decays(seed: UInt64) throws {
        let x = (1...24).map { Double($0) * 8e-6 }
        for (model, truth) in [(FitModel.exponentialDecay, [0.9, 60e-6, 0.05]), (.stretchedDecay, [0.47, 70e-6, 1.9, 0.5])] {
            let y = Self.synthetic(model, truth, x: x, sigma: 0.01, seed: seed)
            let fit = try CurveFit.fit(model, x: x, y: y, sigma: Array(repeating: 0.01, count: x.count))
            for (parameter, expected) in zip(fit.parameters, truth) {
                #expect(abs(parameter.value - expected) <= 4 * parameter.standardError,
                        "\(model) \(parameter.name): \(parameter.value) ± \(parameter.standardError), true \(expected)")
                #expect(parameter.standardError > 0 && parameter.standardError < abs(expected))
            }
            #expect(fit.reducedChiSquare > 0.3 && fit.reducedChiSquare < 2.5, "χ²_red = \(fit.reducedChiSquare)")
        }
    }

    @Test("A wrong model is visible in χ²_red")
    func wrongModel() throws {
        let x = (1...24).map { Double($0) * 8e-6 }
        let y = Self.synthetic(.stretchedDecay, [0.47, 70e-6, 2.5, 0.5], x: x, sigma: 0.005, seed: 9)
        let fit = try CurveFit.fit(.exponentialDecay, x: x, y: y, sigma: Array(repeating: 0.005, count: x.count))
        #expect(fit.reducedChiSquare > 5, "χ²_red = \(fit.reducedChiSquare)")
    }

    @Test("Power law T₂ = a·N^γ in log–log: γ within 4σ")
    func powerLaw() throws {
        let n = [1.0, 2, 4, 8, 16, 32]
        var noise = GaussianNoise(state: 4)
        let y = n.map { 150e-6 * pow($0, 0.47) * (1 + 0.03 * noise.next()) }
        let fit = try CurveFit.fit(.powerLaw, x: n, y: y, sigma: y.map { 0.03 * $0 })
        #expect(abs(fit["exponent"].value - 0.47) <= 4 * fit["exponent"].standardError)
        #expect(abs(fit["prefactor"].value - 150e-6) <= 4 * fit["prefactor"].standardError)
    }

    @Test("Malformed input gives typed errors")
    func malformed() {
        let x = [1.0, 2, 3, 4, 5], y = [1.0, 0.6, 0.4, 0.3, 0.2], s = [0.1, 0.1, 0.1, 0.1, 0.1]
        #expect(throws: FitError.tooFewPoints(model: "stretchedDecay", needed: 5, got: 3)) {
            try CurveFit.fit(.stretchedDecay, x: Array(x.prefix(3)), y: Array(y.prefix(3)), sigma: Array(s.prefix(3)))
        }
        #expect(throws: FitError.notFinite(index: 2)) {
            try CurveFit.fit(.exponentialDecay, x: x, y: [1, 0.6, .nan, 0.3, 0.2], sigma: s)
        }
        #expect(throws: FitError.nonPositiveSigma(index: 1)) {
            try CurveFit.fit(.exponentialDecay, x: x, y: y, sigma: [0.1, 0, 0.1, 0.1, 0.1])
        }
        #expect(throws: FitError.mismatchedLengths(x: 5, y: 4, sigma: 5)) {
            try CurveFit.fit(.exponentialDecay, x: x, y: Array(y.prefix(4)), sigma: s)
        }
        #expect(throws: FitError.nonPositiveForLog(index: 0)) {
            try CurveFit.fit(.powerLaw, x: [0, 1, 2], y: [1, 2, 3], sigma: [0.1, 0.1, 0.1])
        }
        #expect(throws: FitError.singular(model: "exponentialDecay")) {
            // All points at one x: the time constant is undetermined.
            try CurveFit.fit(.exponentialDecay, x: [1, 1, 1, 1], y: [0.5, 0.5, 0.5, 0.5], sigma: [0.1, 0.1, 0.1, 0.1])
        }
    }
}
