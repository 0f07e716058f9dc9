import HAL
import Quantities
import Testing

@testable import Drivers

@Suite struct LakeShore372Tests {
    @Test func readingIsOneCompoundRoundTrip() throws {
        let script = Script([("KRDG? 6;SRDG? 6;RDGST? 6\r\n", "+12.3000E-03;+4.56789E+03;000\r\n")])
        let bridge = LakeShore372(transport: ScriptedTransport(script))
        let reading = try bridge.reading(channel: "6")
        #expect(script.sent == ["KRDG? 6;SRDG? 6;RDGST? 6\r\n"])
        #expect(reading.temperature == .kelvin(0.0123))
        #expect(reading.resistance == .ohms(4567.89))
        #expect(reading.isValid)
    }

    @Test func anOpenSensorHasNoValuesAndItsStatusBits() throws {
        let script = Script([("KRDG? A;SRDG? A;RDGST? A\r\n", "+0.00000E+00;+0.00000E+00;144\r\n")])
        let reading = try LakeShore372(transport: ScriptedTransport(script)).reading(channel: "A")
        #expect(reading.temperature == nil && reading.resistance == nil)
        #expect(reading.status == [.resistanceOverRange, .temperatureUnderRange])
    }

    @Test(arguments: [
        "+1.0E+00;+2.0E+00",  // a field missing
        "+1.0E+00;+2.0E+00;5.0",  // status not an integer
        "+1.0E+00;+2.0E+00;256",  // status beyond eight bits
        "+1.0E+00;garbage;0",
    ])
    func malformedReadingsAreUnexpectedReplies(reply: String) {
        let script = Script([("KRDG? 1;SRDG? 1;RDGST? 1\r\n", reply + "\r\n")])
        let error = #expect(throws: InstrumentError.self) {
            try LakeShore372(transport: ScriptedTransport(script)).reading(channel: "1")
        }
        #expect(error?.kind.isUnexpectedReply == true)
        #expect(error?.command == "KRDG? 1;SRDG? 1;RDGST? 1")
    }

    @Test func badArgumentsAreRefusedBeforeSending() {
        let script = Script([])
        let bridge = LakeShore372(transport: ScriptedTransport(script))
        let errors = [
            #expect(throws: InstrumentError.self) { try bridge.reading(channel: "17") },
            #expect(throws: InstrumentError.self) { try bridge.setHeaterRange(9, for: 0) },
            #expect(throws: InstrumentError.self) { try bridge.setHeaterRange(2, for: 1) },
            #expect(throws: InstrumentError.self) { try bridge.setSetpoint(.kelvin(-0.1), for: 0) },
            #expect(throws: InstrumentError.self) {
                try bridge.setPID(PIDGains(proportional: 2000, integral: 0, derivative: 0), for: 0)
            },
            #expect(throws: InstrumentError.self) { try bridge.setScanner(ScannerState(channel: "A", autoscan: false)) },
            #expect(throws: InstrumentError.self) { try bridge.setName("a name that is far too long", of: "1") },
            #expect(throws: InstrumentError.self) { try bridge.setpoint(for: 3) },
        ]
        #expect(errors.allSatisfy { $0?.kind.isInvalidArgument == true })
        #expect(script.sent.isEmpty)
    }

    /// Non-finite or huge settings are refused before they are formatted (which would trap) or sent.
    @Test func hugeAndNonFiniteSettingsAreRefusedBeforeSending() {
        let script = Script([])
        let bridge = LakeShore372(transport: ScriptedTransport(script))
        let errors = [
            #expect(throws: InstrumentError.self) { try bridge.setTemperatureLimit(.kelvin(1e300), for: "6") },
            #expect(throws: InstrumentError.self) { try bridge.setSetpoint(.kelvin(1e300), for: 0) },
            #expect(throws: InstrumentError.self) { try bridge.setSetpoint(.kelvin(-1e300), for: 0) },
            #expect(throws: InstrumentError.self) {
                try bridge.setHeaterSetup(.init(resistance: .ohms(1e300), maximumCurrent: nil, displaysPower: false), for: 0)
            },
            #expect(throws: InstrumentError.self) {
                try bridge.setHeaterSetup(.init(resistance: .ohms(25), maximumCurrent: .amperes(1e300), displaysPower: false), for: 1)
            },
            #expect(throws: InstrumentError.self) {
                try bridge.setPID(PIDGains(proportional: .nan, integral: 0, derivative: 0), for: 0)
            },
            #expect(throws: InstrumentError.self) {
                try bridge.setPID(PIDGains(proportional: 1, integral: .infinity, derivative: 0), for: 0)
            },
            #expect(throws: InstrumentError.self) {
                try bridge.setPID(PIDGains(proportional: 1, integral: 0, derivative: 1e300), for: 0)
            },
            #expect(throws: InstrumentError.self) { try bridge.setRamp(SetpointRamp(enabled: true, kelvinPerMinute: 1e300), for: 0) },
            #expect(throws: InstrumentError.self) { try bridge.setRamp(SetpointRamp(enabled: true, kelvinPerMinute: .nan), for: 0) },
            #expect(throws: InstrumentError.self) { try bridge.setStillOutputPercent(.nan) },
            #expect(throws: InstrumentError.self) { try bridge.setStillOutputPercent(1e300) },
        ]
        #expect(errors.allSatisfy { $0?.kind.isInvalidArgument == true })
        #expect(script.sent.isEmpty)
    }

    /// Replies a getter turns into a quantity, an index or a value the setter re-sends must be finite and in range.
    @Test(arguments: [
        ("PID? 0", "+9.9E37,+20.0,+0.0"), ("PID? 0", "+10,+9.91E37,+0.0"), ("PID? 0", "+10,+20,+1e300"),
        ("RAMP? 0", "1,+9.91E37"), ("RAMP? 0", "1,+1e300"), ("SETP? 0", "+9.9E37"), ("SETP? 0", "+1E+300"),
        ("TLIMIT? 6", "+9.9E37"), ("TLIMIT? 6", "+1E+300"), ("HTRSET? 1", "2,0,+1e300,1"),
        ("INTYPE? 6", "1,99,2,07,1,2"), ("INTYPE? 6", "1,03,2,-7,1,2"), ("INSET? A;INNAME? A", "1,9999999,003,00,1;\"A\""),
        ("INSET? A;INNAME? A", "1,007,003,99,1;\"A\""),
    ])
    func hostileGetterRepliesAreUnexpected(command: String, reply: String) {
        let script = Script([(command + "\r\n", reply + "\r\n")])
        let bridge = LakeShore372(transport: ScriptedTransport(script))
        let error = #expect(throws: InstrumentError.self) {
            switch command {
            case "PID? 0": _ = try bridge.pid(for: 0)
            case "RAMP? 0": _ = try bridge.ramp(for: 0)
            case "SETP? 0": _ = try bridge.setpoint(for: 0)
            case "TLIMIT? 6": _ = try bridge.temperatureLimit(for: "6")
            case "HTRSET? 1": _ = try bridge.heaterSetup(for: 1)
            case "INTYPE? 6": _ = try bridge.inputType(channel: "6")
            default: _ = try bridge.channels()
            }
        }
        #expect(error?.kind.isUnexpectedReply == true, "\(String(describing: error))")
        #expect(error?.command == command)
    }

    @Test func setHeaterModeKeepsTheFieldsItDoesNotChange() throws {
        let script = Script([
            ("OUTMODE? 0\r\n", "2,6,1,0,1,10\r\n"),
            ("OUTMODE 0,5,A,1,0,1,10\r\n", nil),
        ])
        let bridge = LakeShore372(transport: ScriptedTransport(script))
        try bridge.setHeaterMode(.closedLoop, input: "A", for: 0)
        #expect(script.remaining == 0)
        #expect(script.sent.count == 2)
    }

    @Test func outputModeParsesTheControlInput() throws {
        let script = Script([("OUTMODE? 2\r\n", "4,A,0,1,0,0\r\n")])
        let mode = try LakeShore372(transport: ScriptedTransport(script)).outputMode(for: 2)
        #expect(mode == .init(mode: .still, input: "A", powerUpEnabled: false, bipolar: true, filtered: false, delay: 0))
    }

    @Test func commandsHaveTheManualsForm() throws {
        let script = Script([
            ("SETP 0,0.05\r\n", nil), ("PID 0,10,20,0\r\n", nil), ("RAMP 0,1,0.5\r\n", nil), ("RANGE 0,5\r\n", nil),
            ("SCAN 6,0\r\n", nil), ("INNAME 6,\"MXC\"\r\n", nil), ("TLIMIT 6,1.5\r\n", nil), ("STILL 62.5\r\n", nil),
            ("INTYPE 6,0,5,1,12,0,1\r\n", nil),
            ("HTRSET 0,120,0,0,2\r\n", nil), ("HTRSET 1,2,1,0,1\r\n", nil),
        ])
        let bridge = LakeShore372(transport: ScriptedTransport(script))
        try bridge.setSetpoint(.millikelvin(50), for: 0)
        try bridge.setPID(PIDGains(proportional: 10, integral: 20, derivative: 0), for: 0)
        try bridge.setRamp(SetpointRamp(enabled: true, kelvinPerMinute: 0.5), for: 0)
        try bridge.setHeaterRange(5, for: 0)
        try bridge.setScanner(ScannerState(channel: "6", autoscan: false))
        try bridge.setName("MXC", of: "6")
        try bridge.setTemperatureLimit(.kelvin(1.5), for: "6")
        try bridge.setStillOutputPercent(62.5)
        try bridge.setInputType(
            .init(excitationMode: .voltage, excitationRange: 5, autorange: .on, resistanceRange: 12,
                  currentSourceShunted: false, units: .kelvin), channel: "6")
        try bridge.setHeaterSetup(.init(resistance: .ohms(120), maximumCurrent: nil, displaysPower: true), for: 0)
        try bridge.setHeaterSetup(.init(resistance: .ohms(50), maximumCurrent: .amperes(0.45), displaysPower: false), for: 1)
        #expect(script.remaining == 0, "sent: \(script.sent)")
    }

    /// Range 5 is 3.16 mA full scale: 12.5 % of it in 100 Ω is (0.395 mA)² × 100 Ω = 15.6 µW. A malformed
    /// or negative HTR? is an error that names the compound command.
    @Test func sampleHeaterPowerFromPercentOfCurrent() throws {
        let script = Script([
            ("HTRSET? 0;RANGE? 0;HTR?\r\n", "+100.000,0,+000.000,1;5;+12.500\r\n"),
            ("HTRSET? 0;RANGE? 0;HTR?\r\n", "+100.000,0,+000.000,2;5;-00.001\r\n"),
            ("HTRSET? 0;RANGE? 0;HTR?\r\n", "+100.000,0,+000.000,1;5;twelve\r\n"),
        ])
        let bridge = LakeShore372(transport: ScriptedTransport(script))
        let amperes = 0.125 * 3.16e-3
        #expect(abs(try bridge.heaterPowerWatts(for: 0) - amperes * amperes * 100) < 1e-15)
        for _ in 0..<2 {
            #expect { try bridge.heaterPowerWatts(for: 0) } throws: { error in
                "\(error)".contains("HTRSET? 0;RANGE? 0;HTR?")
            }
        }
        #expect(script.remaining == 0)
    }

    @Test func queriesParseTheirReplies() throws {
        let script = Script([
            ("SCAN?\r\n", "06,1\r\n"), ("INTYPE? 6\r\n", "1,03,2,07,1,2\r\n"), ("PID? 0\r\n", "+10.000,+20.0,+0.0\r\n"),
            ("RAMP? 0\r\n", "1,+0.500\r\n"), ("RAMPST? 0\r\n", "0\r\n"), ("HTRSET? 0;RANGE? 0;HTR?\r\n", "+100.000,0,+000.000,1;5;+12.500\r\n"),
            ("AOUT? 2\r\n", "+49.000\r\n"), ("RANGE? 0\r\n", "5\r\n"), ("SETP? 0\r\n", "+50.0000E-03\r\n"),
            ("HTRSET? 1\r\n", "2,0,+001.200,1\r\n"), ("INSET? A;INNAME? A\r\n", "1,007,003,00,1;\"Control\"\r\n"),
        ])
        let bridge = LakeShore372(transport: ScriptedTransport(script))
        #expect(try bridge.scanner() == ScannerState(channel: "6", autoscan: true))
        #expect(try bridge.inputType(channel: "6") == .init(
            excitationMode: .current, excitationRange: 3, autorange: .rox102B, resistanceRange: 7,
            currentSourceShunted: true, units: .ohms))
        #expect(try bridge.pid(for: 0) == PIDGains(proportional: 10, integral: 20, derivative: 0))
        #expect(try bridge.ramp(for: 0) == SetpointRamp(enabled: true, kelvinPerMinute: 0.5))
        #expect(try bridge.isRamping(output: 0) == false)
        #expect(try bridge.heaterOutputPercent(for: 0) == 12.5)
        #expect(try bridge.heaterOutputPercent(for: 2) == 49)
        #expect(try bridge.heaterRange(for: 0) == 5)
        #expect(try bridge.setpoint(for: 0) == .kelvin(0.05))
        #expect(try bridge.heaterSetup(for: 1) == .init(resistance: .ohms(50), maximumCurrent: .amperes(1.2), displaysPower: false))
        #expect(script.remaining == 1)
    }

    @Test func errorQueueDecodesTheEventRegister() throws {
        let script = Script([("*ESR?\r\n", "48\r\n"), ("*ESR?\r\n", "0\r\n")])
        let bridge = LakeShore372(transport: ScriptedTransport(script))
        #expect(try bridge.errorQueue().map(\.code) == [-100, -200])
        #expect(try bridge.errorQueue().isEmpty)
    }

    @Test func identifyInsistsOnAModel372() throws {
        let script = Script([("*IDN?\r\n", "LSCI,MODEL372,LSA2B3C,1.6\r\n"), ("*IDN?\r\n", "LSCI,MODEL336,X,1\r\n")])
        let bridge = LakeShore372(transport: ScriptedTransport(script))
        #expect(try bridge.identify().serialNumber == "LSA2B3C")
        let error = #expect(throws: InstrumentError.self) { try bridge.identify() }
        #expect(error?.kind.isUnexpectedReply == true)
    }

    @Test func noReplyIsATimeoutNamingTheCommand() {
        let bridge = LakeShore372(transport: ScriptedTransport(Script([])), timeout: .milliseconds(20))
        let error = #expect(throws: InstrumentError.self) { try bridge.heaterRange(for: 0) }
        #expect(error?.kind.isTimeout == true)
        #expect(error?.command == "RANGE? 0")
    }
}
