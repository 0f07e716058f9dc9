import HAL
import Quantities

/// The Lake Shore F71 three-axis teslameter over SCPI (F41/F71 user's manual, remote operation): commands
/// end in LF and replies in CR LF (the CR is trimmed), TCP port 7777. Errors queue for `SYSTem:ERRor?`.
///
/// ``read()`` sends `UNIT:FIELD?;FETCh:DC? ALL` as one message, so the unit and the three axes belong to
/// the same reply, and converts to tesla; the magnitude is computed from that same sample.
public final class LakeShoreF71: Sensor, Sendable {
    /// The F71's Ethernet port.
    public static let port: UInt16 = 7777

    /// The field unit the teslameter reports in (`UNIT:FIELD`).
    public enum FieldUnit: String, Sendable, Hashable, CaseIterable {
        case tesla = "TESLA", gauss = "GAUSS", oersted = "OERSTED", amperePerMetre = "AM"

        /// Tesla per unit; oersted and A/m are converted through B = µ0·H (free space).
        public var teslas: Double {
            switch self {
            case .tesla: 1
            case .gauss, .oersted: 1e-4
            case .amperePerMetre: 4e-7 * Double.pi
            }
        }
    }

    /// The largest field, in tesla, a reading may carry: far beyond any Hall probe's range, so
    /// anything larger is a garbled reply, never a field.
    public static let maximumTeslas = 1000.0

    public let resource: ResourceName
    public let instrument: String
    public let sensorChannels = ["x", "y", "z", "magnitude"].map { SensorChannel(name: "magnetic field \($0)", unit: "T") }
    private let session: SCPISession

    /// A driver over `transport`, which it owns from now on.
    public init(transport: sending any ByteTransport, timeout: Duration = .seconds(2)) {
        resource = transport.resource
        instrument = "Lake Shore F71 at \(transport.resource)"
        session = SCPISession(
            transport: transport, instrument: instrument, writeTerminator: "\n", readTerminator: "\n", timeout: timeout)
    }

    /// `*IDN?`, which must name an F71 or F41.
    public func identify() throws(InstrumentError) -> InstrumentIdentity {
        let identity = try session.identify()
        guard identity.model.hasPrefix("F71") || identity.model.hasPrefix("F41") else {
            throw .unexpected(
                instrument, "*IDN?", reply: "\(identity.manufacturer),\(identity.model),…",
                expected: "Lake Shore,F71,<serial>,<firmware>")
        }
        return identity
    }

    /// `*RST`.
    public func reset() throws(InstrumentError) {
        try session.reset()
    }

    /// `SYSTem:ERRor?` until `0,"No error"`.
    public func errorQueue() throws(InstrumentError) -> [InstrumentQueueError] {
        try session.drainErrors(query: "SYST:ERR?")
    }

    /// `UNIT:FIELD?;FETCh:DC? ALL`: x, y, z and their magnitude, in tesla.
    public func read() throws(InstrumentError) -> [SensorReading] {
        let (x, y, z) = try fieldVector()
        let magnitude = (x.teslas * x.teslas + y.teslas * y.teslas + z.teslas * z.teslas).squareRoot()
        return zip(sensorChannels, [x.teslas, y.teslas, z.teslas, magnitude]).map {
            SensorReading(channel: $0.0, value: $0.1, status: .ok)
        }
    }

    /// `UNIT:FIELD?;FETCh:DC? ALL`: the DC field vector.
    public func fieldVector() throws(InstrumentError) -> (x: MagneticField, y: MagneticField, z: MagneticField) {
        let commands = ["UNIT:FIELD?", "FETC:DC? ALL"]
        let compound = commands.joined(separator: ";")
        let replies = try session.query(commands)
        let unit = try Self.unit(replies[0], compound, instrument)
        let fields = try SCPIReply.fields(replies[1], count: 3, command: compound, instrument: instrument)
        var axes: [MagneticField] = []
        for field in fields {
            let teslas = try SCPIReply.real(field, command: compound, instrument: instrument) * unit.teslas
            guard abs(teslas) <= Self.maximumTeslas else {
                throw .unexpected(
                    instrument, compound, reply: replies[1],
                    expected: "three field values within ±\(Self.maximumTeslas) T (a 3-axis probe)")
            }
            axes.append(.teslas(teslas))
        }
        return (axes[0], axes[1], axes[2])
    }

    /// `UNIT:FIELD?`.
    public func unit() throws(InstrumentError) -> FieldUnit {
        try Self.unit(try session.query("UNIT:FIELD?"), "UNIT:FIELD?", instrument)
    }

    /// `UNIT:FIELD <unit>`.
    public func setUnit(_ unit: FieldUnit) throws(InstrumentError) {
        try session.write("UNIT:FIELD \(unit.rawValue)")
    }

    /// `PROBE:AXES?`: 1 for a single-axis probe, 3 for a three-axis one.
    public func probeAxes() throws(InstrumentError) -> Int {
        let reply = try session.query("PROBE:AXES?")
        let axes = try SCPIReply.integer(reply, command: "PROBE:AXES?", instrument: instrument)
        guard axes == 1 || axes == 3 else {
            throw .unexpected(instrument, "PROBE:AXES?", reply: reply, expected: "1 or 3")
        }
        return axes
    }

    private static func unit(_ reply: String, _ command: String, _ instrument: String) throws(InstrumentError) -> FieldUnit {
        let text = SCPIReply.trimmed(reply).uppercased()
        guard let unit = FieldUnit(rawValue: text) else {
            throw .unexpected(instrument, command, reply: reply, expected: "TESLA, GAUSS, OERSTED or AM")
        }
        return unit
    }
}
