import HAL
import Quantities
import Testing

@testable import Drivers

@Suite struct PfeifferTPG366Tests {
    static let ack = "\u{06}\r\n", nak = "\u{15}\r\n", enq = "\u{05}"

    @Test func oneGaugeIsTwoDialoguesConvertedToPascal() throws {
        let script = Script([
            ("UNI\r", Self.ack), (Self.enq, "1\r\n"), ("PR2\r", Self.ack), (Self.enq, "0,7.5006E-03\r\n"),
        ])
        let reading = try PfeifferTPG366(transport: ScriptedTransport(script)).pressure(gauge: 2)
        #expect(script.remaining == 0)
        #expect(reading.status == .ok)
        #expect(abs(reading.pressure!.pascals - 1.0) < 1e-4)
    }

    @Test func everyStatusCodeMaps() throws {
        let script = Script([
            ("UNI\r", Self.ack), (Self.enq, "0\r\n"), ("PRX\r", Self.ack),
            (Self.enq, "0,1.0000E-03,1,1.0000E-10,2,2.0000E+03,3,0.0000E+00,4,0.0000E+00,5,0.0000E+00\r\n"),
        ])
        let readings = try PfeifferTPG366(transport: ScriptedTransport(script)).read()
        #expect(readings.map(\.status) == [.ok, .underRange, .overRange, .sensorError, .sensorOff, .noSensor])
        #expect(readings[0].value == 0.1 && readings[3].value == nil)
        #expect(readings[0].channel.unit == "Pa")
    }

    @Test func aNakIsARefusalNamingTheMnemonic() {
        let script = Script([("TID\r", Self.nak)])
        let error = #expect(throws: InstrumentError.self) {
            try PfeifferTPG366(transport: ScriptedTransport(script)).gaugeTypes()
        }
        #expect(error?.kind.isRefusal == true)
        #expect(error?.command == "TID")
        #expect(script.sent == ["TID\r"])
    }

    @Test(arguments: ["0,1.0E-03", "7,1.0E-03,0,1,0,1,0,1,0,1,0,1", "0,x,0,1,0,1,0,1,0,1,0,1"])
    func malformedDataIsUnexpected(data: String) {
        let script = Script([("UNI\r", Self.ack), (Self.enq, "0\r\n"), ("PRX\r", Self.ack), (Self.enq, data + "\r\n")])
        let error = #expect(throws: InstrumentError.self) { try PfeifferTPG366(transport: ScriptedTransport(script)).read() }
        #expect(error?.kind.isUnexpectedReply == true)
    }

    /// A finite reading whose conversion to pascals overflows (1.0E+307 mbar) is an unexpected reply.
    @Test(arguments: ["0,1.0E+307", "1,9.9E37", "0,9.91E37"])
    func overflowingPressuresAreUnexpected(data: String) {
        let script = Script([("UNI\r", Self.ack), (Self.enq, "0\r\n"), ("PR1\r", Self.ack), (Self.enq, data + "\r\n")])
        let error = #expect(throws: InstrumentError.self) {
            try PfeifferTPG366(transport: ScriptedTransport(script)).pressure(gauge: 1)
        }
        #expect(error?.kind.isUnexpectedReply == true)
        #expect(error?.command == "PR1")
    }

    @Test func garbageInsteadOfAckIsUnexpected() {
        let script = Script([("ERR\r", "?\r\n")])
        let error = #expect(throws: InstrumentError.self) { try PfeifferTPG366(transport: ScriptedTransport(script)).errorQueue() }
        #expect(error?.kind.isUnexpectedReply == true)
    }

    @Test func voltsAreNotAPressure() {
        let script = Script([("UNI\r", Self.ack), (Self.enq, "5\r\n")])
        let error = #expect(throws: InstrumentError.self) { try PfeifferTPG366(transport: ScriptedTransport(script)).read() }
        #expect(error?.kind.isRefusal == true)
    }

    @Test func errorWordAndIdentity() throws {
        let script = Script([
            ("ERR\r", Self.ack), (Self.enq, "0011\r\n"),
            ("AYT\r", Self.ack), (Self.enq, "TPG 366,PTG28700,44998061,010100,010100\r\n"),
            ("\u{03}", nil), ("RES,1\r", Self.ack), (Self.enq, "0\r\n"),
        ])
        let gauge = PfeifferTPG366(transport: ScriptedTransport(script))
        #expect(try gauge.errorQueue().map(\.code) == [10, 1])
        let identity = try gauge.identify()
        #expect(identity.model == "TPG 366" && identity.serialNumber == "44998061" && identity.firmware == "010100")
        try gauge.reset()
        #expect(script.remaining == 0)
    }

    @Test func aMissingDataLineTimesOut() {
        let script = Script([("TID\r", Self.ack)])
        let error = #expect(throws: InstrumentError.self) {
            try PfeifferTPG366(transport: ScriptedTransport(script), timeout: .milliseconds(20)).gaugeTypes()
        }
        #expect(error?.kind.isTimeout == true)
    }
}
