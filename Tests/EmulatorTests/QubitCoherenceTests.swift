import Foundation
import HAL
import Testing
@testable import Emulator

/// Coherence through the whole testbed: π/2_x, free evolution T with N π_y pulses at CPMG positions
/// δ_j = (j − ½)/N (N = 0: free induction decay), π/2_{−x}, measure. Without noise the qubit returns to
/// |0⟩; with Gaussian dephasing P(1) = (1 − e^{−χ})/2. Pulses take 1–2 ns of T = 10 µs.
@Suite("Qubit coherence against filter-function predictions")
struct QubitCoherenceTests {
    static let t = 10_000 // samples at 1 GS/s: 10 µs

    static func sequence(pulses n: Int) -> PulseProgram {
        var pulses: [(Double, Double, Int)] = [(Double.pi / 2, 0, 0)]
        for j in 1...max(n, 1) where n > 0 {
            let centre = 1 + Int((Double(t) * (Double(j) - 0.5) / Double(n)).rounded())
            pulses.append((Double.pi, Double.pi / 2, centre - 1))
        }
        pulses.append((Double.pi / 2, Double.pi, 1 + t))
        return Bench.program([Bench.segment("cpmg", length: t + 20, pulses: pulses, measurements: [t + 4])])
    }

    static func excited(noise: NoiseSpectrum, pulses n: Int, shots: Int) throws -> Double {
        let testbed = try Bench.testbed(Bench.qubit(noise: noise), seed: UInt64(17 + n))
        return Bench.excitedFraction(testbed, sequence(pulses: n), shots: shots)
    }

    @Test(arguments: [0, 1, 2, 4])
    func noiseFreeSequencesReturnToGround(n: Int) throws {
        #expect(try Self.excited(noise: .none, pulses: n, shots: 100) == 0)
    }

    /// REFERENCES check 1: white noise gives χ = S₀T/2 for FID and every CPMG-N.
    @Test(arguments: [0, 1, 2, 4, 8])
    func whiteNoiseGivesS0TOverTwoForEveryN(n: Int) throws {
        let seconds = Double(Self.t) * 1e-9, chi = 0.3
        let shots = 20_000
        let p = try Self.excited(noise: .white(s0: 2 * chi / seconds), pulses: n, shots: shots)
        Bench.expectProbability(p, (1 - exp(-chi)) / 2, shots: shots)
    }

    /// REFERENCES check 2: S = A/|ω| (here between 2π·100 Hz and 2π·100 MHz, which moves χ by < 10⁻⁴
    /// for T = 10 µs) gives 2πN·χ/(A·T²) = 0.6931, 0.7849, 0.8176 for N = 1, 2, 4. Tolerance: 4σ
    /// binomial plus the 1 % synthesis bound on S (hence on χ) and 0.3 % of χ for the pulses' width.
    @Test(arguments: [(1, 0.6931), (2, 0.7849), (4, 0.8176)])
    func oneOverFMatchesFilterFunctions(n: Int, scaled: Double) throws {
        let seconds = Double(Self.t) * 1e-9, amplitude = 4.53e10
        let chi = scaled * amplitude * seconds * seconds / (2 * .pi * Double(n))
        let shots = 20_000
        let noise = try NoiseSpectrum.powerLaw(amplitude: amplitude, alpha: 1, low: 2 * .pi * 100, high: 2 * .pi * 1e8)
        let p = try Self.excited(noise: noise, pulses: n, shots: shots)
        Bench.expectProbability(p, (1 - exp(-chi)) / 2, shots: shots, extra: exp(-chi) / 2 * 0.013 * chi)
    }
}
