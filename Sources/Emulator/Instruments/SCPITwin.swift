// What every SCPI twin needs (IEEE 488.2 and SCPI-99): a byte-stream framer that knows definite-length
// blocks, a splitter for `;`-joined commands, keyword matching in short and long form with numeric
// suffixes, argument parsing, and a bounded error queue.

/// Splits a byte stream into program messages ending in LF, as IEEE 488.2 §7.5 frames them: an arbitrary
/// block `#<n><length><data>` is taken whole (its data may contain LF), and text inside double or single
/// quotes is kept. A message longer than `limit` bytes is discarded and reported as overflowed.
struct SCPIFramer {
    enum Message: Equatable {
        case message([UInt8])
        case overflow
    }

    var limit: Int
    private var buffer: [UInt8] = []
    private var overflowed = false
    private var blockRemaining = 0
    /// Parsing state of a `#` block header: digits of the length still to read, and the length so far.
    private var headerDigits: Int? = nil
    private var awaitingDigitCount = false
    private var blockLength = 0
    private var quote: UInt8? = nil

    init(limit: Int = 1 << 16) {
        self.limit = limit
    }

    mutating func feed(_ bytes: [UInt8]) -> [Message] {
        var messages: [Message] = []
        for byte in bytes {
            if !overflowed {
                if buffer.count < limit { buffer.append(byte) } else { overflowed = true; buffer.removeAll() }
            }
            if blockRemaining > 0 {
                blockRemaining -= 1
                continue
            }
            if awaitingDigitCount {
                awaitingDigitCount = false
                if (0x31...0x39).contains(byte) {
                    headerDigits = Int(byte - 0x30)
                    blockLength = 0
                    continue
                }
                // `#0` (indefinite length, ends at the message terminator) and anything else: plain text.
            } else if let digits = headerDigits {
                if (0x30...0x39).contains(byte) {
                    blockLength = blockLength &* 10 &+ Int(byte - 0x30)
                    headerDigits = digits - 1
                    if digits - 1 == 0 {
                        headerDigits = nil
                        blockRemaining = blockLength
                    }
                    continue
                }
                headerDigits = nil  // a malformed length: the command parser reports it
            }
            if let open = quote {
                if byte == open { quote = nil }
                if byte != 0x0A { continue }
                quote = nil  // an unterminated string ends at the message terminator
            }
            switch byte {
            case 0x22, 0x27: quote = byte
            case 0x23: awaitingDigitCount = true
            case 0x0A:
                if overflowed {
                    messages.append(.overflow)
                } else {
                    buffer.removeLast()
                    if buffer.last == 0x0D { buffer.removeLast() }
                    messages.append(.message(buffer))
                }
                buffer.removeAll(keepingCapacity: buffer.capacity <= 4096)
                overflowed = false
            default: break
            }
        }
        return messages
    }
}

/// One command of a program message: its header split into keywords, whether it is a query, and its
/// arguments (text, or the data of a definite-length block).
struct SCPICommand {
    enum Argument: Equatable {
        case text(String)
        case block([UInt8])
    }

    /// The header's keywords as written, without `:` and `?` (e.g. `["SOUR1", "DATA", "ARB"]`).
    var keywords: [Substring]
    var isQuery: Bool
    /// Whether the header is an IEEE 488.2 common command (`*IDN?`).
    var isCommon: Bool
    var arguments: [Argument]

    /// The first argument as text, trimmed; empty when there is none.
    var text: String {
        if case let .text(value) = arguments.first { return value }
        return ""
    }

    /// Splits a program message at `;` outside strings and blocks. A command without a leading `:` keeps
    /// the path of the previous one (SCPI-99 §6.2.4) — twins here only use absolute paths, as instruments'
    /// own drivers do, so the path is not carried; a leading `:` is dropped.
    static func split(_ message: [UInt8]) throws(SCPITwinError) -> [SCPICommand] {
        var commands: [SCPICommand] = []
        var start = 0
        var index = 0
        var quote: UInt8? = nil
        while index <= message.count {
            if index == message.count || (quote == nil && message[index] == 0x3B) {
                let part = message[start..<index]
                if part.contains(where: { $0 != 0x20 && $0 != 0x09 }) { commands.append(try parse(part)) }
                start = index + 1
                index += 1
                continue
            }
            let byte = message[index]
            if let open = quote {
                if byte == open { quote = nil }
            } else if byte == 0x22 || byte == 0x27 {
                quote = byte
            } else if byte == 0x23, index + 1 < message.count, (0x31...0x39).contains(message[index + 1]) {
                let digits = Int(message[index + 1] - 0x30)
                guard index + 2 + digits <= message.count,
                      let length = Int(String(decoding: message[(index + 2)..<(index + 2 + digits)], as: UTF8.self)),
                      index + 2 + digits + length <= message.count
                else { throw .blockLength }
                index += 2 + digits + length
                continue
            }
            index += 1
        }
        return commands
    }

    private static func parse(_ bytes: ArraySlice<UInt8>) throws(SCPITwinError) -> SCPICommand {
        var i = bytes.startIndex
        while i < bytes.endIndex, bytes[i] == 0x20 || bytes[i] == 0x09 { i += 1 }
        var headerEnd = i
        while headerEnd < bytes.endIndex, bytes[headerEnd] != 0x20, bytes[headerEnd] != 0x09 { headerEnd += 1 }
        var header = String(decoding: bytes[i..<headerEnd], as: UTF8.self)
        if header.hasPrefix(":") { header.removeFirst() }
        let isQuery = header.hasSuffix("?")
        if isQuery { header.removeLast() }
        let isCommon = header.hasPrefix("*")
        let keywords = header.split(separator: ":", omittingEmptySubsequences: false)
        guard !header.isEmpty, !keywords.contains(where: \.isEmpty) else { throw .syntax }
        for keyword in keywords where !keyword.utf8.allSatisfy({ isHeaderByte($0) }) { throw .syntax }
        return SCPICommand(
            keywords: keywords, isQuery: isQuery, isCommon: isCommon, arguments: try arguments(bytes[headerEnd...]))
    }

    private static func isHeaderByte(_ byte: UInt8) -> Bool {
        (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte)
            || byte == 0x2A || byte == 0x5F
    }

    /// Comma-separated arguments; strings keep their quotes, blocks become their data.
    private static func arguments(_ bytes: ArraySlice<UInt8>) throws(SCPITwinError) -> [Argument] {
        var arguments: [Argument] = []
        var current: [UInt8] = []
        var quote: UInt8? = nil
        var index = bytes.startIndex
        var sawAny = false
        func flush() {
            let text = String(decoding: current, as: UTF8.self).trimmedSpaces
            arguments.append(.text(String(text)))
            current.removeAll()
        }
        while index < bytes.endIndex {
            let byte = bytes[index]
            if let open = quote {
                current.append(byte)
                if byte == open { quote = nil }
                index += 1
                continue
            }
            switch byte {
            case 0x22, 0x27:
                quote = byte
                current.append(byte)
                sawAny = true
            case 0x2C:
                flush()
                sawAny = true
            case 0x23 where String(decoding: current, as: UTF8.self).trimmedSpaces.isEmpty:
                guard index + 1 < bytes.endIndex, (0x31...0x39).contains(bytes[index + 1]) else { throw .blockLength }
                let digits = Int(bytes[index + 1] - 0x30)
                let lengthStart = index + 2
                guard lengthStart + digits <= bytes.endIndex,
                      let length = Int(String(decoding: bytes[lengthStart..<(lengthStart + digits)], as: UTF8.self)),
                      lengthStart + digits + length <= bytes.endIndex
                else { throw .blockLength }
                let dataStart = lengthStart + digits
                arguments.append(.block(Array(bytes[dataStart..<(dataStart + length)])))
                current.removeAll()
                index = dataStart + length
                // Only spaces may follow a block before the next comma.
                while index < bytes.endIndex, bytes[index] == 0x20 || bytes[index] == 0x09 { index += 1 }
                if index < bytes.endIndex {
                    guard bytes[index] == 0x2C else { throw .syntax }
                    index += 1
                    if index == bytes.endIndex { throw .syntax }
                }
                sawAny = false
                continue
            default:
                current.append(byte)
                if byte != 0x20 && byte != 0x09 { sawAny = true }
            }
            index += 1
        }
        if sawAny || !current.isEmpty { flush() }
        if arguments.count == 1, case .text("") = arguments[0] { return [] }
        return arguments
    }
}

/// Why a program message could not be parsed, as the SCPI error the instrument queues for it.
enum SCPITwinError: Error {
    /// `-102,"Syntax error"`.
    case syntax
    /// `-161,"Invalid block data"`: a block whose length field is malformed or longer than the message.
    case blockLength

    var queueEntry: String {
        switch self {
        case .syntax: "-102,\"Syntax error\""
        case .blockLength: "-161,\"Invalid block data\""
        }
    }
}

/// SCPI keyword matching: a keyword written `SOURce` matches `SOUR` and `SOURCE` in any case; with a numeric
/// suffix allowed (`SOURce#`) it also matches `SOUR2` and yields the suffix.
enum SCPIKeyword {
    /// Whether `word` is `keyword` in its short or long form, any case, without a suffix.
    static func matches(_ word: Substring, _ keyword: String) -> Bool {
        let upper = word.uppercased()
        return upper == keyword.uppercased() || upper == keyword.filter(\.isUppercase)
    }

    /// The numeric suffix of `word` when it is `keyword` followed by optional digits (`SOURce` → 1 when
    /// absent, `SOUR2` → 2, up to six digits, as sequence steps reach `STEP16383`); nil when it is not that
    /// keyword or the suffix is 0 or malformed.
    static func suffix(_ word: Substring, _ keyword: String, default defaultValue: Int = 1) -> Int? {
        let digits = word.reversed().prefix { $0.isASCII && $0.isNumber }
        let stem = word.dropLast(digits.count)
        guard matches(stem, keyword) else { return nil }
        if digits.isEmpty { return defaultValue }
        guard digits.count <= 6, let value = Int(String(digits.reversed())), value >= 1 else { return nil }
        return value
    }

    /// Whether `words` spell `keywords` (each matched by ``matches(_:_:)``), with no numeric suffixes.
    static func matches(_ words: [Substring], _ keywords: [String]) -> Bool {
        words.count == keywords.count && zip(words, keywords).allSatisfy { matches($0, $1) }
    }

    /// Matches `words` against a pattern whose keywords may end in `#` (a numeric suffix, default 1) or be
    /// wrapped in brackets (optional, e.g. `[SOURce#]` or `ERRor[:NEXT]`); returns the suffixes in order, or nil.
    static func match(_ words: [Substring], _ pattern: String) -> [Int]? {
        // `ERRor[:NEXT]`, as manuals write an optional node, is the same as `ERRor:[NEXT]`.
        let parts = pattern.replacingOccurrences(of: "[:", with: ":[").split(separator: ":").map(String.init)
        var suffixes: [Int] = []
        return match(words[...], parts[...], &suffixes) ? suffixes : nil
    }

    private static func match(_ words: ArraySlice<Substring>, _ parts: ArraySlice<String>, _ suffixes: inout [Int]) -> Bool {
        guard let part = parts.first else { return words.isEmpty }
        var keyword = part
        let optional = keyword.hasPrefix("[") && keyword.hasSuffix("]")
        if optional { keyword = String(keyword.dropFirst().dropLast()) }
        let numbered = keyword.hasSuffix("#")
        if numbered { keyword.removeLast() }
        if let word = words.first {
            let suffix: Int? = numbered ? self.suffix(word, keyword) : (matches(word, keyword) ? 1 : nil)
            if let suffix {
                var attempt = suffixes
                if numbered { attempt.append(suffix) }
                if match(words.dropFirst(), parts.dropFirst(), &attempt) {
                    suffixes = attempt
                    return true
                }
            }
        }
        guard optional else { return false }
        var attempt = suffixes
        if numbered { attempt.append(1) }
        if match(words, parts.dropFirst(), &attempt) {
            suffixes = attempt
            return true
        }
        return false
    }
}

/// The instrument's error queue (SCPI-99 §21.8): oldest first, at most `capacity` entries; when full, the
/// newest entry becomes `-350,"Queue overflow"` and later errors are lost.
struct SCPIErrorQueue {
    let capacity: Int
    private(set) var entries: [String] = []
    /// How `SYSTem:ERRor?` answers an empty queue (`+0,"No error"` on Keysight, `0,"No error"` elsewhere).
    let noError: String

    init(capacity: Int = 20, noError: String = "+0,\"No error\"") {
        self.capacity = capacity
        self.noError = noError
    }

    mutating func push(_ entry: String) {
        if entries.count < capacity {
            entries.append(entry)
        } else {
            entries[capacity - 1] = "-350,\"Queue overflow\""
        }
    }

    /// The oldest entry, removed; `noError` when empty.
    mutating func pop() -> String {
        entries.isEmpty ? noError : entries.removeFirst()
    }

    mutating func clear() {
        entries.removeAll()
    }
}

/// SCPI numeric arguments (SCPI-99 §7.2): decimal numbers with an optional unit suffix and SI prefix
/// (`1.5E6`, `20 MHz`, `2.5MSA/S`), and the names `MINimum`, `MAXimum`, `DEFault`.
enum SCPINumber {
    enum Value: Equatable {
        case number(Double)
        case minimum, maximum, `default`
    }

    /// Parses `text`; `units` lists the unit suffixes accepted (upper case, e.g. `["HZ"]`), to which SCPI's
    /// prefixes apply (`MHZ`, `KHZ`; `MA` is milli and `MAHZ`… never occur in practice). Nil when malformed.
    static func parse(_ text: String, units: [String] = []) -> Value? {
        let trimmed = text.trimmedSpaces
        let upper = trimmed.uppercased()
        if SCPIKeyword.matches(Substring(upper), "MINimum") { return .minimum }
        if SCPIKeyword.matches(Substring(upper), "MAXimum") { return .maximum }
        if SCPIKeyword.matches(Substring(upper), "DEFault") { return .default }
        var numberEnd = upper.endIndex
        if !units.isEmpty {
            // The unit starts at the first letter that is not an exponent marker followed by a digit or sign.
            var index = upper.startIndex
            while index < upper.endIndex {
                let c = upper[index]
                if c.isLetter {
                    let next = upper.index(after: index)
                    let isExponent = c == "E" && next < upper.endIndex && (upper[next].isNumber || upper[next] == "+" || upper[next] == "-")
                    if !isExponent { break }
                }
                index = upper.index(after: index)
            }
            numberEnd = index
        }
        let numberText = upper[..<numberEnd].trimmedSpaces
        let unitText = String(upper[numberEnd...].trimmedSpaces)
        guard let value = WireNumber.decimal(numberText) else { return nil }
        if unitText.isEmpty { return .number(value) }
        for unit in units {
            if unitText == unit { return .number(value) }
            guard unitText.hasSuffix(unit) else { continue }
            let prefix = unitText.dropLast(unit.count)
            let scale: Double? = switch prefix {
            case "G": 1e9
            case "MA": 1e6  // SCPI spells mega "MA" (M alone is milli)
            case "K": 1e3
            case "M": unit == "HZ" ? 1e6 : 1e-3  // by convention MHZ is megahertz
            case "U": 1e-6
            case "N": 1e-9
            default: nil
            }
            if let scale { return .number(value * scale) }
        }
        return nil
    }
}

/// SCPI boolean arguments: `ON|OFF|1|0`.
enum SCPIBoolean {
    static func parse(_ text: String) -> Bool? {
        switch text.trimmedSpaces.uppercased() {
        case "ON", "1": true
        case "OFF", "0": false
        default: nil
        }
    }
}

/// A twin that executes IEEE 488.2 program messages.
protocol SCPIProgramExecutor: AnyObject {
    /// Executes one program message and returns its reply bytes, terminator included; empty when none.
    func respond(to message: [UInt8]) -> [UInt8]
    /// Queues `-363,"Input buffer overrun"` for a message longer than the input buffer.
    func inputOverrun()
}

/// One connection to an SCPI twin: block-aware LF framing (``SCPIFramer``) in, the twin's replies out.
final class SCPITwinSession: TwinSession {
    private let twin: any SCPIProgramExecutor
    private var framer: SCPIFramer

    /// A session whose messages may be up to `messageLimit` bytes (room for the largest block the twin takes).
    init(_ twin: any SCPIProgramExecutor, messageLimit: Int) {
        self.twin = twin
        framer = SCPIFramer(limit: messageLimit)
    }

    func receive(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        for message in framer.feed(bytes) {
            switch message {
            case let .message(body): out += twin.respond(to: body)
            case .overflow: twin.inputOverrun()
            }
        }
        return out
    }
}
