@testable import Emulator
import Testing

@Suite("SCPI twin toolkit: framing, splitting, keywords, numbers, error queue")
struct SCPITwinTests {
    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test("The framer splits at LF, drops a CR before it, and survives any split of the stream")
    func framesLines() {
        let stream = bytes("*IDN?\r\nFREQ 1E3\n")
        for cut in 0...stream.count {
            var framer = SCPIFramer()
            let messages = framer.feed(Array(stream[..<cut])) + framer.feed(Array(stream[cut...]))
            #expect(messages == [.message(bytes("*IDN?")), .message(bytes("FREQ 1E3"))])
        }
    }

    @Test("A definite-length block may contain LF and quote bytes; a quoted string may contain LF-free ';'")
    func framesBlocks() {
        var framer = SCPIFramer()
        let data: [UInt8] = [0x0A, 0x22, 0x23, 0x0A]
        let message = bytes("DATA:ARB:DAC w,#14") + data + bytes(";*OPC?\n")
        #expect(framer.feed(message) == [.message(Array(message.dropLast()))])
        let commands = try? SCPICommand.split(Array(message.dropLast()))
        #expect(commands?.count == 2)
        #expect(commands?[0].arguments == [.text("w"), .block(data)])
        #expect(commands?[1].isCommon == true && commands?[1].isQuery == true)
        #expect((try? SCPICommand.split(bytes("DISP:TEXT \"a;b\";*CLS")))?.count == 2)
    }

    @Test("Over-long messages are reported once as overflow and the stream resynchronizes")
    func overflows() {
        var framer = SCPIFramer(limit: 8)
        #expect(framer.feed(bytes("0123456789ABC\n*IDN?\n")) == [.overflow, .message(bytes("*IDN?"))])
    }

    @Test("Malformed headers and blocks are typed errors", arguments: [
        ("FREQ::X 1", SCPITwinError.syntax), (":", .syntax), ("FR$Q 1", .syntax),
        ("DATA:ARB x,#9", .blockLength), ("DATA:ARB x,#3", .blockLength), ("DATA:ARB x,#15abc", .blockLength),
        ("DATA:ARB x,#13abc junk", .syntax), ("DATA:ARB x,#", .blockLength),
    ])
    func malformed(text: String, error: SCPITwinError) {
        #expect(throws: error) { try SCPICommand.split(Array(text.utf8)) }
    }

    @Test("Keywords match in short and long form, any case, with numeric suffixes and optional nodes")
    func keywords() {
        #expect(SCPIKeyword.matches("freq", "FREQuency"))
        #expect(SCPIKeyword.matches("FREQUENCY", "FREQuency"))
        #expect(!SCPIKeyword.matches("FREQU", "FREQuency"))
        #expect(SCPIKeyword.suffix("SOUR2", "SOURce") == 2)
        #expect(SCPIKeyword.suffix("source", "SOURce") == 1)
        #expect(SCPIKeyword.suffix("SOUR0", "SOURce") == nil)
        #expect(SCPIKeyword.match(["SOUR2", "FUNC", "ARB", "SRAT"], "[SOURce#]:FUNCtion:ARBitrary:SRATe") == [2])
        #expect(SCPIKeyword.match(["FUNC", "ARB", "SRAT"], "[SOURce#]:FUNCtion:ARBitrary:SRATe") == [1])
        #expect(SCPIKeyword.match(["OUTP2", "LOAD"], "OUTPut#:LOAD") == [2])
        #expect(SCPIKeyword.match(["OUTP", "LOAD", "X"], "OUTPut#:LOAD") == nil)
        #expect(SCPIKeyword.match(["SYST", "ERR"], "SYSTem:ERRor[:NEXT]") == [])
        #expect(SCPIKeyword.match(["SYST", "ERR", "NEXT"], "SYSTem:ERRor[:NEXT]") == [])
        #expect(SCPIKeyword.match(["SLIS", "SEQ", "STEP16383", "RCO"], "SLISt:SEQuence:STEP#:RCOunt") == [16383])
    }

    @Test("Numbers take SI-prefixed units and MIN/MAX/DEF; garbage is rejected", arguments: [
        ("1E3", SCPINumber.Value.number(1000)), ("20 MHz", .number(20e6)), ("2.5MAHZ", .number(2.5e6)),
        ("5 khz", .number(5000)), ("max", .maximum), ("MINIMUM", .minimum), ("def", .default), ("-0.5", .number(-0.5)),
    ])
    func numbers(text: String, value: SCPINumber.Value) {
        #expect(SCPINumber.parse(text, units: ["HZ"]) == value)
    }

    @Test("Malformed numbers", arguments: ["", "abc", "1e", "inf", "nan", "0x10", "1 parsec", "1e999"])
    func badNumbers(text: String) {
        #expect(SCPINumber.parse(text, units: ["HZ"]) == nil)
    }

    @Test("The error queue keeps the oldest entries and marks overflow")
    func errorQueue() {
        var queue = SCPIErrorQueue(capacity: 3)
        #expect(queue.pop() == "+0,\"No error\"")
        for code in 1...5 { queue.push("-\(code),\"e\"") }
        #expect(queue.entries == ["-1,\"e\"", "-2,\"e\"", "-350,\"Queue overflow\""])
        #expect(queue.pop() == "-1,\"e\"")
    }
}
