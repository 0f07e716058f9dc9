#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An instant in UTC, as nanoseconds since 1970-01-01T00:00:00Z (Unix time: leap seconds are
/// not counted). Covers 1677-09-21T00:12:43.145224192Z … 2262-04-11T23:47:16.854775807Z.
public struct Timestamp: Hashable, Comparable, Sendable {
    /// Nanoseconds since the Unix epoch; negative before 1970.
    public let nanosecondsSinceEpoch: Int64

    /// The instant `nanosecondsSinceEpoch` nanoseconds after the Unix epoch.
    public init(nanosecondsSinceEpoch: Int64) {
        self.nanosecondsSinceEpoch = nanosecondsSinceEpoch
    }

    /// The current wall-clock time (CLOCK_REALTIME).
    public static func now() -> Timestamp {
        var time = timespec()
        let status = clock_gettime(CLOCK_REALTIME, &time)
        precondition(status == 0, "clock_gettime(CLOCK_REALTIME) failed")
        return Timestamp(nanosecondsSinceEpoch: Int64(time.tv_sec) * nanosecondsPerSecond + Int64(time.tv_nsec))
    }

    /// Orders chronologically.
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.nanosecondsSinceEpoch < rhs.nanosecondsSinceEpoch }

    /// The instant `duration` later, rounded to the nearest nanosecond; traps outside the range.
    public static func + (lhs: Self, rhs: Duration) -> Self { lhs.advanced(byAttoseconds: rhs.totalAttoseconds) }
    /// The instant `duration` earlier, rounded to the nearest nanosecond; traps outside the range.
    public static func - (lhs: Self, rhs: Duration) -> Self { lhs.advanced(byAttoseconds: -rhs.totalAttoseconds) }
    /// Moves the instant later by `duration`.
    public static func += (lhs: inout Self, rhs: Duration) { lhs = lhs + rhs }
    /// Moves the instant earlier by `duration`.
    public static func -= (lhs: inout Self, rhs: Duration) { lhs = lhs - rhs }

    /// The time elapsed from `rhs` to `lhs` (negative if `lhs` is earlier).
    public static func - (lhs: Self, rhs: Self) -> Duration {
        let nanoseconds = Int128(lhs.nanosecondsSinceEpoch) - Int128(rhs.nanosecondsSinceEpoch)
        let (seconds, remainder) = nanoseconds.quotientAndRemainder(dividingBy: Int128(nanosecondsPerSecond))
        return .seconds(Int64(seconds)) + .nanoseconds(Int64(remainder))
    }

    private func advanced(byAttoseconds attoseconds: Int128) -> Self {
        let attosecondsPerNanosecond: Int128 = 1_000_000_000
        let (quotient, remainder) = attoseconds.quotientAndRemainder(dividingBy: attosecondsPerNanosecond)
        let roundsAway = 2 * remainder.magnitude >= attosecondsPerNanosecond.magnitude
        let nanoseconds = quotient + (roundsAway ? (remainder < 0 ? -1 : 1) : 0)
        guard let result = Int64(exactly: Int128(nanosecondsSinceEpoch) + nanoseconds) else {
            preconditionFailure("\(self) moved by \(attoseconds) as is outside the range of Timestamp")
        }
        return Timestamp(nanosecondsSinceEpoch: result)
    }
}

private let nanosecondsPerSecond: Int64 = 1_000_000_000
private let secondsPerDay = 86_400

extension Timestamp: LosslessStringConvertible {
    /// RFC 3339 in UTC with the fewest fractional digits needed:
    /// "2023-08-15T14:30:00Z", "2023-08-15T14:30:00.123Z", "…:00.123456789Z".
    public var description: String {
        let nanosecondsPerDay = Int64(secondsPerDay) * nanosecondsPerSecond
        var (days, nanosecondOfDay) = nanosecondsSinceEpoch.quotientAndRemainder(dividingBy: nanosecondsPerDay)
        if nanosecondOfDay < 0 {
            days -= 1
            nanosecondOfDay += nanosecondsPerDay
        }
        let date = civilDate(fromDays: Int(days))
        let secondOfDay = Int(nanosecondOfDay / nanosecondsPerSecond)
        var text = "\(padded(date.year, 4))-\(padded(date.month, 2))-\(padded(date.day, 2))"
            + "T\(padded(secondOfDay / 3600, 2)):\(padded(secondOfDay / 60 % 60, 2)):\(padded(secondOfDay % 60, 2))"
        let fraction = padded(Int(nanosecondOfDay % nanosecondsPerSecond), 9)
        if let last = fraction.lastIndex(where: { $0 != "0" }) {
            text += "." + fraction[...last]
        }
        return text + "Z"
    }

    /// Parses an RFC 3339 / ISO 8601 timestamp such as "2023-08-15T14:30:00Z",
    /// "2023-08-15T14:30:00.123456789+02:00" or "2023-08-15 14:30:00-0530".
    ///
    /// Accepted: "T", "t" or a space between date and time; 1 to 9 fractional digits; a zone
    /// "Z"/"z", ±hh:mm or ±hhmm (required). Fields are validated, including leap years.
    /// Leap seconds (second 60) are rejected: Unix time cannot represent them.
    public init(parsing input: String) throws(TimestampParseError) {
        var scanner = TimestampScanner(input: input)
        let year = try scanner.number(.year, digits: 4, in: 0...9999,
                                      expected: "a 4-digit year, as in \"2023-08-15T14:30:00Z\"")
        let month = try scanner.number(.month, after: "-", digits: 2, in: 1...12,
                                       expected: "\"-\" and a 2-digit month 01–12")
        let length = daysInMonth(year: year, month: month)
        let day = try scanner.number(.day, after: "-", digits: 2, in: 1...length,
                                     expected: "\"-\" and a 2-digit day 01–\(length) (\(padded(year, 4))-\(padded(month, 2)) has \(length) days)")
        let hour = try scanner.number(.hour, after: "Tt ", digits: 2, in: 0...23,
                                      expected: "\"T\" (or a space) and a 2-digit hour 00–23")
        let minute = try scanner.number(.minute, after: ":", digits: 2, in: 0...59,
                                        expected: "\":\" and a 2-digit minute 00–59")
        let second = try scanner.number(.second, after: ":", digits: 2, in: 0...59,
                                        expected: "\":\" and a 2-digit second 00–59 (leap seconds are not supported)")
        let nanosecond = try scanner.fraction()
        let offset = try scanner.zoneOffsetInSeconds()

        let seconds = Int128(daysFromCivil(year: year, month: month, day: day)) * Int128(secondsPerDay)
            + Int128(hour * 3600 + minute * 60 + second - offset)
        guard let nanoseconds = Int64(exactly: seconds * Int128(nanosecondsPerSecond) + Int128(nanosecond)) else {
            let range = "\(Timestamp(nanosecondsSinceEpoch: .min)) … \(Timestamp(nanosecondsSinceEpoch: .max))"
            throw TimestampParseError(input: input, field: .year, found: padded(year, 4),
                                      expected: "an instant within \(range) (64-bit nanoseconds since 1970)")
        }
        self.init(nanosecondsSinceEpoch: nanoseconds)
    }

    /// Parses `description`; nil where `init(parsing:)` throws.
    public init?(_ description: String) {
        try? self.init(parsing: description)
    }
}

/// Reads the fields of a timestamp left to right, reporting the first one that is wrong.
private struct TimestampScanner {
    let input: String
    let bytes: [UInt8]
    var position = 0

    init(input: String) {
        self.input = input
        self.bytes = Array(input.trimmedOfWhitespace.utf8)
    }

    /// Reads one of the `separators` (if any are given) and then exactly `count` digits whose
    /// value lies in `range`.
    mutating func number(
        _ field: TimestampParseError.Field, after separators: String = "", digits count: Int,
        in range: ClosedRange<Int>, expected: String
    ) throws(TimestampParseError) -> Int {
        if !separators.isEmpty {
            guard position < bytes.count, separators.utf8.contains(bytes[position]) else {
                throw failure(field, found: token(at: position), expected: expected)
            }
            position += 1
        }
        let run = digitRun(at: position)
        guard run.count == count, range.contains(value(of: run)) else {
            throw failure(field, found: token(at: position), expected: expected)
        }
        position += count
        return value(of: run)
    }

    /// Reads an optional fraction ".d…" of 1 to 9 digits as nanoseconds.
    mutating func fraction() throws(TimestampParseError) -> Int {
        guard position < bytes.count, bytes[position] == UInt8(ascii: ".") else { return 0 }
        let run = digitRun(at: position + 1)
        guard (1...9).contains(run.count) else {
            throw failure(.fraction, found: "." + String(decoding: run, as: UTF8.self),
                          expected: "1 to 9 digits after the decimal point")
        }
        position += 1 + run.count
        return (run.count..<9).reduce(value(of: run)) { nanoseconds, _ in nanoseconds * 10 }
    }

    /// Reads the zone, which must end the text: "Z", "z", ±hh:mm or ±hhmm.
    mutating func zoneOffsetInSeconds() throws(TimestampParseError) -> Int {
        let zone = bytes[position...]
        let zoneError = failure(.timeZone, found: String(decoding: zone, as: UTF8.self),
                                expected: "\"Z\" or an offset ±hh:mm such as \"+02:00\" at the end")
        switch zone.first {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            guard zone.count == 1 else { throw zoneError }
            return 0
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            let fields = zone.dropFirst()
            let minutesStart = fields.dropFirst(2).first == UInt8(ascii: ":") ? 3 : 2
            guard fields.count == minutesStart + 2,
                  let hours = twoDigitValue(fields.prefix(2)), let minutes = twoDigitValue(fields.suffix(2)),
                  hours <= 23, minutes <= 59 else { throw zoneError }
            let offset = hours * 3600 + minutes * 60
            return zone.first == UInt8(ascii: "-") ? -offset : offset
        default:
            throw zoneError
        }
    }

    private func digitRun(at start: Int) -> ArraySlice<UInt8> {
        guard start < bytes.count else { return [] }
        return bytes[start...].prefix(while: isDigit)
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private func twoDigitValue(_ field: ArraySlice<UInt8>) -> Int? {
        field.count == 2 && field.allSatisfy(isDigit) ? value(of: field) : nil
    }

    /// The decimal value of a short run of ASCII digits.
    private func value(of run: ArraySlice<UInt8>) -> Int {
        run.prefix(9).reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
    }

    /// The offending text at `start`: its digits, else its next character; empty at the end.
    private func token(at start: Int) -> String {
        guard start < bytes.count else { return "" }
        let run = digitRun(at: start)
        if !run.isEmpty { return String(decoding: run, as: UTF8.self) }
        let continuation = bytes[(start + 1)...].prefix { $0 & 0xC0 == 0x80 }
        return String(decoding: bytes[start..<continuation.endIndex], as: UTF8.self)
    }

    private func failure(_ field: TimestampParseError.Field, found: String, expected: String) -> TimestampParseError {
        TimestampParseError(input: input, field: field, found: found, expected: expected)
    }
}

// MARK: Proleptic Gregorian calendar (Howard Hinnant's days-from-civil algorithms)

private func isLeapYear(_ year: Int) -> Bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

private func daysInMonth(year: Int, month: Int) -> Int {
    switch month {
    case 2: isLeapYear(year) ? 29 : 28
    case 4, 6, 9, 11: 30
    default: 31
    }
}

/// Days since 1970-01-01 of a valid civil date.
private func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
    let year = month <= 2 ? year - 1 : year
    let era = (year >= 0 ? year : year - 399) / 400
    let yearOfEra = year - era * 400
    let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
    let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
    return era * 146_097 + dayOfEra - 719_468
}

/// The civil date `days` after 1970-01-01.
private func civilDate(fromDays days: Int) -> (year: Int, month: Int, day: Int) {
    let shifted = days + 719_468
    let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
    let dayOfEra = shifted - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let shiftedMonth = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
    let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
    return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
}

/// `value` (non-negative) with leading zeros to `width` digits.
private func padded(_ value: Int, _ width: Int) -> String {
    let digits = String(value)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
}
