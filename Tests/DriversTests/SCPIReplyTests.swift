import HAL
import Testing

@testable import Drivers

private let instrument = "Lake Shore 372 at TCPIP0::127.0.0.1::7777::SOCKET"

/// The `expected` of an `.unexpectedReply` error, or nil for anything else.
private func expectation(_ error: InstrumentError?) -> String? {
    if case .unexpectedReply(_, let expected) = error?.kind { expected } else { nil }
}

@Suite("SCPI reply parsing")
struct SCPIReplyTests {
    @Test("NR1 integers", arguments: [("5", 5), ("+5", 5), ("-12", -12), ("0", 0), (" 7\r\n", 7), ("+0017", 17)])
    func integers(text: String, value: Int) throws {
        #expect(try SCPIReply.integer(text, command: "RANGE? 0", instrument: instrument) == value)
    }

    @Test("Not an NR1 integer: the error names the command and the reply", arguments: [
        "5.0", "", "abc", "1e3", "+", "5 5", "5\0", "0x10", "99999999999999999999", "٣",
    ])
    func notIntegers(text: String) {
        let error = #expect(throws: InstrumentError.self) {
            try SCPIReply.integer(text, command: "RANGE? 0", instrument: instrument)
        }
        #expect(error?.command == "RANGE? 0")
        #expect(error?.instrument == instrument)
        guard case .unexpectedReply(let reply, _) = error?.kind else {
            Issue.record("expected unexpectedReply, got \(String(describing: error))")
            return
        }
        #expect(reply == SCPIReply.excerpt(Array(text.utf8)[...]))
    }

    @Test("NR2 numbers need a decimal point and no exponent", arguments: [
        ("+293.873", 293.873), ("-0.5", -0.5), (".5", 0.5), ("5.", 5.0), ("0.000", 0),
    ])
    func fixedPoint(text: String, value: Double) throws {
        #expect(try SCPIReply.fixedPoint(text, command: "SETP? 0", instrument: instrument) == value)
    }

    @Test("Not NR2", arguments: ["5", "1.5e3", ".", "-", "+.E1", "1,5"])
    func notFixedPoint(text: String) {
        #expect(throws: InstrumentError.self) { try SCPIReply.fixedPoint(text, command: "SETP? 0", instrument: instrument) }
    }

    @Test("NR3 and the other NRf forms", arguments: [
        ("+293.873E+00", 293.873), ("1.5e-3", 0.0015), ("-2E3", -2000), ("5", 5), ("2.5", 2.5),
        ("+1.000000E-09", 1e-9), ("1e-400", 0),
    ])
    func reals(text: String, value: Double) throws {
        #expect(try SCPIReply.real(text, command: "KRDG? 1", instrument: instrument) == value)
    }

    @Test("SCPI's 9.9E37 is infinity and 9.91E37 not-a-number")
    func sentinels() throws {
        let real = { (text: String) throws(InstrumentError) in try SCPIReply.real(text, command: "OUTP1:LOAD?", instrument: instrument) }
        #expect(try real("9.9E37") == .infinity)
        #expect(try real("+9.90000000000000E+37") == .infinity)
        #expect(try real("-9.9E37") == -.infinity)
        #expect(try real("9.91E37").isNaN)
        #expect(try real("9.8E37") == 9.8e37)
    }

    @Test("Not a number", arguments: ["INF", "nan", "0x1p3", "1e999", "", "1.2.3", "e5", "1e", "--1", "1e+", "+293.873E+00K"])
    func notReals(text: String) {
        let error = #expect(throws: InstrumentError.self) { try SCPIReply.real(text, command: "KRDG? 1", instrument: instrument) }
        #expect(error?.command == "KRDG? 1")
    }

    @Test("Fields split on the separator, not inside quotes, trimmed")
    func fields() throws {
        #expect(try SCPIReply.fields("1, 2 ,3", count: 3, command: "C?", instrument: instrument) == ["1", "2", "3"])
        #expect(try SCPIReply.fields("a,\"b,c\",d", count: 3, command: "C?", instrument: instrument) == ["a", "\"b,c\"", "d"])
        #expect(try SCPIReply.fields("x;y", count: 2, separator: ";", command: "C?", instrument: instrument) == ["x", "y"])
        #expect(try SCPIReply.fields("", count: 1, command: "C?", instrument: instrument) == [""])
        #expect(try SCPIReply.fields("a,,b", count: 3, command: "C?", instrument: instrument) == ["a", "", "b"])
    }

    @Test("A wrong field count names expected and got")
    func wrongFieldCount() {
        let error = #expect(throws: InstrumentError.self) {
            try SCPIReply.fields("05,1", count: 7, command: "INSET? 1", instrument: instrument)
        }
        #expect(error?.kind == .unexpectedReply(reply: "05,1", expected: "7 fields separated by \",\", got 2"))
        #expect(error?.description == "\(instrument), command \"INSET? 1\": expected 7 fields separated by \",\", got 2, got \"05,1\"")
        let unbalanced = #expect(throws: InstrumentError.self) {
            try SCPIReply.fields("a,\"b", count: 2, command: "C?", instrument: instrument)
        }
        #expect(expectation(unbalanced) == "fields with balanced double quotes")
    }

    @Test("Identity and error-queue entries")
    func identityAndErrors() throws {
        #expect(try SCPIReply.identity("LSCI,MODEL372,LSA1234,1.3", instrument: instrument)
            == InstrumentIdentity(manufacturer: "LSCI", model: "MODEL372", serialNumber: "LSA1234", firmware: "1.3"))
        let entry = { (text: String) throws(InstrumentError) in
            try SCPIReply.errorQueueEntry(text, command: "SYST:ERR?", instrument: instrument)
        }
        #expect(try entry("+0,\"No error\"") == InstrumentQueueError(code: 0, message: "No error"))
        #expect(try entry("-113,\"Undefined header\"") == InstrumentQueueError(code: -113, message: "Undefined header"))
        #expect(try entry("-350,\"Queue \"\"overflow\"\"\"") == InstrumentQueueError(code: -350, message: "Queue \"overflow\""))
        #expect(try entry("-100,Command error") == InstrumentQueueError(code: -100, message: "Command error"))
        #expect(throws: InstrumentError.self) { try entry("No error") }
        #expect(throws: InstrumentError.self) { try entry("+0.0,\"No error\"") }
    }

    @Test("Binary blocks in a whole reply", arguments: [
        ("#15hello\n", Array("hello".utf8)), ("#0hello\n", Array("hello".utf8)), ("#10\n", []),
        ("#212hello\nworld!\n", Array("hello\nworld!".utf8)), ("#0\n", []),
    ])
    func blocks(text: String, data: [UInt8]) throws {
        #expect(try SCPIReply.binaryBlock(Array(text.utf8), terminator: [0x0A], command: "DATA?", instrument: instrument) == data)
    }

    @Test("Malformed binary blocks", arguments: [
        ("#13hello\n", "the terminator right after the 3 data bytes the header announces (the length field does not match the data)"),
        ("#15he", "a complete block ending in the terminator"),
        ("hello\n", "a binary block starting with \"#\""),
        ("#x5hello\n", "a digit 0-9 after \"#\" giving the number of length digits"),
        ("#2a5hello\n", "2 length digits after \"#2\""),
        ("#15hello\nX", "nothing after the block's terminator, found 1 more bytes"),
        ("#18hello123\n", "a block of at most 5 bytes, but the header announces 8"),
        ("#0hello123\n", "an indefinite block (#0) of at most 5 bytes"),
        ("", "a complete block ending in the terminator"),
    ])
    func malformedBlocks(text: String, expected: String) {
        let error = #expect(throws: InstrumentError.self) {
            try SCPIReply.binaryBlock(Array(text.utf8), terminator: [0x0A], maxLength: 5, command: "DATA?", instrument: instrument)
        }
        #expect(expectation(error) == expected)
    }

    @Test("Replies in error messages are escaped and cut")
    func excerpts() {
        #expect(SCPIReply.excerpt(Array("a\r\n\0\u{1B}b".utf8)[...]) == "a\\r\\n\\x00\\x1Bb")
        let long = SCPIReply.excerpt([UInt8](repeating: 0x41, count: 5000)[...])
        #expect(long == String(repeating: "A", count: 200) + "… (5000 bytes)")
    }
}
