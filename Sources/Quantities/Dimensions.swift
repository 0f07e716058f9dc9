// The built-in dimensions, their typealiases and the named units a lab uses every day.

/// Time: SI unit s; also min, h and d (without prefixes), which `description` uses from 60 s on.
public enum TimeDimension: PhysicalDimension {
    public static let name = "time"
    public static let symbol = "s"
    public static let example = "500 µs"
    static let minute = UnitSpelling("min", multiplier: 60, displaysLargeValues: true)
    static let hour = UnitSpelling("h", multiplier: 3600, displaysLargeValues: true)
    static let day = UnitSpelling("d", multiplier: 86400, displaysLargeValues: true)
    public static let otherUnits = [minute, hour, day]
}

/// Frequency: SI unit Hz.
public enum FrequencyDimension: PhysicalDimension {
    public static let name = "frequency"
    public static let symbol = "Hz"
    public static let example = "5 MHz"
}

/// Thermodynamic temperature: SI unit K; also °C (an offset scale, without prefixes).
/// Parsing rejects values below absolute zero, so negative temperatures (such as differences)
/// format but do not parse back.
public enum TemperatureDimension: PhysicalDimension {
    public static let name = "temperature"
    public static let symbol = "K"
    public static let example = "10 mK"
    static let celsius = UnitSpelling("°C", offset: 273.15)
    public static let otherUnits = [celsius]
    public static let lowerLimit: (siValue: Double, name: String)? = (0, "absolute zero")
}

/// Power: SI unit W.
public enum PowerDimension: PhysicalDimension {
    public static let name = "power"
    public static let symbol = "W"
    public static let example = "4 µW"
}

/// Resistance: SI unit Ω (U+03A9; the ohm sign U+2126 is canonically equal); also "ohm", "Ohm".
public enum ResistanceDimension: PhysicalDimension {
    public static let name = "resistance"
    public static let symbol = "\u{3A9}"
    public static let example = "50 \u{3A9}"
    public static let otherUnits = [UnitSpelling("ohm", acceptsPrefixes: true), UnitSpelling("Ohm", acceptsPrefixes: true)]
}

/// Voltage: SI unit V.
public enum VoltageDimension: PhysicalDimension {
    public static let name = "voltage"
    public static let symbol = "V"
    public static let example = "1.5 mV"
}

/// Electric current: SI unit A.
public enum CurrentDimension: PhysicalDimension {
    public static let name = "current"
    public static let symbol = "A"
    public static let example = "10 mA"
}

/// Magnetic flux density: SI unit T; also gauss "G" (1e-4 T, with prefixes, so "mG" works).
public enum MagneticFieldDimension: PhysicalDimension {
    public static let name = "magnetic field"
    public static let symbol = "T"
    public static let example = "10 mT"
    static let gauss = UnitSpelling("G", powerOfTen: -4, acceptsPrefixes: true)
    public static let otherUnits = [gauss]
}

/// Sample rate: SI unit S/s (samples per second); also "Sa/s", "SPS", "sps", all with prefixes.
public enum SampleRateDimension: PhysicalDimension {
    public static let name = "sample rate"
    public static let symbol = "S/s"
    public static let example = "2.5 GS/s"
    public static let otherUnits = ["Sa/s", "SPS", "sps"].map { UnitSpelling($0, acceptsPrefixes: true) }
}

/// Pressure: SI unit Pa; also bar (with prefixes, so "mbar" works) and Torr (with prefixes: "mTorr").
public enum PressureDimension: PhysicalDimension {
    public static let name = "pressure"
    public static let symbol = "Pa"
    public static let example = "1e-6 mbar"
    static let bar = UnitSpelling("bar", powerOfTen: 5, acceptsPrefixes: true)
    /// 1 Torr = 101325/760 Pa = 133.322368421… Pa.
    static let torr = UnitSpelling("Torr", multiplier: 1_333_223_684_211, powerOfTen: -10, acceptsPrefixes: true)
    public static let otherUnits = [bar, torr]
    public static let lowerLimit: (siValue: Double, name: String)? = (0, "vacuum")
}

public typealias Time = Quantity<TimeDimension>
public typealias Frequency = Quantity<FrequencyDimension>
public typealias Temperature = Quantity<TemperatureDimension>
public typealias Power = Quantity<PowerDimension>
public typealias Resistance = Quantity<ResistanceDimension>
public typealias Voltage = Quantity<VoltageDimension>
public typealias Current = Quantity<CurrentDimension>
public typealias MagneticField = Quantity<MagneticFieldDimension>
public typealias SampleRate = Quantity<SampleRateDimension>
public typealias Pressure = Quantity<PressureDimension>

extension Quantity where D == TimeDimension {
    /// A time in seconds.
    public static func seconds(_ value: Double) -> Self { Self(siValue: value) }
    /// A time in milliseconds.
    public static func milliseconds(_ value: Double) -> Self { Self(value, .milli) }
    /// A time in microseconds.
    public static func microseconds(_ value: Double) -> Self { Self(value, .micro) }
    /// A time in nanoseconds.
    public static func nanoseconds(_ value: Double) -> Self { Self(value, .nano) }
    /// A time in picoseconds.
    public static func picoseconds(_ value: Double) -> Self { Self(value, .pico) }
    /// A time in minutes.
    public static func minutes(_ value: Double) -> Self { Self(value, in: ResolvedUnit(D.minute)) }
    /// A time in hours.
    public static func hours(_ value: Double) -> Self { Self(value, in: ResolvedUnit(D.hour)) }
    /// A time in days.
    public static func days(_ value: Double) -> Self { Self(value, in: ResolvedUnit(D.day)) }

    /// This time in seconds.
    public var seconds: Double { siValue }
    /// This time in milliseconds.
    public var milliseconds: Double { value(in: .milli) }
    /// This time in microseconds.
    public var microseconds: Double { value(in: .micro) }
    /// This time in nanoseconds.
    public var nanoseconds: Double { value(in: .nano) }
    /// This time in picoseconds.
    public var picoseconds: Double { value(in: .pico) }
    /// This time in minutes.
    public var minutes: Double { value(in: ResolvedUnit(D.minute)) }
    /// This time in hours.
    public var hours: Double { value(in: ResolvedUnit(D.hour)) }
    /// This time in days.
    public var days: Double { value(in: ResolvedUnit(D.day)) }
}

extension Quantity where D == FrequencyDimension {
    /// A frequency in hertz.
    public static func hertz(_ value: Double) -> Self { Self(siValue: value) }
    /// A frequency in kilohertz.
    public static func kilohertz(_ value: Double) -> Self { Self(value, .kilo) }
    /// A frequency in megahertz.
    public static func megahertz(_ value: Double) -> Self { Self(value, .mega) }
    /// A frequency in gigahertz.
    public static func gigahertz(_ value: Double) -> Self { Self(value, .giga) }

    /// This frequency in hertz.
    public var hertz: Double { siValue }
    /// This frequency in kilohertz.
    public var kilohertz: Double { value(in: .kilo) }
    /// This frequency in megahertz.
    public var megahertz: Double { value(in: .mega) }
    /// This frequency in gigahertz.
    public var gigahertz: Double { value(in: .giga) }
}

extension Quantity where D == TemperatureDimension {
    /// A temperature in kelvin.
    public static func kelvin(_ value: Double) -> Self { Self(siValue: value) }
    /// A temperature in millikelvin.
    public static func millikelvin(_ value: Double) -> Self { Self(value, .milli) }
    /// A temperature in microkelvin.
    public static func microkelvin(_ value: Double) -> Self { Self(value, .micro) }
    /// A temperature in degrees Celsius.
    public static func celsius(_ value: Double) -> Self { Self(value, in: ResolvedUnit(D.celsius)) }

    /// This temperature in kelvin.
    public var kelvin: Double { siValue }
    /// This temperature in millikelvin.
    public var millikelvin: Double { value(in: .milli) }
    /// This temperature in microkelvin.
    public var microkelvin: Double { value(in: .micro) }
    /// This temperature in degrees Celsius.
    public var celsius: Double { value(in: ResolvedUnit(D.celsius)) }
}

extension Quantity where D == PowerDimension {
    /// A power in watts.
    public static func watts(_ value: Double) -> Self { Self(siValue: value) }
    /// A power in milliwatts.
    public static func milliwatts(_ value: Double) -> Self { Self(value, .milli) }
    /// A power in microwatts.
    public static func microwatts(_ value: Double) -> Self { Self(value, .micro) }
    /// A power in nanowatts.
    public static func nanowatts(_ value: Double) -> Self { Self(value, .nano) }
    /// A power in picowatts.
    public static func picowatts(_ value: Double) -> Self { Self(value, .pico) }

    /// This power in watts.
    public var watts: Double { siValue }
    /// This power in milliwatts.
    public var milliwatts: Double { value(in: .milli) }
    /// This power in microwatts.
    public var microwatts: Double { value(in: .micro) }
    /// This power in nanowatts.
    public var nanowatts: Double { value(in: .nano) }
    /// This power in picowatts.
    public var picowatts: Double { value(in: .pico) }
}

extension Quantity where D == ResistanceDimension {
    /// A resistance in ohms.
    public static func ohms(_ value: Double) -> Self { Self(siValue: value) }
    /// A resistance in milliohms.
    public static func milliohms(_ value: Double) -> Self { Self(value, .milli) }
    /// A resistance in kiloohms.
    public static func kiloohms(_ value: Double) -> Self { Self(value, .kilo) }
    /// A resistance in megaohms.
    public static func megaohms(_ value: Double) -> Self { Self(value, .mega) }

    /// This resistance in ohms.
    public var ohms: Double { siValue }
    /// This resistance in milliohms.
    public var milliohms: Double { value(in: .milli) }
    /// This resistance in kiloohms.
    public var kiloohms: Double { value(in: .kilo) }
    /// This resistance in megaohms.
    public var megaohms: Double { value(in: .mega) }
}

extension Quantity where D == VoltageDimension {
    /// A voltage in volts.
    public static func volts(_ value: Double) -> Self { Self(siValue: value) }
    /// A voltage in millivolts.
    public static func millivolts(_ value: Double) -> Self { Self(value, .milli) }
    /// A voltage in microvolts.
    public static func microvolts(_ value: Double) -> Self { Self(value, .micro) }
    /// A voltage in nanovolts.
    public static func nanovolts(_ value: Double) -> Self { Self(value, .nano) }

    /// This voltage in volts.
    public var volts: Double { siValue }
    /// This voltage in millivolts.
    public var millivolts: Double { value(in: .milli) }
    /// This voltage in microvolts.
    public var microvolts: Double { value(in: .micro) }
    /// This voltage in nanovolts.
    public var nanovolts: Double { value(in: .nano) }
}

extension Quantity where D == CurrentDimension {
    /// A current in amperes.
    public static func amperes(_ value: Double) -> Self { Self(siValue: value) }
    /// A current in milliamperes.
    public static func milliamperes(_ value: Double) -> Self { Self(value, .milli) }
    /// A current in microamperes.
    public static func microamperes(_ value: Double) -> Self { Self(value, .micro) }
    /// A current in nanoamperes.
    public static func nanoamperes(_ value: Double) -> Self { Self(value, .nano) }
    /// A current in picoamperes.
    public static func picoamperes(_ value: Double) -> Self { Self(value, .pico) }

    /// This current in amperes.
    public var amperes: Double { siValue }
    /// This current in milliamperes.
    public var milliamperes: Double { value(in: .milli) }
    /// This current in microamperes.
    public var microamperes: Double { value(in: .micro) }
    /// This current in nanoamperes.
    public var nanoamperes: Double { value(in: .nano) }
    /// This current in picoamperes.
    public var picoamperes: Double { value(in: .pico) }
}

extension Quantity where D == MagneticFieldDimension {
    /// A magnetic field in teslas.
    public static func teslas(_ value: Double) -> Self { Self(siValue: value) }
    /// A magnetic field in milliteslas.
    public static func milliteslas(_ value: Double) -> Self { Self(value, .milli) }
    /// A magnetic field in microteslas.
    public static func microteslas(_ value: Double) -> Self { Self(value, .micro) }
    /// A magnetic field in nanoteslas.
    public static func nanoteslas(_ value: Double) -> Self { Self(value, .nano) }
    /// A magnetic field in gauss (1 G = 1e-4 T).
    public static func gauss(_ value: Double) -> Self { Self(value, in: ResolvedUnit(D.gauss)) }
    /// A magnetic field in milligauss.
    public static func milligauss(_ value: Double) -> Self { Self(value, in: ResolvedUnit(D.gauss, prefix: .milli)) }

    /// This magnetic field in teslas.
    public var teslas: Double { siValue }
    /// This magnetic field in milliteslas.
    public var milliteslas: Double { value(in: .milli) }
    /// This magnetic field in microteslas.
    public var microteslas: Double { value(in: .micro) }
    /// This magnetic field in nanoteslas.
    public var nanoteslas: Double { value(in: .nano) }
    /// This magnetic field in gauss.
    public var gauss: Double { value(in: ResolvedUnit(D.gauss)) }
    /// This magnetic field in milligauss.
    public var milligauss: Double { value(in: ResolvedUnit(D.gauss, prefix: .milli)) }
}

extension Quantity where D == SampleRateDimension {
    /// A sample rate in samples per second.
    public static func samplesPerSecond(_ value: Double) -> Self { Self(siValue: value) }
    /// A sample rate in kilosamples per second.
    public static func kilosamplesPerSecond(_ value: Double) -> Self { Self(value, .kilo) }
    /// A sample rate in megasamples per second.
    public static func megasamplesPerSecond(_ value: Double) -> Self { Self(value, .mega) }
    /// A sample rate in gigasamples per second.
    public static func gigasamplesPerSecond(_ value: Double) -> Self { Self(value, .giga) }

    /// This sample rate in samples per second.
    public var samplesPerSecond: Double { siValue }
    /// This sample rate in kilosamples per second.
    public var kilosamplesPerSecond: Double { value(in: .kilo) }
    /// This sample rate in megasamples per second.
    public var megasamplesPerSecond: Double { value(in: .mega) }
    /// This sample rate in gigasamples per second.
    public var gigasamplesPerSecond: Double { value(in: .giga) }
}

extension Quantity where D == PressureDimension {
    /// Pressure in pascals.
    public static func pascals(_ value: Double) -> Self { Self(siValue: value) }
    /// Pressure in millibar (100 Pa), the unit vacuum gauges report.
    public static func millibar(_ value: Double) -> Self { Self(siValue: value * 100) }
    /// Pressure in bar.
    public static func bar(_ value: Double) -> Self { Self(siValue: value * 1e5) }
    /// Pressure in pascals.
    public var pascals: Double { siValue }
    /// Pressure in millibar.
    public var millibar: Double { siValue / 100 }
    /// Pressure in bar.
    public var bar: Double { siValue / 1e5 }
}
