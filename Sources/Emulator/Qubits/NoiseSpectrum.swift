import Foundation

/// The power spectral density of a qubit's dephasing noise β(t), with H = ½[Ω + β(t)]σ_z: two-sided, in
/// angular units, S(ω) = ∫dt e^{iωt}⟨β(t)β(0)⟩ (rad²/s per rad/s). Coherence decays as e^{−χ} with
/// χ(T) = (1/π)∫₀^∞ S(ω)F(ωT)/ω² dω. A spectrum is a sum of independent terms, each validated.
public struct NoiseSpectrum: Sendable, Hashable {
    /// One independent contribution.
    public enum Term: Sendable, Hashable {
        /// S(ω) = s0 (rad²/s): Markovian dephasing, χ = s0·T/2 for a free evolution of length T.
        case white(s0: Double)
        /// S(ω) = amplitude / |ω|^alpha for low ≤ |ω| ≤ high (rad/s), 0 outside; `amplitude` is S at
        /// ω = 1 rad/s. 0 < alpha ≤ 2.
        case powerLaw(amplitude: Double, alpha: Double, low: Double, high: Double)
        /// Ornstein–Uhlenbeck noise of variance σ² (rad²/s²) and correlation time τ_c (s):
        /// S(ω) = 2σ²τ_c / (1 + ω²τ_c²).
        case lorentzian(variance: Double, correlationTime: Double)
    }

    public let terms: [Term]

    /// A sum of `terms`, each checked.
    public init(_ terms: [Term]) throws(NoiseSpectrumError) {
        for term in terms { try term.validate() }
        self.terms = terms
    }

    /// No dephasing noise at all.
    public static let none = try! NoiseSpectrum([])

    public static func white(s0: Double) throws(NoiseSpectrumError) -> NoiseSpectrum {
        try NoiseSpectrum([.white(s0: s0)])
    }

    public static func powerLaw(amplitude: Double, alpha: Double, low: Double, high: Double) throws(NoiseSpectrumError) -> NoiseSpectrum {
        try NoiseSpectrum([.powerLaw(amplitude: amplitude, alpha: alpha, low: low, high: high)])
    }

    public static func lorentzian(variance: Double, correlationTime: Double) throws(NoiseSpectrumError) -> NoiseSpectrum {
        try NoiseSpectrum([.lorentzian(variance: variance, correlationTime: correlationTime)])
    }

    /// The sum of both spectra (independent noises add their PSDs).
    public static func + (lhs: NoiseSpectrum, rhs: NoiseSpectrum) -> NoiseSpectrum {
        NoiseSpectrum(validated: lhs.terms + rhs.terms)
    }

    private init(validated terms: [Term]) {
        self.terms = terms
    }

    /// S(ω), two-sided, at angular frequency `omega` (rad/s); even in ω.
    public func value(at omega: Double) -> Double {
        terms.reduce(0) { $0 + $1.value(at: omega) }
    }
}

extension NoiseSpectrum.Term {
    /// S(ω) of this term alone.
    public func value(at omega: Double) -> Double {
        let w = abs(omega)
        switch self {
        case let .white(s0):
            return s0
        case let .powerLaw(amplitude, alpha, low, high):
            return w >= low && w <= high ? amplitude * pow(w, -alpha) : 0
        case let .lorentzian(variance, tau):
            return 2 * variance * tau / (1 + w * w * tau * tau)
        }
    }

    func validate() throws(NoiseSpectrumError) {
        func check(_ ok: Bool, _ message: @autoclosure () -> String) throws(NoiseSpectrumError) {
            if !ok { throw NoiseSpectrumError(term: self, message: message()) }
        }
        switch self {
        case let .white(s0):
            try check(s0.isFinite && s0 >= 0, "s0 must be a finite number ≥ 0, got \(s0)")
        case let .powerLaw(amplitude, alpha, low, high):
            try check(amplitude.isFinite && amplitude >= 0, "the amplitude must be a finite number ≥ 0, got \(amplitude)")
            try check(alpha > 0 && alpha <= 2, "alpha must lie in (0, 2], got \(alpha)")
            try check(low.isFinite && low > 0, "the low cutoff must be positive, got \(low) rad/s")
            try check(high.isFinite && high > low, "the high cutoff (\(high) rad/s) must exceed the low cutoff (\(low) rad/s)")
            try check(high / low <= 1e12, "the cutoffs may span at most 12 decades, got \(log10(high / low))")
        case let .lorentzian(variance, tau):
            try check(variance.isFinite && variance >= 0, "the variance must be a finite number ≥ 0, got \(variance)")
            try check(tau.isFinite && tau > 0, "the correlation time must be positive, got \(tau) s")
        }
    }
}

/// A noise spectrum the emulator cannot use: which term, and why.
public struct NoiseSpectrumError: Error, Sendable, Hashable, CustomStringConvertible {
    public let term: NoiseSpectrum.Term
    public let message: String

    public var description: String { "noise spectrum term \(term): \(message)" }
}
