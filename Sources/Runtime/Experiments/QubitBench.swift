import Drivers
import Emulator
import Foundation
import HAL
import Quantities
import Sequences

/// One qubit as a station wires it: the generator that drives it, the readout that measures it, the compiler
/// for that generator and wiring, and its calibration (discriminator, π pulse).
public struct QubitBench: Sendable {
    public var name: String
    public var generator: any PulseGenerator
    public var readout: any Readout
    public var compiler: SequenceCompiler
    public var discriminator: Discriminator
    /// The refocusing π pulse (its phase is replaced per pulse by the sequence).
    public var piPulse: Pulse
    /// Shots one trigger plays: 1 for a sequencer that plays one pass per trigger (AWG5200), a burst count
    /// for a generator that bursts (33500B).
    public var shotsPerTrigger: Int
    /// The most records (shots × windows) one readout acquisition holds (1000 segments on an InfiniiVision).
    public var maximumRecords: Int
    /// How long a fetch waits for its triggers.
    public var fetchTimeout: Duration
    /// The readout's assignment fidelities, when calibrated: excited fractions are then corrected for them.
    public var assignment: ReadoutAssignment?

    /// P(read 0 | prepared 0) and P(read 1 | prepared 1), as a readout calibration measures them.
    public struct ReadoutAssignment: Sendable, Hashable {
        public var groundFidelity: Double
        public var excitedFidelity: Double

        public init(groundFidelity: Double, excitedFidelity: Double) {
            self.groundFidelity = groundFidelity
            self.excitedFidelity = excitedFidelity
        }

        /// The excited population behind a measured fraction `p`: (p − (1 − F₀)) / (F₀ + F₁ − 1), and σ scaled alike.
        func corrected(_ fraction: ExcitedFraction) -> ExcitedFraction {
            let contrast = groundFidelity + excitedFidelity - 1
            return ExcitedFraction(
                value: (fraction.value - (1 - groundFidelity)) / contrast, standardError: fraction.standardError / contrast,
                shots: fraction.shots)
        }
    }

    public init(
        name: String, generator: any PulseGenerator, readout: any Readout, compiler: SequenceCompiler,
        discriminator: Discriminator, piPulse: Pulse, shotsPerTrigger: Int = 1,
        maximumRecords: Int = KeysightInfiniiVision.maximumSegments, fetchTimeout: Duration = .seconds(60),
        assignment: ReadoutAssignment? = nil
    ) {
        precondition(assignment.map { $0.groundFidelity + $0.excitedFidelity > 1 } ?? true, "assignment fidelities must sum to more than 1")
        self.assignment = assignment
        self.name = name
        self.generator = generator
        self.readout = readout
        self.compiler = compiler
        self.discriminator = discriminator
        self.piPulse = piPulse
        self.shotsPerTrigger = shotsPerTrigger
        self.maximumRecords = maximumRecords
        self.fetchTimeout = fetchTimeout
    }

    /// The excited fraction of one measurement window with its standard error. The error is binomial,
    /// √(p̃(1 − p̃)/n) with p̃ = (k + ½)/(n + 1), so a window that never (or always) reads |1⟩ keeps a
    /// nonzero σ.
    public struct ExcitedFraction: Sendable, Hashable {
        public var value: Double
        public var standardError: Double
        public var shots: Int
    }

    /// Loads `program`, plays at least `shots` shots (rounded up to whole triggers) through the generator's
    /// bus trigger, reads them discriminated through the readout in acquisitions of at most ``maximumRecords``
    /// records, and returns the excited fraction of each of the `windows` measurement windows per shot, corrected
    /// for the readout's ``assignment`` fidelities when they are known.
    public func acquire(_ program: PulseProgram, shots: Int, windows: Int = 1) throws(InstrumentError) -> [ExcitedFraction] {
        precondition(shots >= 1 && windows >= 1, "acquire needs shots ≥ 1 and windows ≥ 1")
        let perAcquisition = maximumRecords / (windows * shotsPerTrigger)
        guard perAcquisition >= 1 else {
            throw InstrumentError(instrument: "\(name) readout", command: nil, kind: .invalidArgument(
                "\(windows) windows × \(shotsPerTrigger) shots per trigger exceed the \(maximumRecords) records one acquisition holds"))
        }
        try generator.load(program)
        try generator.setTrigger(.bus, shots: shotsPerTrigger)
        for channel in Set([compiler.wiring.iChannel, compiler.wiring.qChannel]).sorted() where program.channels.contains(where: { $0.number == channel }) {
            try generator.setOutput(channel, enabled: true)
        }
        try generator.arm()
        let triggers = (shots + shotsPerTrigger - 1) / shotsPerTrigger
        var ones = [Int](repeating: 0, count: windows)
        var played = 0
        // The readout takes at least two records: a lone single-window trigger is paired with a second.
        var left = max(triggers, windows * shotsPerTrigger == 1 ? 2 : 1)
        while left > 0 {
            let count = min(left, perAcquisition)
            try readout.configure(AcquisitionSettings(shots: count * shotsPerTrigger, windowsPerShot: windows, mode: .discriminated(discriminator)))
            try readout.arm()
            for _ in 0..<count { try generator.trigger() }
            let records = try readout.fetch(timeout: fetchTimeout)
            guard let bits = records.bits, records.windowsPerShot == windows else {
                throw InstrumentError(instrument: "\(name) readout", command: nil, kind: .invalidArgument(
                    "asked for discriminated records of \(windows) windows, got \(records.bits == nil ? "IQ points" : "\(records.windowsPerShot) windows")"))
            }
            for (index, bit) in bits.enumerated() where bit { ones[index % windows] += 1 }
            played += bits.count / windows
            left -= count
        }
        let n = Double(played)
        return ones.map { k in
            let smoothed = (Double(k) + 0.5) / (n + 1)
            let measured = ExcitedFraction(value: Double(k) / n, standardError: (smoothed * (1 - smoothed) / n).squareRoot(), shots: played)
            return assignment?.corrected(measured) ?? measured
        }
    }

    /// Stops the generator and turns the qubit's drive outputs off: the safe state after an abort.
    public func stopOutputs() throws(InstrumentError) {
        try generator.stop()
        for channel in Set([compiler.wiring.iChannel, compiler.wiring.qChannel]).sorted() {
            try generator.setOutput(channel, enabled: false)
        }
    }

    /// Qubit `qubit` of an emulated station, wired as its profile's `qubits:` section says, through in-process
    /// loopback connections: an AWG5200 at 100 MS/s (one pass per trigger: the emulator's
    /// cost per trigger grows with the samples stored, so the rate is modest) or a 33500B at 250 MS/s (bursts of 50), the InfiniiVision readout on the qubit's tone, the profile's discriminator centres, and a square
    /// π pulse at 0.5 V drive.
    public static func emulated(_ qubit: String, on station: EmulatedStation) throws(ExperimentError) -> QubitBench {
        guard let testbed = station.profile.testbed, let entry = testbed.qubits.first(where: { $0.name == qubit }) else {
            throw .unknownQubit(name: qubit, reason: "the station profile \(station.profile.name) has no such qubit")
        }
        guard let drive = entry.drive, let readoutID = entry.readout,
              let wiring = testbed.readouts.first(where: { $0.instrument == readoutID }),
              let generatorProfile = station.profile.instruments.first(where: { $0.id == drive.generator }),
              let readoutProfile = station.profile.instruments.first(where: { $0.id == readoutID })
        else { throw .unknownQubit(name: qubit, reason: "needs a drive generator and a wired readout in the profile") }
        let readQubits = testbed.qubits.filter { $0.readout == readoutID }
        let toneIndex = readQubits.firstIndex { $0.name == qubit } ?? 0
        let tones = readoutProfile.tones.isEmpty ? readQubits.indices.map { 25e6 + 20e6 * Double($0) } : readoutProfile.tones
        do {
            let generator: any PulseGenerator
            let shotsPerTrigger: Int, rate: Double
            switch generatorProfile.kind {
            case .awg5200:
                generator = try TektronixAWG5200(transport: try station.loopbackTransport(for: drive.generator))
                (shotsPerTrigger, rate) = (1, 100e6)
            case .keysight33500B:
                generator = try Keysight33500B(transport: try station.loopbackTransport(for: drive.generator))
                (shotsPerTrigger, rate) = (50, 250e6)
            default:
                throw ExperimentError.unknownQubit(name: qubit, reason: "\(drive.generator) is not a pulse generator")
            }
            let scope = KeysightInfiniiVision(
                transport: try station.loopbackTransport(for: readoutID),
                configuration: .init(tones: tones.map { .init(frequency: $0) }, windowLength: 400e-9, verticalRange: 0.04))
            guard toneIndex == 0 else {
                throw ExperimentError.unknownQubit(name: qubit, reason: "reads on the second tone of \(readoutID); one tone per readout is supported")
            }
            // A square π pulse at 0.5 V: duration 1/(2·rabiPerVolt·0.5 V), on whole samples.
            let samples = max((rate / entry.spec.rabiPerVolt).rounded(), 1)
            let wiringOut = DriveWiring(
                iChannel: drive.i, qChannel: drive.q ?? (drive.i == 1 ? 2 : 1), rabiPerVolt: entry.spec.rabiPerVolt,
                readoutMarker: (wiring.trigger.channel, wiring.trigger.marker), readout: readoutID)
            return QubitBench(
                name: qubit, generator: generator, readout: scope,
                compiler: SequenceCompiler(capabilities: generator.capabilities, sampleRate: .samplesPerSecond(rate), wiring: wiringOut),
                discriminator: Discriminator(ground: entry.spec.readout.ground, excited: entry.spec.readout.excited),
                piPulse: Pulse(angle: .pi, phase: .pi / 2, duration: .seconds(samples / rate)),
                shotsPerTrigger: shotsPerTrigger)
        } catch let error as ExperimentError {
            throw error
        } catch let error as InstrumentError {
            throw .unknownQubit(name: qubit, reason: "its instruments did not answer: \(error)")
        } catch {
            throw .unknownQubit(name: qubit, reason: "\(error)")
        }
    }
}
