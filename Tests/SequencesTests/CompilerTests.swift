import HAL
import Quantities
import Sequences
import Testing

@Suite("Sequences: compiling to a PulseProgram")
struct CompilerTests {
    /// A Tektronix AWG5204-like sequencer and a generator without one.
    static let sequencer = PulseGeneratorCapabilities(
        channels: 4, sampleRates: 298...2.5e9, maximumAmplitude: .volts(0.75), memorySamples: 2_000_000_000,
        minimumSegmentLength: 2400, granularity: 1, markersPerChannel: 4, maximumSteps: 16_383, maximumRepeats: 1_048_576)
    static let plain = PulseGeneratorCapabilities(
        channels: 2, sampleRates: 1e-6...250e6, maximumAmplitude: .volts(5), memorySamples: 1_048_576,
        minimumSegmentLength: 8, granularity: 1, markersPerChannel: 1, maximumSteps: 1, maximumRepeats: 1)
    static let wiring = DriveWiring(rabiPerVolt: 50e6, readout: "q0")
    static let pi = Pulse(angle: .pi, phase: .pi / 2, duration: .seconds(20e-9))

    /// The centres (in samples from the program's start) of the non-zero runs of the I/Q envelopes, found by
    /// walking the steps and repeats without materialising the repeated samples.
    static func pulseCentres(_ program: PulseProgram, i: Int = 1, q: Int = 2) -> [Double] {
        var perSegment: [String: [Double]] = [:]
        for segment in program.segments {
            let a = segment.waveforms[i]?.rendered(length: segment.length) ?? []
            let b = segment.waveforms[q]?.rendered(length: segment.length) ?? []
            var centres: [Double] = []
            var runStart: Int? = nil
            for k in 0...segment.length {
                let on = k < segment.length && ((a.isEmpty ? 0 : a[k]) != 0 || (b.isEmpty ? 0 : b[k]) != 0)
                if on, runStart == nil { runStart = k }
                if !on, let s = runStart { centres.append(Double(s + k - 1) / 2); runStart = nil }
            }
            perSegment[segment.name] = centres
        }
        var offset = 0
        var all: [Double] = []
        for step in program.steps {
            let segment = program.segment(named: step.segment)!
            for _ in 0..<step.repeats {
                all += perSegment[step.segment]!.map { $0 + Double(offset) }
                offset += segment.length
            }
        }
        return all
    }

    @Test("A CPMG of 10⁵ pulses compiles to three segments, exact to the sample, without 10⁸ samples")
    func longTrain() throws {
        let n = 100_000
        let sequence = try DDSequence(.cpmg, pulses: n, pulseInterval: .seconds(1e-6), piPulse: Self.pi)
        let compiler = SequenceCompiler(capabilities: Self.sequencer, sampleRate: .gigasamplesPerSecond(1), wiring: Self.wiring)
        let program = try compiler.compile(sequence)
        #expect(program.segments.count == 3)
        let stored = program.segments.reduce(0) { $0 + $1.length }
        #expect(stored < 20_000, "\(stored) samples stored")
        let played = try #require(program.samplesPerShot)
        #expect(played > 100_000_000)
        let centres = Self.pulseCentres(program)
        #expect(centres.count == n + 2)
        // Every pulse centre sits on its ideal time from the preparation pulse's centre (to the sample).
        let origin = centres[0]
        for (j, centre) in centres.dropFirst().dropLast().enumerated() {
            let ideal = (Double(j) + 0.5) * 1000
            if abs(centre - origin - ideal) > 0.5 { Issue.record("pulse \(j + 1) at \(centre - origin), ideal \(ideal)"); break }
        }
        #expect(centres.last! - origin == Double(n) * 1000)
        // The readout marker and its measurement window follow the closing pulse.
        let suffix = try #require(program.segment(named: "suffix"))
        #expect(suffix.markers.count == 1 && suffix.measurements.first?.readout == "q0")
        try Self.sequencer.check(program)
    }

    @Test("UDD, CDD and short trains compile in chunks with idle runs repeated, exact to the sample",
          arguments: [(DDFamily.udd, 6), (.cdd, 4), (.hahn, 1), (.xy8, 8)])
    func chunked(family: DDFamily, n: Int) throws {
        let sequence = try DDSequence(family, pulses: n, total: .seconds(200e-6), piPulse: Self.pi)
        let compiler = SequenceCompiler(capabilities: Self.sequencer, sampleRate: .gigasamplesPerSecond(1), wiring: Self.wiring)
        let program = try compiler.compile(sequence)
        try Self.sequencer.check(program)
        let centres = Self.pulseCentres(program)
        #expect(centres.count == sequence.pulseCount + 2)
        let origin = centres[0]
        for (pulse, centre) in zip(sequence.pulses, centres.dropFirst()) {
            #expect(abs(centre - origin - pulse.position * 200_000) <= 0.5)
        }
        #expect(program.steps.contains { $0.segment == "idle" && $0.repeats > 1 })
        // One readout marker and one measurement window, in the closing segment, at least 4 samples in.
        let marked = program.segments.filter { !$0.markers.isEmpty || !$0.measurements.isEmpty }
        #expect(marked.count == 1 && marked[0].markers.count == 1 && marked[0].measurements.count == 1)
        #expect(marked.first?.markers.first.map { $0.start >= 4 && $0.start + $0.length <= marked[0].length } == true)
        #expect(program.steps.last?.segment == marked.first?.name)
    }

    @Test("A generator without a sequencer gets every sample, phases on I and Q, and a marker")
    func plainGenerator() throws {
        let sequence = try DDSequence(.xy4, pulses: 4, total: .seconds(4e-6), piPulse: Self.pi)
        let compiler = SequenceCompiler(capabilities: Self.plain, sampleRate: .megasamplesPerSecond(250), wiring: Self.wiring)
        let program = try compiler.compile(sequence)
        #expect(program.steps.count == 1 && program.segments.count == 1)
        let segment = program.segments[0]
        let i = segment.waveforms[1]!.rendered(length: segment.length), q = segment.waveforms[2]!.rendered(length: segment.length)
        // XY4: the pulses alternate between the I (x) and Q (y) channels.
        let centres = Self.pulseCentres(program).map { Int($0) }
        #expect(abs(i[centres[1]]) > 0.99 && abs(q[centres[1]]) < 1e-6)
        #expect(abs(q[centres[2]]) > 0.99 && abs(i[centres[2]]) < 1e-6)
        #expect(abs(i[centres[0]] - 0.5) < 1e-6)  // π/2: half the π pulse's amplitude
        // 20 ns π at 50 MHz/V needs 0.5 V peak.
        #expect(abs(program.channels[0].amplitude.siValue - 0.5) < 1e-9)
        #expect(segment.markers.first?.start ?? 0 > centres.last!)
    }

    @Test("A readout alone drives nothing: silence for the settling time, then the marker and the measurement")
    func readoutAlone() throws {
        for (capabilities, rate) in [(Self.plain, SampleRate.megasamplesPerSecond(250)), (Self.sequencer, .gigasamplesPerSecond(1))] {
            let compiler = SequenceCompiler(capabilities: capabilities, sampleRate: rate, wiring: Self.wiring)
            let program = try compiler.compileReadout(settle: .seconds(400e-9))
            let segment = try #require(program.segments.first)
            #expect(program.segments.count == 1 && program.steps.count == 1 && program.steps[0].waitForTrigger)
            guard case let .samples(drive)? = segment.waveforms[Self.wiring.iChannel] else { Issue.record("no drive waveform"); continue }
            #expect(drive.count == segment.length && drive.allSatisfy { $0 == 0 }, "a readout alone must not drive the qubit")
            let gap = Int((400e-9 * rate.siValue).rounded())
            #expect(segment.measurements.map(\.start) == [gap] && segment.markers.map(\.start) == [gap])
            #expect(segment.measurements[0].length >= Int((Self.wiring.measurement.seconds * rate.siValue).rounded()))
            #expect(gap + segment.measurements[0].length == segment.length)
            try capabilities.check(program)
        }
        let compiler = SequenceCompiler(capabilities: Self.plain, sampleRate: .megasamplesPerSecond(250), wiring: Self.wiring)
        #expect(throws: SequenceError.self) { try compiler.compileReadout(settle: .seconds(-1e-9)) }
        let tooFast = SequenceCompiler(capabilities: Self.plain, sampleRate: .gigasamplesPerSecond(1), wiring: Self.wiring)
        #expect(throws: SequenceError.self) { try tooFast.compileReadout() }
    }

    @Test("Compiling into reused buffers gives the same program as fresh arrays, sample for sample, again and again")
    func reusedBuffers() throws {
        let compiler = SequenceCompiler(capabilities: Self.plain, sampleRate: .megasamplesPerSecond(250), wiring: Self.wiring)
        var buffers = try WaveformBuffers(capacity: 2000)
        // A longer sequence first, so the buffers hold stale samples beyond the shorter ones that follow.
        for (family, n, total) in [(DDFamily.cpmg, 8, 6e-6), (.xy4, 4, 4e-6), (.cpmg, 3, 2e-6), (.cpmg, 8, 6e-6)] {
            let sequence = try DDSequence(family, pulses: n, total: .seconds(total), piPulse: Self.pi)
            let fresh = try compiler.compile(sequence)
            let reused = try compiler.compile(sequence, into: &buffers)
            #expect(reused == fresh, "\(family.rawValue)-\(n)")
            let centres = Self.pulseCentres(reused)
            #expect(centres.count == n + 2)
            for (pulse, centre) in zip(sequence.pulses, centres.dropFirst()) {
                #expect(abs(centre - centres[0] - pulse.position * total * 250e6) <= 0.5)
            }
        }
        // A program kept while the buffers are reused keeps its own samples (copy on write).
        let kept = try compiler.compile(try DDSequence(.cpmg, pulses: 2, total: .seconds(2e-6), piPulse: Self.pi), into: &buffers)
        let before = kept
        _ = try compiler.compile(try DDSequence(.cpmg, pulses: 5, total: .seconds(3e-6), piPulse: Self.pi), into: &buffers)
        #expect(kept == before)
        #expect(Self.pulseCentres(kept).count == 4)
    }

    @Test("Buffers too small, malformed, or for a generator that sequences are typed errors", arguments: [
        ("too small", BufferCase.tooSmall, "the waveform buffers hold 100"),
        ("zero capacity", .zeroCapacity, "got 0"),
        ("negative capacity", .negativeCapacity, "got -5"),
        ("huge capacity", .hugeCapacity, "capacity of 1 to"),
        ("sequencer", .sequencer, "use compile(_:)"),
        ("out of range", .outOfRange, "outside −1…1"),
    ])
    func bufferErrors(name: String, failure: BufferCase, expected: String) throws {
        let error = #expect(throws: SequenceError.self, "\(name)") { try failure.run() }
        #expect(error?.description.contains(expected) == true, "\(name): \(String(describing: error))")
    }

    @Test("What cannot be compiled is a typed error saying why", arguments: [
        ("ideal pulses", SequenceCompilerCase.idealPulses, "give pulses a duration"),
        ("too much amplitude", .tooShortPulse, "beyond the generator"),
        ("memory", .tooLongForMemory, "without a sequencer"),
        ("rate", .rateOutOfRange, "outside the generator"),
        ("channel", .missingChannel, "does not exist"),
        ("Zeno loop too long", .zenoTooLong, "without a sequencer"),
    ])
    func errors(name: String, failure: SequenceCompilerCase, expected: String) throws {
        let error = #expect(throws: SequenceError.self, "\(name)") { try failure.run() }
        #expect(error?.description.contains(expected) == true, "\(name): \(String(describing: error))")
    }
}

enum SequenceCompilerCase: Sendable {
    case idealPulses, tooShortPulse, tooLongForMemory, rateOutOfRange, missingChannel, zenoTooLong

    func run() throws {
        let rate = SampleRate.megasamplesPerSecond(250)
        switch self {
        case .idealPulses:
            let s = try DDSequence(.cpmg, pulses: 4, total: .seconds(1e-6))
            _ = try SequenceCompiler(capabilities: CompilerTests.plain, sampleRate: rate, wiring: CompilerTests.wiring).compile(s)
        case .tooShortPulse:
            let s = try DDSequence(.cpmg, pulses: 4, total: .seconds(1e-6), piPulse: Pulse(angle: .pi, phase: 0, duration: .seconds(1e-9)))
            _ = try SequenceCompiler(capabilities: CompilerTests.sequencer, sampleRate: .gigasamplesPerSecond(2), wiring: CompilerTests.wiring).compile(s)
        case .tooLongForMemory:
            let s = try DDSequence(.cpmg, pulses: 4, total: .seconds(0.1), piPulse: CompilerTests.pi)
            _ = try SequenceCompiler(capabilities: CompilerTests.plain, sampleRate: rate, wiring: CompilerTests.wiring).compile(s)
        case .rateOutOfRange:
            let s = try DDSequence(.cpmg, pulses: 4, total: .seconds(1e-6), piPulse: CompilerTests.pi)
            _ = try SequenceCompiler(capabilities: CompilerTests.plain, sampleRate: .gigasamplesPerSecond(1), wiring: CompilerTests.wiring).compile(s)
        case .zenoTooLong:
            _ = try SequenceCompiler(capabilities: CompilerTests.plain, sampleRate: rate, wiring: CompilerTests.wiring)
                .compileZeno(rabi: 1e6, duration: .seconds(4), measurements: 1_000_000_000)
        case .missingChannel:
            let s = try DDSequence(.cpmg, pulses: 4, total: .seconds(1e-6), piPulse: CompilerTests.pi)
            var wiring = CompilerTests.wiring
            wiring.qChannel = 3
            _ = try SequenceCompiler(capabilities: CompilerTests.plain, sampleRate: rate, wiring: wiring).compile(s)
        }
    }
}

enum BufferCase: Sendable {
    case tooSmall, zeroCapacity, negativeCapacity, hugeCapacity, sequencer, outOfRange

    func run() throws {
        let sequence = try DDSequence(.cpmg, pulses: 4, total: .seconds(2e-6), piPulse: CompilerTests.pi)
        let plain = SequenceCompiler(capabilities: CompilerTests.plain, sampleRate: .megasamplesPerSecond(250), wiring: CompilerTests.wiring)
        switch self {
        case .tooSmall:
            var buffers = try WaveformBuffers(capacity: 100)
            _ = try plain.compile(sequence, into: &buffers)
        case .zeroCapacity: _ = try WaveformBuffers(capacity: 0)
        case .negativeCapacity: _ = try WaveformBuffers(capacity: -5)
        case .hugeCapacity: _ = try WaveformBuffers(capacity: Int.max)
        case .sequencer:
            var buffers = try WaveformBuffers(capacity: 1000)
            _ = try SequenceCompiler(capabilities: CompilerTests.sequencer, sampleRate: .gigasamplesPerSecond(1), wiring: CompilerTests.wiring)
                .compile(sequence, into: &buffers)
        case .outOfRange:
            // A strong DRAG quadrature pushes Q beyond the π pulse's peak: refused as the samples are made.
            let drag = Pulse(angle: .pi, phase: .pi / 2, duration: .seconds(20e-9), shape: .drag(truncation: 2, beta: 1e-8))
            var buffers = try WaveformBuffers(capacity: 1000)
            _ = try plain.compile(try DDSequence(.cpmg, pulses: 4, total: .seconds(2e-6), piPulse: drag), into: &buffers)
        }
    }
}
