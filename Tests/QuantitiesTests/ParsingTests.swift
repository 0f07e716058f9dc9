import Quantities
import Testing

/// Parses `input` as `Quantity<D>` expecting a `QuantityParseError`, and checks its fields.
func expectParseError<D: PhysicalDimension>(
    _: D.Type, _ input: String, _ reason: QuantityParseError.Reason,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let error = #expect(throws: QuantityParseError.self, sourceLocation: sourceLocation) {
        try Quantity<D>(parsing: input)
    }
    #expect(error?.reason == reason, sourceLocation: sourceLocation)
    #expect(error?.input == input, sourceLocation: sourceLocation)
    #expect(error?.dimension == D.name, sourceLocation: sourceLocation)
    #expect(error?.example == D.example, sourceLocation: sourceLocation)
    #expect(error?.description.contains(D.name) == true, sourceLocation: sourceLocation)
    #expect(Quantity<D>(input) == nil, sourceLocation: sourceLocation)
}

@Suite("Parsing quantities")
struct ParsingTests {
    @Test(arguments: [
        ("500\u{3BC}s", 500e-6), ("500\u{B5}s", 500e-6), ("500us", 500e-6), ("500 µs", 500e-6),
        ("50 ns", 50e-9), ("50ns", 50e-9), ("1e-3 s", 1e-3), ("1E3 ms", 1), ("+2 s", 2), ("-2.5 ps", -2.5e-12),
        (".5 s", 0.5), ("5. s", 5), ("0 s", 0), ("3 ys", 3e-24), ("2 zs", 2e-21), ("7 as", 7e-18), ("8 fs", 8e-15),
        ("5Es", 5e18), ("5 Ts", 5e12), ("2 Ms", 2e6), ("1.5 ks", 1500),
        ("4h", 14_400), ("1.5 min", 90), ("2 d", 172_800), ("0.1 h", 360), ("1e-2 min", 0.6),
        ("  7 s  ", 7), ("\t7s\n", 7), ("500\u{A0}ms", 0.5), ("500 \u{202F} ms", 0.5), ("12.000 s", 12),
    ])
    func time(input: String, seconds: Double) throws {
        #expect(try Time(parsing: input).siValue == seconds)
        #expect(Time(input)?.siValue == seconds)
    }

    @Test(arguments: [
        ("1.5 kHz", 1500.0), ("5 MHz", 5e6), ("10 mHz", 0.01), ("2.4 GHz", 2.4e9), ("1 THz", 1e12), ("60Hz", 60),
        ("-3.25 kHz", -3250),
    ])
    func frequency(input: String, hertz: Double) throws {
        #expect(try Frequency(parsing: input).siValue == hertz)
    }

    @Test(arguments: [
        ("10 mK", 0.01), ("12.3 mK", 0.0123), ("300 K", 300), ("4.2K", 4.2), ("1.5 µK", 1.5e-6), ("0 K", 0),
        ("25 °C", 298.15), ("0 °C", 273.15), ("-273.15 °C", 0), ("-40 °C", 233.15), ("1e2°C", 373.15),
    ])
    func temperature(input: String, kelvin: Double) throws {
        #expect(try Temperature(parsing: input).siValue == kelvin)
    }

    @Test(arguments: [("4 µW", 4e-6), ("1.5 mW", 1.5e-3), ("10 W", 10), ("2 kW", 2000), ("3 nW", 3e-9), ("7 pW", 7e-12)])
    func power(input: String, watts: Double) throws {
        #expect(try Power(parsing: input).siValue == watts)
    }

    @Test(arguments: [
        ("50 \u{3A9}", 50.0), ("50 \u{2126}", 50), ("10 k\u{3A9}", 10_000), ("10 k\u{2126}", 10_000),
        ("4.7 kohm", 4700), ("1 MOhm", 1e6), ("100 m\u{3A9}", 0.1), ("50ohm", 50), ("2 GOhm", 2e9),
    ])
    func resistance(input: String, ohms: Double) throws {
        #expect(try Resistance(parsing: input).siValue == ohms)
    }

    @Test(arguments: [("+3 V", 3.0), ("-1.5 mV", -1.5e-3), ("10 µV", 1e-5), ("1.2 kV", 1200), ("0.5V", 0.5)])
    func voltage(input: String, volts: Double) throws {
        #expect(try Voltage(parsing: input).siValue == volts)
    }

    @Test(arguments: [("-1.5 mA", -1.5e-3), ("10 nA", 1e-8), ("3 pA", 3e-12), ("2 A", 2), ("250 uA", 2.5e-4)])
    func current(input: String, amperes: Double) throws {
        #expect(try Current(parsing: input).siValue == amperes)
    }

    @Test(arguments: [
        ("1 T", 1.0), ("10 mT", 0.01), ("50 µT", 5e-5), ("5 G", 5e-4), ("1 mG", 1e-7), ("2 kG", 0.2),
        ("3 GT", 3e9), ("0.5 G", 5e-5),
    ])
    func magneticField(input: String, teslas: Double) throws {
        #expect(try MagneticField(parsing: input).siValue == teslas)
    }

    @Test(arguments: [
        ("2.5 GS/s", 2.5e9), ("250 MSa/s", 250e6), ("1 MSPS", 1e6), ("100 ksps", 1e5), ("10 S/s", 10),
        ("1.25 GSa/s", 1.25e9), ("20 kS/s", 2e4),
    ])
    func sampleRate(input: String, samplesPerSecond: Double) throws {
        #expect(try SampleRate(parsing: input).siValue == samplesPerSecond)
    }

    @Test(arguments: [
        ("1e-6 mbar", 1e-4), ("1013.25 mbar", 101325), ("1 bar", 1e5), ("5 Pa", 5), ("2.5 kPa", 2500),
        ("760 Torr", 101325), ("1 mTorr", 0.1333223684211), ("3.2E-03 mbar", 0.32),
    ])
    func pressure(input: String, pascals: Double) throws {
        let parsed = try Pressure(parsing: input)
        #expect(abs(parsed.siValue - pascals) <= 1e-12 * abs(pascals))
    }

    @Test("Malformed pressures")
    func malformedPressure() {
        expectParseError(PressureDimension.self, "-1 mbar", .belowLowerLimit("vacuum (0 Pa)"))
        expectParseError(PressureDimension.self, "5 K", .wrongDimension(unit: "K", dimension: "temperature"))
        expectParseError(PressureDimension.self, "5 psi", .unknownUnit("psi"))
        expectParseError(TimeDimension.self, "5 mbar", .wrongDimension(unit: "mbar", dimension: "pressure"))
    }

    @Test("Malformed times", arguments: [
        ("", QuantityParseError.Reason.empty), ("   ", .empty),
        ("abc", .malformedNumber), ("nan", .malformedNumber), ("inf", .malformedNumber), ("nan s", .malformedNumber),
        ("-inf s", .malformedNumber), ("--5 s", .malformedNumber), ("+-5 s", .malformedNumber),
        ("5..0 s", .malformedNumber), ("5 5 s", .malformedNumber), ("5-3 s", .malformedNumber), (". s", .malformedNumber),
        ("5", .missingUnit), ("  42 ", .missingUnit), ("1e5", .missingUnit),
        ("ms", .missingNumber), ("µs", .missingNumber), ("Hz", .missingNumber),
        ("5 kg", .unknownUnit("kg")), ("5 ss", .unknownUnit("ss")), ("5 cs", .unknownUnit("cs")),
        ("5 das", .unknownUnit("das")), ("5 kmin", .unknownUnit("kmin")), ("5 S", .unknownUnit("S")),
        ("5 s s", .unknownUnit("s s")), ("5e s", .unknownUnit("e s")),
        ("5 Hz", .wrongDimension(unit: "Hz", dimension: "frequency")),
        ("5 mK", .wrongDimension(unit: "mK", dimension: "temperature")),
        ("5 T", .wrongDimension(unit: "T", dimension: "magnetic field")),
        ("5 G", .wrongDimension(unit: "G", dimension: "magnetic field")),
        ("5 MSa/s", .wrongDimension(unit: "MSa/s", dimension: "sample rate")),
        ("1e999 s", .outOfRange), ("1e-999 s", .outOfRange), ("1e308 d", .outOfRange),
        ("1e99999999999999999999 s", .outOfRange),
    ])
    func malformedTime(input: String, reason: QuantityParseError.Reason) {
        expectParseError(TimeDimension.self, input, reason)
    }

    @Test("Malformed temperatures")
    func malformedTemperature() {
        let absoluteZero = QuantityParseError.Reason.belowLowerLimit("absolute zero (0 K)")
        expectParseError(TemperatureDimension.self, "-5 K", absoluteZero)
        expectParseError(TemperatureDimension.self, "-0.1 mK", absoluteZero)
        expectParseError(TemperatureDimension.self, "-300 °C", absoluteZero)
        expectParseError(TemperatureDimension.self, "-273.16 °C", absoluteZero)
        expectParseError(TemperatureDimension.self, "5 m°C", .unknownUnit("m°C"))
        expectParseError(TemperatureDimension.self, "5 C", .unknownUnit("C"))
        expectParseError(TemperatureDimension.self, "5 s", .wrongDimension(unit: "s", dimension: "time"))
    }

    @Test("Units of the wrong dimension name that dimension")
    func wrongDimensions() {
        expectParseError(VoltageDimension.self, "5 mA", .wrongDimension(unit: "mA", dimension: "current"))
        expectParseError(CurrentDimension.self, "5 V", .wrongDimension(unit: "V", dimension: "voltage"))
        expectParseError(FrequencyDimension.self, "2.5 GS/s", .wrongDimension(unit: "GS/s", dimension: "sample rate"))
        expectParseError(SampleRateDimension.self, "1 MHz", .wrongDimension(unit: "MHz", dimension: "frequency"))
        expectParseError(PowerDimension.self, "5 k\u{3A9}", .wrongDimension(unit: "k\u{3A9}", dimension: "resistance"))
        expectParseError(ResistanceDimension.self, "5 W", .wrongDimension(unit: "W", dimension: "power"))
        expectParseError(MagneticFieldDimension.self, "5 K", .wrongDimension(unit: "K", dimension: "temperature"))
        expectParseError(MagneticFieldDimension.self, "5 Gs", .wrongDimension(unit: "Gs", dimension: "time"))
        expectParseError(PowerDimension.self, "5 dBm", .unknownUnit("dBm"))
    }

    @Test("Error messages quote the input and say what was expected")
    func errorMessages() throws {
        let wrong = try #require(throws: QuantityParseError.self) { try Time(parsing: "5 Hz") }
        #expect(wrong.description == "\"5 Hz\": Hz is a unit of frequency, expected a time such as 500 µs.")

        let unknown = try #require(throws: QuantityParseError.self) { try Time(parsing: "5 kg") }
        #expect(unknown.description.hasPrefix("\"5 kg\": \"kg\" is not a unit of time. Accepted units: s, min, h, d;"))
        #expect(unknown.description.contains("SI prefixes y z a f p n µ (or u) m k M G T P E may precede s."))

        let bare = try #require(throws: QuantityParseError.self) { try Frequency(parsing: "5") }
        #expect(bare.description.hasPrefix("\"5\" has no unit; expected a frequency such as 5 MHz. Accepted units: Hz"))

        let cold = try #require(throws: QuantityParseError.self) { try Temperature(parsing: "-5 K") }
        #expect(cold.description == "\"-5 K\" is below absolute zero (0 K); expected a temperature such as 10 mK.")

        let empty = try #require(throws: QuantityParseError.self) { try Resistance(parsing: "") }
        #expect(empty.description == "The input is empty; expected a resistance such as 50 \u{3A9}.")

        let garbage = try #require(throws: QuantityParseError.self) { try SampleRate(parsing: "fast") }
        #expect(garbage.description.hasPrefix("\"fast\" does not start with a valid number; expected a sample rate"))
    }

    @Test("Negative zero keeps its sign")
    func negativeZero() throws {
        let value = try Voltage(parsing: "-0 V")
        #expect(value.siValue == 0 && value.siValue.sign == .minus)
        #expect(value.description == "0 V")
    }
}
