import HAL
import Quantities
import Testing

@testable import Drivers

@Suite struct OxfordTritonTests {
    @Test func stageTemperatureParsesTheUnitSuffix() throws {
        let script = Script([
            ("READ:DEV:T5:TEMP:SIG:TEMP\r\n", "STAT:DEV:T5:TEMP:SIG:TEMP:12.3mK\r\n"),
            ("READ:DEV:T5:TEMP:SIG:RES\r\n", "STAT:DEV:T5:TEMP:SIG:RES:1.5e+04Ohm\r\n"),
        ])
        let reading = try OxfordTriton(transport: ScriptedTransport(script)).temperature(of: .mixingChamber)
        #expect(reading.temperature == .kelvin(0.0123))
        #expect(reading.resistance == .ohms(15000))
    }

    @Test func notFoundAndInvalidAreRefusals() {
        for answer in ["NOT_FOUND", "INVALID"] {
            let script = Script([("READ:DEV:T9:TEMP:SIG:TEMP\r\n", "STAT:DEV:T9:TEMP:SIG:TEMP:\(answer)\r\n")])
            let triton = OxfordTriton(transport: ScriptedTransport(script))
            let error = #expect(throws: InstrumentError.self) { try triton.reading(channel: "T9") }
            #expect(error?.kind == .refused(answer))
            #expect(error?.command == "READ:DEV:T9:TEMP:SIG:TEMP")
        }
    }

    @Test(arguments: ["STAT:DEV:T5:TEMP:SIG:RES:1.0K", "0.0123K", "STAT:DEV:T5:TEMP:SIG:TEMP:0.0123", "STAT:DEV:T5:TEMP:SIG:TEMP:abcK"])
    func malformedRepliesAreUnexpected(reply: String) {
        let script = Script([("READ:DEV:T5:TEMP:SIG:TEMP\r\n", reply + "\r\n")])
        let error = #expect(throws: InstrumentError.self) {
            try OxfordTriton(transport: ScriptedTransport(script)).reading(channel: "T5")
        }
        #expect(error?.kind.isUnexpectedReply == true)
    }

    @Test func missingGaugesReadAsNoSensor() throws {
        let script = Script([
            ("READ:DEV:P1:PRES:SIG:PRES\r\n", "STAT:DEV:P1:PRES:SIG:PRES:1.5e-02mB\r\n"),
            ("READ:DEV:P2:PRES:SIG:PRES\r\n", "STAT:DEV:P2:PRES:SIG:PRES:NOT_FOUND\r\n"),
        ])
        let triton = OxfordTriton(transport: ScriptedTransport(script), gauges: ["P1", "P2"])
        let readings = try triton.pressures()
        #expect(readings[0].pressure == .millibar(0.015) && readings[0].status == .ok)
        #expect(readings[1].pressure == nil && readings[1].status == .noSensor)
    }

    @Test func loopSettingsMustBeValid() throws {
        let script = Script([
            ("SET:DEV:T5:TEMP:LOOP:TSET:0.1\r\n", "STAT:SET:DEV:T5:TEMP:LOOP:TSET:0.1:VALID\r\n"),
            ("SET:DEV:T5:TEMP:LOOP:MODE:ON\r\n", "STAT:SET:DEV:T5:TEMP:LOOP:MODE:ON:INVALID\r\n"),
            ("SET:DEV:T5:TEMP:LOOP:P:2\r\n", "STAT:SET:DEV:T5:TEMP:LOOP:I:2:VALID\r\n"),
        ])
        let triton = OxfordTriton(transport: ScriptedTransport(script))
        try triton.setLoopSetpoint(.millikelvin(100))
        let refused = #expect(throws: InstrumentError.self) { try triton.setLoopEnabled(true) }
        #expect(refused?.kind == .refused("INVALID"))
        let wrongEcho = #expect(throws: InstrumentError.self) {
            try triton.setLoopPID(PIDGains(proportional: 2, integral: 20, derivative: 0))
        }
        #expect(wrongEcho?.kind.isUnexpectedReply == true)
    }

    @Test func enterSafeStateTurnsTheLoopHeaterOff() throws {
        let script = Script([
            ("SET:DEV:T8:TEMP:LOOP:MODE:OFF\r\n", "STAT:SET:DEV:T8:TEMP:LOOP:MODE:OFF:VALID\r\n"),
            ("SET:DEV:T8:TEMP:LOOP:RANGE:0\r\n", "STAT:SET:DEV:T8:TEMP:LOOP:RANGE:0:VALID\r\n"),
        ])
        try OxfordTriton(transport: ScriptedTransport(script), loopChannel: "T8").enterSafeState()
        #expect(script.remaining == 0)
    }

    @Test(arguments: [
        ("PCL", nil, CirculationState.coolingDown), ("COND", nil, .condensing),
        ("NONE", "Circulating", .circulating), ("NONE", "Idle", .idle), ("XYZ", nil, .other("XYZ")),
    ] as [(String, String?, CirculationState)])
    func circulationState(action: String, status: String?, expected: CirculationState) throws {
        var steps: [(String, String?)] = [("READ:SYS:DR:ACTN\r\n", "STAT:SYS:DR:ACTN:\(action)\r\n")]
        if let status { steps.append(("READ:SYS:DR:STATUS\r\n", "STAT:SYS:DR:STATUS:\(status)\r\n")) }
        #expect(try OxfordTriton(transport: ScriptedTransport(Script(steps))).circulationState() == expected)
    }

    /// SCPI's 9.9E37 (infinity), 9.91E37 (NaN), overflowing unit products and out-of-range values are
    /// unexpected replies, never quantities (which would trap on a non-finite value).
    @Test(arguments: [
        ("DEV:T5:TEMP:SIG:TEMP", "9.9E37K"), ("DEV:T5:TEMP:SIG:TEMP", "9.91E37mK"), ("DEV:T5:TEMP:SIG:TEMP", "-1K"),
        ("DEV:T5:TEMP:SIG:RES", "1e303MOhm"), ("DEV:P1:PRES:SIG:PRES", "9.9E37mB"), ("DEV:P1:PRES:SIG:PRES", "1e306B"),
        ("DEV:T5:TEMP:LOOP:TSET", "9.91E37K"), ("DEV:T5:TEMP:LOOP:TSET", "1e300K"), ("DEV:T5:TEMP:LOOP:RANGE", "1e306A"),
        ("DEV:T5:TEMP:LOOP:RANGE", "9.9E37mA"), ("DEV:T5:TEMP:LOOP:P", "9.9E37"), ("DEV:T5:TEMP:LOOP:D", "1e300"),
        ("DEV:T5:TEMP:LOOP:RAMP:RATE", "9.91E37K/min"),
    ])
    func hostileNumbersAreUnexpectedReplies(path: String, value: String) {
        // The reads the call makes, in order: the one under test answers the hostile value, the others a sane one.
        let sane = ["DEV:T5:TEMP:SIG:TEMP": "0.01K", "DEV:T5:TEMP:SIG:RES": "1000Ohm", "DEV:T5:TEMP:LOOP:P": "10",
                    "DEV:T5:TEMP:LOOP:I": "10", "DEV:T5:TEMP:LOOP:D": "0", "DEV:T5:TEMP:LOOP:RAMP:ENAB": "ON"]
        let triton: OxfordTriton
        let call: () throws(InstrumentError) -> Void
        func driver(_ reads: [String]) -> OxfordTriton {
            let steps = reads.map { ("READ:\($0)\r\n", "STAT:\($0):\($0 == path ? value : sane[$0]!)\r\n") as (String, String?) }
            return OxfordTriton(transport: ScriptedTransport(Script(steps)), gauges: ["P1"])
        }
        switch path {
        case "DEV:P1:PRES:SIG:PRES":
            triton = driver([path])
            call = { () throws(InstrumentError) in _ = try triton.pressures() }
        case "DEV:T5:TEMP:LOOP:TSET":
            triton = driver([path])
            call = { () throws(InstrumentError) in _ = try triton.loopSetpoint() }
        case "DEV:T5:TEMP:LOOP:RANGE":
            triton = driver([path])
            call = { () throws(InstrumentError) in _ = try triton.loopHeaterRange() }
        case "DEV:T5:TEMP:LOOP:P", "DEV:T5:TEMP:LOOP:D":
            triton = driver(["DEV:T5:TEMP:LOOP:P", "DEV:T5:TEMP:LOOP:I", "DEV:T5:TEMP:LOOP:D"])
            call = { () throws(InstrumentError) in _ = try triton.loopPID() }
        case "DEV:T5:TEMP:LOOP:RAMP:RATE":
            triton = driver(["DEV:T5:TEMP:LOOP:RAMP:ENAB", path])
            call = { () throws(InstrumentError) in _ = try triton.loopRamp() }
        default:
            triton = driver(["DEV:T5:TEMP:SIG:TEMP", "DEV:T5:TEMP:SIG:RES"])
            call = { () throws(InstrumentError) in _ = try triton.reading(channel: "T5") }
        }
        let error = #expect(throws: InstrumentError.self) { try call() }
        #expect(error?.kind.isUnexpectedReply == true, "\(String(describing: error))")
        #expect(error?.command == "READ:\(path)")
    }

    /// Out-of-range settings, huge finite values included, are refused before anything is formatted or sent.
    @Test func outOfRangeLoopSettingsAreRefusedBeforeSending() {
        let script = Script([])
        let triton = OxfordTriton(transport: ScriptedTransport(script))
        let errors = [
            #expect(throws: InstrumentError.self) { try triton.setLoopSetpoint(.kelvin(-1)) },
            #expect(throws: InstrumentError.self) { try triton.setLoopSetpoint(.kelvin(1e300)) },
            #expect(throws: InstrumentError.self) { try triton.setLoopSetpoint(.kelvin(-1e300)) },
            #expect(throws: InstrumentError.self) { try triton.setLoopHeaterRange(.milliamperes(1e300)) },
            #expect(throws: InstrumentError.self) { try triton.setLoopHeaterRange(.milliamperes(-1)) },
            #expect(throws: InstrumentError.self) { try triton.setLoopRamp(SetpointRamp(enabled: true, kelvinPerMinute: 1e300)) },
            #expect(throws: InstrumentError.self) { try triton.setLoopRamp(SetpointRamp(enabled: true, kelvinPerMinute: .nan)) },
            #expect(throws: InstrumentError.self) {
                try triton.setLoopPID(PIDGains(proportional: 1e300, integral: 0, derivative: 0))
            },
            #expect(throws: InstrumentError.self) {
                try triton.setLoopPID(PIDGains(proportional: 1, integral: .infinity, derivative: 0))
            },
        ]
        #expect(errors.allSatisfy { $0?.kind.isInvalidArgument == true })
        #expect(script.sent.isEmpty)
    }

    @Test func identifyReadsTheColonSeparatedIdentity() throws {
        let script = Script([("*IDN?\r\n", "IDN:OXFORD INSTRUMENTS:TRITON:T-17:2.1:b\r\n")])
        let identity = try OxfordTriton(transport: ScriptedTransport(script)).identify()
        #expect(identity == InstrumentIdentity(manufacturer: "OXFORD INSTRUMENTS", model: "TRITON", serialNumber: "T-17", firmware: "2.1:b"))
    }
}
