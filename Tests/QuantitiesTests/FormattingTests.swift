import Quantities
import Testing

/// A quantity of any dimension and the text it should format to.
struct FormatCase: Sendable, CustomTestStringConvertible {
    let quantity: any CustomStringConvertible & Sendable
    let expected: String
    init(_ quantity: any CustomStringConvertible & Sendable, _ expected: String) {
        self.quantity = quantity
        self.expected = expected
    }
    var testDescription: String { expected }
}

@Suite("Formatting quantities")
struct FormattingTests {
    @Test("description", arguments: [
        FormatCase(Time.microseconds(500), "500 µs"),
        FormatCase(Time.zero, "0 s"),
        FormatCase(Time.nanoseconds(50), "50 ns"),
        FormatCase(Time.picoseconds(1.5), "1.5 ps"),
        FormatCase(Time.seconds(1.23456789), "1.23457 s"),
        FormatCase(Time.seconds(999.9999999e-6), "1 ms"),
        FormatCase(Time.seconds(-2.5e-3), "-2.5 ms"),
        FormatCase(Time.seconds(59), "59 s"),
        FormatCase(Time.seconds(60), "1 min"),
        FormatCase(Time.seconds(90), "1.5 min"),
        FormatCase(Time.seconds(-90), "-1.5 min"),
        FormatCase(Time.seconds(61), "61 s"),
        FormatCase(Time.seconds(61.0000001), "1.01667 min"),
        FormatCase(Time.seconds(100), "100 s"),
        FormatCase(Time.seconds(3660), "61 min"),
        FormatCase(Time.hours(4), "4 h"),
        FormatCase(Time.seconds(5400), "1.5 h"),
        FormatCase(Time.days(2), "2 d"),
        FormatCase(Time.days(365), "365 d"),
        FormatCase(Time.seconds(123_456_789), "1428.9 d"),
        FormatCase(Time.seconds(1e-30), "0.000001 ys"),
        FormatCase(Frequency.hertz(1500), "1.5 kHz"),
        FormatCase(Frequency.megahertz(5), "5 MHz"),
        FormatCase(Frequency.hertz(0.01), "10 mHz"),
        FormatCase(Frequency.hertz(1e21), "1000 EHz"),
        FormatCase(Frequency.hertz(999_999.6), "1 MHz"),
        FormatCase(SampleRate.samplesPerSecond(2.5e9), "2.5 GS/s"),
        FormatCase(Temperature.kelvin(0.0123), "12.3 mK"),
        FormatCase(Temperature.kelvin(300), "300 K"),
        FormatCase(Temperature.zero, "0 K"),
        FormatCase(Power.microwatts(4), "4 µW"),
        FormatCase(Resistance.ohms(4700), "4.7 k\u{3A9}"),
        FormatCase(Voltage.millivolts(-1.5), "-1.5 mV"),
        FormatCase(Current.picoamperes(1), "1 pA"),
        FormatCase(MagneticField.milligauss(1), "100 nT"),
    ])
    func description(_ example: FormatCase) {
        #expect(example.quantity.description == example.expected)
    }

    @Test(arguments: [
        (1.23456789, 3, "1.23 s"), (1.5, 1, "2 s"), (2.5, 1, "3 s"), (-2.5, 1, "-3 s"), (0.00125, 2, "1.3 ms"),
        (0.0009995, 3, "1 ms"), (0.1, 17, "100 ms"), (1.0 / 3.0, 17, "333.3333333333333 ms"), (90, 1, "90 s"), (150, 1, "3 min"),
    ])
    func significantDigits(seconds: Double, digits: Int, expected: String) {
        #expect(Time.seconds(seconds).formatted(significantDigits: digits) == expected)
    }

    @Test("formatted(in:)")
    func forcedUnit() throws {
        #expect(try Time.microseconds(500).formatted(in: "ms") == "0.5 ms")
        #expect(try Time.microseconds(500).formatted(in: " us ") == "500 us")
        #expect(try Time.seconds(90).formatted(in: "h") == "0.025 h")
        #expect(try Time.hours(4).formatted(in: "s") == "14400 s")
        #expect(try Time.seconds(1).formatted(in: "min", significantDigits: 3) == "0.0167 min")
        #expect(try Temperature.millikelvin(10).formatted(in: "°C") == "-273.14 °C")
        #expect(try Temperature.kelvin(300).formatted(in: "mK") == "300000 mK")
        #expect(try MagneticField.teslas(1e-7).formatted(in: "mG") == "1 mG")
        #expect(try Resistance.kiloohms(4.7).formatted(in: "ohm") == "4700 ohm")
        #expect(try SampleRate.gigasamplesPerSecond(2.5).formatted(in: "MSPS") == "2500 MSPS")
    }

    @Test("formatted(in:) rejects units of other dimensions")
    func forcedUnitErrors() {
        let wrong = #expect(throws: QuantityParseError.self) { try Time.seconds(1).formatted(in: "Hz") }
        #expect(wrong?.reason == .wrongDimension(unit: "Hz", dimension: "frequency"))
        let unknown = #expect(throws: QuantityParseError.self) { try Voltage.volts(1).formatted(in: "furlong") }
        #expect(unknown?.reason == .unknownUnit("furlong"))
        let empty = #expect(throws: QuantityParseError.self) { try Voltage.volts(1).formatted(in: " ") }
        #expect(empty?.reason == .missingUnit)
    }
}
