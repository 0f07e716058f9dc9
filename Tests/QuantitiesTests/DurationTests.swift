import Quantities
import Testing
import TestSupport

@Suite("Time and Swift.Duration")
struct DurationTests {
    @Test("Parsing gives exact durations", arguments: [
        ("50ns", Duration.nanoseconds(50)),
        ("500\u{3BC}s", .microseconds(500)),
        ("500\u{B5}s", .microseconds(500)),
        ("500us", .microseconds(500)),
        ("1.5 ps", Duration(secondsComponent: 0, attosecondsComponent: 1_500_000)),
        ("1 as", Duration(secondsComponent: 0, attosecondsComponent: 1)),
        ("1000 zs", Duration(secondsComponent: 0, attosecondsComponent: 1)),
        ("1e-18 s", Duration(secondsComponent: 0, attosecondsComponent: 1)),
        ("0.1 s", .milliseconds(100)),
        ("4h", .seconds(14_400)),
        ("1.5 min", .seconds(90)),
        ("-2.5 d", .seconds(-216_000)),
        ("0 s", .zero),
        ("123456789.123456789123456789 s", Duration(secondsComponent: 123_456_789, attosecondsComponent: 123_456_789_123_456_789)),
        ("-0.000000000000000001 s", Duration(secondsComponent: 0, attosecondsComponent: -1)),
        ("9.2e18 s", .seconds(9_200_000_000_000_000_000)),
        ("3 Es", .seconds(3_000_000_000_000_000_000)),
    ])
    func exactParsing(input: String, expected: Duration) throws {
        #expect(try Duration(parsing: input) == expected)
    }

    @Test("Exact parsing rejects what a Duration cannot hold", arguments: [
        ("1.5 zs", QuantityParseError.Reason.finerThanAttosecond),
        ("1e-19 s", .finerThanAttosecond),
        ("0.0000000000000000015 s", .finerThanAttosecond),
        ("1e19 s", .outsideDurationRange),
        ("-1e19 s", .outsideDurationRange),
        ("1e999 s", .outsideDurationRange),
        ("1e-999999 s", .finerThanAttosecond),
        ("5 Hz", .wrongDimension(unit: "Hz", dimension: "frequency")),
        ("50", .missingUnit),
        ("", .empty),
    ])
    func exactParsingErrors(input: String, reason: QuantityParseError.Reason) {
        let error = #expect(throws: QuantityParseError.self) { try Duration(parsing: input) }
        #expect(error?.reason == reason)
        #expect(error?.dimension == "time")
        #expect(error?.input == input)
    }

    @Test("Conversions to and from Duration")
    func conversions() {
        #expect(Time(.milliseconds(100)).siValue == 0.1)
        #expect(Time(.nanoseconds(50)).siValue == 50e-9)
        #expect(Time(.seconds(-3)).siValue == -3)
        #expect(Time.seconds(0.1).duration == .milliseconds(100))
        #expect(Time.microseconds(500).duration == .microseconds(500))
        #expect(Time.nanoseconds(-50).duration == .nanoseconds(-50))
        #expect(Time.hours(4).duration == .seconds(14_400))
        #expect(Time.seconds(1e-19).duration == .zero)
        #expect(Time.seconds(6e-19).duration == Duration(secondsComponent: 0, attosecondsComponent: 1))
    }

    @Test("Durations with up to 15 significant digits survive Time")
    func durationRoundTrip() {
        var random = SplitMix64(seed: 0xD0_2A_71_0E)
        for _ in 0..<2_000 {
            let seconds = Int64(random.next() % 100_000) - 50_000
            let nanoseconds = Int64(random.next() % 1_000_000_000) * (seconds < 0 ? -1 : 1)
            let duration = Duration.seconds(seconds) + .nanoseconds(nanoseconds)
            #expect(Time(duration).duration == duration)
        }
    }

    @Test("The exact path differs from the Double path where Double cannot hold the digits")
    func exactBeatsDouble() throws {
        let text = "123456789.123456789123456789 s"
        #expect(try Time(parsing: text).duration != Duration(parsing: text))
    }
}
