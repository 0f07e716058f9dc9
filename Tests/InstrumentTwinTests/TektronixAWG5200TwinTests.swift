import Drivers
@testable import Emulator
import Foundation
import HAL
import Quantities
import Synchronization
import Testing
import TestSupport

/// Counts bytes; shared between a test and the transport it hands to a driver.
final class ByteCounter: Sendable {
    private let counted = Atomic<Int>(0)

    var bytes: Int { counted.load(ordering: .relaxed) }

    func add(_ count: Int) {
        counted.wrappingAdd(count, ordering: .relaxed)
    }
}

/// A transport that counts the bytes written through it.
final class CountingTransport: ByteTransport {
    private let inner: any ByteTransport
    private let counter: ByteCounter

    init(_ inner: any ByteTransport, counter: ByteCounter) {
        self.inner = inner
        self.counter = counter
    }

    var resource: ResourceName { inner.resource }

    func write(_ bytes: UnsafeRawBufferPointer, timeout: Duration) throws(TransportError) {
        counter.add(bytes.count)
        try inner.write(bytes, timeout: timeout)
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, timeout: Duration) throws(TransportError) -> Int {
        try inner.read(into: buffer, timeout: timeout)
    }

    func discardInput() throws(TransportError) { try inner.discardInput() }
    func close() { inner.close() }
}

/// An AWG5200 twin and the ways to reach it.
struct AWGFixture {
    let bench = RecordingBench()
    let twin: TektronixAWG5200Twin
    private var servers: [TCPInstrumentServer] = []

    init(model: String = "AWG5204", options: [String] = ["50", "SEQ"], storageBudget: Int = 64 << 20) {
        let profile = InstrumentProfile(id: "awg", kind: .awg5200, serialNumber: "B010101", firmware: "6.3.0080.0")
        twin = TektronixAWG5200Twin(profile: profile, bench: bench, model: model, options: options, storageBudget: storageBudget)
    }

    /// A transport to the twin, in process or over a TCP server on a free port.
    mutating func transport(_ link: AWGLink) throws -> any ByteTransport {
        let faults = FaultInjector(profile: FaultProfile(), seed: 1)
        switch link {
        case .loopback:
            return LoopbackTransport(id: twin.id, session: twin.makeSession(), faults: faults)
        case .tcp:
            let server = try TCPInstrumentServer(twin: twin, faults: faults, host: "127.0.0.1", port: 0)
            servers.append(server)
            return TCPTransport(host: "127.0.0.1", port: server.port)
        }
    }

    func stop() {
        for server in servers { server.stop() }
    }
}

enum AWGLink: String, CaseIterable, CustomTestStringConvertible {
    case loopback, tcp
    var testDescription: String { rawValue }
}

/// A CPMG-like train: a π/2 pulse that waits for the trigger, an echo segment repeated 100,000 times, a
/// closing π/2 and a readout segment with explicit samples, markers and a measurement window.
func cpmgProgram(repeats: Int = 100_000) -> PulseProgram {
    let length = 2400
    let half = PulseProgram.ParametricPulse(start: 100, length: 200, shape: .gaussian(sigma: 40), amplitude: 0.4)
    let pi = PulseProgram.ParametricPulse(start: 1100, length: 200, shape: .gaussian(sigma: 40), amplitude: 0.8)
    let drag = PulseProgram.ParametricPulse(start: 1100, length: 200, shape: .gaussianDerivative(sigma: 40, beta: 2), amplitude: 0.3)
    let readout = (0..<length).map { Float(sin(Double($0) / 10)) * 0.25 }
    return PulseProgram(
        sampleRate: .gigasamplesPerSecond(2.4),
        channels: [.init(number: 1, amplitude: .volts(0.3)), .init(number: 2, amplitude: .volts(0.2))],
        segments: [
            .init(name: "half", length: length, waveforms: [1: .pulses([half])]),
            .init(name: "echo", length: length, waveforms: [1: .pulses([pi]), 2: .pulses([drag])],
                  markers: [.init(channel: 2, number: 2, start: 1100, length: 200)]),
            .init(name: "read", length: length, waveforms: [2: .samples(readout)],
                  markers: [.init(channel: 1, number: 1, start: 400, length: 1200), .init(channel: 1, number: 4, start: 0, length: 10)],
                  measurements: [.init(readout: "q0", start: 400, length: 1200)]),
        ],
        steps: [
            .init(segment: "half", waitForTrigger: true),
            .init(segment: "echo", repeats: repeats),
            .init(segment: "half"),
            .init(segment: "read"),
        ])
}

/// What the AWG plays for `program`: every channel's samples explicit (idle ones 0), segments named by
/// their waveforms (`<segment>_ch<n>` joined by `+`), no measurement windows (the AWG knows only markers).
func played(_ program: PulseProgram) -> PulseProgram {
    func name(_ segment: String) -> String {
        program.channels.map { TektronixAWG5200.waveformName(segment, $0.number) }.joined(separator: "+")
    }
    var segments: [PulseProgram.Segment] = []
    for step in program.steps where !segments.contains(where: { $0.name == name(step.segment) }) {
        let segment = program.segment(named: step.segment)!
        var waveforms: [Int: PulseProgram.Waveform] = [:]
        for channel in program.channels {
            waveforms[channel.number] = .samples(
                segment.waveforms[channel.number]?.rendered(length: segment.length)
                    ?? [Float](repeating: 0, count: segment.length))
        }
        segments.append(.init(name: name(step.segment), length: segment.length, waveforms: waveforms, markers: segment.markers))
    }
    let steps = program.steps.map { PulseProgram.Step(segment: name($0.segment), repeats: $0.repeats, waitForTrigger: $0.waitForTrigger, goTo: $0.goTo) }
    return sortedMarkers(PulseProgram(sampleRate: program.sampleRate, channels: program.channels, segments: segments, steps: steps))
}

func sortedMarkers(_ program: PulseProgram) -> PulseProgram {
    var program = program
    for index in program.segments.indices {
        program.segments[index].markers.sort { ($0.channel, $0.number, $0.start) < ($1.channel, $1.number, $1.start) }
    }
    return program
}

@Suite("Tektronix AWG5200 driver against its twin")
struct TektronixAWG5200TwinTests {
    @Test("A CPMG train uploads a few segments, and the twin plays exactly what was loaded", arguments: AWGLink.allCases)
    func loadsAndPlays(link: AWGLink) throws {
        var fixture = AWGFixture()
        defer { fixture.stop() }
        let counter = ByteCounter()
        let awg = try TektronixAWG5200(transport: CountingTransport(try fixture.transport(link), counter: counter))
        #expect(awg.identity.model == "AWG5204" && awg.identity.firmware == "FV:6.3.0080.0")
        #expect(awg.capabilities.channels == 4 && awg.capabilities.sampleRates.upperBound == 5e9)
        let before = counter.bytes
        let program = cpmgProgram()
        try awg.load(program)
        // 4 driven waveforms × 2400 samples × 4 bytes (idle ones are only created), 2 marker waveforms and
        // the commands: far from the 2.4 × 10⁸ samples the expanded train would need.
        let uploaded = counter.bytes - before
        #expect(uploaded > 4 * 2400 * 4 && uploaded < 60_000)
        #expect(try awg.waveformCount() == 6)
        #expect(try Set(awg.waveformNames()) == ["half_ch1", "half_ch2", "echo_ch1", "echo_ch2", "read_ch1", "read_ch2"])
        try awg.setOutput(1, enabled: true)
        try awg.setOutput(2, enabled: true)
        try awg.setTrigger(.bus, shots: 1)
        try awg.arm()
        #expect(try awg.runState() == .waitingForTrigger)
        #expect(fixture.bench.plays.isEmpty)
        try awg.trigger()
        try awg.trigger()
        #expect(try awg.runState() == .waitingForTrigger)
        let plays = fixture.bench.plays
        try #require(plays.count == 2)
        #expect(plays.allSatisfy { $0.shots == 1 && $0.generator == "awg" })
        let actual = sortedMarkers(plays[0].program)
        let expected = played(program)
        #expect(actual.sampleRate == expected.sampleRate)
        #expect(actual.channels == expected.channels)
        #expect(actual.steps == expected.steps)
        #expect(actual.segments.map(\.name) == expected.segments.map(\.name))
        #expect(actual.segments.map(\.markers) == expected.segments.map(\.markers))
        let samePlay = actual == expected  // samples included (the full values would flood the log)
        #expect(samePlay)
        #expect(actual.samplesPerShot == (3 + 100_000) * 2400)
        #expect(try awg.errorQueue().isEmpty)
        try awg.stop()
        #expect(try awg.runState() == .stopped)
        try awg.trigger()
        #expect(fixture.bench.plays.count == 2)
    }

    @Test("A segment longer than one block goes up in chunks and arrives intact", arguments: AWGLink.allCases)
    func chunkedUpload(link: AWGLink) throws {
        var fixture = AWGFixture()
        defer { fixture.stop() }
        let length = 2 * TektronixAWG5200.uploadChunkSamples + 1234
        let ramp = (0..<length).map { Float($0 % 2000) / 1000 - 1 }
        let program = PulseProgram(
            sampleRate: .megasamplesPerSecond(500), channels: [.init(number: 4, amplitude: .volts(0.5))],
            segments: [.init(name: "long", length: length, waveforms: [4: .samples(ramp)],
                             markers: [.init(channel: 4, number: 3, start: length - 5, length: 5)])],
            steps: [.init(segment: "long", repeats: 2)])
        let awg = try TektronixAWG5200(transport: try fixture.transport(link))
        try awg.load(program)
        try awg.setOutput(4, enabled: true)
        try awg.setTrigger(.external(risingEdge: true), shots: 1)
        try awg.arm()
        // An external trigger arrives as `*TRG` would on input A.
        let raw = SCPISession(transport: try fixture.transport(.loopback), instrument: "raw AWG")
        #expect(try raw.query("TRIG:SLOP? ATR") == "POS")
        try raw.write("*TRG")
        let play = try #require(fixture.bench.plays.first)
        let samePlay = sortedMarkers(play.program) == played(program)
        #expect(samePlay)
    }

    @Test("Continuous mode runs at once; the emulator plays one shot per trigger, only on enabled outputs")
    func continuousMode() throws {
        var fixture = AWGFixture()
        let awg = try TektronixAWG5200(transport: try fixture.transport(.loopback))
        var program = cpmgProgram(repeats: 3)
        program.steps[0].waitForTrigger = false
        program.steps[3].goTo = 1
        try awg.load(program)
        try awg.setOutput(2, enabled: true)
        try awg.setTrigger(.immediate, shots: 1)
        try awg.arm()
        #expect(try awg.runState() == .running)
        try awg.trigger()
        let play = try #require(fixture.bench.plays.first)
        #expect(play.program.channels.map(\.number) == [2])
        #expect(play.program.steps.map(\.goTo) == [nil, nil, nil, 1])
        #expect(play.program.samplesPerShot == nil)  // it loops back: runs until stopped
    }

    @Test("Without option SEQ one waveform per channel plays; a sequence is refused before sending")
    func withoutSequencing() throws {
        var fixture = AWGFixture(model: "AWG5202", options: [])
        let counter = ByteCounter()
        let awg = try TektronixAWG5200(transport: CountingTransport(try fixture.transport(.loopback), counter: counter))
        #expect(!awg.capabilities.canSequence && awg.capabilities.sampleRates.upperBound == 2.5e9)
        let sent = counter.bytes
        #expect(throws: InstrumentError.self) { try awg.load(cpmgProgram()) }
        #expect(counter.bytes == sent)
        let single = PulseProgram(
            sampleRate: .gigasamplesPerSecond(1), channels: [.init(number: 2, amplitude: .volts(0.5))],
            segments: [.init(name: "pulse", length: 2400, waveforms: [2: .pulses([.init(start: 0, length: 100, shape: .square, amplitude: 1)])])],
            steps: [.init(segment: "pulse")])
        try awg.load(single)
        try awg.setOutput(2, enabled: true)
        try awg.setTrigger(.bus, shots: 1)
        try awg.arm()
        try awg.trigger()
        let play = try #require(fixture.bench.plays.first)
        let samePlay = sortedMarkers(play.program) == played(single)
        #expect(samePlay)
    }

    /// Ways a program can exceed an AWG5204's limits, and a word of the error each gives.
    enum Excess: String, CaseIterable, Sendable {
        case memory = "waveform memory", rate = "sample rate", steps = "sequence steps", repeats
        case shortSegment = "minimum", amplitude, name = "segment name"

        func apply(_ p: inout PulseProgram) {
            switch self {
            case .memory: p.segments[1] = .init(name: "echo", length: 2_000_000_001, waveforms: [1: .pulses([])])
            case .rate: p.sampleRate = .gigasamplesPerSecond(6)
            case .steps: p.steps = Array(repeating: .init(segment: "half"), count: 16_384)
            case .repeats: p.steps[1].repeats = 1_048_577
            case .shortSegment: p.segments[0] = .init(name: "half", length: 2399)
            case .amplitude: p.channels[0].amplitude = .volts(0.8)
            case .name:
                p.segments[0].name = "ha\"lf"
                p.steps[0].segment = "ha\"lf"
                p.steps[2].segment = "ha\"lf"
            }
        }
    }

    @Test("Programs beyond the limits are typed errors before anything is sent", arguments: Excess.allCases)
    func clientSideLimits(excess: Excess) throws {
        var fixture = AWGFixture()
        let counter = ByteCounter()
        let awg = try TektronixAWG5200(transport: CountingTransport(try fixture.transport(.loopback), counter: counter))
        var program = cpmgProgram()
        excess.apply(&program)
        let sent = counter.bytes
        let error = try #require(throws: InstrumentError.self) { try awg.load(program) }
        guard case let .invalidArgument(reason) = error.kind else {
            Issue.record("expected an invalid argument, got \(error)")
            return
        }
        #expect(reason.contains(excess.rawValue), "\(reason)")
        #expect(counter.bytes == sent)
    }

    @Test("The twin refuses out-of-limit commands sent raw, with the SCPI error queued", arguments: [
        ("WLIS:WAV:NEW \"big\",2000000001", -225),
        ("WLIS:WAV:NEW \"big\",1000000000", -225),  // within the AWG's memory, beyond the emulator's budget
        ("WLIS:WAV:NEW \"w\",0", -222),
        ("SOUR:FREQ 6E9", -222),
        ("SOUR:FREQ 100", -222),
        ("CLOC:SRAT 5.1 GHz", -222),
        ("SOUR1:VOLT 2", -222),
        ("SOUR9:VOLT 0.5", -114),
        ("SLIS:SEQ:NEW \"s\",16384,1", -222),
        ("SLIS:SEQ:NEW \"s\",10,9", -222),
        ("SLIS:SEQ:NEW \"s\",10,1;:SLIS:SEQ:STEP1:RCO \"s\",1048577", -222),
        ("SLIS:SEQ:NEW \"s\",10,1;:SLIS:SEQ:STEP11:WINP \"s\",ATR", -222),
        ("SLIS:SEQ:NEW \"s\",1,1;:SLIS:SEQ:STEP1:GOTO \"s\",2", -222),
        ("SLIS:SEQ:NEW \"s\",1,1;:SLIS:SEQ:STEP1:WINP \"s\",CTR", -224),
        ("SLIS:SEQ:STEP1:RCO \"nope\",5", -224),
        ("SOUR1:CASS:WAV \"nope\"", -224),
        ("SOUR1:CASS:SEQ \"nope\",1", -224),
        ("WLIS:WAV:NEW \"w\",100;:SLIS:SEQ:NEW \"s\",1,1;:SLIS:SEQ:STEP1:TASS1:WAV \"s\",\"w\"", -222),
        ("WLIS:WAV:NEW \"w\",3000;:WLIS:WAV:DATA \"w\",0,2,#14abcd", -161),
        ("WLIS:WAV:NEW \"w\",3000;:WLIS:WAV:DATA \"w\",2999,2,#18abcdefgh", -222),
        ("WLIS:WAV:NEW \"w\",3000;:WLIS:WAV:NEW \"w\",3000", -224),
        ("WLIS:WAV:NEW w,3000", -104),
        ("WLIS:WAV:DEL \"nope\"", -224),
        ("OUTP1 MAYBE", -224),
        ("AWGC:RUN 1", -108),
        ("SOUR1:VOLT", -109),
        ("FOO:BAR 1", -113),
    ])
    func twinRefuses(command: String, code: Int) throws {
        var fixture = AWGFixture()
        let session = SCPISession(transport: try fixture.transport(.loopback), instrument: "raw AWG")
        try session.write(command)
        let errors = try session.drainErrors(query: "SYST:ERR?")
        #expect(errors.map(\.code) == [code], "\(errors)")
        try session.waitForOperationComplete()
    }

    @Test("Steps up to 16,383 are addressed; counts beyond an Int are refused, not trapped")
    func largeNumbers() throws {
        var fixture = AWGFixture()
        let session = SCPISession(transport: try fixture.transport(.loopback), instrument: "raw AWG")
        try session.write("SLIS:SEQ:NEW \"s\",16383,1;:SLIS:SEQ:STEP16383:RCO \"s\",INF;:SLIS:SEQ:STEP12000:RCO \"s\",7")
        #expect(try session.query("SLIS:SEQ:STEP16383:RCO? \"s\"") == "INF")
        #expect(try session.query("SLIS:SEQ:STEP12000:RCO? \"s\"") == "7")
        #expect(try session.query("SLIS:SEQ:LENG? \"s\"") == "16383")
        try session.write("SLIS:SEQ:STEP16384:RCO \"s\",2")
        try session.write("WLIS:WAV:NEW \"x\",9223372036854775808;:WLIS:WAV:NEW \"y\",1E300")
        #expect(try session.drainErrors().map(\.code) == [-222, -222, -222])
    }

    @Test("Running a sequence with a missing track or mixed lengths is a settings conflict, and nothing plays")
    func runConflicts() throws {
        var fixture = AWGFixture()
        let session = SCPISession(transport: try fixture.transport(.loopback), instrument: "raw AWG")
        for command in [
            "WLIS:WAV:NEW \"a\",2400", "WLIS:WAV:NEW \"b\",2500", "SLIS:SEQ:NEW \"s\",1,2",
            "SLIS:SEQ:STEP1:TASS1:WAV \"s\",\"a\"", "SOUR1:CASS:SEQ \"s\",1", "SOUR2:CASS:SEQ \"s\",2", "OUTP1 ON",
            "OUTP2 ON", "SOUR1:RMOD TRIG", "AWGC:RUN",
        ] { try session.write(command) }
        #expect(try session.drainErrors().map(\.code) == [-221])
        #expect(try session.query("AWGC:RST?") == "0")
        try session.write("SLIS:SEQ:STEP1:TASS2:WAV \"s\",\"b\";:AWGC:RUN")
        #expect(try session.drainErrors().map(\.code) == [-221])
        try session.write("WLIS:WAV:DEL \"b\";:WLIS:WAV:NEW \"b\",2400;:SLIS:SEQ:STEP1:TASS2:WAV \"s\",\"b\";:AWGC:RUN")
        #expect(try session.query("AWGC:RST?") == "1")
        try session.write("*TRG")
        #expect(try session.drainErrors().isEmpty)
        #expect(fixture.bench.plays.count == 1)
    }

    @Test("Malformed and random SCPI never crashes the twin; it keeps answering and its queue stays bounded")
    func fuzz() throws {
        let fixture = AWGFixture(storageBudget: 4 << 20)
        let session = fixture.twin.makeSession()
        var random = SplitMix64(seed: 5200)
        let seeds = [
            "WLIS:WAV:NEW \"w\",2400", "WLIS:WAV:DATA \"w\",0,1,#14\u{0}\u{0}\u{80}\u{7F}", "WLIS:WAV:MARK:DATA \"w\",#11\u{F}",
            "SLIS:SEQ:NEW \"s\",3,2", "SLIS:SEQ:STEP2:TASS1:WAV \"s\",\"w\"", "SLIS:SEQ:STEP1:RCO \"s\",INF",
            "SLIS:SEQ:STEP3:GOTO \"s\",FIRS", "SOUR1:CASS:SEQ \"s\",1", "OUTP1 ON", "AWGC:RUN", "*TRG", "TRIG:IMM",
            "SOUR1:RMOD TRIG", "SOUR:FREQ MAX", "WLIS:LIST?", "SYST:ERR?", "WLIS:WAV:DEL ALL", "SLIS:SEQ:DEL ALL",
            "SOUR2:VOLT 0.3", "*RST", "AWGC:RST?", "SLIS:SEQ:STEP1:WINP? \"s\"",
        ]
        for _ in 0..<3000 {
            var bytes = Array(seeds.randomElement(using: &random)!.utf8)
            switch Int.random(in: 0..<4, using: &random) {
            case 0:
                for _ in 0..<Int.random(in: 1...4, using: &random) where !bytes.isEmpty {
                    bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
                }
            case 1: bytes = bytes.prefix(Int.random(in: 0...bytes.count, using: &random)) + Array(#"#9""";,:"#.utf8).shuffled(using: &random)
            case 2: bytes = (0..<Int.random(in: 0...64, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            default: break
            }
            bytes.append(0x0A)
            let cut = Int.random(in: 0...bytes.count, using: &random)
            _ = session.receive(Array(bytes[..<cut]))
            _ = session.receive(Array(bytes[cut...]))
        }
        // A block header may have left this session waiting for its data, as on the real instrument; a new
        // connection to the same (fuzzed) instrument answers.
        let fresh = fixture.twin.makeSession()
        _ = fresh.receive(Array("*CLS\n".utf8))
        let reply = String(decoding: fresh.receive(Array("*IDN?\n".utf8)), as: UTF8.self)
        #expect(reply == "TEKTRONIX,AWG5204,B010101,FV:6.3.0080.0\n")
        #expect(fixture.twin.state.withLock { $0.stored } <= 4 << 20)
    }
}

