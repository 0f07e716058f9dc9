import Quantities
import Testing
import TestSupport

private let second: Int64 = 1_000_000_000
private let examplePoint: Int64 = 1_692_109_800 * second  // 2023-08-15T14:30:00Z

private let parsingCases: [(String, Int64)] = [
    ("1970-01-01T00:00:00Z", 0),
    ("2000-01-01T00:00:00Z", 946_684_800 * second),
    ("2023-08-15T14:30:00Z", examplePoint),
    ("2023-08-15T14:30:00.123456789Z", examplePoint + 123_456_789),
    ("2023-08-15T14:30:00.5Z", examplePoint + 500_000_000),
    ("2023-08-15T14:30:00.000000001Z", examplePoint + 1),
    ("2023-08-15T16:30:00+02:00", examplePoint),
    ("2023-08-15T16:30:00+0200", examplePoint),
    ("2023-08-15T09:00:00-05:30", examplePoint),
    ("2023-08-15T09:00:00-0530", examplePoint),
    ("2023-08-15T14:30:00-00:00", examplePoint),
    ("2023-08-15t14:30:00z", examplePoint),
    ("2023-08-15 14:30:00Z", examplePoint),
    ("  2023-08-15T14:30:00Z\n", examplePoint),
    ("2023-12-31T23:59:59Z", 1_704_067_199 * second),
    ("2024-02-29T00:00:00Z", 1_709_164_800 * second),
    ("2000-02-29T12:00:00Z", 951_825_600 * second),
    ("1969-12-31T23:59:59.999999999Z", -1),
    ("1900-03-01T00:00:00Z", -2_203_891_200 * second),
    ("2023-08-16T00:30:00+10:00", examplePoint),
    ("1677-09-21T00:12:43.145224192Z", Int64.min),
    ("2262-04-11T23:47:16.854775807Z", Int64.max),
]

private let formattingCases: [(Int64, String)] = [
    (0, "1970-01-01T00:00:00Z"),
    (examplePoint, "2023-08-15T14:30:00Z"),
    (examplePoint + 123_000_000, "2023-08-15T14:30:00.123Z"),
    (examplePoint + 123_456_789, "2023-08-15T14:30:00.123456789Z"),
    (examplePoint + 500_000_000, "2023-08-15T14:30:00.5Z"),
    (examplePoint + 1_000, "2023-08-15T14:30:00.000001Z"),
    (1_709_164_800 * second, "2024-02-29T00:00:00Z"),
    (-1, "1969-12-31T23:59:59.999999999Z"),
    (-86_400 * second, "1969-12-31T00:00:00Z"),
    (Int64.min, "1677-09-21T00:12:43.145224192Z"),
    (Int64.max, "2262-04-11T23:47:16.854775807Z"),
]

@Suite("Timestamps")
struct TimestampTests {
    @Test("Parsing", arguments: parsingCases)
    func parsing(input: String, nanoseconds: Int64) throws {
        #expect(try Timestamp(parsing: input).nanosecondsSinceEpoch == nanoseconds)
    }

    @Test("Formatting with the fewest fractional digits", arguments: formattingCases)
    func formatting(nanoseconds: Int64, expected: String) {
        #expect(Timestamp(nanosecondsSinceEpoch: nanoseconds).description == expected)
    }

    @Test("Any timestamp reads back from its description")
    func roundTrip() throws {
        var random = SplitMix64(seed: 0x7157)
        for _ in 0..<5_000 {
            let raw = Int64(bitPattern: random.next())
            // Mix full-nanosecond values with whole seconds and milliseconds.
            let timestamp = Timestamp(nanosecondsSinceEpoch: [raw, raw / second * second, raw / 1_000_000 * 1_000_000][Int(random.next() % 3)])
            #expect(try Timestamp(parsing: timestamp.description) == timestamp)
        }
    }

    @Test("Every day from 1678 to 2261 formats and parses consistently")
    func calendar() throws {
        // Covers the common century years 1700, 1800, 1900, 2100, 2200 and the leap year 2000.
        let start = Timestamp(nanosecondsSinceEpoch: -9_214_560_000 * second)
        #expect(start.description == "1678-01-01T00:00:00Z")
        var previous = start.description
        var nanoseconds = start.nanosecondsSinceEpoch
        for day in 1...213_300 {
            nanoseconds += 86_400 * second
            let next = Timestamp(nanosecondsSinceEpoch: nanoseconds)
            let text = next.description
            // Record only failures: an #expect per day would dominate the run time.
            if try Timestamp(parsing: text) != next || text <= previous {
                Issue.record("day \(day): \(nanoseconds) ns formats as \(text) after \(previous)")
            }
            previous = text
        }
        #expect(previous == "2261-12-31T00:00:00Z")
    }

    @Test("Malformed timestamps name the field", arguments: [
        ("", TimestampParseError.Field.year, ""),
        ("23-08-15T14:30:00Z", .year, "23"),
        ("20230815T143000Z", .year, "20230815"),
        ("1500-01-01T00:00:00Z", .year, "1500"),
        ("2263-01-01T00:00:00Z", .year, "2263"),
        ("2023/08/15T14:30:00Z", .month, "/"),
        ("2023-8-15T14:30:00Z", .month, "8"),
        ("2023-13-01T00:00:00Z", .month, "13"),
        ("2023-00-01T00:00:00Z", .month, "00"),
        ("2023-02-29T00:00:00Z", .day, "29"),
        ("2100-02-29T00:00:00Z", .day, "29"),
        ("2024-04-31T00:00:00Z", .day, "31"),
        ("2024-01-00T00:00:00Z", .day, "00"),
        ("2023-08-15", .hour, ""),
        ("2023-08-15X14:30:00Z", .hour, "X"),
        ("2023-08-15T24:00:00Z", .hour, "24"),
        ("2023-08-15T14:60:00Z", .minute, "60"),
        ("2023-08-15T14:30Z", .second, "Z"),
        ("2023-08-15T14:30:60Z", .second, "60"),
        ("2023-08-15T14:30:00.Z", .fraction, "."),
        ("2023-08-15T14:30:00.1234567891Z", .fraction, ".1234567891"),
        ("2023-08-15T14:30:00", .timeZone, ""),
        ("2023-08-15T14:30:00 Z", .timeZone, " Z"),
        ("2023-08-15T14:30:00Zjunk", .timeZone, "Zjunk"),
        ("2023-08-15T14:30:00+02", .timeZone, "+02"),
        ("2023-08-15T14:30:00+2:00", .timeZone, "+2:00"),
        ("2023-08-15T14:30:00+02:0", .timeZone, "+02:0"),
        ("2023-08-15T14:30:00+25:00", .timeZone, "+25:00"),
        ("2023-08-15T14:30:00+02:60", .timeZone, "+02:60"),
        ("2023-08-15T14:30:00UTC", .timeZone, "UTC"),
        ("2023-08-15T14:30:00+02:00:00", .timeZone, "+02:00:00"),
        ("2023-08-15T14:30:00\u{2212}02:00", .timeZone, "\u{2212}02:00"),
    ])
    func malformed(input: String, field: TimestampParseError.Field, found: String) {
        let error = #expect(throws: TimestampParseError.self) { try Timestamp(parsing: input) }
        #expect(error?.field == field)
        #expect(error?.found == found)
        #expect(error?.input == input)
        #expect(error?.description.contains("\"\(input)\"") == true)
        #expect(Timestamp(input) == nil)
    }

    @Test("Error messages say what was expected")
    func errorMessages() throws {
        let zone = try #require(throws: TimestampParseError.self) { try Timestamp(parsing: "2023-08-15T14:30:00") }
        #expect(zone.description == "Invalid timestamp \"2023-08-15T14:30:00\": the time zone is missing; "
            + "expected \"Z\" or an offset ±hh:mm such as \"+02:00\" at the end.")
        let day = try #require(throws: TimestampParseError.self) { try Timestamp(parsing: "2023-02-29T00:00:00Z") }
        #expect(day.description == "Invalid timestamp \"2023-02-29T00:00:00Z\": the day \"29\" is invalid; "
            + "expected \"-\" and a 2-digit day 01–28 (2023-02 has 28 days).")
        let leap = try #require(throws: TimestampParseError.self) { try Timestamp(parsing: "2016-12-31T23:59:60Z") }
        #expect(leap.expected.contains("leap seconds are not supported"))
        let range = try #require(throws: TimestampParseError.self) { try Timestamp(parsing: "2300-01-01T00:00:00Z") }
        #expect(range.expected.contains("1677-09-21T00:12:43.145224192Z … 2262-04-11T23:47:16.854775807Z"))
    }

    @Test("Arithmetic with Duration")
    func arithmetic() throws {
        let start = try Timestamp(parsing: "2023-08-15T14:30:00Z")
        #expect((start + .seconds(90)).description == "2023-08-15T14:31:30Z")
        #expect((start - .milliseconds(1)).description == "2023-08-15T14:29:59.999Z")
        #expect(try Timestamp(parsing: "2023-08-16T14:30:00Z") - start == .seconds(86_400))
        #expect(start - (start + .nanoseconds(5)) == .nanoseconds(-5))
        #expect(Timestamp(nanosecondsSinceEpoch: .max) - Timestamp(nanosecondsSinceEpoch: .min)
            == .nanoseconds(Int64.max) + .nanoseconds(Int64.max) + .nanoseconds(1))
        // Sub-nanosecond parts round to the nearest nanosecond, halves away from zero.
        #expect((start + Duration(secondsComponent: 0, attosecondsComponent: 1_499_999_999)).nanosecondsSinceEpoch
            == start.nanosecondsSinceEpoch + 1)
        #expect((start + Duration(secondsComponent: 0, attosecondsComponent: 1_500_000_000)).nanosecondsSinceEpoch
            == start.nanosecondsSinceEpoch + 2)
        #expect((start - Duration(secondsComponent: 0, attosecondsComponent: 1_500_000_000)).nanosecondsSinceEpoch
            == start.nanosecondsSinceEpoch - 2)
        var moving = start
        moving += Time.hours(4).duration
        moving -= .seconds(3600)
        #expect(moving.description == "2023-08-15T17:30:00Z")
        #expect(start < moving)
    }

    @Test("now() reads the real-time clock")
    func now() throws {
        let earliest = try Timestamp(parsing: "2024-01-01T00:00:00Z")
        let latest = try Timestamp(parsing: "2200-01-01T00:00:00Z")
        let first = Timestamp.now()
        #expect(first > earliest && first < latest)
        #expect(Timestamp.now() - first < .seconds(60))
    }
}
