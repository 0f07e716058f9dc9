/// One channel of a sensor: a named quantity and the unit its readings are in.
public struct SensorChannel: Sendable, Hashable {
    /// The quantity, e.g. `pressure` or `magnetic field x`.
    public var name: String
    /// The SI unit symbol of `SensorReading.value`, e.g. `Pa` or `T`.
    public var unit: String

    public init(name: String, unit: String) {
        self.name = name
        self.unit = unit
    }
}

/// One reading of one sensor channel.
public struct SensorReading: Sendable, Hashable {
    public var channel: SensorChannel
    /// The value in the channel's SI unit, when the status allows one.
    public var value: Double?
    public var status: SensorStatus

    public init(channel: SensorChannel, value: Double?, status: SensorStatus) {
        self.channel = channel
        self.value = value
        self.status = status
    }
}

/// An environmental sensor (vacuum gauge, magnetometer, …).
public protocol Sensor: Instrument {
    /// The channels this sensor reads.
    var sensorChannels: [SensorChannel] { get }
    /// Reads every channel.
    func read() throws(InstrumentError) -> [SensorReading]
}
