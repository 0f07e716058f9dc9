import Foundation
import HAL

/// One emulated qubit, in the rotating frame of its drive: H = ½[Δ + β(t)]σ_z + ½Ω(t)[cos φ σ_x + sin φ σ_y],
/// with Ω(t)e^{iφ(t)} = 2π·rabiPerVolt·(V_I + iV_Q)(t), β the dephasing noise and Δ = 2π·detuning.
public struct QubitSpec: Sendable, Hashable {
    /// The qubit's transition frequency, Hz (for the record; the dynamics use `detuning`).
    public var frequency: Double
    /// Qubit minus drive frequency, Hz; 0 is resonant.
    public var detuning: Double
    /// Energy relaxation time, s (`.infinity`: none).
    public var t1: Double
    public var dephasing: NoiseSpectrum
    /// Rabi frequency per volt of drive envelope, Hz/V.
    public var rabiPerVolt: Double
    /// Relative error of every rotation angle: θ becomes θ(1 + amplitudeError).
    public var amplitudeError: Double
    /// Error of every drive phase, rad.
    public var phaseError: Double
    public var readout: ReadoutModel

    public init(
        frequency: Double, detuning: Double = 0, t1: Double, dephasing: NoiseSpectrum, rabiPerVolt: Double,
        amplitudeError: Double = 0, phaseError: Double = 0, readout: ReadoutModel
    ) {
        self.frequency = frequency
        self.detuning = detuning
        self.t1 = t1
        self.dephasing = dephasing
        self.rabiPerVolt = rabiPerVolt
        self.amplitudeError = amplitudeError
        self.phaseError = phaseError
        self.readout = readout
    }

    /// A fixed-frequency transmon. T₁ = 100 µs and T₂* ≈ 41 µs sit in the ranges REFERENCES.md quotes
    /// (T₁ 50–300 µs, T₂* 20–150 µs). Dephasing is flux-like 1/f^0.9 (α in 0.6–0.95) from 1 Hz to
    /// 10 MHz with amplitude 1.43e8 rad²/s at 1 rad/s. Checked with χ = (1/π)∫S·F/ω² integrated
    /// numerically over the PSD the emulator samples (QubitPresetTests): χ = 1 at T₂* ≈ 41 µs (free
    /// induction), 150 µs (Hahn echo) and ≈ 1 ms (CPMG-64), before T₁. 50 MHz/V: a 0.5 V square pulse
    /// drives 25 MHz Rabi, a π pulse in 20 ns. Readout: dispersive single shot with P(0|0) = 0.985,
    /// P(1|1) = 0.955 (T₁ during integration), as in Walter et al., Phys. Rev. Applied 7, 054020 (2017).
    public static let transmon = QubitSpec(
        frequency: 5.1e9, t1: 100e-6,
        dephasing: try! .powerLaw(amplitude: 1.43e8, alpha: 0.9, low: 2 * .pi * 1, high: 2 * .pi * 10e6),
        rabiPerVolt: 50e6,
        readout: ReadoutModel(groundFidelity: 0.985, excitedFidelity: 0.955,
                              ground: IQPoint(i: 1.0e-3, q: 0.2e-3), excited: IQPoint(i: -0.6e-3, q: 0.9e-3), sigma: 0.25e-3))

    /// An electron spin in a Si/SiGe quantum dot, after Kawakami et al., PNAS 113, 11738 (2016):
    /// T₂* ≈ 1 µs, CPMG T₂ ≈ 400 µs at 128 pulses. A 1/f^1.4 spectrum from 1 Hz to 10 MHz with
    /// amplitude 1.24e12 rad²/s at 1 rad/s gives, over the PSD the emulator samples (numerical
    /// χ = (1/π)∫S·F/ω², QubitPresetTests), χ = 1 at 1.0 µs (free induction), 28 µs (Hahn echo) and
    /// 436 µs (CPMG-128). T₁ is far longer than any sequence (seconds at low field). EDSR at 5 MHz/V:
    /// 2.5 MHz Rabi at 0.5 V, a π pulse in 200 ns. Spin-to-charge readout: P(0|0) = 0.97,
    /// P(1|1) = 0.90 (sensor-dot signal, in volts after the amplifier).
    public static let siGeSpin = QubitSpec(
        frequency: 11.8e9, t1: 1,
        dephasing: try! .powerLaw(amplitude: 1.24e12, alpha: 1.4, low: 2 * .pi * 1, high: 2 * .pi * 10e6),
        rabiPerVolt: 5e6,
        readout: ReadoutModel(groundFidelity: 0.97, excitedFidelity: 0.90,
                              ground: IQPoint(i: 0, q: 0), excited: IQPoint(i: 2e-3, q: 0), sigma: 0.4e-3))

    /// Checks every number is physical; the first problem is thrown.
    public func validate() throws(QubitSpecError) {
        func check(_ ok: Bool, _ message: @autoclosure () -> String) throws(QubitSpecError) {
            if !ok { throw QubitSpecError(message: message()) }
        }
        try check(frequency.isFinite && frequency >= 0, "the frequency must be a finite number ≥ 0 Hz, got \(frequency)")
        try check(detuning.isFinite, "the detuning must be finite, got \(detuning)")
        try check(t1 > 0 && !t1.isNaN, "T1 must be positive, got \(t1) s")
        try check(rabiPerVolt.isFinite && rabiPerVolt >= 0, "the Rabi frequency per volt must be finite and ≥ 0, got \(rabiPerVolt)")
        try check(amplitudeError.isFinite && amplitudeError > -1, "the amplitude error must be finite and above −1, got \(amplitudeError)")
        try check(phaseError.isFinite, "the phase error must be finite, got \(phaseError)")
        try readout.validate()
    }
}

/// How the readout resonator reports a projected state: assignment errors, then Gaussian shot noise
/// of standard deviation `sigma` on each quadrature around the reported state's centre.
public struct ReadoutModel: Sendable, Hashable {
    /// P(0|0): |0⟩ reported as |0⟩.
    public var groundFidelity: Double
    /// P(1|1): |1⟩ reported as |1⟩.
    public var excitedFidelity: Double
    /// The integrated IQ point of |0⟩ and of |1⟩, V.
    public var ground: IQPoint
    public var excited: IQPoint
    /// Shot noise of one integrated point, per quadrature, V.
    public var sigma: Double

    public init(groundFidelity: Double, excitedFidelity: Double, ground: IQPoint, excited: IQPoint, sigma: Double) {
        self.groundFidelity = groundFidelity
        self.excitedFidelity = excitedFidelity
        self.ground = ground
        self.excited = excited
        self.sigma = sigma
    }

    func validate() throws(QubitSpecError) {
        for (name, p) in [("P(0|0)", groundFidelity), ("P(1|1)", excitedFidelity)] where !(p >= 0 && p <= 1) {
            throw QubitSpecError(message: "the readout fidelity \(name) must lie in 0…1, got \(p)")
        }
        guard [ground.i, ground.q, excited.i, excited.q].allSatisfy(\.isFinite) else {
            throw QubitSpecError(message: "the readout IQ centres must be finite")
        }
        guard sigma.isFinite, sigma >= 0 else { throw QubitSpecError(message: "the readout noise σ must be finite and ≥ 0, got \(sigma)") }
    }
}

/// The qubits behind the emulated instruments and how they are wired: which generator channels drive
/// each, and which marker triggers each readout.
public struct TestbedSpec: Sendable, Hashable {
    public struct Qubit: Sendable, Hashable {
        public var name: String
        public var spec: QubitSpec
        /// The channels that drive it; nil: undriven.
        public var drive: DriveWiring?
        /// The readout instrument that reads it; nil: never measured.
        public var readout: String?

        public init(name: String, spec: QubitSpec, drive: DriveWiring? = nil, readout: String? = nil) {
            self.name = name
            self.spec = spec
            self.drive = drive
            self.readout = readout
        }
    }

    /// A qubit's drive: the generator's I channel, and optionally its Q channel, number as the
    /// instrument numbers them; volts = sample × the channel's amplitude.
    public struct DriveWiring: Sendable, Hashable {
        public var generator: String
        public var i: Int
        public var q: Int?

        public init(generator: String, i: Int, q: Int? = nil) {
            self.generator = generator
            self.i = i
            self.q = q
        }
    }

    /// A generator's marker output: a rising edge triggers a measurement.
    public struct MarkerSource: Sendable, Hashable {
        public var generator: String
        public var channel: Int
        public var marker: Int

        public init(generator: String, channel: Int, marker: Int) {
            self.generator = generator
            self.channel = channel
            self.marker = marker
        }
    }

    /// A readout instrument and the marker that triggers it.
    public struct ReadoutWiring: Sendable, Hashable {
        public var instrument: String
        public var trigger: MarkerSource

        public init(instrument: String, trigger: MarkerSource) {
            self.instrument = instrument
            self.trigger = trigger
        }
    }

    public var qubits: [Qubit]
    public var readouts: [ReadoutWiring]
    /// Seeds every shot's noise, projections and readout noise.
    public var seed: UInt64

    public init(qubits: [Qubit], readouts: [ReadoutWiring], seed: UInt64 = 1) {
        self.qubits = qubits
        self.readouts = readouts
        self.seed = seed
    }

    /// Checks each qubit, unique names, and that every qubit's readout is wired.
    public func validate() throws(QubitSpecError) {
        var names = Set<String>(), instruments = Set<String>()
        for readout in readouts {
            guard instruments.insert(readout.instrument).inserted else {
                throw QubitSpecError(message: "readout \(readout.instrument) is wired twice")
            }
            guard readout.trigger.channel >= 1, readout.trigger.marker >= 1 else {
                throw QubitSpecError(message: "readout \(readout.instrument): channels and markers are numbered from 1")
            }
        }
        for qubit in qubits {
            guard names.insert(qubit.name).inserted else { throw QubitSpecError(message: "qubit \(qubit.name) is defined twice") }
            do { try qubit.spec.validate() } catch { throw QubitSpecError(message: "qubit \(qubit.name): \(error.message)") }
            if let drive = qubit.drive, drive.i < 1 || (drive.q ?? 1) < 1 || drive.q == drive.i {
                throw QubitSpecError(message: "qubit \(qubit.name): drive channels are numbered from 1 and I differs from Q")
            }
            if let readout = qubit.readout, !instruments.contains(readout) {
                throw QubitSpecError(message: "qubit \(qubit.name) is read by \(readout), which has no trigger wiring")
            }
        }
    }
}

/// A qubit or testbed description that is not physical or not consistent.
public struct QubitSpecError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String

    public init(message: String) {
        self.message = message
    }

    public var description: String { "qubit testbed: \(message)" }
}
