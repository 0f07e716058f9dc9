import HAL

/// Pure parsers for IEEE 488.2 / SCPI response data. Each takes the reply text and names the command and the
/// instrument, so that a reply of the wrong shape throws an `InstrumentError` (`.unexpectedReply`) saying
/// which instrument, which command, what was expected and what came back. Space, tab, CR and LF around a
/// number or a field are ignored.
public enum SCPIReply {
    /// The value SCPI sends for +infinity (9.9E37); -9.9E37 is -infinity.
    public static let infinity = 9.9e37
    /// The value SCPI sends for not-a-number (9.91E37).
    public static let notANumber = 9.91e37

    /// An NR1 integer: an optional sign and digits (`5`, `+5`, `-12`). Anything with a decimal point or an
    /// exponent is refused, so `5.0` is an error: instruments such as the Lake Shore 372 write integers as
    /// integers, and `5.0` where an integer belongs means the reply belongs to another command.
    public static func integer(
        _ reply: some StringProtocol, command: String, instrument: String
    ) throws(InstrumentError) -> Int {
        let text = trimmed(reply)
        guard let shape = NumberShape(text), !shape.hasPoint, !shape.hasExponent else {
            throw unexpected(reply, "an NR1 integer such as 5, +5 or -12", command, instrument)
        }
        guard let value = Int(text) else {
            throw unexpected(reply, "an integer between \(Int.min) and \(Int.max)", command, instrument)
        }
        return value
    }

    /// An NR2 number: a decimal point and no exponent (`+293.873`, `-0.5`, `.5`).
    public static func fixedPoint(
        _ reply: some StringProtocol, command: String, instrument: String
    ) throws(InstrumentError) -> Double {
        let text = trimmed(reply)
        guard let shape = NumberShape(text), shape.hasPoint, !shape.hasExponent else {
            throw unexpected(reply, "an NR2 number such as +293.873", command, instrument)
        }
        return try double(text, reply, command, instrument)
    }

    /// An NR3 number (`+293.873E+00`, `1.5e-3`), or any decimal form NRf allows (NR1 `5`, NR2 `2.5`).
    /// SCPI's sentinels are mapped: 9.9E37 is +infinity, -9.9E37 is -infinity, 9.91E37 is NaN (SCPI-99
    /// volume 1, 7.2.1.5; Keysight instruments send them, e.g. 9.9E37 for an infinite load). Words such as
    /// `INF` or `NAN` and hexadecimal are refused, as is a number beyond the range of a Double.
    public static func real(
        _ reply: some StringProtocol, command: String, instrument: String
    ) throws(InstrumentError) -> Double {
        let text = trimmed(reply)
        guard NumberShape(text) != nil else {
            throw unexpected(reply, "an NR3 number such as +293.873E+00", command, instrument)
        }
        let value = try double(text, reply, command, instrument)
        switch value {
        case infinity: return .infinity
        case -infinity: return -.infinity
        case notANumber: return .nan
        default: return value
        }
    }

    /// The fields of a reply separated by `separator` (`,` between data elements, `;` between the replies to
    /// a compound query), exactly `count` of them, each with surrounding whitespace removed. A separator
    /// inside a double-quoted string (`"a,b"`, with `""` for a quote) does not split.
    public static func fields(
        _ reply: some StringProtocol, count: Int, separator: Character = ",", command: String, instrument: String
    ) throws(InstrumentError) -> [String] {
        precondition(count >= 1, "a reply has at least one field")
        precondition(separator.isASCII && separator != "\"", "the separator must be an ASCII character, not a quote")
        let bytes = Array(reply.utf8)
        let separatorByte = separator.asciiValue!
        var fields: [String] = []
        var start = 0
        var quoted = false
        for (index, byte) in bytes.enumerated() {
            if byte == UInt8(ascii: "\"") {
                quoted.toggle()
            } else if byte == separatorByte && !quoted {
                fields.append(trimmed(bytes[start..<index]))
                start = index + 1
            }
        }
        guard !quoted else {
            throw unexpected(reply, "fields with balanced double quotes", command, instrument)
        }
        fields.append(trimmed(bytes[start...]))
        guard fields.count == count else {
            throw unexpected(
                reply, "\(count) field\(count == 1 ? "" : "s") separated by \"\(separator)\", got \(fields.count)",
                command, instrument)
        }
        return fields
    }

    /// The reply to `*IDN?`: four comma-separated fields, manufacturer, model, serial number and firmware,
    /// e.g. `LSCI,MODEL372,LSA12AB,1.3`; the manufacturer and the model cannot be empty.
    public static func identity(
        _ reply: some StringProtocol, command: String = "*IDN?", instrument: String
    ) throws(InstrumentError) -> InstrumentIdentity {
        let fields = try fields(reply, count: 4, command: command, instrument: instrument)
        guard !fields[0].isEmpty, !fields[1].isEmpty else {
            throw unexpected(reply, "a manufacturer and a model in the first two fields", command, instrument)
        }
        return InstrumentIdentity(
            manufacturer: fields[0], model: fields[1], serialNumber: fields[2], firmware: fields[3])
    }

    /// One error-queue entry, `<code>,"<message>"` (e.g. `-113,"Undefined header"`, or `+0,"No error"`).
    /// The message loses its quotes, and `""` inside it becomes `"`; an unquoted message is taken as it is.
    public static func errorQueueEntry(
        _ reply: some StringProtocol, command: String, instrument: String
    ) throws(InstrumentError) -> InstrumentQueueError {
        let fields = try fields(reply, count: 2, command: command, instrument: instrument)
        let code = try integer(fields[0], command: command, instrument: instrument)
        var message = Substring(fields[1])
        if message.count >= 2, message.first == "\"", message.last == "\"" {
            message = message.dropFirst().dropLast()
        }
        return InstrumentQueueError(code: code, message: String(message.replacing("\"\"", with: "\"")))
    }

    /// The data of a reply that is one IEEE 488.2 arbitrary block and its terminator: definite length
    /// `#<n><n length digits><data>` (e.g. `#15hello`), or indefinite `#0<data>`, which ends at the first
    /// terminator (a socket or serial line has no END signal). At most `maxLength` data bytes.
    public static func binaryBlock(
        _ reply: [UInt8], terminator: [UInt8], maxLength: Int = 1 << 20, command: String, instrument: String
    ) throws(InstrumentError) -> [UInt8] {
        do throws(ReplyFormatError) {
            switch try BinaryBlock.scan(reply, from: 0, terminator: terminator, maxLength: maxLength) {
            case .incomplete:
                throw ReplyFormatError("a complete block ending in the terminator")
            case .complete(let data, let end):
                guard end == reply.count else {
                    throw ReplyFormatError("nothing after the block's terminator, found \(reply.count - end) more bytes")
                }
                return Array(reply[data])
            }
        } catch {
            throw error.instrumentError(reply: excerpt(reply[...]), command: command, instrument: instrument)
        }
    }

    // MARK: Helpers

    /// `text` with space, tab, CR and LF removed from both ends.
    static func trimmed(_ text: some StringProtocol) -> String {
        trimmed(Array(text.utf8)[...])
    }

    private static func trimmed(_ bytes: ArraySlice<UInt8>) -> String {
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D || $0 == 0x0A }
        guard let first = bytes.firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = bytes.lastIndex(where: { !isSpace($0) })!
        return String(decoding: bytes[first...last], as: UTF8.self)
    }

    private static func double(
        _ text: String, _ reply: some StringProtocol, _ command: String, _ instrument: String
    ) throws(InstrumentError) -> Double {
        guard let value = Double(text), value.isFinite else {
            throw unexpected(reply, "a number within ±\(Double.greatestFiniteMagnitude)", command, instrument)
        }
        return value
    }

    private static func unexpected(
        _ reply: some StringProtocol, _ expected: String, _ command: String, _ instrument: String
    ) -> InstrumentError {
        ReplyFormatError(expected).instrumentError(
            reply: excerpt(Array(reply.utf8)[...]), command: command, instrument: instrument)
    }

    /// A reply as an error message shows it: control characters escaped (`\r`, `\n`, `\x00`), and cut
    /// after 200 bytes with the full length noted, so a megabyte of garbage makes a readable message.
    static func excerpt(_ bytes: ArraySlice<UInt8>) -> String {
        let shown = bytes.prefix(200)
        var text = ""
        if shown.allSatisfy({ (0x20..<0x7F).contains($0) }) {
            text = String(decoding: shown, as: UTF8.self)
        } else {
            for scalar in String(decoding: shown, as: UTF8.self).unicodeScalars {
                switch scalar {
                case "\r": text += "\\r"
                case "\n": text += "\\n"
                case "\t": text += "\\t"
                case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                    let hex = String(scalar.value, radix: 16, uppercase: true)
                    text += "\\x" + (hex.count == 1 ? "0" : "") + hex
                default: text.unicodeScalars.append(scalar)
                }
            }
        }
        return shown.count < bytes.count ? text + "… (\(bytes.count) bytes)" : text
    }
}

/// A reply of the wrong form, before the command and instrument are known: what was expected.
struct ReplyFormatError: Error {
    let expected: String

    init(_ expected: String) {
        self.expected = expected
    }

    func instrumentError(reply: String, command: String, instrument: String) -> InstrumentError {
        InstrumentError(instrument: instrument, command: command, kind: .unexpectedReply(reply: reply, expected: expected))
    }
}

/// The form of a decimal number: `[+-] (digits [. [digits]] | . digits) [(e|E) [+-] digits]`, the union of
/// IEEE 488.2's NR1, NR2 and NR3 (NRf). Nil for anything else: empty text, words, hexadecimal, NUL bytes.
struct NumberShape: Equatable {
    let hasPoint: Bool
    let hasExponent: Bool

    init?(_ text: String) {
        let bytes = Array(text.utf8)
        var index = 0
        func skipDigits() -> Int {
            let start = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            return index - start
        }
        func skipSign() {
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                index += 1
            }
        }
        skipSign()
        var digits = skipDigits()
        hasPoint = index < bytes.count && bytes[index] == UInt8(ascii: ".")
        if hasPoint {
            index += 1
            digits += skipDigits()
        }
        guard digits > 0 else { return nil }
        hasExponent = index < bytes.count && (bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E"))
        if hasExponent {
            index += 1
            skipSign()
            guard skipDigits() > 0 else { return nil }
        }
        guard index == bytes.count else { return nil }
    }
}
