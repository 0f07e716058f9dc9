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

    @Test func identifyReadsTheColonSeparatedIdentity() throws {
        let script = Script([("*IDN?\r\n", "IDN:OXFORD INSTRUMENTS:TRITON:T-17:2.1:b\r\n")])
        let identity = try OxfordTriton(transport: ScriptedTransport(script)).identify()
        #expect(identity == InstrumentIdentity(manufacturer: "OXFORD INSTRUMENTS", model: "TRITON", serialNumber: "T-17", firmware: "2.1:b"))
    }
}
