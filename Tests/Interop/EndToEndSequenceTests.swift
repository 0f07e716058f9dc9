import Drivers
import Emulator
import Foundation
import HAL
import Quantities
import Sequences
import Testing

/// Sequences compiled to PulseProgram and played on the emulated qubit testbed, which knows nothing of the
/// sequences: what the testbed measures must match what the Sequences library predicts from first principles.
@Suite("Compiled sequences on the emulated testbed match the Sequences predictions", .serialized)
struct EndToEndSequenceTests {
    static let profileURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("HardwareProfiles/transmon-testbed.yaml")
    static let awg = TektronixAWG5200.capabilities(model: "AWG5204", options: ["50", "SEQ"])!

    /// The transmon testbed with q0 (driven by `awg`, read by `scope`) given `noise`, no T₁ and a perfect
    /// readout, so only dephasing and the drive act; and q0's calibration.
    static func station(noise: NoiseSpectrum) throws -> (EmulatedStation, QubitSpec) {
        var profile = try HardwareProfile(contentsOf: profileURL)
        var testbed = try #require(profile.testbed)
        let index = try #require(testbed.qubits.firstIndex { $0.name == "q0" })
        testbed.qubits[index].spec.dephasing = noise
        testbed.qubits[index].spec.t1 = 1e3
        testbed.qubits[index].spec.readout.groundFidelity = 1
        testbed.qubits[index].spec.readout.excitedFidelity = 1
        profile.testbed = testbed
        return (EmulatedStation(profile: profile), testbed.qubits[index].spec)
    }

    /// Plays `program` for `shots` shots and returns, per shot, whether q0 read |1⟩ in each window.
    static func run(_ program: PulseProgram, shots: Int, windows: Int, on station: EmulatedStation, spec: QubitSpec) -> [[Bool]] {
        station.testbed.play(program, generator: "awg", shots: shots)
        let records = station.testbed.takeRecords(readout: "scope", maximum: shots * windows)
        let discriminator = Discriminator(ground: spec.readout.ground, excited: spec.readout.excited)
        let bits = records.map { discriminator.isExcited($0.points[0]) }
        return stride(from: 0, to: bits.count, by: windows).map { Array(bits[$0..<min($0 + windows, bits.count)]) }
    }

    @Test("Compiled Zeno loops reproduce Itano's P(n) = [1 − cosⁿ(π/n)]/2 within 4σ", arguments: [1, 2, 4, 8])
    func zeno(n: Int) throws {
        let (station, spec) = try Self.station(noise: try .white(s0: 1))
        let duration = Time.seconds(16e-6)
        let compiler = SequenceCompiler(
            capabilities: Self.awg, sampleRate: .gigasamplesPerSecond(1), wiring: DriveWiring(rabiPerVolt: spec.rabiPerVolt, readout: "scope"))
        let program = try compiler.compileZeno(rabi: .pi / duration.seconds, duration: duration, measurements: n)
        let shots = 2000
        let results = Self.run(program, shots: shots, windows: n, on: station, spec: spec)
        #expect(results.count == shots && results.allSatisfy { $0.count == n })
        let p = Double(results.filter { $0.last! }.count) / Double(shots)
        let predicted = try ZenoPrediction.transitionProbability(rabi: .pi / duration.seconds, duration: duration, measurements: n)
        let sigma = max((predicted * (1 - predicted) / Double(shots)).squareRoot(), 1 / Double(shots))
        #expect(abs(p - predicted) <= 4 * sigma, "n = \(n): emulated \(p), predicted \(predicted) ± \(sigma)")
    }

    /// Weighted least squares y = a + b·x; returns a, b and their covariance.
    static func fit(_ x: [Double], _ y: [Double], _ sigma: [Double]) -> (a: Double, b: Double, varA: Double, varB: Double, covAB: Double) {
        var s = 0.0, sx = 0.0, sy = 0.0, sxx = 0.0, sxy = 0.0
        for k in x.indices {
            let w = 1 / (sigma[k] * sigma[k])
            s += w; sx += w * x[k]; sy += w * y[k]; sxx += w * x[k] * x[k]; sxy += w * x[k] * y[k]
        }
        let d = s * sxx - sx * sx
        return ((sxx * sy - sx * sxy) / d, (s * sxy - sx * sy) / d, sxx / d, s / d, -sx / d)
    }

    @Test("CPMG-N for N = 1…64 under 1/f^0.9: fitted T₂ matches the prediction, and T₂ ∝ N^γ with γ = α/(1+α)")
    func cpmgScaling() throws {
        let alpha = 0.9, amplitude = 1.43e8, low = 2 * Double.pi, high = 2 * Double.pi * 1e7
        let (station, spec) = try Self.station(noise: try .powerLaw(amplitude: amplitude, alpha: alpha, low: low, high: high))
        let psd = NoisePSD.powerLaw(amplitude: amplitude, alpha: alpha, low: low, high: high)
        let pi = Pulse(angle: .pi, phase: .pi / 2, duration: .seconds(20e-9))
        let compiler = SequenceCompiler(
            capabilities: Self.awg, sampleRate: .gigasamplesPerSecond(1), wiring: DriveWiring(rabiPerVolt: spec.rabiPerVolt, readout: "scope"))
        var logN: [Double] = [], logT2: [Double] = [], sigmaLogT2: [Double] = []
        for n in [1, 2, 4, 8, 16, 32, 64] {
            let predicted = try #require(try DDSequence(.cpmg, pulses: n, total: .seconds(1e-4)).coherenceTime(noise: psd))
            var x: [Double] = [], y: [Double] = [], sigma: [Double] = []
            for fraction in [0.5, 0.75, 1.0, 1.25] {
                // T a whole number of nanoseconds per pulse interval, so the compiled train is exactly periodic.
                let interval = (predicted.seconds * fraction / Double(n) * 1e9).rounded() * 1e-9
                let sequence = try DDSequence(.cpmg, pulses: n, pulseInterval: .seconds(interval), piPulse: pi)
                let program = try compiler.compile(sequence)
                let shots = 600
                let results = Self.run(program, shots: shots, windows: 1, on: station, spec: spec)
                let p = Double(results.filter { $0[0] }.count) / Double(shots)
                let coherence = 2 * p - 1
                guard coherence > 0.05, coherence < 0.97 else { continue }
                let sigmaC = 2 * (p * (1 - p) / Double(shots)).squareRoot()
                let chi = -log(coherence)
                x.append(log(sequence.total.seconds))
                y.append(log(chi))
                sigma.append(sigmaC / (coherence * chi))
            }
            try #require(x.count >= 3, "N = \(n): too few usable points")
            // χ ∝ T^{1+α}: ln χ = a + b ln T, and T₂ is where χ = 1.
            let line = Self.fit(x, y, sigma)
            let lnT2 = -line.a / line.b
            // Error propagation for −a/b.
            let variance = (line.varA / (line.b * line.b)) + (line.a * line.a * line.varB / pow(line.b, 4)) - 2 * line.a * line.covAB / pow(line.b, 3)
            let sigmaLn = variance.squareRoot()
            #expect(abs(lnT2 - log(predicted.seconds)) <= 4 * sigmaLn + 0.02,
                    "N = \(n): fitted T₂ = \(exp(lnT2)) s (±\(sigmaLn) in ln), predicted \(predicted.seconds) s")
            logN.append(log(Double(n)))
            logT2.append(lnT2)
            sigmaLogT2.append(sigmaLn)
        }
        let scaling = Self.fit(logN, logT2, sigmaLogT2)
        let gamma = alpha / (1 + alpha)
        #expect(abs(scaling.b - gamma) <= 4 * scaling.varB.squareRoot() + 0.01,
                "fitted γ = \(scaling.b) ± \(scaling.varB.squareRoot()), α/(1+α) = \(gamma)")
    }
}
