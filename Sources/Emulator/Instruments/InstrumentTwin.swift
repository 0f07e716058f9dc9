import Foundation

/// An emulated instrument: shared state over the physics model, reached through per-connection
/// sessions that each keep their own input framing (as separate sockets to a real instrument do).
public protocol InstrumentTwin: AnyObject, Sendable {
    /// The profile id, used in `LOOPBACK::<id>`.
    var id: String { get }
    var kind: InstrumentKind { get }
    /// A new connection's byte-stream state machine.
    func makeSession() -> any TwinSession
}

/// One connection to a twin: bytes in, reply bytes out, with the instrument's own framing.
public protocol TwinSession: AnyObject {
    /// Consumes `bytes` (any split of the stream) and returns the reply bytes they complete, if any.
    func receive(_ bytes: [UInt8]) -> [UInt8]
}

/// Splits a byte stream into lines ending in LF (an optional CR before it is dropped), and keeps an
/// over-long line from growing without bound: anything beyond `limit` bytes is discarded and the line
/// is reported as overflowed.
struct LineFramer {
    enum Line: Equatable {
        case text(String)
        case overflow
    }

    var limit = 4096
    private var buffer: [UInt8] = []
    private var overflowed = false
    /// Also end a line at a bare CR (the TPG 366 ends commands with CR).
    var carriageReturnEndsLine = false

    mutating func feed(_ bytes: [UInt8]) -> [Line] {
        var lines: [Line] = []
        for byte in bytes {
            if byte == 0x0A || (carriageReturnEndsLine && byte == 0x0D) {
                if overflowed {
                    lines.append(.overflow)
                } else {
                    if buffer.last == 0x0D { buffer.removeLast() }
                    if !(carriageReturnEndsLine && buffer.isEmpty && byte == 0x0A) {
                        lines.append(.text(String(decoding: buffer, as: UTF8.self)))
                    }
                }
                buffer.removeAll(keepingCapacity: true)
                overflowed = false
            } else if buffer.count < limit {
                buffer.append(byte)
            } else {
                overflowed = true
            }
        }
        return lines
    }

    mutating func reset() {
        buffer.removeAll()
        overflowed = false
    }
}

/// Numbers as instruments parse them from the wire: plain decimal text only — an optional sign,
/// digits with an optional decimal point, and an optional exponent — whose value is finite. Swift's
/// `Double(_:)` also takes `inf`, `nan` and hexadecimal (`0x1p3`) and turns `1e999` into infinity; no
/// instrument accepts those, and a non-finite value would poison the physics model.
enum WireNumber {
    static func decimal(_ text: some StringProtocol) -> Double? {
        var digits = 0
        var index = text.utf8.startIndex
        let bytes = text.utf8
        func at(_ i: String.UTF8View.Index) -> UInt8? { i < bytes.endIndex ? bytes[i] : nil }
        if let sign = at(index), sign == 0x2B || sign == 0x2D { index = bytes.index(after: index) }
        while let b = at(index), (0x30...0x39).contains(b) { digits += 1; index = bytes.index(after: index) }
        if at(index) == 0x2E {
            index = bytes.index(after: index)
            while let b = at(index), (0x30...0x39).contains(b) { digits += 1; index = bytes.index(after: index) }
        }
        guard digits > 0 else { return nil }
        if let e = at(index), e == 0x45 || e == 0x65 {
            index = bytes.index(after: index)
            if let sign = at(index), sign == 0x2B || sign == 0x2D { index = bytes.index(after: index) }
            var exponentDigits = 0
            while let b = at(index), (0x30...0x39).contains(b) { exponentDigits += 1; index = bytes.index(after: index) }
            guard exponentDigits > 0 else { return nil }
        }
        guard index == bytes.endIndex, let value = Double(String(text)), value.isFinite else { return nil }
        return value
    }

    /// The decimal value of `text` if it lies in `range`.
    static func decimal(_ text: some StringProtocol, in range: ClosedRange<Double>) -> Double? {
        decimal(text).flatMap { range.contains($0) ? $0 : nil }
    }
}

/// Number formats instruments put on the wire, built without Foundation's `String(format:)`:
/// the emulator formats a number for every reading it serves.
enum WireFormat {
    /// Lake Shore's engineering notation with six significant digits, `±nnn.nnnE±nn`:
    /// 293.873 → `+293.873E+00`, 0.0123 → `+12.3000E-03`, 0 → `+0.00000E+00`.
    static func engineering(_ value: Double) -> String {
        guard value.isFinite, value != 0 else { return "+0.00000E+00" }
        let sign = value < 0 ? "-" : "+"
        var magnitude = abs(value)
        var exponent = Int((log10(magnitude) / 3).rounded(.down)) * 3
        magnitude /= pow(10, Double(exponent))
        // Rounding to six digits may carry into the next group (999.9999 → 1000.00).
        var digitsBefore = magnitude >= 100 ? 3 : magnitude >= 10 ? 2 : 1
        var rounded = (magnitude * pow(10, Double(6 - digitsBefore))).rounded() / pow(10, Double(6 - digitsBefore))
        if rounded >= 1000 {
            exponent += 3
            rounded /= 1000
            digitsBefore = 1
        }
        let expSign = exponent < 0 ? "-" : "+"
        return sign + fixed(rounded, decimals: 6 - digitsBefore) + "E" + expSign + zeroPadded(abs(exponent), width: 2)
    }

    /// A signed fixed-point number, e.g. `+0.500` (printf's `%+.3f`).
    static func signed(_ value: Double, decimals: Int) -> String {
        (value.sign == .minus ? "" : "+") + fixed(value, decimals: decimals)
    }

    /// `value` rounded half away from zero to `decimals` places, as printf's `%.Nf` writes it
    /// (a negative value keeps its minus sign even when it rounds to zero).
    static func fixed(_ value: Double, decimals: Int) -> String {
        precondition((0...9).contains(decimals), "0 to 9 decimals")
        var unit: Int64 = 1
        for _ in 0..<decimals { unit *= 10 }
        let scaled = (abs(value) * Double(unit)).rounded()
        guard value.isFinite, scaled < 9e15 else {
            return String(format: "%.\(decimals)f", value)  // beyond Int64's exact range: rare, not on the hot path
        }
        let units = Int64(scaled)
        let whole = String(units / unit)
        let text = decimals == 0 ? whole : whole + "." + zeroPadded(Int(units % unit), width: decimals)
        return value.sign == .minus ? "-" + text : text
    }

    /// A non-negative integer with leading zeros to `width` digits (printf's `%0Nd`).
    static func zeroPadded(_ value: Int, width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}

extension StringProtocol where UTF8View: BidirectionalCollection {
    /// The text without leading and trailing spaces and tabs (what `.whitespaces` trims), found on
    /// the UTF-8 bytes without bridging to Foundation: the twins trim every command they parse.
    var trimmedSpaces: SubSequence {
        let bytes = utf8
        var start = bytes.startIndex, end = bytes.endIndex
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start = bytes.index(after: start) }
        while end > start {
            let last = bytes.index(before: end)
            guard bytes[last] == 0x20 || bytes[last] == 0x09 else { break }
            end = last
        }
        return self[start..<end]
    }
}
