import HAL
import Quantities
import Testing

@testable import Drivers

@Suite struct LakeShoreF71Tests {
    @Test func fieldIsConvertedFromTheInstrumentsUnit() throws {
        let script = Script([("UNIT:FIELD?;FETC:DC? ALL\n", "GAUSS;1.000000E+00,-2.000000E+00,2.000000E+00\r\n")])
        let readings = try LakeShoreF71(transport: ScriptedTransport(script)).read()
        #expect(readings.map(\.channel.name) == ["magnetic field x", "magnetic field y", "magnetic field z", "magnetic field magnitude"])
        let values = readings.map { $0.value! }
        #expect(abs(values[0] - 1e-4) < 1e-12 && abs(values[1] + 2e-4) < 1e-12 && abs(values[3] - 3e-4) < 1e-12)
    }

    @Test(arguments: ["TESLA;1.0,2.0", "FURLONG;1,2,3", "TESLA;1,2,x", "1,2,3"])
    func malformedFieldRepliesAreUnexpected(reply: String) {
        let script = Script([("UNIT:FIELD?;FETC:DC? ALL\n", reply + "\r\n")])
        let error = #expect(throws: InstrumentError.self) { try LakeShoreF71(transport: ScriptedTransport(script)).read() }
        #expect(error?.kind.isUnexpectedReply == true)
    }

    /// Fields beyond any probe's range (or infinite) are unexpected, so the magnitude stays finite too.
    @Test(arguments: ["TESLA;1e300,0,0", "GAUSS;0,9.9E37,0", "AM;0,0,9.91E37", "TESLA;1e200,1e200,1e200"])
    func hugeFieldsAreUnexpected(reply: String) {
        let script = Script([("UNIT:FIELD?;FETC:DC? ALL\n", reply + "\r\n")])
        let error = #expect(throws: InstrumentError.self) { try LakeShoreF71(transport: ScriptedTransport(script)).read() }
        #expect(error?.kind.isUnexpectedReply == true)
    }

    @Test func errorQueueDrainsUntilNoError() throws {
        let script = Script([
            ("SYST:ERR?\n", "-113,\"Undefined header\"\r\n"), ("SYST:ERR?\n", "0,\"No error\"\r\n"),
        ])
        #expect(try LakeShoreF71(transport: ScriptedTransport(script)).errorQueue()
            == [InstrumentQueueError(code: -113, message: "Undefined header")])
    }

    @Test func identifyUnitAndAxes() throws {
        let script = Script([
            ("*IDN?\n", "Lake Shore,F71,F71-0042,1.2\r\n"), ("UNIT:FIELD AM\n", nil), ("PROBE:AXES?\n", "3\r\n"),
            ("*RST\n", nil),
        ])
        let meter = LakeShoreF71(transport: ScriptedTransport(script))
        #expect(try meter.identify().model == "F71")
        try meter.setUnit(.amperePerMetre)
        #expect(try meter.probeAxes() == 3)
        try meter.reset()
        #expect(script.remaining == 0)
    }
}
