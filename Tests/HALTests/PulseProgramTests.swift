import HAL
import Quantities
import Testing

@Suite("PulseProgram: validation, capabilities, shot length, rendering")
struct PulseProgramTests {
    /// A CPMG-like program: a π/2 segment, a 100 000× repeated τ-π-τ block, a closing π/2 with a measurement.
    static func train(repeats: Int = 100_000) -> PulseProgram {
        let halfPi = PulseProgram.ParametricPulse(start: 0, length: 16, shape: .gaussian(sigma: 4), amplitude: 0.25)
        let pi = PulseProgram.ParametricPulse(start: 56, length: 16, shape: .gaussian(sigma: 4), amplitude: 0.5)
        return PulseProgram(
            sampleRate: .gigasamplesPerSecond(1),
            channels: [.init(number: 1, amplitude: .volts(0.5)), .init(number: 2, amplitude: .volts(0.5))],
            segments: [
                .init(name: "open", length: 32, waveforms: [1: .pulses([halfPi])]),
                .init(name: "block", length: 128, waveforms: [2: .pulses([pi])]),
                .init(name: "close", length: 64, waveforms: [1: .pulses([halfPi])],
                      markers: [.init(channel: 1, number: 1, start: 32, length: 16)],
                      measurements: [.init(readout: "q0", start: 32, length: 32)]),
            ],
            steps: [.init(segment: "open", waitForTrigger: true), .init(segment: "block", repeats: repeats), .init(segment: "close")])
    }

    static let generator = PulseGeneratorCapabilities(
        channels: 2, sampleRates: 1e3...2.5e9, maximumAmplitude: .volts(1), memorySamples: 1 << 20,
        minimumSegmentLength: 32, granularity: 16, markersPerChannel: 2, maximumSteps: 16_383, maximumRepeats: 1 << 20)

    @Test("A long train is three segments and counts its samples exactly, without materialising them")
    func counts() throws {
        let program = Self.train()
        try program.validate()
        try Self.generator.check(program)
        #expect(program.samplesPerShot == 32 + 128 * 100_000 + 64)
        let duration = try #require(program.durationPerShot)
        #expect(abs(duration.seconds - Double(32 + 128 * 100_000 + 64) * 1e-9) < 1e-15)
    }

    @Test("A jump backwards makes the shot endless; a repeat count that overflows is reported as nil")
    func endless() {
        var program = Self.train()
        program.steps[2].goTo = 0
        #expect(program.samplesPerShot == nil)
        program = Self.train(repeats: Int.max / 2)
        #expect(program.samplesPerShot == nil)
    }

    @Test("Parametric pulses render: a Gaussian starts and ends at 0 and peaks at its amplitude")
    func render() {
        let samples = PulseProgram.Waveform.pulses([.init(start: 4, length: 17, shape: .gaussian(sigma: 3), amplitude: 0.8)])
            .rendered(length: 32)
        #expect(samples.count == 32)
        #expect(samples[0..<4].allSatisfy { $0 == 0 } && samples[21...].allSatisfy { $0 == 0 })
        #expect(abs(samples[4]) < 1e-6 && abs(samples[20]) < 1e-6)
        #expect(abs(samples[12] - 0.8) < 1e-6)
        let drag = PulseProgram.ParametricPulse(start: 0, length: 17, shape: .gaussianDerivative(sigma: 3, beta: 2), amplitude: 0.5)
        #expect(abs(drag.value(at: 8)) < 1e-12)  // the derivative vanishes at the centre
        #expect(drag.value(at: 5) > 0 && drag.value(at: 11) < 0)
    }

    @Test("Inconsistent programs are refused with a sentence naming the part", arguments: [
        ("unknown segment", { @Sendable (p: inout PulseProgram) in p.steps[1].segment = "nope" }, "not defined"),
        ("zero repeats", { @Sendable (p: inout PulseProgram) in p.steps[1].repeats = 0 }, "repeats must be at least 1"),
        ("jump beyond", { @Sendable (p: inout PulseProgram) in p.steps[0].goTo = 7 }, "jumps to step 8"),
        ("no steps", { @Sendable (p: inout PulseProgram) in p.steps = [] }, "no steps"),
        ("sample count", { @Sendable (p: inout PulseProgram) in p.segments[0].waveforms[1] = .samples([0, 0]) }, "2 samples for a segment of 32"),
        ("sample range", { @Sendable (p: inout PulseProgram) in p.segments[0].waveforms[1] = .samples([Float](repeating: 1.5, count: 32)) }, "outside −1…1"),
        ("NaN sample", { @Sendable (p: inout PulseProgram) in p.segments[0].waveforms[1] = .samples([Float](repeating: .nan, count: 32)) }, "outside −1…1"),
        ("pulse outside", { @Sendable (p: inout PulseProgram) in p.segments[0].waveforms[1] = .pulses([.init(start: 30, length: 16, shape: .square, amplitude: 0.1)]) }, "lies outside"),
        ("unlisted channel", { @Sendable (p: inout PulseProgram) in p.segments[0].waveforms[3] = .samples([Float](repeating: 0, count: 32)) }, "does not list"),
        ("marker outside", { @Sendable (p: inout PulseProgram) in p.segments[2].markers[0].start = 60 }, "marker 1 of channel 1"),
        ("window outside", { @Sendable (p: inout PulseProgram) in p.segments[2].measurements[0].length = 0 }, "measurement window"),
        ("duplicate segment", { @Sendable (p: inout PulseProgram) in p.segments.append(p.segments[0]) }, "defined twice"),
        ("empty segment", { @Sendable (p: inout PulseProgram) in p.segments[0].length = 0 }, "is empty"),
        ("duplicate channel", { @Sendable (p: inout PulseProgram) in p.channels.append(p.channels[0]) }, "listed twice"),
        ("channel 0", { @Sendable (p: inout PulseProgram) in p.channels[0].number = 0 }, "numbered from 1"),
        ("negative amplitude", { @Sendable (p: inout PulseProgram) in p.channels[0].amplitude = .volts(-1) }, "must be positive"),
        ("zero sample rate", { @Sendable (p: inout PulseProgram) in p.sampleRate = .samplesPerSecond(0) }, "sample rate must be positive"),
    ] as [(String, @Sendable (inout PulseProgram) -> Void, String)])
    func invalid(name: String, change: @Sendable (inout PulseProgram) -> Void, expected: String) {
        var program = Self.train(repeats: 10)
        change(&program)
        let error = #expect(throws: PulseProgramError.self, "\(name)") { try program.validate() }
        #expect(error?.description.contains(expected) == true, "\(name): \(String(describing: error))")
    }

    @Test("A producer that range-checked its samples skips only that scan: lengths are still checked")
    func skipSampleScan() throws {
        var program = Self.train(repeats: 10)
        program.segments[0].waveforms[1] = .samples([Float](repeating: 1.5, count: 32))
        #expect(throws: PulseProgramError.self) { try Self.generator.check(program) }
        try Self.generator.check(program, checkingSamples: false)
        program.segments[0].waveforms[1] = .samples([Float](repeating: 0, count: 31))
        let error = #expect(throws: PulseProgramError.self) { try program.validate(checkingSamples: false) }
        #expect(error?.description.contains("31 samples for a segment of 32") == true)
    }

    @Test("A generator's limits refuse what it cannot play, before anything is uploaded", arguments: [
        ("sample rate", { @Sendable (c: inout PulseGeneratorCapabilities) in c.sampleRates = 1e3...250e6 }, "outside this generator"),
        ("memory", { @Sendable (c: inout PulseGeneratorCapabilities) in c.memorySamples = 200 }, "needs 224 samples"),
        ("steps", { @Sendable (c: inout PulseGeneratorCapabilities) in c.maximumSteps = 1 }, "cannot sequence"),
        ("few steps", { @Sendable (c: inout PulseGeneratorCapabilities) in c.maximumSteps = 2 }, "holds 2"),
        ("repeats", { @Sendable (c: inout PulseGeneratorCapabilities) in c.maximumRepeats = 65_536 }, "allows 65536"),
        ("granularity", { @Sendable (c: inout PulseGeneratorCapabilities) in c.granularity = 48 }, "not a multiple of 48"),
        ("minimum length", { @Sendable (c: inout PulseGeneratorCapabilities) in c.minimumSegmentLength = 64 }, "the minimum is 64"),
        ("channels", { @Sendable (c: inout PulseGeneratorCapabilities) in c.channels = 1 }, "channel 2 does not exist"),
        ("amplitude", { @Sendable (c: inout PulseGeneratorCapabilities) in c.maximumAmplitude = .volts(0.25) }, "exceeds"),
        ("markers", { @Sendable (c: inout PulseGeneratorCapabilities) in c.markersPerChannel = 0 }, "marker 1 does not exist"),
    ] as [(String, @Sendable (inout PulseGeneratorCapabilities) -> Void, String)])
    func limits(name: String, change: @Sendable (inout PulseGeneratorCapabilities) -> Void, expected: String) {
        var capabilities = Self.generator
        change(&capabilities)
        let error = #expect(throws: PulseProgramError.self, "\(name)") { try capabilities.check(Self.train()) }
        #expect(error?.description.contains(expected) == true, "\(name): \(String(describing: error))")
    }

    @Test("Discrimination uses the perpendicular bisector; excited fraction carries its standard error")
    func readout() throws {
        let d = Discriminator(ground: IQPoint(i: -1, q: 0), excited: IQPoint(i: 1, q: 2))
        #expect(d.isExcited(IQPoint(i: 1, q: 1.9)))
        #expect(!d.isExcited(IQPoint(i: -0.9, q: 0.1)))
        let shots = ReadoutShots(windowsPerShot: 2, points: (0..<8).map { IQPoint(i: Double($0), q: 0) },
                                 bits: [true, false, false, false, true, false, true, true])
        #expect(shots.shotCount == 4)
        #expect(shots.averagedPoint(window: 0) == IQPoint(i: 3, q: 0))
        #expect(shots.averagedPoint(window: 1) == IQPoint(i: 4, q: 0))
        let fraction = try #require(shots.excitedFraction(window: 0))
        #expect(fraction.value == 0.75)
        #expect(abs(fraction.standardError - (0.75 * 0.25 / 4).squareRoot()) < 1e-12)
        #expect(ReadoutShots(windowsPerShot: 1, points: [], bits: nil).excitedFraction() == nil)
    }
}
