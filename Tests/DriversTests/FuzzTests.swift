import HAL
import Testing

@testable import Drivers
import TestSupport

/// Replies as a broken or hostile instrument might send them.
struct ReplyGenerator {
    var random: SplitMix64

    private static let samples: [String] = [
        "+293.873E+00", "5", "-12", "+293.873", "1.5e-3", "9.9E37", "-9.91E37", "LSCI,MODEL372,LSA1234,1.3",
        "-113,\"Undefined header\"", "+0,\"No error\"", "05,1,3,0,1", "#15hello\n", "#0data\n", "#213hello\nworld!\n",
        "a,\"b,c\",d", "1;2;3",
    ]
    private static let alphabet = Array("0123456789+-.eE,;\"# \r\n\0xINFa".utf8)

    mutating func reply() -> [UInt8] {
        switch Int.random(in: 0..<7, using: &random) {
        case 0:  // random bytes
            return (0..<Int.random(in: 0...48, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
        case 1:  // the characters numbers, fields and blocks are made of
            return (0..<Int.random(in: 0...32, using: &random)).map { _ in Self.alphabet.randomElement(using: &random)! }
        case 2:  // a good reply, truncated
            let sample = Array(Self.samples.randomElement(using: &random)!.utf8)
            return Array(sample.prefix(Int.random(in: 0...sample.count, using: &random)))
        case 3:  // a good reply with bytes changed, inserted or removed
            var sample = Array(Self.samples.randomElement(using: &random)!.utf8)
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let position = Int.random(in: 0...sample.count, using: &random)
                let byte = Self.alphabet.randomElement(using: &random)!
                switch Int.random(in: 0..<3, using: &random) {
                case 0: sample.insert(byte, at: position)
                case 1 where position < sample.count: sample[position] = byte
                default: if position < sample.count { sample.remove(at: position) }
                }
            }
            return sample
        case 4:  // huge numbers: hundreds of digits, now and then tens of thousands
            let length = Int.random(in: 0..<50, using: &random) == 0 ? 20_000 : Int.random(in: 1...400, using: &random)
            let digits = (0..<length).map { _ in UInt8.random(in: 48...57, using: &random) }
            let exponent = Array("E+\(Int.random(in: -100_000...100_000, using: &random))".utf8)
            return [UInt8(ascii: "-")] + digits + (Bool.random(using: &random) ? exponent : [])
        case 5:  // field lists of random lengths
            let count = Int.random(in: 0...8, using: &random)
            return Array((0..<count).map { _ in String(Int.random(in: -1000...1000, using: &random)) }.joined(separator: ",").utf8)
        default:  // block headers that may lie
            let data = (0..<Int.random(in: 0...20, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            let claimed = String(Int.random(in: 0...30, using: &random))
            let header = Array("#\(Int.random(in: 0...9, using: &random))".utf8) + Array(claimed.utf8)
            return header + data + (Bool.random(using: &random) ? [0x0A] : [])
        }
    }
}

@Suite("Fuzzing the reply parsers", .timeLimit(.minutes(1)))
struct FuzzTests {
    /// Per seed; two seeds make 20,000 hostile replies, each fed to every parser.
    static let iterations = 10_000
    static let instrument = "fuzzed instrument"

    /// Every parser either returns a value or throws the typed error naming the command; what it returns
    /// is consistent with its input.
    @Test("Hostile replies only ever parse or throw the typed error", arguments: [0x5EED as UInt64, 0xC0FFEE])
    func parsersSurvive(seed: UInt64) {
        var generator = ReplyGenerator(random: SplitMix64(seed: seed))
        var parsed = 0
        var refused = 0
        func check<Value>(_ command: String, _ body: () throws(InstrumentError) -> Value) -> Value? {
            do {
                let value = try body()
                parsed += 1
                return value
            } catch {
                refused += 1
                #expect(error.command == command && error.instrument == Self.instrument, "\(error)")
                if case .unexpectedReply = error.kind {} else { Issue.record("unexpected error kind: \(error)") }
                return nil
            }
        }
        for _ in 0..<Self.iterations {
            let bytes = generator.reply()
            let text = String(decoding: bytes, as: UTF8.self)
            if let value = check("N1?", { () throws(InstrumentError) in try SCPIReply.integer(text, command: "N1?", instrument: Self.instrument) }) {
                #expect(!text.contains(".") && (try? SCPIReply.integer(String(value), command: "N1?", instrument: "")) == value)
            }
            if let value = check("N2?", { () throws(InstrumentError) in try SCPIReply.fixedPoint(text, command: "N2?", instrument: Self.instrument) }) {
                #expect(value.isFinite && text.contains("."))
            }
            if let value = check("N3?", { () throws(InstrumentError) in try SCPIReply.real(text, command: "N3?", instrument: Self.instrument) }) {
                // Only SCPI's sentinels become NaN or infinity; every other value is the text's own.
                let plain = Double(SCPIReply.trimmed(text))
                if value.isNaN {
                    #expect(plain == SCPIReply.notANumber)
                } else if value.isInfinite {
                    #expect(plain.map(abs) == SCPIReply.infinity)
                } else {
                    #expect(plain == value)
                }
            }
            let count = Int.random(in: 1...6, using: &generator.random)
            if let fields = check("F?", { () throws(InstrumentError) in
                try SCPIReply.fields(text, count: count, command: "F?", instrument: Self.instrument)
            }) {
                #expect(fields.count == count)
            }
            _ = check("*IDN?", { () throws(InstrumentError) in try SCPIReply.identity(text, instrument: Self.instrument) })
            _ = check("SYST:ERR?", { () throws(InstrumentError) in
                try SCPIReply.errorQueueEntry(text, command: "SYST:ERR?", instrument: Self.instrument)
            })
            let whole = check("B?", { () throws(InstrumentError) in
                try SCPIReply.binaryBlock(bytes, terminator: [0x0A], maxLength: 16, command: "B?", instrument: Self.instrument)
            })
            if let whole { #expect(whole.count <= 16) }
            // Fed in random pieces, as reads deliver it, the scanner agrees with the one-shot parse.
            #expect(scanInPieces(bytes, using: &generator.random) == whole)
        }
        #expect(parsed > 1000 && refused > 1000, "the generator should produce both good and bad replies")
    }

    /// Scans `bytes` arriving in random pieces; the block's data when it completes exactly at the end.
    private func scanInPieces(_ bytes: [UInt8], using random: inout SplitMix64) -> [UInt8]? {
        var received: [UInt8] = []
        let terminator: [UInt8] = [0x0A]
        var searchFrom = 0
        var remaining = bytes[...]
        while true {
            let take = Int.random(in: 0...max(1, remaining.count), using: &random)
            received += remaining.prefix(take)
            remaining = remaining.dropFirst(take)
            do {
                switch try BinaryBlock.scan(received, from: 0, terminator: terminator, maxLength: 16, searchFrom: searchFrom) {
                case .complete(let data, let end):
                    return end == bytes.count ? Array(received[data]) : nil
                case .incomplete:
                    if remaining.isEmpty { return nil }
                    searchFrom = max(0, received.count - terminator.count + 1)
                }
            } catch {
                return nil
            }
        }
    }
}
