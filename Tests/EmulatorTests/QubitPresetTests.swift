import Foundation
import Testing
@testable import Emulator

/// The presets' coherence, from χ(T) = (1/π)∫S(ω)F(ωT)/ω² dω with the closed-form filter functions
/// (REFERENCES.md) and the PSD the emulator actually samples (the synthesis), integrated in ln ω.
@Suite("Qubit presets are credible")
struct QubitPresetTests {
    /// F(z) for N π pulses at CPMG positions; N = 0 is the free induction decay.
    static func filter(_ z: Double, pulses n: Int) -> Double {
        if n == 0 { return 2 * pow(sin(z / 2), 2) }
        let s = n % 2 == 0 ? pow(sin(z / 2), 2) : pow(cos(z / 2), 2)
        let c = pow(cos(z / (2 * Double(n))), 2)
        return c < 1e-300 ? 0 : 8 * pow(sin(z / (4 * Double(n))), 4) * s / c
    }

    static func chi(_ synthesis: NoiseSynthesis, t: Double, pulses n: Int) -> Double {
        let rates = synthesis.components.map(\.rate)
        let a = log(rates.min()! * 1e-4), b = log(max(rates.max()! * 1e3, 1e4 * Double(max(n, 1)) / t))
        let points = 20_001, h = (b - a) / Double(points - 1)
        var sum = 0.0
        for k in 0..<points {
            let omega = exp(a + h * Double(k))
            let f = synthesis.value(at: omega) * filter(omega * t, pulses: n) / omega
            sum += f * (k == 0 || k == points - 1 ? 1 : (k % 2 == 1 ? 4 : 2))
        }
        return sum * h / 3 / .pi
    }

    /// The time at which χ = 1, by bisection in log t.
    static func decayTime(_ synthesis: NoiseSynthesis, pulses n: Int) -> Double {
        var lo = 1e-9, hi = 1.0
        for _ in 0..<24 {
            let mid = (lo * hi).squareRoot()
            if chi(synthesis, t: mid, pulses: n) < 1 { lo = mid } else { hi = mid }
        }
        return (lo * hi).squareRoot()
    }

    @Test func transmonCoherence() throws {
        let synthesis = try NoiseSynthesis(QubitSpec.transmon.dephasing)
        let t2star = Self.decayTime(synthesis, pulses: 0), echo = Self.decayTime(synthesis, pulses: 1)
        #expect(t2star > 30e-6 && t2star < 55e-6, "T2* = \(t2star)")
        #expect(echo > 100e-6 && echo < 200e-6, "T2 echo = \(echo)")
        #expect(QubitSpec.transmon.t1 == 100e-6)
        // A 0.5 V square pulse: π in 20 ns.
        #expect(abs(0.5 / (2 * QubitSpec.transmon.rabiPerVolt * 0.5 * 0.5) - 20e-9) < 1e-12)
    }

    @Test func siGeSpinCoherence() throws {
        let synthesis = try NoiseSynthesis(QubitSpec.siGeSpin.dephasing)
        let t2star = Self.decayTime(synthesis, pulses: 0), cpmg = Self.decayTime(synthesis, pulses: 128)
        #expect(t2star > 0.8e-6 && t2star < 1.25e-6, "T2* = \(t2star)")
        #expect(cpmg > 300e-6 && cpmg < 550e-6, "T2 CPMG-128 = \(cpmg)")
    }
}
