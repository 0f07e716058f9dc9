import Foundation
import HAL
import Quantities
import Testing
@testable import Emulator

/// Programs for one qubit driven by awg1 channels 1 (I) and 2 (Q) at 0.5 V, 1 GS/s, its readout
/// triggered by channel 1 marker 1. With 500 MHz/V a full-scale sample turns the qubit by π/2.
enum Bench {
    static let rate = SampleRate(siValue: 1e9)
    static let channels = [PulseProgram.OutputChannel(number: 1, amplitude: Voltage(siValue: 0.5)),
                           PulseProgram.OutputChannel(number: 2, amplitude: Voltage(siValue: 0.5))]
    static let perfectReadout = ReadoutModel(groundFidelity: 1, excitedFidelity: 1, ground: IQPoint(i: 1, q: 0),
                                             excited: IQPoint(i: -1, q: 0), sigma: 0)

    static func qubit(noise: NoiseSpectrum = .none, t1: Double = .infinity, amplitudeError: Double = 0,
                      readout: ReadoutModel = perfectReadout) -> QubitSpec {
        QubitSpec(frequency: 5e9, t1: t1, dephasing: noise, rabiPerVolt: 500e6, amplitudeError: amplitudeError, readout: readout)
    }

    static func testbed(_ spec: QubitSpec, seed: UInt64 = 1, threads: Int? = nil) throws -> QubitTestbed {
        try QubitTestbed(TestbedSpec(
            qubits: [.init(name: "q0", spec: spec, drive: .init(generator: "awg1", i: 1, q: 2), readout: "ro")],
            readouts: [.init(instrument: "ro", trigger: .init(generator: "awg1", channel: 1, marker: 1))], seed: seed),
            threads: threads)
    }

    /// A square pulse of `angle` (a multiple of π/4 per two samples) about phase `phase` starting at `start`.
    static func square(_ angle: Double, phase: Double, at start: Int) -> (PulseProgram.ParametricPulse, PulseProgram.ParametricPulse) {
        let samples = max(1, Int((angle / (Double.pi / 2)).rounded(.up)))
        let amplitude = angle / (Double.pi / 2) / Double(samples)
        return (.init(start: start, length: samples, shape: .square, amplitude: amplitude * cos(phase)),
                .init(start: start, length: samples, shape: .square, amplitude: amplitude * sin(phase)))
    }

    /// One segment: pulses (angle, phase, start) and measurements (marker starts), played once.
    static func segment(_ name: String, length: Int, pulses: [(Double, Double, Int)], measurements: [Int] = []) -> PulseProgram.Segment {
        var i: [PulseProgram.ParametricPulse] = [], q: [PulseProgram.ParametricPulse] = []
        for (angle, phase, start) in pulses {
            let (pi, pq) = square(angle, phase: phase, at: start)
            if pi.amplitude != 0 { i.append(pi) }
            if pq.amplitude != 0 { q.append(pq) }
        }
        return .init(name: name, length: length, waveforms: [1: .pulses(i), 2: .pulses(q)],
                     markers: measurements.map { .init(channel: 1, number: 1, start: $0, length: 4) })
    }

    static func program(_ segments: [PulseProgram.Segment], steps: [PulseProgram.Step]? = nil) -> PulseProgram {
        PulseProgram(sampleRate: rate, channels: channels, segments: segments,
                     steps: steps ?? segments.map { .init(segment: $0.name) })
    }

    /// Fraction of shots whose window `window` projected |1⟩.
    static func excitedFraction(_ testbed: QubitTestbed, _ program: PulseProgram, shots: Int, window: Int = 0) -> Double {
        testbed.play(program, generator: "awg1", shots: shots)
        let records = testbed.takeRecords(readout: "ro", maximum: .max)
        let selected = records.filter { $0.window == window }
        #expect(selected.count == shots)
        return Double(selected.filter { $0.projected[0] }.count) / Double(selected.count)
    }

    /// |p − expected| within 4 binomial σ (plus `extra`).
    static func expectProbability(_ p: Double, _ expected: Double, shots: Int, extra: Double = 0,
                                  sourceLocation: SourceLocation = #_sourceLocation) {
        let sigma = (max(expected * (1 - expected), 1 / Double(shots)) / Double(shots)).squareRoot()
        #expect(abs(p - expected) <= 4 * sigma + extra, "P = \(p), expected \(expected)", sourceLocation: sourceLocation)
    }
}

@Suite("Qubit testbed: pulses, measurement and decay")
struct QubitTestbedTests {
    @Test(arguments: [(Double.pi, 1.0), (Double.pi / 2, 0.5), (Double.pi / 4, 0.1464466)])
    func rabiRotation(angle: Double, expected: Double) throws {
        let testbed = try Bench.testbed(Bench.qubit())
        let program = Bench.program([Bench.segment("s", length: 20, pulses: [(angle, 0, 0)], measurements: [10])])
        Bench.expectProbability(Bench.excitedFraction(testbed, program, shots: 4000), expected, shots: 4000)
    }

    @Test func amplitudeErrorShiftsTheRotation() throws {
        let testbed = try Bench.testbed(Bench.qubit(amplitudeError: 0.2))
        let program = Bench.program([Bench.segment("s", length: 20, pulses: [(Double.pi / 2, 0, 0)], measurements: [10])])
        let expected = pow(sin(0.6 * Double.pi / 2), 2) // θ = (π/2)(1.2)
        Bench.expectProbability(Bench.excitedFraction(testbed, program, shots: 8000), expected, shots: 8000)
    }

    /// A pulse whose phase changes inside it (x, then y twice as long, then x: π/2, π, π/2) is evolved
    /// sample by sample: it ends in |1⟩; one rotation about its first axis would end in |0⟩.
    @Test func phaseVaryingPulseEvolvesPiecewise() throws {
        let i: [Float] = [1, 0, 0, 1, 0, 0, 0, 0], q: [Float] = [0, 1, 1, 0, 0, 0, 0, 0]
        let segment = PulseProgram.Segment(name: "s", length: 8, waveforms: [1: .samples(i), 2: .samples(q)],
                                           markers: [.init(channel: 1, number: 1, start: 5, length: 2)])
        let program = Bench.program([segment])
        let pulses = PulseExtraction.pulses(in: segment, program: program, i: 1, q: 2, rabiPerVolt: 500e6, cuts: [5])
        #expect(pulses.count == 1)
        #expect(pulses.first?.length == 4)
        #expect(pulses.first?.steps.count == 8)
        let testbed = try Bench.testbed(Bench.qubit())
        #expect(Bench.excitedFraction(testbed, program, shots: 200) == 1)
    }

    @Test func extractionFindsAxisAngleAndEdges() throws {
        let segment = Bench.segment("s", length: 100, pulses: [(Double.pi, Double.pi / 2, 10), (Double.pi / 2, 0, 40)], measurements: [60, 62, 80])
        let program = Bench.program([segment])
        let pulses = PulseExtraction.pulses(in: segment, program: program, i: 1, q: 2, rabiPerVolt: 500e6, cuts: [])
        #expect(pulses.map(\.start) == [10, 40])
        #expect(pulses.map(\.length) == [2, 1])
        #expect(abs(pulses[0].angle - .pi) < 1e-6 && abs(pulses[0].phase - .pi / 2) < 1e-6 && pulses[0].steps.isEmpty)
        #expect(abs(pulses[1].angle - .pi / 2) < 1e-6 && abs(pulses[1].phase) < 1e-6)
        // Markers at 60+4 and 62+4 overlap: one high stretch, one rising edge.
        let edges = PulseExtraction.edges(of: segment, channel: 1, number: 1)
        #expect(edges == MarkerEdges(edges: [60, 80], startsHigh: false, endsHigh: false))
    }

    @Test func t1DecayOfTheExcitedState() throws {
        let t1 = 4e-6, wait = 4000 // samples = 4 µs
        let testbed = try Bench.testbed(Bench.qubit(t1: t1))
        let program = Bench.program([Bench.segment("s", length: wait + 20, pulses: [(Double.pi, 0, 0)], measurements: [2 + wait])])
        Bench.expectProbability(Bench.excitedFraction(testbed, program, shots: 8000), exp(-Double(wait) / 1e9 / t1), shots: 8000, extra: 0.002)
    }

    /// Two measurements 10 ns apart agree on every shot (no T₁), and each is 50/50 after π/2.
    @Test func measurementCollapses() throws {
        let testbed = try Bench.testbed(Bench.qubit())
        let program = Bench.program([Bench.segment("s", length: 40, pulses: [(Double.pi / 2, 0, 0)], measurements: [5, 15])])
        testbed.play(program, generator: "awg1", shots: 2000)
        let records = testbed.takeRecords(readout: "ro", maximum: .max)
        #expect(records.count == 4000)
        var excited = 0
        for pair in stride(from: 0, to: records.count, by: 2) {
            #expect(records[pair].window == 0 && records[pair + 1].window == 1 && records[pair].shot == records[pair + 1].shot)
            #expect(records[pair].projected == records[pair + 1].projected)
            if records[pair].projected[0] { excited += 1 }
        }
        Bench.expectProbability(Double(excited) / 2000, 0.5, shots: 2000)
    }

    /// Itano et al. (1990): a π drive split by n measurements ends in |1⟩ with P = [1 − cosⁿ(π/n)]/2.
    /// One segment (π/n pulse, then a marker) repeated n times.
    @Test(arguments: [1, 2, 4, 8])
    func zenoEffect(n: Int) throws {
        let testbed = try Bench.testbed(Bench.qubit())
        let segment = Bench.segment("zeno", length: 30, pulses: [(Double.pi / Double(n), 0, 0)], measurements: [20])
        let program = Bench.program([segment], steps: [.init(segment: "zeno", repeats: n)])
        let shots = 8000
        let p = Bench.excitedFraction(testbed, program, shots: shots, window: n - 1)
        Bench.expectProbability(p, (1 - pow(cos(Double.pi / Double(n)), Double(n))) / 2, shots: shots)
    }

    /// goTo skips a step: A (π/2), B jumps to D, C (π/2) never plays, D measures: P = ½, not 1.
    /// A jump back to the first step ends the shot (the generator loops to the next one).
    @Test func goToIsFollowed() throws {
        let a = Bench.segment("A", length: 10, pulses: [(Double.pi / 2, 0, 0)])
        let b = Bench.segment("B", length: 10, pulses: [])
        let c = Bench.segment("C", length: 10, pulses: [(Double.pi / 2, 0, 0)])
        let d = Bench.segment("D", length: 10, pulses: [], measurements: [2])
        let program = Bench.program([a, b, c, d], steps: [.init(segment: "A"), .init(segment: "B", goTo: 3), .init(segment: "C"), .init(segment: "D", goTo: 0)])
        #expect(ShotProgram.stepOrder(program) == [0, 1, 3])
        let testbed = try Bench.testbed(Bench.qubit())
        Bench.expectProbability(Bench.excitedFraction(testbed, program, shots: 4000), 0.5, shots: 4000)
    }

    /// A marker high across a segment boundary is one edge; one rising again in the next repeat is another.
    @Test func markerEdgesAcrossSegmentsAndRepeats() throws {
        let high = PulseProgram.Segment(name: "high", length: 10, markers: [.init(channel: 1, number: 1, start: 0, length: 10)])
        let tail = PulseProgram.Segment(name: "tail", length: 10, markers: [.init(channel: 1, number: 1, start: 0, length: 5)])
        let testbed = try Bench.testbed(Bench.qubit())
        // high, high (still high: no edge), tail ×3 (edge only when the previous ended low: 2 more).
        let program = Bench.program([high, tail], steps: [.init(segment: "high", repeats: 2), .init(segment: "tail", repeats: 3)])
        testbed.play(program, generator: "awg1", shots: 1)
        #expect(testbed.takeRecords(readout: "ro", maximum: .max).map(\.window) == [0, 1, 2])
    }

    /// CPMG with 10⁵ π_y pulses from three segments: compiled without unrolling, and (noise-free)
    /// it returns to |0⟩ every shot; with one π_x extra per cycle it would not.
    @Test func longTrainRunsWithoutMaterialisingSamples() throws {
        let start = Bench.segment("start", length: 50, pulses: [(Double.pi / 2, 0, 0)])
        let unit = Bench.segment("unit", length: 100, pulses: [(Double.pi, Double.pi / 2, 49)])
        let end = Bench.segment("end", length: 50, pulses: [(Double.pi / 2, Double.pi, 0)], measurements: [10])
        let program = Bench.program([start, unit, end], steps: [.init(segment: "start"), .init(segment: "unit", repeats: 100_000), .init(segment: "end")])
        let spec = Bench.qubit(noise: try .white(s0: 0.01))
        let testbed = try Bench.testbed(spec)
        let compiled = ShotProgram(program, generator: "awg1", spec: testbed.spec, dynamics: [try QubitDynamics(spec)])
        #expect(compiled.qubits[0].operations.count < 20)
        #expect(compiled.qubits[0].runs.map(\.repeats).reduce(0, +) < 100_010)
        #expect(compiled.qubits[0].runs.contains { $0.repeats >= 99_998 })
        #expect(Bench.excitedFraction(testbed, program, shots: 5) == 0)
    }

    @Test func sameSeedSameRecordsDifferentSeedDifferent() throws {
        let noisy = Bench.qubit(noise: try .powerLaw(amplitude: 1e9, alpha: 1, low: 10, high: 1e8), t1: 20e-6,
                                readout: QubitSpec.transmon.readout)
        let program = Bench.program([Bench.segment("s", length: 3000, pulses: [(Double.pi / 2, 0, 0), (Double.pi / 2, 0, 2000)], measurements: [2500])])
        func records(seed: UInt64) throws -> [MeasurementRecord] {
            let testbed = try Bench.testbed(noisy, seed: seed)
            testbed.play(program, generator: "awg1", shots: 300)
            return testbed.takeRecords(readout: "ro", maximum: .max)
        }
        let first = try records(seed: 5)
        #expect(first.count == 300)
        #expect(try records(seed: 5) == first)
        #expect(try records(seed: 6) != first)
    }

    /// Shot n draws from stream n of the seed: the records are the same on 1 thread or several, and
    /// whether the shots come in one play or several.
    @Test func recordsDoNotDependOnThreadsOrPlaySplits() throws {
        let noisy = Bench.qubit(noise: try .powerLaw(amplitude: 1e9, alpha: 1, low: 10, high: 1e8), t1: 20e-6,
                                readout: QubitSpec.transmon.readout)
        let program = Bench.program([Bench.segment("s", length: 3000, pulses: [(Double.pi / 2, 0, 0), (Double.pi / 2, 0, 2000)],
                                                   measurements: [1000, 2500])])
        func records(threads: Int, plays: [Int]) throws -> [MeasurementRecord] {
            let testbed = try Bench.testbed(noisy, seed: 11, threads: threads)
            #expect(testbed.threads == threads)
            for shots in plays { testbed.play(program, generator: "awg1", shots: shots) }
            return testbed.takeRecords(readout: "ro", maximum: .max)
        }
        let single = try records(threads: 1, plays: [2500])
        #expect(single.count == 5000)
        #expect(single.map(\.shot) == (0..<2500).flatMap { [$0, $0] })
        #expect(single.map(\.window) == (0..<2500).flatMap { _ in [0, 1] })
        #expect(Set(single.map(\.points[0].i)).count > 4900)
        for threads in [2, 3, 5] { #expect(try records(threads: threads, plays: [2500]) == single) }
        #expect(try records(threads: 1, plays: [1, 700, 99, 1700]) == single)
        #expect(try records(threads: 3, plays: [130, 2370]) == single)
    }

    @Test func readoutErrorsAndShotNoise() throws {
        let model = ReadoutModel(groundFidelity: 0.9, excitedFidelity: 0.8, ground: IQPoint(i: 1, q: 0), excited: IQPoint(i: -1, q: 0), sigma: 0.1)
        let testbed = try Bench.testbed(Bench.qubit(readout: model))
        let program = Bench.program([Bench.segment("s", length: 20, pulses: [(Double.pi, 0, 0)], measurements: [10])])
        testbed.play(program, generator: "awg1", shots: 8000)
        let records = testbed.takeRecords(readout: "ro", maximum: .max)
        #expect(records.allSatisfy { $0.projected == [true] })
        let discriminator = Discriminator(ground: model.ground, excited: model.excited)
        let reported = Double(records.filter { discriminator.isExcited($0.points[0]) }.count) / 8000
        Bench.expectProbability(reported, 0.8, shots: 8000, extra: 1e-6)
        let spread = records.map { $0.points[0].q }
        let variance = spread.map { $0 * $0 }.reduce(0, +) / 8000
        #expect(abs(variance / 0.01 - 1) < 4 * (2.0 / 8000).squareRoot())
    }

    @Test func queueIsBoundedAndDropsTheOldest() throws {
        let testbed = try QubitTestbed(Bench.testbed(Bench.qubit()).spec, queueCapacity: 100)
        let program = Bench.program([Bench.segment("s", length: 20, pulses: [], measurements: [1])])
        testbed.play(program, generator: "awg1", shots: 250)
        #expect(testbed.pendingRecords(readout: "ro") == 100)
        #expect(testbed.droppedRecords(readout: "ro") == 150)
        let records = testbed.takeRecords(readout: "ro", maximum: 30)
        #expect(records.map(\.shot) == Array(150..<180))
        #expect(testbed.pendingRecords(readout: "ro") == 70)
        #expect(testbed.takeRecords(readout: "unknown", maximum: 5).isEmpty)
    }

    @Test func otherGeneratorsAndInvalidProgramsMeasureNothing() throws {
        let testbed = try Bench.testbed(Bench.qubit())
        let program = Bench.program([Bench.segment("s", length: 20, pulses: [], measurements: [1])])
        testbed.play(program, generator: "awg2", shots: 10)
        var broken = program
        broken.steps = [.init(segment: "missing")]
        testbed.play(broken, generator: "awg1", shots: 10)
        testbed.play(program, generator: "awg1", shots: -3)
        #expect(testbed.pendingRecords(readout: "ro") == 0)
    }

    @Test func invalidSpecsAreRefused() {
        #expect(throws: QubitSpecError.self) { try Bench.testbed(Bench.qubit(t1: -1)) }
        var readout = Bench.perfectReadout
        readout.groundFidelity = 1.5
        #expect(throws: QubitSpecError.self) { try Bench.testbed(Bench.qubit(readout: readout)) }
        #expect(throws: QubitSpecError.self) {
            try QubitTestbed(TestbedSpec(qubits: [.init(name: "q", spec: Bench.qubit(), readout: "nowhere")], readouts: []))
        }
    }
}
