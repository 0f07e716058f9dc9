import Drivers
@testable import Emulator
import Foundation
import HAL
import Quantities
import Synchronization
import Testing
import TestSupport

/// A 33500B twin and ways to reach it.
struct Keysight33500BBench {
    let bench = RecordingBench()
    let twin: Keysight33500BTwin
    let faults = FaultInjector(profile: FaultProfile(), seed: 33522)

    init(model: String = "33522B", options: [String] = []) {
        let profile = InstrumentProfile(id: "awg", kind: .keysight33500B, port: 0, serialNumber: "MY52600694", firmware: "4.00-1.19-2.00-58-00")
        twin = Keysight33500BTwin(profile: profile, bench: bench, model: model, options: options)
    }

    func loopback() -> LoopbackTransport {
        LoopbackTransport(id: twin.id, session: twin.makeSession(), faults: faults)
    }

    /// Sends raw text to a fresh session and returns the reply text.
    func raw(_ text: String, session: (any TwinSession)? = nil) -> String {
        String(decoding: (session ?? twin.makeSession()).receive(Array(text.utf8)), as: UTF8.self)
    }

    /// The generator driver over `link` (the TCP server, when used, is returned to be stopped).
    func driver(_ link: Link, timeout: Duration = .seconds(5)) throws -> (Keysight33500B, TCPInstrumentServer?) {
        switch link {
        case .loopback:
            return (try Keysight33500B(transport: loopback(), timeout: timeout), nil)
        case .tcp:
            let server = try TCPInstrumentServer(twin: twin, faults: faults, host: "127.0.0.1", port: 0)
            return (try Keysight33500B(transport: TCPTransport(host: "127.0.0.1", port: server.port), timeout: timeout), server)
        }
    }
}

extension InstrumentError.Kind {
    var refusal: String? { if case .refused(let text) = self { text } else { nil } }
    var isInvalid: Bool { if case .invalidArgument = self { true } else { false } }
}

/// Calls `body` and returns the `InstrumentError` it threw, nil if it returned.
func thrown(_ body: () throws(InstrumentError) -> Void) -> InstrumentError? {
    do { try body(); return nil } catch { return error }
}

@Suite("Keysight 33500B: driver against the emulated generator")
struct Keysight33500BTests {
    /// A program of one segment on channel 1: a Gaussian pulse and a marker at sample 10.
    static func pulseProgram(length: Int = 64, rate: Double = 250e6, repeats: Int = 1) -> PulseProgram {
        let pulse = PulseProgram.ParametricPulse(start: 8, length: 40, shape: .gaussian(sigma: 8), amplitude: 0.8)
        return PulseProgram(
            sampleRate: .samplesPerSecond(rate), channels: [.init(number: 1, amplitude: .volts(0.5))],
            segments: [.init(name: "pi", length: length, waveforms: [1: .pulses([pulse])],
                             markers: [.init(channel: 1, number: 1, start: 10, length: 4)])],
            steps: [.init(segment: "pi", repeats: repeats)])
    }

    /// What the twin should hand the bench for `program`: samples quantised to DAC codes, the marker rising at its start.
    static func quantised(_ segment: PulseProgram.Segment, channel: Int) -> [Float] {
        segment.waveforms[channel]!.rendered(length: segment.length).map { Float(Int16((Double($0) * 32767).rounded())) / 32767 }
    }

    @Test(arguments: Link.allCases)
    func identifiesTheModelAndItsLimits(link: Link) throws {
        let bench = Keysight33500BBench(model: "33522B", options: ["MEM"])
        let (awg, server) = try bench.driver(link)
        defer { server?.stop() }
        #expect(try awg.identify().model == "33522B")
        #expect(awg.options == ["MEM"])
        #expect(awg.capabilities.channels == 2)
        #expect(awg.capabilities.sampleRates.upperBound == 250e6)
        #expect(awg.capabilities.memorySamples == 16_777_216)
        #expect(awg.model.maximumFrequency == .megahertz(30))
        #expect(try awg.errorQueue().isEmpty)

        let small = Keysight33500BBench(model: "33511B")
        let one = try Keysight33500B(transport: small.loopback())
        #expect(one.capabilities.channels == 1 && one.capabilities.sampleRates.upperBound == 160e6)
        #expect(one.capabilities.memorySamples == 1_048_576)
        #expect(thrown { () throws(InstrumentError) in try one.setOutput(2, enabled: true) }?.kind.isInvalid == true)
    }

    @Test func settingsRoundTrip() throws {
        let bench = Keysight33500BBench()
        let awg = try Keysight33500B(transport: bench.loopback())
        try awg.setFunction(.square, channel: 2)
        #expect(try awg.function(channel: 2) == .square)
        #expect(try awg.function(channel: 1) == .sine)
        try awg.setFrequency(.kilohertz(12.5), channel: 2)
        #expect(try awg.frequency(channel: 2) == .kilohertz(12.5))
        try awg.setAmplitude(2)
        try awg.setOffset(.volts(0.25))
        #expect(try awg.amplitude() == 2)
        #expect(try awg.offset() == .volts(0.25))
        // High impedance doubles what is displayed, as on the instrument.
        try awg.setOutputLoad(nil)
        #expect(try awg.outputLoad() == nil)
        #expect(try awg.amplitude() == 4)
        try awg.setOutputLoad(.ohms(50))
        #expect(try awg.outputLoad() == .ohms(50))
        try awg.setAmplitudeUnit(.rms)
        #expect(abs(try awg.amplitude() - 2 / (2 * 2.0.squareRoot())) < 1e-12)
        try awg.setAmplitudeUnit(.peakToPeak)
        try awg.setOutput(1, enabled: true)
        #expect(try awg.isOutputEnabled(1))
        #expect(try !awg.isOutputEnabled(2))
        try awg.setBurst(.init(enabled: true, cycles: 7), channel: 2)
        #expect(try awg.burst(channel: 2) == .init(enabled: true, cycles: 7))
        try awg.setBurst(.init(enabled: false, mode: .gated, cycles: nil))
        #expect(try awg.burst() == .init(enabled: false, mode: .gated, cycles: nil))
        try awg.setTriggerSource(.external(risingEdge: false), channel: 2)
        #expect(try awg.triggerSource(channel: 2) == .external(risingEdge: false))
        try awg.setTriggerDelay(.seconds(1e-3))
        try awg.setTriggerCount(3)
        try awg.setSync(enabled: false)
        #expect(try !awg.isSyncEnabled())
        try awg.synchronizePhases()
        #expect(try awg.errorQueue().isEmpty)
        // Wire formats: NR3 with fifteen digits, 9.9E37 for INF.
        #expect(bench.raw("SOUR2:FREQ?\n") == "+1.25000000000000E+04\n")
        #expect(bench.raw("outp:load inf;:OUTPUT1:LOAD?\n") == "+9.90000000000000E+37\n")
        #expect(bench.raw("SYST:ERR?\n") == "+0,\"No error\"\n")
    }

    @Test(arguments: Link.allCases)
    func aTriggeredBurstPlaysTheLoadedProgramOnTheBench(link: Link) throws {
        let bench = Keysight33500BBench()
        let (awg, server) = try bench.driver(link)
        defer { server?.stop() }
        let program = Self.pulseProgram()
        try awg.load(program)
        try awg.setTrigger(.bus, shots: 5)
        #expect(try awg.runState() == .stopped)
        try awg.arm()
        #expect(try awg.runState() == .waitingForTrigger)
        #expect(bench.bench.plays.isEmpty)
        try awg.trigger()
        let play = try #require(bench.bench.plays.first)
        #expect(bench.bench.plays.count == 1 && play.shots == 5 && play.generator == "awg")
        let segment = try #require(play.program.segments.first)
        #expect(play.program.sampleRate == .samplesPerSecond(250e6))
        #expect(play.program.channels == [.init(number: 1, amplitude: .volts(0.5))])
        #expect(segment.waveforms[1] == .samples(Self.quantised(program.segments[0], channel: 1)))
        #expect(segment.markers == [.init(channel: 1, number: 1, start: 10, length: 54)])
        #expect(play.program.steps == [.init(segment: segment.name)])
        #expect(try awg.volatileCatalog() == ["QR1"])
        #expect(try awg.volatileFreePoints() == 1_048_576 - 64)
        #expect(try awg.selectedArbitrary() == "QR1")
        #expect(try awg.markerPoint() == 10)
        try awg.stop()
        #expect(try awg.runState() == .stopped)
        #expect(try awg.errorQueue().isEmpty)
    }

    @Test func asciiAndBinaryUploadsPlayTheSameProgram() throws {
        var random = SplitMix64(seed: 2013)
        let samples = (0..<1000).map { _ in Float.random(in: -1...1, using: &random) } + [1, -1, 0, 0.5]
        var played: [PulseProgram] = []
        for encoding in [Keysight33500B.ArbitraryEncoding.ascii, .binary(bigEndian: true), .binary(bigEndian: false)] {
            let bench = Keysight33500BBench()
            let awg = try Keysight33500B(transport: bench.loopback())
            try awg.uploadArbitrary("RANDOM", samples: samples, encoding: encoding)
            try awg.selectArbitrary("RANDOM")
            try awg.setFunction(.arbitrary)
            try awg.setSampleRate(.megasamplesPerSecond(100))
            try awg.setAmplitude(1)
            try awg.setBurst(.init(enabled: true, cycles: 2))
            try awg.setTriggerSource(.bus)
            try awg.setOutput(1, enabled: true)
            try awg.trigger()
            played.append(try #require(bench.bench.plays.first).program)
        }
        #expect(played[0] == played[1] && played[1] == played[2])
        let expected = samples.map { Float(Int16((Double($0) * 32767).rounded())) / 32767 }
        #expect(played[0].segments.first?.waveforms[1] == .samples(expected))
    }

    @Test func aSequencePlaysItsStepsWithRepeats() throws {
        let bench = Keysight33500BBench()
        let awg = try Keysight33500B(transport: bench.loopback())
        let idle = PulseProgram.Segment(name: "idle", length: 16)
        let pi = PulseProgram.Segment(
            name: "pi", length: 32, waveforms: [2: .pulses([.init(start: 4, length: 20, shape: .square, amplitude: 1)])],
            markers: [.init(channel: 2, number: 1, start: 6, length: 1)])
        let program = PulseProgram(
            sampleRate: .megasamplesPerSecond(200), channels: [.init(number: 2, amplitude: .volts(0.2))],
            segments: [idle, pi],
            steps: [.init(segment: "pi"), .init(segment: "idle", repeats: 1000), .init(segment: "pi", waitForTrigger: false)])
        try awg.load(program)
        try awg.setTrigger(.immediate, shots: 3)
        #expect(bench.bench.plays.isEmpty)
        try awg.arm()  // IMMediate: the burst starts as the output turns on
        let play = try #require(bench.bench.plays.first)
        #expect(bench.bench.plays.count == 1 && play.shots == 3)
        #expect(play.program.steps.map(\.repeats) == [1, 1000, 1])
        #expect(play.program.samplesPerShot == 32 + 16_000 + 32)
        #expect(play.program.segments.flatMap(\.markers) == [.init(channel: 2, number: 1, start: 6, length: 26)])
        #expect(try awg.runState() == .running)
        #expect(try awg.errorQueue().isEmpty)
    }

    @Test func programsTheGeneratorCannotHoldFailBeforeAnythingIsSent() throws {
        let bench = Keysight33500BBench()
        let awg = try Keysight33500B(transport: bench.loopback())
        let tooLong = PulseProgram(
            sampleRate: .megasamplesPerSecond(100), channels: [.init(number: 1, amplitude: .volts(1))],
            segments: [.init(name: "long", length: 1_048_577)], steps: [.init(segment: "long")])
        let memory = try #require(thrown { () throws(InstrumentError) in try awg.load(tooLong) })
        #expect(memory.kind.isInvalid && memory.description.contains("waveform memory"), "\(memory)")
        let fast = try #require(thrown { () throws(InstrumentError) in try awg.load(Self.pulseProgram(rate: 500e6)) })
        #expect(fast.kind.isInvalid && fast.description.contains("sample rate"), "\(fast)")
        #expect(thrown { () throws(InstrumentError) in try awg.setSampleRate(.megasamplesPerSecond(300)) }?.kind.isInvalid == true)
        #expect(thrown { () throws(InstrumentError) in try awg.setFrequency(.megahertz(31)) }?.kind.isInvalid == true)
        #expect(try awg.volatileCatalog().isEmpty, "nothing may reach the generator")
    }

    @Test func theGeneratorRefusesWhatItCannotDoAndTheDriverSaysSo() throws {
        let bench = Keysight33500BBench()
        let session = bench.twin.makeSession()
        // Raw SCPI beyond the limits: clipped to them, with the 33500B's -222 queued.
        #expect(bench.raw("SOUR1:FUNC:ARB:SRAT 1E9\n", session: session) == "")
        #expect(bench.raw("FUNC:ARB:SRAT?;:SYST:ERR?\n", session: session)
                    == "+2.50000000000000E+08;-222,\"Data out of range;value clipped to upper limit\"\n")
        #expect(bench.raw("sour2:freq 40 MHZ;:SOURce2:FREQuency?;:syst:err?;:SYST:ERR?\n", session: session)
                    == "+3.00000000000000E+07;-222,\"Data out of range;value clipped to upper limit\";+0,\"No error\"\n")
        #expect(bench.raw("FREQ? MAX;FREQ? MIN\n", session: session) == "+3.00000000000000E+07;+1.00000000000000E-06\n")
        #expect(bench.raw("SOUR3:FREQ 1;BOGUS;FREQ;FUNC WOBBLE;OUTP ON,OFF;*ESR?\n", session: session) == "48\n")
        #expect(bench.raw("SYST:ERR?;SYST:ERR?;SYST:ERR?;SYST:ERR?;SYST:ERR?\n", session: session)
                    == "-113,\"Undefined header\";-113,\"Undefined header\";-109,\"Missing parameter\";"
                    + "-224,\"Illegal parameter value\";-108,\"Parameter not allowed\"\n")

        // Through the driver: an upload beyond the free memory is refused with the instrument's error.
        let awg = try Keysight33500B(transport: bench.loopback())
        try awg.uploadArbitrary("BIG", samples: [Float](repeating: 0.25, count: 1_000_000))
        let full = try #require(thrown { () throws(InstrumentError) in try awg.uploadArbitrary("MORE", samples: [Float](repeating: 0, count: 50_000)) })
        #expect(full.kind.refusal?.hasPrefix("781, \"Not enough memory") == true, "\(full)")
        #expect(try awg.volatileCatalog() == ["BIG"])
        try awg.clearVolatileMemory()
        #expect(try awg.volatileFreePoints() == 1_048_576)
        #expect(thrown { () throws(InstrumentError) in try awg.selectArbitrary("NOSUCH") }?.kind.refusal?.contains("Unknown arb") == true)
        #expect(thrown { () throws(InstrumentError) in try awg.trigger() }?.kind.refusal == "-211, \"Trigger ignored\"")
        #expect(try awg.errorQueue().isEmpty)
    }

    @Test func blocksMayHoldLineFeedsAndBadBlocksAreErrors() throws {
        let bench = Keysight33500BBench()
        let session = bench.twin.makeSession()
        // 8 codes of 0x0A0A: every data byte is a line feed.
        let block = [UInt8]("DATA:ARB:DAC LF,#216".utf8) + [UInt8](repeating: 0x0A, count: 16) + Array(";*OPC?\n".utf8)
        for cut in [1, 17, 25, block.count - 1] {  // any split of the stream
            let reply = session.receive(Array(block[..<cut])) + session.receive(Array(block[cut...]))
            #expect(String(decoding: reply, as: UTF8.self) == "1\n")
        }
        #expect(bench.raw("DATA:VOL:CAT?;:SYST:ERR?\n", session: session) == "\"LF\";+0,\"No error\"\n")
        #expect(bench.raw("DATA:ARB:DAC ODD,#13abc\nSYST:ERR?\n", session: session) == "-161,\"Invalid block data\"\n")
        #expect(bench.raw("DATA:ARB:DAC SHORT,#14abcd\nSYST:ERR?\n", session: session) == "-222,\"Data out of range\"\n")
        #expect(bench.raw("DATA:ARB:DAC X,#A12\nSYST:ERR?\n", session: session) == "-161,\"Invalid block data\"\n")
    }

    /// Random and mutated SCPI never crashes the twin, never makes it answer what was not asked, and leaves it serving.
    @Test func malformedSCPINeverBreaksTheTwin() throws {
        let bench = Keysight33500BBench()
        var random = SplitMix64(seed: 0x33522)
        let words = ["SOUR1:", "SOUR2:", "FUNC", ":ARB", " ", ",", ";", "?", "#", "#2", "#15", "\"", "'", "DATA:ARB:DAC ",
                     "DATA:SEQ ", "MAX", "INF", "1E999", "-0", "\n", "\r", "*TRG", "*RST", "OUTP ON", "BURS:STAT ON",
                     "TRIG:SOUR BUS", "FUNC ARB", "A", "ä", "\u{0}", ":", "::", "9", "E"]
        let session = bench.twin.makeSession()
        for _ in 0..<3000 {
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 1...12, using: &random) {
                if Int.random(in: 0..<6, using: &random) == 0 {
                    bytes.append(UInt8.random(in: 0...255, using: &random))
                } else {
                    bytes += Array(words.randomElement(using: &random)!.utf8)
                }
            }
            _ = session.receive(bytes)
        }
        // Whatever state the noise left, a clean session still answers.
        _ = session.receive(Array("\n".utf8))
        let fresh = bench.twin.makeSession()
        #expect(bench.raw("*CLS;*IDN?\n", session: fresh) == "Keysight Technologies,33522B,MY52600694,4.00-1.19-2.00-58-00\n")
        #expect(bench.raw("SYST:ERR?\n", session: fresh) == "+0,\"No error\"\n")
    }

    @Test(arguments: Link.allCases)
    func aDroppedReplyIsATimeoutAndTheNextCallRecovers(link: Link) throws {
        let bench = Keysight33500BBench()
        let (awg, server) = try bench.driver(link, timeout: .milliseconds(300))
        defer { server?.stop() }
        var faults = FaultProfile()
        faults.dropProbability = 1
        bench.faults.profile = faults
        let error = try #require(thrown { () throws(InstrumentError) in _ = try awg.frequency() })
        #expect(error.kind.isTimeout, "\(error)")
        bench.faults.profile = FaultProfile()
        #expect(try awg.frequency() == .kilohertz(1))
    }

    @Test func refusesAGeneratorOfAnotherKind() throws {
        let bench = Keysight33500BBench(model: "33522B", manufacturer: "Rigol Technologies")
        #expect(throws: InstrumentError.self) { _ = try Keysight33500B(transport: bench.loopback()) }
    }
}

extension Keysight33500BBench {
    init(model: String, manufacturer: String) {
        let profile = InstrumentProfile(id: "awg", kind: .keysight33500B, port: 0, serialNumber: "X", firmware: "1")
        twin = Keysight33500BTwin(profile: profile, bench: bench, model: model, manufacturer: manufacturer)
    }
}
