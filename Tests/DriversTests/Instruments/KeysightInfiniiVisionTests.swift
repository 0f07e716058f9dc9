import HAL
import Testing

@testable import Drivers

@Suite("Keysight InfiniiVision driver: replies") struct KeysightInfiniiVisionDriverTests {
    static let instrument = "Keysight InfiniiVision at LOOPBACK::scripted"
    static let valid = "+1,+0,+2000,+1,+1.00000000E-09,+0.00000000E+00,+0,+1.22070312E-05,+0.00000000E+00,+32768"

    static let configuration = KeysightInfiniiVision.Configuration(
        tones: [KeysightInfiniiVision.Tone(frequency: 25e6)], windowLength: 2e-6)

    @Test("A preamble's ten fields parse into the conversion the Programmer's Guide gives")
    func parsesPreamble() throws {
        let p = try KeysightInfiniiVision.preamble(Self.valid, command: ":WAV:PRE?", instrument: Self.instrument)
        #expect(p.format == .word && p.type == 0 && p.points == 2000 && p.count == 1)
        #expect(p.xIncrement == 1e-9 && p.xOrigin == 0 && p.xReference == 0)
        #expect(p.yIncrement == 1.22070312e-5 && p.yOrigin == 0 && p.yReference == 32768)
        #expect(p.time(10) == 10e-9)
        let byte = try KeysightInfiniiVision.preamble(
            "0,0,62500,1,8.0E-10,-2.5E-05,0,7.87402E-03,0.0,128", command: ":WAV:PRE?", instrument: Self.instrument)
        #expect(byte.format == .byte && byte.xOrigin == -2.5e-5 && byte.yReference == 128)
    }

    @Test("Malformed preambles are typed errors naming the command", arguments: [
        "", "+1,+0,+2000", valid + ",+0", "+4,+0,+2000,+1,1E-9,0,+0,1E-5,0,+32768", "+1,+0,+0,+1,1E-9,0,+0,1E-5,0,+32768",
        "+1,+0,+2000,+1,0,0,+0,1E-5,0,+32768", "+1,+0,+2000,+1,9.91E37,0,+0,1E-5,0,+32768",
        "+1,+0,+2000,+1,9.9E37,0,+0,1E-5,0,+32768", "+1,+0,+2000,+1,1E-9,0,+0,-1E-5,0,+32768",
        "+1,+0,+2000,+1,1E-9,0,+0,1E-5,0,+99999", "+1,+0,2000.0,+1,1E-9,0,+0,1E-5,0,+32768",
        "+1,+0,+2000,+1,1E-9,1e400,+0,1E-5,0,+32768", "a,b,c,d,e,f,g,h,i,j", "+1,+0,+99999999999,+1,1E-9,0,+0,1E-5,0,+1",
        "+1,+7,+2000,+1,1E-9,0,+0,1E-5,0,+32768", "\"+1,+0\",+2000,+1,1E-9,0,+0,1E-5,0,+32768,+1,+2",
        "+1,+0,+2000,+1,1E-9,0,-1,1E-5,0,+32768", "+1,+0,+2000,+1,1E-9,NaN,+0,1E-5,0,+32768",
    ])
    func rejectsMalformedPreambles(reply: String) {
        let error = #expect(throws: InstrumentError.self) {
            try KeysightInfiniiVision.preamble(reply, command: ":WAV:PRE?", instrument: Self.instrument)
        }
        #expect(error?.command == ":WAV:PRE?")
        #expect(error?.kind.isUnexpectedReply == true)
    }

    @Test("Fetching before configuring is refused before anything is sent")
    func fetchNeedsConfiguration() {
        let script = Script([])
        let scope = KeysightInfiniiVision(transport: ScriptedTransport(script), configuration: Self.configuration)
        let error = #expect(throws: InstrumentError.self) { try scope.fetch(timeout: .milliseconds(10)) }
        #expect(error?.kind.isInvalidArgument == true)
        #expect(script.sent.isEmpty)
    }

    @Test("A scope that refuses a setting makes configure throw its error-queue entries")
    func configureReportsRefusals() {
        let steps: [(String, String?)] =
            [(":SYST:ERR?\n", "+0,\"No error\"\n")]
            + [
                ":STOP", ":ACQ:TYPE NORM", ":ACQ:MODE SEGM", ":ACQ:SEGM:COUN 100", ":TIM:REF LEFT", ":TIM:RANG 0.000002",
                ":CHAN1:RANG 0.8", ":CHAN1:OFFS 0", ":TRIG:MODE EDGE", ":TRIG:SWE NORM", ":TRIG:EDGE:SOUR EXTernal",
                ":TRIG:EDGE:LEV 0.5", ":WAV:SOUR CHAN1", ":WAV:FORM WORD", ":WAV:BYT LSBF", ":WAV:UNS ON", ":WAV:POIN:MODE RAW",
                ":WAV:POIN MAX",
            ].map { ($0 + "\n", nil) }
            + [(":SYST:ERR?\n", "-222,\"Data out of range\"\n"), (":SYST:ERR?\n", "+0,\"No error\"\n")]
        let script = Script(steps)
        let scope = KeysightInfiniiVision(transport: ScriptedTransport(script), configuration: Self.configuration)
        let error = #expect(throws: InstrumentError.self) { try scope.configure(AcquisitionSettings(shots: 100)) }
        #expect(error?.kind == .refused("-222, \"Data out of range\""), "\(String(describing: error))")
        #expect(script.remaining == 0)
    }

    /// Hostile replies to every command the driver sends: it returns shots or throws `InstrumentError`, never traps.
    @Test func hostileRepliesNeverCrashTheDriver() {
        let transport = FuzzTransport(seed: 41, terminator: "\n") { command, _, random in
            switch command {
            case "*IDN?": return ["KEYSIGHT TECHNOLOGIES,DSOX3034T,MY1,07.50", "KEYSIGHT,,1,2", "LSCI,MODEL372,1,1"].randomElement(using: &random)
            case ":SYST:ERR?": return Int.random(in: 0..<4, using: &random) == 0 ? "-113,\"Undefined header\"" : "+0,\"No error\""
            case ":WAV:PRE?":
                return Int.random(in: 0..<3, using: &random) == 0
                    ? Hostile.fields(10, &random)
                    : "+\(Int.random(in: 0...1, using: &random)),+0,+\(Int.random(in: 1...3000, using: &random)),+1,+1.0E-09,"
                        + "\(Hostile.number(&random)),+0,+1.0E-05,+0.0,+\(Int.random(in: 0...40000, using: &random))"
            case let data where data.hasSuffix(":WAV:DATA?"):
                let length = Int.random(in: 0...8000, using: &random)
                let announced = Int.random(in: 0..<4, using: &random) == 0 ? Int.random(in: 0...9000, using: &random) : length
                let digits = String(announced)
                let body = String((0..<length).map { _ in Character(UnicodeScalar(UInt8.random(in: 0x20...0x7E, using: &random))) })
                return "#\(digits.count)\(digits)" + body
            case ":ADER?;:AER?": return ["+0;+0", "+1;+1", "+0", Hostile.number(&random)].randomElement(using: &random)
            case ":OPER:COND?", ":ADER?", ":AER?", ":WAV:SEGM:COUN?", ":ACQ:SRAT?":
                return Int.random(in: 0..<3, using: &random) == 0 ? Hostile.number(&random) : ["+0", "+1", "+8", "+2", "+5.0E+09"].randomElement(using: &random)
            default: return command.hasSuffix("?") ? Hostile.number(&random) : nil
            }
        }
        let scope = KeysightInfiniiVision(transport: transport, configuration: Self.configuration, timeout: .milliseconds(5))
        let random = DriverFuzzTests.RandomBox(seed: 41)
        let calls: [DriverFuzzTests.Call] = [
            { _ = try scope.identify() }, { _ = try scope.errorQueue() }, { _ = try scope.segmentCount() },
            { _ = try scope.isRunning() }, { try scope.configure(AcquisitionSettings(shots: Int.random(in: 1...3, using: &random.generator))) },
            { try scope.arm() }, { _ = try scope.fetchAll(timeout: .milliseconds(2)) },
        ]
        let (successes, errors) = DriverFuzzTests.run(calls, random)
        #expect(successes > 0 && errors > 0)
    }
}
