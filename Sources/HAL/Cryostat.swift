import Quantities

/// The stages of a dilution refrigerator, warmest first.
public enum CryostatStage: String, Sendable, Hashable, CaseIterable {
    case fiftyKelvin = "50K"
    case fourKelvin = "4K"
    case still
    case coldPlate = "cold plate"
    case mixingChamber = "mixing chamber"
}

/// What the gas handling is doing.
public enum CirculationState: Sendable, Hashable {
    case idle
    case condensing
    case circulating
    case coolingDown
    case warmingUp
    /// A state the system names that has no lab-wide meaning, e.g. a vendor-specific action.
    case other(String)
}

/// A named quantity's status, as a sensor reports it.
public enum SensorStatus: Sendable, Hashable {
    case ok
    case underRange
    case overRange
    case sensorOff
    case sensorError
    case noSensor
    /// A status code without a lab-wide meaning.
    case other(Int)
}

/// One pressure gauge's reading.
public struct PressureReading: Sendable, Hashable {
    public var gauge: String
    public var pressure: Pressure?
    public var status: SensorStatus

    public init(gauge: String, pressure: Pressure?, status: SensorStatus) {
        self.gauge = gauge
        self.pressure = pressure
        self.status = status
    }
}

/// A cryostat: its stages' temperatures, its pressures, its circulation, and a safe state.
public protocol Cryostat: Instrument {
    /// The stages this cryostat reports.
    var stages: [CryostatStage] { get }
    /// The temperature of one stage.
    func temperature(of stage: CryostatStage) throws(InstrumentError) -> TemperatureReading
    /// Every pressure gauge.
    func pressures() throws(InstrumentError) -> [PressureReading]
    /// What the gas handling is doing.
    func circulationState() throws(InstrumentError) -> CirculationState
    /// Puts heaters in their safe state (off or their configured safe range).
    func enterSafeState() throws(InstrumentError)
}
