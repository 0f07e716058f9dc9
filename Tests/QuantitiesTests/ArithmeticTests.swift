import Quantities
import Testing

/// A named conversion result and the exact value it must have.
struct Conversion: Sendable, CustomTestStringConvertible {
    let name: String
    let actual: Double
    let expected: Double
    init(_ name: String, _ actual: Double, _ expected: Double) {
        self.name = name
        self.actual = actual
        self.expected = expected
    }
    var testDescription: String { name }
}

func isClose(_ lhs: Double, _ rhs: Double, relativeTolerance: Double = 1e-12) -> Bool {
    abs(lhs - rhs) <= relativeTolerance * max(abs(lhs), abs(rhs))
}

@Suite("Constructors, accessors and arithmetic")
struct ArithmeticTests {
    @Test("Named units convert exactly", arguments: [
        Conversion("500 µs in s", Time.microseconds(500).siValue, 500e-6),
        Conversion("500 µs in ns", Time.microseconds(500).nanoseconds, 500_000),
        Conversion("0.1 s in ms", Time.seconds(0.1).milliseconds, 100),
        Conversion("0.3 ms in µs", Time.milliseconds(0.3).microseconds, 300),
        Conversion("7 ps in s", Time.picoseconds(7).seconds, 7e-12),
        Conversion("1.5 min in s", Time.minutes(1.5).seconds, 90),
        Conversion("4 h in s", Time.hours(4).seconds, 14_400),
        Conversion("2 d in h", Time.days(2).hours, 48),
        Conversion("90 s in min", Time.seconds(90).minutes, 1.5),
        Conversion("36 h in d", Time.hours(36).days, 1.5),
        Conversion("5 MHz in Hz", Frequency.megahertz(5).hertz, 5e6),
        Conversion("1.5 kHz in kHz", Frequency.hertz(1500).kilohertz, 1.5),
        Conversion("2.4 GHz in MHz", Frequency.gigahertz(2.4).megahertz, 2400),
        Conversion("10 mK in K", Temperature.millikelvin(10).kelvin, 0.01),
        Conversion("12.3 mK in mK", Temperature.kelvin(0.0123).millikelvin, 12.3),
        Conversion("7 µK in mK", Temperature.microkelvin(7).millikelvin, 0.007),
        Conversion("25 °C in K", Temperature.celsius(25).kelvin, 298.15),
        Conversion("298.15 K in °C", Temperature.kelvin(298.15).celsius, 25),
        Conversion("0 K in °C", Temperature.zero.celsius, -273.15),
        Conversion("4 µW in W", Power.microwatts(4).watts, 4e-6),
        Conversion("1.5 mW in µW", Power.milliwatts(1.5).microwatts, 1500),
        Conversion("3 nW in pW", Power.nanowatts(3).picowatts, 3000),
        Conversion("4.7 kΩ in Ω", Resistance.kiloohms(4.7).ohms, 4700),
        Conversion("2 MΩ in kΩ", Resistance.megaohms(2).kiloohms, 2000),
        Conversion("50 mΩ in Ω", Resistance.milliohms(50).ohms, 0.05),
        Conversion("1.5 mV in V", Voltage.millivolts(1.5).volts, 1.5e-3),
        Conversion("3 µV in nV", Voltage.microvolts(3).nanovolts, 3000),
        Conversion("-1.5 mA in A", Current.milliamperes(-1.5).amperes, -1.5e-3),
        Conversion("20 nA in µA", Current.nanoamperes(20).microamperes, 0.02),
        Conversion("5 pA in A", Current.picoamperes(5).amperes, 5e-12),
        Conversion("1 G in T", MagneticField.gauss(1).teslas, 1e-4),
        Conversion("1 mG in T", MagneticField.milligauss(1).teslas, 1e-7),
        Conversion("1e-7 T in mG", MagneticField.teslas(1e-7).milligauss, 1),
        Conversion("50 µT in G", MagneticField.microteslas(50).gauss, 0.5),
        Conversion("10 mT in nT", MagneticField.milliteslas(10).nanoteslas, 1e7),
        Conversion("2.5 GS/s", SampleRate.gigasamplesPerSecond(2.5).samplesPerSecond, 2.5e9),
        Conversion("250 MS/s in GS/s", SampleRate.megasamplesPerSecond(250).gigasamplesPerSecond, 0.25),
        Conversion("100 kS/s in MS/s", SampleRate.kilosamplesPerSecond(100).megasamplesPerSecond, 0.1),
        Conversion("SI prefix init", Voltage(3, .kilo).siValue, 3000),
        Conversion("SI prefix value", Current.amperes(2e-15).value(in: .femto), 2),
    ])
    func namedUnits(_ conversion: Conversion) {
        #expect(conversion.actual == conversion.expected)
    }

    @Test("Same-dimension arithmetic")
    func sameDimension() {
        let a = Time.milliseconds(3), b = Time.milliseconds(1)
        #expect((a + b).milliseconds == 4)
        #expect((a - b).milliseconds == 2)
        #expect((-a).milliseconds == -3)
        #expect((a * 2).milliseconds == 6)
        #expect((2 * a).milliseconds == 6)
        #expect((a / 3).milliseconds == 1)
        #expect(a / b == 3)
        #expect(Time.zero + a == a)
        var c = a
        c += b
        c -= Time.milliseconds(2)
        c *= 4
        c /= 2
        #expect(c.milliseconds == 4)
    }

    @Test("Comparison and hashing use the SI value")
    func comparisonAndHashing() {
        #expect(Time.microseconds(999) < Time.milliseconds(1))
        #expect(Time.minutes(1) == Time.seconds(60))
        #expect(Set([Time.milliseconds(1), Time.microseconds(1000), Time.seconds(0.001)]).count == 1)
        #expect([Frequency.megahertz(1), .kilohertz(1), .hertz(1)].sorted() == [.hertz(1), .kilohertz(1), .megahertz(1)])
        #expect(Temperature.millikelvin(10).kelvin < Temperature.celsius(-273).kelvin)
    }

    @Test("Cross-dimension relations")
    func relations() {
        let volts = Voltage.volts(5), amps = Current.milliamperes(100), ohms = Resistance.ohms(50)
        #expect(isClose((volts * amps).watts, 0.5))
        #expect(isClose((amps * volts).watts, 0.5))
        #expect(isClose((volts / ohms).amperes, 0.1))
        #expect(isClose((volts / amps).ohms, 50))
        #expect(isClose((amps * ohms).volts, 5))
        #expect(isClose((ohms * amps).volts, 5))

        #expect(isClose((1 / Time.microseconds(1)).megahertz, 1))
        #expect(isClose(Time.nanoseconds(2).reciprocal.megahertz, 500))
        #expect(isClose(Frequency.megahertz(5).period.nanoseconds, 200))
        #expect(isClose((3 / Frequency.hertz(60)).milliseconds, 50))
        #expect(isClose(Frequency.megahertz(5) * Time.microseconds(2), 10))
        #expect(isClose(Time.microseconds(2) * Frequency.megahertz(5), 10))
        #expect(isClose(SampleRate.gigasamplesPerSecond(2.5) * Time.microseconds(4), 10_000))
        #expect(isClose(Time.microseconds(4) * SampleRate.gigasamplesPerSecond(2.5), 10_000))
    }

    @Test("Non-finite quantities are programmer errors")
    func nonFiniteTraps() async {
        await #expect(processExitsWith: .failure) { _ = Time(siValue: .nan) }
        await #expect(processExitsWith: .failure) { _ = Time.seconds(1) / 0 }
        await #expect(processExitsWith: .failure) { _ = Time.seconds(1e300).duration }
    }
}
