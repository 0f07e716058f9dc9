import Drivers
import Emulator
import Foundation
import HAL
import Quantities
import Testing

/// The emulated qubit testbed, driven through our drivers exactly as hardware would be, against the coherence
/// the PyPI package `filter-functions` (qutech) predicts for the same drive and noise PSD.
///
/// Each case builds a Hahn echo or a CPMG-4 by hand as a PulseProgram (square 20 ns pulses: π/2ₓ, π_y …, π/2ₓ,
/// then a readout marker), uploads it through the generator's driver, plays it shot by shot and reads every
/// shot through the InfiniiVision readout driver. With π_y refocusing pulses the closing π/2ₓ maps the
/// refocused coherence onto |1⟩, so P(1) = (1 + e^{−χ})/2. T₁ and readout errors are switched off so that
/// only dephasing is measured; the statistical error of 2P − 1 is 2√(P(1−P)/n).
@Suite("The emulated qubit testbed reproduces filter-functions' coherence through our drivers", .serialized)
struct CoherenceInteropTests {
    static let profile = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("HardwareProfiles/transmon-testbed.yaml")

    enum Generator: String, CustomStringConvertible { case awg, fgen
        var description: String { self == .awg ? "Tektronix AWG5204" : "Keysight 33522B" }
        var qubit: String { self == .awg ? "q0" : "q1" }
        var scope: String { self == .awg ? "scope" : "scope2" }
        var sampleRate: Double { self == .awg ? 1e9 : 250e6 }
    }

    enum Noise: CustomStringConvertible {
        case white(s0: Double)
        /// A/|ω|^α between 2π·1 Hz and 2π·10 MHz.
        case powerLaw(amplitude: Double, alpha: Double)

        static let low = 2 * Double.pi * 1, high = 2 * Double.pi * 10e6
        var spectrum: NoiseSpectrum {
            get throws {
                switch self {
                case let .white(s0): try .white(s0: s0)
                case let .powerLaw(a, alpha): try .powerLaw(amplitude: a, alpha: alpha, low: Self.low, high: Self.high)
                }
            }
        }
        var json: String {
            switch self {
            case let .white(s0): "{\"white\": \(s0)}"
            case let .powerLaw(a, alpha): "{\"powerLaw\": [\(a), \(alpha), \(Self.low), \(Self.high)]}"
            }
        }
        var description: String {
            switch self {
            case let .white(s0): "white S₀ = \(s0) rad²/s"
            case let .powerLaw(a, alpha): "\(a)/|ω|^\(alpha)"
            }
        }
    }

    /// A square pulse: its centre, rotation angle and axis.
    struct SquarePulse { var centre: Double; var angle: Double; var phase: Double }

    static let pulseSeconds = 20e-9
    /// The testbed's transmon: Ω = 2π·rabiPerVolt·V; a π pulse of 20 ns needs 0.5 V, so the channels' peak is 0.5 V.
    static let peakVolts = 0.5
    static let shotsPerAcquisition = 1000
    static let acquisitions = 8

    /// π/2ₓ at 0, π_y at the CPMG positions, π/2ₓ at T, all 20 ns; the first pulse starts 100 ns in.
    static func pulses(refocusing n: Int, total: Double) -> [SquarePulse] {
        let start = 100e-9 + pulseSeconds / 2
        var pulses = [SquarePulse(centre: start, angle: .pi / 2, phase: 0)]
        for j in 1...n { pulses.append(SquarePulse(centre: start + total * (Double(j) - 0.5) / Double(n), angle: .pi, phase: .pi / 2)) }
        pulses.append(SquarePulse(centre: start + total, angle: .pi / 2, phase: 0))
        return pulses
    }

    /// The program: one segment holding the I (channel 1) and Q (channel 2) envelopes and a readout marker
    /// 100 ns after the last pulse, padded to the generator's granularity and minimum length.
    static func program(_ pulses: [SquarePulse], rate: Double, capabilities: PulseGeneratorCapabilities) -> PulseProgram {
        let end = pulses.last!.centre + pulseSeconds / 2
        let markerStart = Int(((end + 100e-9) * rate).rounded())
        let markerLength = max(Int((100e-9 * rate).rounded()), 1)
        var length = max(markerStart + markerLength + Int((200e-9 * rate).rounded()), capabilities.minimumSegmentLength)
        length = (length + capabilities.granularity - 1) / capabilities.granularity * capabilities.granularity
        var i = [Float](repeating: 0, count: length), q = [Float](repeating: 0, count: length)
        let width = Int((pulseSeconds * rate).rounded())
        for pulse in pulses {
            let first = Int((pulse.centre * rate).rounded()) - width / 2
            let amplitude = pulse.angle / .pi  // a π pulse is the full 0.5 V for 20 ns
            for k in first..<(first + width) {
                i[k] += Float(amplitude * cos(pulse.phase))
                q[k] += Float(amplitude * sin(pulse.phase))
            }
        }
        return PulseProgram(
            sampleRate: .samplesPerSecond(rate),
            channels: [.init(number: 1, amplitude: .volts(peakVolts)), .init(number: 2, amplitude: .volts(peakVolts))],
            segments: [.init(name: "seq", length: length, waveforms: [1: .samples(i), 2: .samples(q)],
                             markers: [.init(channel: 1, number: 1, start: markerStart, length: markerLength)])],
            steps: [.init(segment: "seq", waitForTrigger: true)])
    }

    /// The same drive as `filter-functions` takes it: piecewise-constant (duration, Rabi rad/s, phase) from the
    /// first pulse's start to the last pulse's end.
    static func drive(_ pulses: [SquarePulse], rabiPerVolt: Double) -> String {
        var pieces: [String] = []
        var time = pulses[0].centre - pulseSeconds / 2
        for pulse in pulses {
            let start = pulse.centre - pulseSeconds / 2
            if start > time + 1e-15 { pieces.append("[\(start - time), 0, 0]") }
            let rabi = 2 * Double.pi * rabiPerVolt * peakVolts * pulse.angle / .pi
            pieces.append("[\(pulseSeconds), \(rabi), \(pulse.phase)]")
            time = start + pulseSeconds
        }
        return "[" + pieces.joined(separator: ", ") + "]"
    }

    /// χ from filter-functions, through Tests/Interop/python/ff_coherence.py.
    static func predictedChi(_ pulses: [SquarePulse], noise: Noise, rabiPerVolt: Double) throws -> Double {
        let spec = "{\"segments\": \(drive(pulses, rabiPerVolt: rabiPerVolt)), \"noise\": [\(noise.json)]}"
        let peer = try PythonPeer(
            "filter-functions", ["--spec", spec], script: PythonPeer.folder.appendingPathComponent("ff_coherence.py"),
            deadline: .seconds(120))
        let chi = try #require(try peer.waitFor("chi", timeout: .seconds(120)).numbers["chi"])
        try peer.finish()
        return chi
    }

    @Test("Hahn echo and CPMG-4 under white and 1/f noise match filter-functions within 4σ; white noise gives χ = S₀T/2",
          arguments: [
            (Generator.awg, 1, Noise.white(s0: 1.4e5)), (.awg, 1, .powerLaw(amplitude: 1.5e10, alpha: 0.9)),
            (.fgen, 4, .white(s0: 1.4e5)), (.fgen, 4, .powerLaw(amplitude: 6e10, alpha: 0.9)),
          ])
    func coherence(generator: Generator, refocusing n: Int, noise: Noise) throws {
        let total = 10e-6
        var profile = try HardwareProfile(contentsOf: Self.profile)
        var testbed = try #require(profile.testbed)
        let index = try #require(testbed.qubits.firstIndex { $0.name == generator.qubit })
        testbed.qubits[index].spec.dephasing = try noise.spectrum
        testbed.qubits[index].spec.t1 = 1e3  // no relaxation: only dephasing is measured
        testbed.qubits[index].spec.readout.groundFidelity = 1
        testbed.qubits[index].spec.readout.excitedFidelity = 1
        profile.testbed = testbed
        let readout = testbed.qubits[index].spec.readout
        let station = EmulatedStation(profile: profile)

        let pulses = Self.pulses(refocusing: n, total: total)
        let discriminator = Discriminator(ground: readout.ground, excited: readout.excited)
        let scope = KeysightInfiniiVision(
            transport: try station.loopbackTransport(for: generator.scope),
            configuration: .init(tones: [.init(frequency: 25e6)], windowLength: 400e-9, verticalRange: 0.04))
        let player: any PulseGenerator = generator == .awg
            ? try TektronixAWG5200(transport: try station.loopbackTransport(for: generator.rawValue))
            : try Keysight33500B(transport: try station.loopbackTransport(for: generator.rawValue))
        try player.load(Self.program(pulses, rate: generator.sampleRate, capabilities: player.capabilities))
        // The AWG5200 plays one pass per trigger; the 33500B plays a burst of them per trigger.
        let perTrigger = generator == .awg ? 1 : Self.shotsPerAcquisition
        try player.setTrigger(.bus, shots: perTrigger)
        try player.setOutput(1, enabled: true)
        try player.setOutput(2, enabled: true)
        try player.arm()

        var excited = 0, shots = 0
        for _ in 0..<Self.acquisitions {
            try scope.configure(AcquisitionSettings(shots: Self.shotsPerAcquisition, mode: .discriminated(discriminator)))
            try scope.arm()
            for _ in 0..<(Self.shotsPerAcquisition / perTrigger) { try player.trigger() }
            let bits = try #require(try scope.fetch(timeout: .seconds(30)).bits)
            excited += bits.filter { $0 }.count
            shots += bits.count
        }
        #expect(shots == Self.shotsPerAcquisition * Self.acquisitions)
        #expect(try player.errorQueue().isEmpty)

        let p = Double(excited) / Double(shots)
        let measured = 2 * p - 1
        let sigma = 2 * (p * (1 - p) / Double(shots)).squareRoot()
        let chi = try Self.predictedChi(pulses, noise: noise, rabiPerVolt: testbed.qubits[index].spec.rabiPerVolt)
        let predicted = exp(-chi)
        #expect(abs(measured - predicted) <= 4 * sigma,
                "\(generator), \(n == 1 ? "Hahn echo" : "CPMG-\(n)"), \(noise): emulated coherence \(measured) ± \(sigma), filter-functions e^{−χ} = \(predicted) (χ = \(chi))")
        // Sensitivity: the case must decay measurably, or agreement would prove nothing.
        #expect(chi > 0.2 && chi < 2, "χ = \(chi) is outside the range where coherence is measured well")
        if case let .white(s0) = noise {
            // χ = S₀T/2 over the time the qubit spends between the preparation and the readout pulse.
            let span = total + Self.pulseSeconds
            #expect(abs(chi - s0 * span / 2) <= 0.01 * chi, "filter-functions χ = \(chi), S₀T/2 = \(s0 * span / 2)")
        }
    }
}
