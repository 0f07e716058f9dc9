import HAL
import Quantities
import Testing

@testable import Drivers

@Suite("Tektronix AWG5200 driver: identification, wire format, refusals, hostile replies")
struct TektronixAWG5200Tests {
    static func script(_ model: String, _ options: String, _ more: [(String, String?)] = []) -> Script {
        Script([("*IDN?\n", "TEKTRONIX,\(model),B010101,FV:6.3.0080.0\n"), ("*OPT?\n", options + "\n")] + more)
    }

    @Test("Model and options give the limits", arguments: [
        ("AWG5202", "50,SEQ", 2, 5e9, 16_383), ("AWG5204", "SEQ", 4, 2.5e9, 16_383), ("AWG5208", "0", 8, 2.5e9, 1),
        ("AWG5208", "25", 8, 2.5e9, 1),
    ])
    func capabilities(model: String, options: String, channels: Int, rate: Double, steps: Int) throws {
        let awg = try TektronixAWG5200(transport: ScriptedTransport(Self.script(model, options)))
        #expect(awg.capabilities.channels == channels)
        #expect(awg.capabilities.sampleRates == 298...rate)
        #expect(awg.capabilities.maximumSteps == steps)
        #expect(awg.capabilities.memorySamples == 2_000_000_000 && awg.capabilities.markersPerChannel == 4)
    }

    @Test("Another instrument, or a garbled identity, is refused at connection", arguments: [
        "TEKTRONIX,AWG70002A,B1,FV:5.3", "KEYSIGHT,AWG5204,1,2", "TEKTRONIX,AWG5204", "TEKTRONIX,AWG5299,1,2",
    ])
    func refusesOtherModels(identity: String) {
        let script = Script([("*IDN?\n", identity + "\n"), ("*OPT?\n", "SEQ\n")])
        #expect(throws: InstrumentError.self) { try TektronixAWG5200(transport: ScriptedTransport(script), timeout: .milliseconds(50)) }
    }

    static let program = PulseProgram(
        sampleRate: .gigasamplesPerSecond(1.2),
        channels: [.init(number: 3, amplitude: .volts(0.25))],
        segments: [
            .init(name: "x", length: 2400, waveforms: [3: .samples([Float](repeating: 0.5, count: 2400))],
                  markers: [.init(channel: 3, number: 2, start: 1, length: 2)]),
            .init(name: "wait", length: 4800),
        ],
        steps: [.init(segment: "x", waitForTrigger: true), .init(segment: "wait", repeats: 100_000, goTo: 0)])

    @Test("Load sends the waveform list, the sequence and the amplitudes as the AWG5200 reads them")
    func wireFormat() throws {
        let script = Self.script("AWG5204", "50,SEQ", [("*OPC?\n", "1\n"), ("SYST:ERR?\n", "0,\"No error\"\n")])
        let awg = try TektronixAWG5200(transport: ScriptedTransport(script))
        try awg.load(Self.program)
        #expect(script.remaining == 0)
        let sent = script.sent
        let half: [UInt8] = [0x00, 0x00, 0x00, 0x3F]  // 0.5 as float32 little-endian
        let data = Array("WLIS:WAV:DATA \"x_ch3\",0,2400,#49600".utf8) + (0..<2400).flatMap { _ in half } + [0x0A]
        #expect(sent.contains(String(decoding: data, as: UTF8.self)))
        let markers = Array("WLIS:WAV:MARK:DATA \"x_ch3\",0,2400,#42400".utf8) + [0, 2, 2] + [UInt8](repeating: 0, count: 2397) + [0x0A]
        #expect(sent.contains(String(decoding: markers, as: UTF8.self)))
        for command in [
            "SOUR:FREQ 1200000000", "WLIS:WAV:NEW \"x_ch3\",2400", "WLIS:WAV:NEW \"wait_ch3\",4800",
            "SLIS:SEQ:NEW \"qrrm\",2,1", "SLIS:SEQ:STEP1:TASS1:WAV \"qrrm\",\"x_ch3\"", "SLIS:SEQ:STEP1:WINP \"qrrm\",ATR",
            "SLIS:SEQ:STEP1:GOTO \"qrrm\",NEXT", "SLIS:SEQ:STEP2:RCO \"qrrm\",100000", "SLIS:SEQ:STEP2:GOTO \"qrrm\",1",
            "SOUR3:CASS:SEQ \"qrrm\",1", "SOUR3:VOLT 0.5",
        ] {
            #expect(sent.contains(command + "\n"), "\(command)")
        }
        #expect(!sent.contains { $0.hasPrefix("WLIS:WAV:DATA \"wait_ch3\"") })
    }

    @Test("Errors the AWG queued during a load throw .refused with its text")
    func refusedLoad() throws {
        let script = Self.script("AWG5204", "50,SEQ", [
            ("*OPC?\n", "1\n"), ("SYST:ERR?\n", "-225,\"Out of memory\"\n"), ("SYST:ERR?\n", "0,\"No error\"\n"),
        ])
        let awg = try TektronixAWG5200(transport: ScriptedTransport(script))
        let error = try #require(throws: InstrumentError.self) { try awg.load(Self.program) }
        #expect(error.kind == .refused("-225, \"Out of memory\""))
    }

    @Test("Arming times out when the AWG stays stopped; shots other than 1 and unknown channels are refused")
    func armAndArguments() throws {
        let script = Self.script("AWG5202", "SEQ", Array(repeating: ("AWGC:RST?\n", "0\n"), count: 1000))
        let awg = try TektronixAWG5200(transport: ScriptedTransport(script), armTimeout: .milliseconds(30))
        let error = try #require(throws: InstrumentError.self) { try awg.arm() }
        guard case .transport(let transport) = error.kind else {
            Issue.record("expected a timeout, got \(error)")
            return
        }
        #expect(transport.kind == .timeout)
        #expect(throws: InstrumentError.self) { try awg.setTrigger(.bus, shots: 10) }
        #expect(throws: InstrumentError.self) { try awg.setOutput(3, enabled: true) }
    }

    @Test("Hostile replies never crash the driver")
    func hostileReplies() {
        func transport(_ seed: UInt64) -> FuzzTransport {
            FuzzTransport(seed: seed, terminator: "\n") { command, _, random -> String? in
            guard command.contains("?") || Int.random(in: 0..<8, using: &random) == 0 else { return nil }
            switch command {
            case "*IDN?":
                return ["TEKTRONIX,AWG5204,B1,FV:1", "TEKTRONIX,AWG5208,B1,FV:1", Hostile.fields(4, &random)].randomElement(using: &random)!
            case "*OPT?": return ["50,SEQ", "SEQ", "0", "", Hostile.fields(2, &random)].randomElement(using: &random)!
            case "SYST:ERR?": return ["0,\"No error\"", "-225,\"Out of memory\"", "1,\"x", Hostile.fields(2, &random)].randomElement(using: &random)!
            case "WLIS:LIST?": return ["\"a,b\"", "\"\"", "\"", "a,b", Hostile.number(&random)].randomElement(using: &random)!
            default: return Hostile.number(&random)
            }
            }
        }
        var awg: TektronixAWG5200?
        for seed in 5200..<5400 where awg == nil {
            awg = try? TektronixAWG5200(transport: transport(UInt64(seed)), timeout: .milliseconds(1), armTimeout: .milliseconds(1))
        }
        guard let awg else {
            Issue.record("never connected")
            return
        }
        let small = PulseProgram(
            sampleRate: .gigasamplesPerSecond(1), channels: [.init(number: 1, amplitude: .volts(0.1))],
            segments: [.init(name: "s", length: 2400)], steps: [.init(segment: "s", repeats: 3)])
        let r = DriverFuzzTests.RandomBox(seed: 52)
        let calls: [DriverFuzzTests.Call] = [
            { _ = try awg.identify() },
            { _ = try awg.errorQueue() },
            { _ = try awg.runState() },
            { try awg.arm() },
            { _ = try awg.waveformNames() },
            { _ = try awg.waveformCount() },
            { try awg.load(small) },
            { try awg.setTrigger([.bus, .immediate, .external(risingEdge: false)].randomElement(using: &r.generator)!, shots: 1) },
        ]
        let outcome = DriverFuzzTests.run(calls, r)
        #expect(outcome.successes > 0 && outcome.errors > 0, "\(outcome)")
    }
}
