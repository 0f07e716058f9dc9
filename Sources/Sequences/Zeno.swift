import Foundation
import Quantities

/// Quantum Zeno and anti-Zeno predictions (Itano, Heinzen, Bollinger & Wineland, PRA 41, 2295 (1990);
/// Kofman & Kurizki, Nature 405, 546 (2000)).
public enum ZenoPrediction {
    /// The transition probability of a resonant drive of Rabi frequency Ω (rad/s) lasting T, interrupted by
    /// `measurements` equally spaced projective measurements: each interval turns the Bloch vector by θ = ΩT/n
    /// and each measurement keeps only its z component, so z = cosⁿθ and P = (1 − cosⁿ(ΩT/n))/2. For a π drive
    /// this is Itano's [1 − cosⁿ(π/n)]/2.
    public static func transitionProbability(rabi: Double, duration: Time, measurements n: Int) throws(SequenceError) -> Double {
        guard n >= 1 else { throw SequenceError("a Zeno loop needs at least one measurement, got \(n)") }
        guard rabi.isFinite, duration.seconds.isFinite, duration.seconds >= 0 else {
            throw SequenceError("the Rabi frequency and duration must be finite, got \(rabi) rad/s and \(duration)")
        }
        return (1 - pow(cos(rabi * duration.seconds / Double(n)), Double(n))) / 2
    }

    /// The transition probability under continuous measurement that dephases the qubit at rate Γ (1/s), from
    /// the exact solution of the Bloch equations ż = −Ωy, ẏ = Ωz − Γy: z(t) = e^{−Γt/2}[cosh κt + (Γ/2κ) sinh κt]
    /// with κ = √(Γ²/4 − Ω²) (analytically continued when Ω > Γ/2). For Γ ≫ Ω it tends to (1 − e^{−Ω²T/Γ})/2.
    public static func continuousTransitionProbability(rabi: Double, duration: Time, dephasingRate gamma: Double) throws(SequenceError) -> Double {
        guard gamma.isFinite, gamma >= 0, rabi.isFinite, duration.seconds.isFinite, duration.seconds >= 0 else {
            throw SequenceError("the rates must be finite and Γ ≥ 0, got Ω = \(rabi), Γ = \(gamma)")
        }
        let t = duration.seconds
        let discriminant = gamma * gamma / 4 - rabi * rabi
        let z: Double
        if discriminant > 0 {
            let kappa = discriminant.squareRoot()
            // e^{−Γt/2}cosh κt written with decaying exponentials only, so large Γt does not overflow.
            let slow = exp((kappa - gamma / 2) * t), fast = exp((-kappa - gamma / 2) * t)
            z = (slow + fast) / 2 + gamma / (2 * kappa) * (slow - fast) / 2
        } else if discriminant < 0 {
            let w = (-discriminant).squareRoot()
            z = exp(-gamma * t / 2) * (cos(w * t) + gamma / (2 * w) * sin(w * t))
        } else {
            z = exp(-gamma * t / 2) * (1 + gamma * t / 2)
        }
        return (1 - z) / 2
    }

    /// Whether frequent measurement slows or speeds the decay of an excited state coupled to a bath.
    public enum Regime: String, Sendable, Hashable {
        case zeno, antiZeno
    }

    /// Kofman–Kurizki: measured every τ, the decay rate is R(τ) = 2π∫G(ω)F_τ(ω − ω_a)dω with the
    /// measurement-broadened line F_τ(ω) = (τ/2π)·sinc²(ωτ/2); left alone it is the golden-rule rate
    /// R_GR = 2πG(ω_a). R(τ) < R_GR is the Zeno regime, R(τ) > R_GR anti-Zeno. `coupling` is the bath's
    /// coupling spectrum G(ω) (rad/s), `transition` ω_a (rad/s).
    public static func regime(
        coupling: NoisePSD, transition omegaA: Double, interval tau: Time
    ) throws(SequenceError) -> (rate: Double, goldenRule: Double, regime: Regime) {
        try coupling.validate()
        let t = tau.seconds
        guard t.isFinite, t > 0, omegaA.isFinite, omegaA > 0 else {
            throw SequenceError("the interval and the transition frequency must be positive, got \(tau) and \(omegaA) rad/s")
        }
        let line = { (omega: Double) -> Double in
            let x = (omega - omegaA) * t / 2
            let sinc = abs(x) < 1e-8 ? 1 : sin(x) / x
            return t / (2 * .pi) * sinc * sinc
        }
        // The line is 4π/τ wide between its first zeros; integrate ±400 of its widths around ω_a, panels of
        // half a lobe, plus the bath's own breakpoints.
        let lobe = 2 * Double.pi / t
        let lo = max(0, omegaA - 400 * lobe), hi = omegaA + 400 * lobe
        var ends = stride(from: lo, through: hi, by: lobe / 2).map { $0 }
        ends += coupling.breakpoints.filter { $0 > lo && $0 < hi }
        ends.sort()
        let (integral, _) = GaussKronrod.integrate({ coupling.value(at: $0) * line($0) }, ends: ends, tolerance: 1e-12)
        let rate = 2 * .pi * integral
        let golden = 2 * .pi * coupling.value(at: omegaA)
        return (rate, golden, rate < golden ? .zeno : .antiZeno)
    }
}
