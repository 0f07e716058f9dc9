import HAL
import Quantities

/// The Pfeiffer Vacuum MaxiGauge TPG 366, six gauge channels, with the mnemonic dialogue of its operating
/// manual: the host sends a three-letter mnemonic ending in CR; the controller answers ACK CR LF (or NAK
/// CR LF when it cannot carry it out); the host then sends ENQ and receives the data ending in CR LF.
/// ETX clears the controller's input buffer. TCP port 8000.
///
/// Each dialogue runs under the session's exclusive access, so no other caller can slip a mnemonic between
/// a command and its ENQ. A NAK throws `.refused` naming the mnemonic. Pressures are converted from the
/// controller's display unit (`UNI`) to pascals.
public final class PfeifferTPG366: Sensor, Sendable {
    /// The TPG 366's Ethernet port.
    public static let port: UInt16 = 8000
    /// The gauge channels.
    public static let gaugeNumbers = Array(1...6)

    /// The measurement unit the controller reports in (`UNI`).
    public enum PressureUnit: Int, Sendable, Hashable, CaseIterable {
        case millibar = 0, torr = 1, pascal = 2, micron = 3, hectopascal = 4, volt = 5

        /// Pascals per unit; nil for volts, which are not a pressure.
        public var pascals: Double? {
            switch self {
            case .millibar, .hectopascal: 100
            case .torr: 133.322_368_421
            case .pascal: 1
            case .micron: 0.133_322_368_421
            case .volt: nil
            }
        }
    }

    public let resource: ResourceName
    public let instrument: String
    public let sensorChannels = PfeifferTPG366.gaugeNumbers.map { SensorChannel(name: "pressure gauge \($0)", unit: "Pa") }
    private let session: SCPISession

    private static let ack = "\u{06}", nak = "\u{15}"

    /// A driver over `transport`, which it owns from now on; `timeout` bounds each half of a dialogue.
    public init(transport: sending any ByteTransport, timeout: Duration = .seconds(2)) {
        resource = transport.resource
        instrument = "Pfeiffer TPG 366 at \(transport.resource)"
        session = SCPISession(
            transport: transport, instrument: instrument, writeTerminator: "\r", readTerminator: "\r\n", timeout: timeout)
    }

    // MARK: Instrument

    /// `AYT` → `<type>,<part number>,<serial>,<firmware>,<hardware>`, e.g. `TPG 366,PTG28700,44998061,010100,010100`.
    public func identify() throws(InstrumentError) -> InstrumentIdentity {
        let reply = try dialogue("AYT")
        let fields = try SCPIReply.fields(reply, count: 5, command: "AYT", instrument: instrument)
        guard fields[0].hasPrefix("TPG") else {
            throw .unexpected(instrument, "AYT", reply: reply, expected: "TPG 366,<part number>,<serial>,<firmware>,<hardware>")
        }
        return InstrumentIdentity(
            manufacturer: "Pfeiffer Vacuum", model: fields[0], serialNumber: fields[2], firmware: fields[3])
    }

    /// ETX (clears the input buffer), then `RES,1`: resets the interface and clears the present errors.
    public func reset() throws(InstrumentError) {
        try session.withExclusiveAccess { (connection) throws(InstrumentError) in
            try sendControl(0x03, after: "RES,1", &connection)
            _ = try dialogue("RES,1", &connection)
        }
    }

    /// `ERR` → the error word `abcd` (0000: none): one entry per set bit.
    public func errorQueue() throws(InstrumentError) -> [InstrumentQueueError] {
        let reply = SCPIReply.trimmed(try dialogue("ERR"))
        let bits: [(code: Int, message: String)] = [
            (1000, "Controller error (see the display)"), (100, "No hardware"),
            (10, "Inadmissible parameter"), (1, "Syntax error"),
        ]
        guard reply.count == 4, reply.allSatisfy({ $0 == "0" || $0 == "1" }) else {
            throw .unexpected(instrument, "ERR", reply: reply, expected: "an error word of four binary digits, e.g. 0000")
        }
        return zip(reply, bits).filter { $0.0 == "1" }.map { InstrumentQueueError(code: $0.1.code, message: $0.1.message) }
    }

    // MARK: Sensor

    /// `UNI` then `PRX`: every gauge, in pascals.
    public func read() throws(InstrumentError) -> [SensorReading] {
        try pressures().enumerated().map { index, reading in
            SensorReading(channel: sensorChannels[index], value: reading.pressure?.pascals, status: reading.status)
        }
    }

    /// `UNI` then `PRX`: every gauge's status and pressure.
    public func pressures() throws(InstrumentError) -> [PressureReading] {
        try session.withExclusiveAccess { (connection) throws(InstrumentError) in
            let pascals = try pascalsPerUnit(&connection)
            let reply = try dialogue("PRX", &connection)
            let fields = try SCPIReply.fields(reply, count: 12, command: "PRX", instrument: instrument)
            var readings: [PressureReading] = []
            for gauge in Self.gaugeNumbers {
                readings.append(try measurement(
                    gauge, status: fields[2 * gauge - 2], value: fields[2 * gauge - 1], pascals: pascals, command: "PRX"))
            }
            return readings
        }
    }

    /// `UNI` then `PR<n>`: one gauge.
    public func pressure(gauge: Int) throws(InstrumentError) -> PressureReading {
        let mnemonic = "PR\(gauge)"
        guard Self.gaugeNumbers.contains(gauge) else {
            throw .invalid(instrument, mnemonic, "the TPG 366 has gauges 1 to 6, not \(gauge)")
        }
        return try session.withExclusiveAccess { (connection) throws(InstrumentError) in
            let pascals = try pascalsPerUnit(&connection)
            let reply = try dialogue(mnemonic, &connection)
            let fields = try SCPIReply.fields(reply, count: 2, command: mnemonic, instrument: instrument)
            return try measurement(gauge, status: fields[0], value: fields[1], pascals: pascals, command: mnemonic)
        }
    }

    /// `UNI`: the unit readings are sent in.
    public func unit() throws(InstrumentError) -> PressureUnit {
        try session.withExclusiveAccess { (connection) throws(InstrumentError) in try unit(&connection) }
    }

    /// `UNI,<code>`.
    public func setUnit(_ unit: PressureUnit) throws(InstrumentError) {
        let reply = try dialogue("UNI,\(unit.rawValue)")
        let code = try SCPIReply.integer(reply, command: "UNI,\(unit.rawValue)", instrument: instrument)
        guard code == unit.rawValue else {
            throw .unexpected(instrument, "UNI,\(unit.rawValue)", reply: reply, expected: "the new unit code \(unit.rawValue)")
        }
    }

    /// `TID`: the gauge type on each channel (`PKR`, `TPR`, …; `noSen` none, `noid` not identified).
    public func gaugeTypes() throws(InstrumentError) -> [String] {
        try SCPIReply.fields(try dialogue("TID"), count: 6, command: "TID", instrument: instrument)
    }

    // MARK: Dialogue

    private func dialogue(_ mnemonic: String) throws(InstrumentError) -> String {
        try session.withExclusiveAccess { (connection) throws(InstrumentError) in try dialogue(mnemonic, &connection) }
    }

    /// Sends `mnemonic`, expects ACK, sends ENQ and returns the data line.
    private func dialogue(_ mnemonic: String, _ connection: inout SCPIConnection) throws(InstrumentError) -> String {
        let acknowledgement = try connection.query(mnemonic)
        switch acknowledgement {
        case Self.ack: break
        case Self.nak:
            throw InstrumentError(
                instrument: instrument, command: mnemonic,
                kind: .refused("the controller answered NAK to \(mnemonic) (unknown mnemonic or inadmissible parameter; ERR tells which)"))
        default:
            throw .unexpected(
                instrument, mnemonic, reply: SCPIReply.excerpt(Array(acknowledgement.utf8)[...]), expected: "ACK (\\x06) or NAK (\\x15)")
        }
        try sendControl(0x05, after: mnemonic, &connection)
        let data = try connection.readReply(to: "\(mnemonic) then ENQ")
        guard data != Self.nak else {
            throw InstrumentError(
                instrument: instrument, command: "\(mnemonic) then ENQ", kind: .refused("the controller answered NAK to ENQ"))
        }
        return data
    }

    /// Sends one control character (ENQ, ETX) bare, as the manual's dialogue shows, without a terminator.
    private func sendControl(_ byte: UInt8, after mnemonic: String, _ connection: inout SCPIConnection) throws(InstrumentError) {
        do {
            try connection.transport.write([byte], timeout: connection.settings.timeout)
        } catch {
            throw InstrumentError(instrument: instrument, command: "\(mnemonic) then \(byte == 0x05 ? "ENQ" : "ETX")", kind: .transport(error))
        }
    }

    private func unit(_ connection: inout SCPIConnection) throws(InstrumentError) -> PressureUnit {
        let reply = try dialogue("UNI", &connection)
        guard let unit = PressureUnit(rawValue: try SCPIReply.integer(reply, command: "UNI", instrument: instrument)) else {
            throw .unexpected(instrument, "UNI", reply: reply, expected: "a unit code 0-5")
        }
        return unit
    }

    private func pascalsPerUnit(_ connection: inout SCPIConnection) throws(InstrumentError) -> Double {
        let unit = try unit(&connection)
        guard let pascals = unit.pascals else {
            throw InstrumentError(
                instrument: instrument, command: "UNI",
                kind: .refused("the controller reports in volts, not a pressure unit; set a pressure unit with setUnit"))
        }
        return pascals
    }

    /// One `status,value` pair: 0 ok, 1 underrange, 2 overrange, 3 sensor error, 4 sensor off, 5 no sensor,
    /// 6 identification error. Only an ok, underrange or overrange reading carries a pressure.
    private func measurement(
        _ gauge: Int, status statusText: String, value valueText: String, pascals: Double, command: String
    ) throws(InstrumentError) -> PressureReading {
        let code = try SCPIReply.integer(statusText, command: command, instrument: instrument)
        let value = try SCPIReply.real(valueText, command: command, instrument: instrument)
        let status: SensorStatus
        switch code {
        case 0: status = .ok
        case 1: status = .underRange
        case 2: status = .overRange
        case 3: status = .sensorError
        case 4: status = .sensorOff
        case 5: status = .noSensor
        case 6: status = .other(6)
        default:
            throw .unexpected(instrument, command, reply: "\(statusText),\(valueText)", expected: "a status code 0-6")
        }
        // The product can overflow (1.0E+307 mbar) even when the reading itself is finite.
        guard value.isFinite, value >= 0, (value * pascals).isFinite else {
            throw .unexpected(
                instrument, command, reply: "\(statusText),\(valueText)", expected: "a finite pressure of 0 or more")
        }
        let pressure: Pressure? = code <= 2 ? .pascals(value * pascals) : nil
        return PressureReading(gauge: "gauge \(gauge)", pressure: pressure, status: status)
    }
}
