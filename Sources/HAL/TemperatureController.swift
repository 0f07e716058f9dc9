import Quantities

/// Why a reading is not trustworthy, as a resistance bridge reports it (Lake Shore 372 `RDGST?` bits).
public struct ReadingStatus: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// Current-source overload (1).
    public static let currentSourceOverload = ReadingStatus(rawValue: 1)
    /// Common-mode voltage overload (2).
    public static let commonModeOverload = ReadingStatus(rawValue: 2)
    /// Mixer overload (4).
    public static let mixerOverload = ReadingStatus(rawValue: 4)
    /// Differential overload (8).
    public static let differentialOverload = ReadingStatus(rawValue: 8)
    /// Resistance over range (16): an open-circuit sensor shows this.
    public static let resistanceOverRange = ReadingStatus(rawValue: 16)
    /// Resistance under range (32).
    public static let resistanceUnderRange = ReadingStatus(rawValue: 32)
    /// Temperature over the calibration curve (64).
    public static let temperatureOverRange = ReadingStatus(rawValue: 64)
    /// Temperature under the calibration curve (128).
    public static let temperatureUnderRange = ReadingStatus(rawValue: 128)
}

/// One reading of one input channel.
public struct TemperatureReading: Sendable, Hashable {
    public var channel: String
    /// The calibrated temperature, when the channel has a curve and the reading is in range.
    public var temperature: Temperature?
    /// The sensor's raw resistance, when the controller measures one.
    public var resistance: Resistance?
    public var status: ReadingStatus

    public init(channel: String, temperature: Temperature?, resistance: Resistance?, status: ReadingStatus) {
        self.channel = channel
        self.temperature = temperature
        self.resistance = resistance
        self.status = status
    }

    /// No status flag is set.
    public var isValid: Bool { status.isEmpty }
}

/// An input channel's configuration.
public struct InputChannel: Sendable, Hashable {
    public var id: String
    public var name: String
    public var enabled: Bool
    /// How long the scanner dwells on this channel.
    public var dwell: Time
    /// How long it waits after switching before it reads.
    public var pause: Time
    /// The calibration curve number (0: none, so only resistance is read).
    public var curve: Int

    public init(id: String, name: String, enabled: Bool, dwell: Time, pause: Time, curve: Int) {
        self.id = id
        self.name = name
        self.enabled = enabled
        self.dwell = dwell
        self.pause = pause
        self.curve = curve
    }
}

/// Where the scanner is.
public struct ScannerState: Sendable, Hashable {
    public var channel: String
    public var autoscan: Bool

    public init(channel: String, autoscan: Bool) {
        self.channel = channel
        self.autoscan = autoscan
    }
}

/// What a heater output does (Lake Shore 372 `OUTMODE` modes).
public enum HeaterMode: Int, Sendable, Hashable, CaseIterable {
    case off = 0, monitorOut = 1, openLoop = 2, zone = 3, still = 4, closedLoop = 5, warmUp = 6
}

/// PID gains of a closed control loop.
public struct PIDGains: Sendable, Hashable {
    public var proportional: Double
    public var integral: Double
    public var derivative: Double

    public init(proportional: Double, integral: Double, derivative: Double) {
        self.proportional = proportional
        self.integral = integral
        self.derivative = derivative
    }
}

/// A setpoint ramp: when enabled the setpoint moves at `kelvinPerMinute` towards its target.
public struct SetpointRamp: Sendable, Hashable {
    public var enabled: Bool
    public var kelvinPerMinute: Double

    public init(enabled: Bool, kelvinPerMinute: Double) {
        self.enabled = enabled
        self.kelvinPerMinute = kelvinPerMinute
    }
}

/// A temperature controller or resistance bridge with heater outputs.
public protocol TemperatureController: Instrument {
    /// The input channels and their configuration.
    func channels() throws(InstrumentError) -> [InputChannel]
    /// Reads one input channel: temperature, resistance and status.
    func reading(channel: String) throws(InstrumentError) -> TemperatureReading
    /// Where the scanner is and whether it autoscans.
    func scanner() throws(InstrumentError) -> ScannerState
    /// Moves the scanner.
    func setScanner(_ state: ScannerState) throws(InstrumentError)

    /// The heater outputs this controller has, by number.
    var heaterOutputs: [Int] { get }
    /// An output's mode and the input channel that controls it.
    func heaterMode(for output: Int) throws(InstrumentError) -> (mode: HeaterMode, input: String)
    /// Sets an output's mode and controlling input.
    func setHeaterMode(_ mode: HeaterMode, input: String, for output: Int) throws(InstrumentError)
    /// An output's range (0 is off).
    func heaterRange(for output: Int) throws(InstrumentError) -> Int
    func setHeaterRange(_ range: Int, for output: Int) throws(InstrumentError)
    /// The setpoint a closed-loop output controls to.
    func setpoint(for output: Int) throws(InstrumentError) -> Temperature
    func setSetpoint(_ temperature: Temperature, for output: Int) throws(InstrumentError)
    func pid(for output: Int) throws(InstrumentError) -> PIDGains
    func setPID(_ gains: PIDGains, for output: Int) throws(InstrumentError)
    func ramp(for output: Int) throws(InstrumentError) -> SetpointRamp
    func setRamp(_ ramp: SetpointRamp, for output: Int) throws(InstrumentError)
    /// Whether the setpoint is still ramping.
    func isRamping(output: Int) throws(InstrumentError) -> Bool
    /// The output's level in percent of its range.
    func heaterOutputPercent(for output: Int) throws(InstrumentError) -> Double
    /// The power the sample heater (output 0) dissipates in its load, W.
    func heaterPowerWatts(for output: Int) throws(InstrumentError) -> Double
}
