import HAL
import Quantities

/// The Oxford Instruments Triton gas-handling system's remote interface (Triton remote command reference):
/// TCP (port 33576), lines end in CR LF, and every reply echoes its command, `READ:<path>` as
/// `STAT:<path>:<value><unit>` and `SET:<path>:<value>` as `STAT:SET:<path>:<value>:VALID` (or `:INVALID`).
/// A device the system does not have answers `NOT_FOUND`, a malformed command `INVALID`: both throw
/// `.refused`, naming the command.
///
/// Temperatures are read from the thermometer channel `T<n>` mapped to each stage (``stageChannels``);
/// the temperature control loop runs on one channel (``loopChannel``, the mixing chamber's by default).
public final class OxfordTriton: Cryostat, Sendable {
    /// The Triton control PC's port.
    public static let port: UInt16 = 33576
    /// The usual wiring: PT1 and PT2 plates, still, cold plate and mixing chamber on T1…T5.
    public static let defaultStageChannels: [CryostatStage: String] = [
        .fiftyKelvin: "T1", .fourKelvin: "T2", .still: "T3", .coldPlate: "T4", .mixingChamber: "T5",
    ]
    /// The usual pressure gauges.
    public static let defaultGauges = ["P1", "P2", "P3", "P4", "P5", "P6"]
    /// Loop setpoints the driver sends: up to room temperature, which the loop cannot heat beyond.
    public static let setpointRange: ClosedRange<Double> = 0...300
    /// Loop heater ranges in mA: off (0) up to the largest range, 100 mA.
    public static let heaterRangeMilliamperes: ClosedRange<Double> = 0...100
    /// Setpoint ramp rates in K/min.
    public static let rampRange: ClosedRange<Double> = 0...100
    /// PID gains: none negative, none beyond 10⁶ (far above any loop the Triton runs).
    public static let gainRange: ClosedRange<Double> = 0...1e6
    /// Pressures in mbar a gauge can report: none negative, none beyond 10⁵ mbar (100 bar).
    public static let pressureRangeMillibar: ClosedRange<Double> = 0...1e5
    /// Any finite value of 0 or more: temperatures and resistances.
    private static let nonNegative: ClosedRange<Double> = 0...Double.greatestFiniteMagnitude

    public let resource: ResourceName
    public let instrument: String
    /// Which thermometer channel reads each stage.
    public let stageChannels: [CryostatStage: String]
    /// The gauges ``pressures()`` reads.
    public let gauges: [String]
    /// The channel of the temperature control loop.
    public let loopChannel: String
    private let session: SCPISession

    /// A driver over `transport`, which it owns from now on. Channels are `T1`…`T16`, gauges `P1`…`P6`
    /// (programmer errors trap); the loop channel defaults to the mixing chamber's.
    public init(
        transport: sending any ByteTransport, stageChannels: [CryostatStage: String] = OxfordTriton.defaultStageChannels,
        gauges: [String] = OxfordTriton.defaultGauges, loopChannel: String? = nil, timeout: Duration = .seconds(5)
    ) {
        let loop = loopChannel ?? stageChannels[.mixingChamber] ?? "T5"
        for channel in Array(stageChannels.values) + [loop] {
            precondition(Self.isChannel(channel, prefix: "T", in: 1...16), "a Triton thermometer is T1 to T16, not \(channel)")
        }
        for gauge in gauges {
            precondition(Self.isChannel(gauge, prefix: "P", in: 1...6), "a Triton gauge is P1 to P6, not \(gauge)")
        }
        resource = transport.resource
        instrument = "Oxford Triton at \(transport.resource)"
        self.stageChannels = stageChannels
        self.gauges = gauges
        self.loopChannel = loop
        session = SCPISession(
            transport: transport, instrument: instrument, writeTerminator: "\r\n", readTerminator: "\r\n",
            timeout: timeout)
    }

    public var stages: [CryostatStage] { CryostatStage.allCases.filter { stageChannels[$0] != nil } }

    // MARK: Instrument

    /// `*IDN?` → `IDN:OXFORD INSTRUMENTS:<model>:<serial>:<firmware>`.
    public func identify() throws(InstrumentError) -> InstrumentIdentity {
        let reply = SCPIReply.trimmed(try session.query("*IDN?"))
        let parts = reply.split(separator: ":", maxSplits: 4, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 5, parts[0] == "IDN", !parts[1].isEmpty, !parts[2].isEmpty else {
            throw .unexpected(instrument, "*IDN?", reply: reply, expected: "IDN:<manufacturer>:<model>:<serial>:<firmware>")
        }
        return InstrumentIdentity(manufacturer: parts[1], model: parts[2], serialNumber: parts[3], firmware: parts[4])
    }

    /// The Triton has no remote reset of its gas handling; this throws `.invalidArgument` without sending.
    public func reset() throws(InstrumentError) {
        throw .invalid(instrument, nil, "the Triton has no remote reset; use enterSafeState() to turn the loop heater off")
    }

    /// The Triton keeps no error queue (each reply carries its own `INVALID` or `NOT_FOUND`): always empty.
    public func errorQueue() throws(InstrumentError) -> [InstrumentQueueError] { [] }

    // MARK: Cryostat

    /// `READ:DEV:T<n>:TEMP:SIG:TEMP` then `…:SIG:RES`. A zero reading (an open or unread sensor) has no
    /// temperature and is flagged under range.
    public func temperature(of stage: CryostatStage) throws(InstrumentError) -> TemperatureReading {
        guard let channel = stageChannels[stage] else {
            throw .invalid(instrument, nil, "no thermometer channel is mapped to the \(stage.rawValue) stage")
        }
        return try reading(channel: channel)
    }

    /// `READ:DEV:<channel>:TEMP:SIG:TEMP` then `…:SIG:RES`, for any thermometer `T1`…`T16`.
    public func reading(channel: String) throws(InstrumentError) -> TemperatureReading {
        guard Self.isChannel(channel, prefix: "T", in: 1...16) else {
            throw .invalid(instrument, "READ:DEV:\(channel):TEMP:SIG:TEMP", "a Triton thermometer is T1 to T16")
        }
        let kelvin = try read("DEV:\(channel):TEMP:SIG:TEMP", units: ["K": 1, "mK": 1e-3], in: Self.nonNegative)
        let ohms = try read(
            "DEV:\(channel):TEMP:SIG:RES", units: ["Ohm": 1, "kOhm": 1e3, "MOhm": 1e6], in: Self.nonNegative)
        return TemperatureReading(
            channel: channel, temperature: kelvin > 0 ? .kelvin(kelvin) : nil, resistance: ohms > 0 ? .ohms(ohms) : nil,
            status: kelvin > 0 ? [] : .temperatureUnderRange)
    }

    /// `READ:DEV:P<n>:PRES:SIG:PRES` for every gauge; a gauge the system does not have (`NOT_FOUND`) reads
    /// as `.noSensor`.
    public func pressures() throws(InstrumentError) -> [PressureReading] {
        var readings: [PressureReading] = []
        for gauge in gauges {
            do throws(InstrumentError) {
                let millibar = try read(
                    "DEV:\(gauge):PRES:SIG:PRES", units: ["mB": 1, "B": 1000], in: Self.pressureRangeMillibar)
                readings.append(PressureReading(gauge: gauge, pressure: .millibar(millibar), status: .ok))
            } catch {
                guard error.kind == .refused("NOT_FOUND") else { throw error }
                readings.append(PressureReading(gauge: gauge, pressure: nil, status: .noSensor))
            }
        }
        return readings
    }

    /// `READ:SYS:DR:ACTN`: PCL/EPCL precooling, COND condensing, COLL collecting the mixture, WARM
    /// warming up; NONE (no automation running) is refined by `READ:SYS:DR:STATUS` (circulating or idle).
    public func circulationState() throws(InstrumentError) -> CirculationState {
        let action = try readText("SYS:DR:ACTN")
        switch action.uppercased() {
        case "PCL", "EPCL": return .coolingDown
        case "COND": return .condensing
        case "COLL": return .other("collecting mixture")
        case "WARM": return .warmingUp
        case "NONE": break
        default: return .other(action)
        }
        let status = try readText("SYS:DR:STATUS")
        let lowered = status.lowercased()
        if lowered.contains("circulat") { return .circulating }
        if lowered.contains("idle") || lowered.contains("stopped") { return .idle }
        if lowered.contains("warm") { return .warmingUp }
        if lowered.contains("condens") { return .condensing }
        if lowered.contains("precool") || lowered.contains("cool") { return .coolingDown }
        return .other(status)
    }

    /// Turns the loop heater off: `SET:DEV:<loop>:TEMP:LOOP:MODE:OFF`, then `…:LOOP:RANGE:0`.
    public func enterSafeState() throws(InstrumentError) {
        try setLoop("MODE", "OFF")
        try setLoop("RANGE", "0")
    }

    // MARK: Temperature control loop

    /// `READ:DEV:<loop>:TEMP:LOOP:MODE`: whether the loop is closed.
    public func isLoopEnabled() throws(InstrumentError) -> Bool {
        try onOff(readText("DEV:\(loopChannel):TEMP:LOOP:MODE"), "READ:DEV:\(loopChannel):TEMP:LOOP:MODE")
    }

    /// `SET:DEV:<loop>:TEMP:LOOP:MODE:ON|OFF`.
    public func setLoopEnabled(_ enabled: Bool) throws(InstrumentError) {
        try setLoop("MODE", enabled ? "ON" : "OFF")
    }

    /// `READ:DEV:<loop>:TEMP:LOOP:TSET`, within ``setpointRange``.
    public func loopSetpoint() throws(InstrumentError) -> Temperature {
        .kelvin(try read("DEV:\(loopChannel):TEMP:LOOP:TSET", units: ["K": 1, "mK": 1e-3], in: Self.setpointRange))
    }

    /// `SET:DEV:<loop>:TEMP:LOOP:TSET:<K>`: 0 to 300 K (``setpointRange``).
    public func setLoopSetpoint(_ temperature: Temperature) throws(InstrumentError) {
        guard Self.setpointRange.contains(temperature.kelvin) else {
            throw .invalid(instrument, loopCommand("TSET", "\(temperature.kelvin)"), "a setpoint is 0 to 300 K")
        }
        try setLoop("TSET", WireNumber.fixed(temperature.kelvin))
    }

    /// `READ:DEV:<loop>:TEMP:LOOP:P`, `:I` and `:D`, each within ``gainRange``.
    public func loopPID() throws(InstrumentError) -> PIDGains {
        PIDGains(
            proportional: try read("DEV:\(loopChannel):TEMP:LOOP:P", units: ["": 1], in: Self.gainRange),
            integral: try read("DEV:\(loopChannel):TEMP:LOOP:I", units: ["": 1], in: Self.gainRange),
            derivative: try read("DEV:\(loopChannel):TEMP:LOOP:D", units: ["": 1], in: Self.gainRange))
    }

    /// `SET:DEV:<loop>:TEMP:LOOP:P:<v>`, then `:I:<v>` and `:D:<v>`; each gain is 0 to 10⁶ (``gainRange``).
    public func setLoopPID(_ gains: PIDGains) throws(InstrumentError) {
        let values = [("P", gains.proportional), ("I", gains.integral), ("D", gains.derivative)]
        for (name, value) in values where !Self.gainRange.contains(value) {
            throw .invalid(instrument, loopCommand(name, String(value)), "PID gains are 0 to 1e6")
        }
        for (name, value) in values { try setLoop(name, WireNumber.fixed(value)) }
    }

    /// `READ:DEV:<loop>:TEMP:LOOP:RANGE`: the heater's current range (reported in mA), within
    /// ``heaterRangeMilliamperes``.
    public func loopHeaterRange() throws(InstrumentError) -> Current {
        .milliamperes(try read(
            "DEV:\(loopChannel):TEMP:LOOP:RANGE", units: ["mA": 1, "A": 1000, "uA": 1e-3], in: Self.heaterRangeMilliamperes))
    }

    /// `SET:DEV:<loop>:TEMP:LOOP:RANGE:<mA>`: 0 (heater off) to 100 mA (``heaterRangeMilliamperes``).
    public func setLoopHeaterRange(_ range: Current) throws(InstrumentError) {
        guard Self.heaterRangeMilliamperes.contains(range.milliamperes) else {
            throw .invalid(instrument, loopCommand("RANGE", "\(range.milliamperes)"), "a heater range is 0 to 100 mA")
        }
        try setLoop("RANGE", WireNumber.fixed(range.milliamperes, decimals: 4))
    }

    /// `READ:DEV:<loop>:TEMP:LOOP:RAMP:ENAB` and `…:RAMP:RATE` (K/min).
    public func loopRamp() throws(InstrumentError) -> SetpointRamp {
        let enabled = try onOff(
            readText("DEV:\(loopChannel):TEMP:LOOP:RAMP:ENAB"), "READ:DEV:\(loopChannel):TEMP:LOOP:RAMP:ENAB")
        let rate = try read("DEV:\(loopChannel):TEMP:LOOP:RAMP:RATE", units: ["K/min": 1, "K/m": 1], in: Self.rampRange)
        return SetpointRamp(enabled: enabled, kelvinPerMinute: rate)
    }

    /// `SET:DEV:<loop>:TEMP:LOOP:RAMP:RATE:<K/min>`, then `…:RAMP:ENAB:ON|OFF`; 0 to 100 K/min (``rampRange``).
    public func setLoopRamp(_ ramp: SetpointRamp) throws(InstrumentError) {
        guard Self.rampRange.contains(ramp.kelvinPerMinute) else {
            throw .invalid(instrument, loopCommand("RAMP:RATE", "\(ramp.kelvinPerMinute)"), "a ramp rate is 0 to 100 K/min")
        }
        try setLoop("RAMP:RATE", WireNumber.fixed(ramp.kelvinPerMinute))
        try setLoop("RAMP:ENAB", ramp.enabled ? "ON" : "OFF")
    }

    // MARK: Wire

    private static func isChannel(_ text: String, prefix: Character, in range: ClosedRange<Int>) -> Bool {
        text.first == prefix && Int(text.dropFirst()).map(range.contains) == true && !text.dropFirst().hasPrefix("+")
    }

    private func loopCommand(_ parameter: String, _ value: String) -> String {
        "SET:DEV:\(loopChannel):TEMP:LOOP:\(parameter):\(value)"
    }

    /// `READ:<path>` → the value text after `STAT:<path>:`; `NOT_FOUND` and `INVALID` are refusals.
    private func readText(_ path: String) throws(InstrumentError) -> String {
        let command = "READ:\(path)"
        let reply = SCPIReply.trimmed(try session.query(command))
        let echo = "STAT:\(path):"
        guard reply.uppercased().hasPrefix(echo.uppercased()), reply.count > echo.count else {
            throw .unexpected(instrument, command, reply: reply, expected: "\(echo)<value>")
        }
        let value = String(reply.dropFirst(echo.count))
        if value == "NOT_FOUND" || value == "INVALID" {
            throw InstrumentError(instrument: instrument, command: command, kind: .refused(value))
        }
        return value
    }

    /// `READ:<path>` → a number followed by one of `units` (its factor to the SI-based unit wanted), which
    /// once scaled must lie in `range`: SCPI's 9.9E37 (infinity), 9.91E37 (NaN) and overflowing products
    /// are unexpected replies, never values.
    private func read(
        _ path: String, units: [String: Double], in range: ClosedRange<Double>
    ) throws(InstrumentError) -> Double {
        let command = "READ:\(path)"
        let value = try readText(path)
        let numberEnd = value.lastIndex { "0123456789.".contains($0) }.map(value.index(after:)) ?? value.startIndex
        let unit = String(value[numberEnd...])
        guard let factor = units[unit] else {
            throw .unexpected(
                instrument, command, reply: value,
                expected: "a number in \(units.keys.sorted().map { $0.isEmpty ? "no unit" : $0 }.joined(separator: " or "))")
        }
        let scaled = try SCPIReply.real(value[..<numberEnd], command: command, instrument: instrument) * factor
        guard range.contains(scaled) else {
            let bounds = range.upperBound == .greatestFiniteMagnitude
                ? "a finite value of \(range.lowerBound) or more" : "a value from \(range.lowerBound) to \(range.upperBound)"
            throw .unexpected(instrument, command, reply: value, expected: bounds)
        }
        return scaled
    }

    private func onOff(_ text: String, _ command: String) throws(InstrumentError) -> Bool {
        switch text.uppercased() {
        case "ON": return true
        case "OFF": return false
        default: throw .unexpected(instrument, command, reply: text, expected: "ON or OFF")
        }
    }

    /// `SET:DEV:<loop>:TEMP:LOOP:<parameter>:<value>`, which must answer `STAT:SET:…:VALID`.
    private func setLoop(_ parameter: String, _ value: String) throws(InstrumentError) {
        let command = loopCommand(parameter, value)
        let reply = SCPIReply.trimmed(try session.query(command))
        let echo = "STAT:SET:DEV:\(loopChannel):TEMP:LOOP:\(parameter):"
        guard reply.uppercased().hasPrefix(echo.uppercased()) else {
            throw .unexpected(instrument, command, reply: reply, expected: "\(echo)<value>:VALID")
        }
        let outcome = reply.split(separator: ":").last.map(String.init) ?? ""
        switch outcome {
        case "VALID": return
        case "INVALID", "NOT_FOUND": throw InstrumentError(instrument: instrument, command: command, kind: .refused(outcome))
        default: throw .unexpected(instrument, command, reply: reply, expected: "\(echo)<value>:VALID")
        }
    }
}
