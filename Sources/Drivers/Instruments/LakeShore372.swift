import HAL
import Quantities

/// The Lake Shore Model 372 AC resistance bridge and temperature controller (372 user's manual, ch. 6):
/// TCP port 7777, lines end in CR LF, commands without `?` get no reply and `;` joins several commands.
///
/// Inputs are the control input `A` and the scanner channels `1`…`16`; heater outputs are 0 (sample),
/// 1 (warm-up) and 2 (analog/still). Arguments are checked before anything is sent, so a bad one throws
/// `.invalidArgument` and the bridge never sees it. The bridge ignores a command it cannot execute and
/// flags it in its standard event register; ``errorQueue()`` reads that (`*ESR?`).
public final class LakeShore372: TemperatureController, Sendable {
    /// The 372's Ethernet port.
    public static let port: UInt16 = 7777
    /// The input channels: the control input and the sixteen scanner channels.
    public static let inputChannels = ["A"] + (1...16).map(String.init)
    /// Setpoints and temperature limits in kelvin: the 372's sensors (RuOx, Cernox) read nothing above 1000 K.
    public static let temperatureRange: ClosedRange<Double> = 0...1000
    /// PID gains (372 manual, PID): P 0–1000, I 0–10000 s, D 0–2500 s.
    public static let pidRanges = (proportional: 0...1000.0, integral: 0...10000.0, derivative: 0...2500.0)
    /// Setpoint ramp rates in K/min (372 manual, RAMP): 0.001–100, and 0 when none is set.
    public static let rampRange: ClosedRange<Double> = 0.001...100

    public let resource: ResourceName
    public let heaterOutputs = [0, 1, 2]
    /// Errors name the bridge this way, e.g. "Lake Shore 372 at TCPIP0::10.0.0.5::7777::SOCKET".
    public let instrument: String
    private let session: SCPISession

    /// A driver over `transport`, which it owns from now on; `timeout` bounds every reply.
    public init(transport: sending any ByteTransport, timeout: Duration = .seconds(2)) {
        resource = transport.resource
        instrument = "Lake Shore 372 at \(transport.resource)"
        session = SCPISession(
            transport: transport, instrument: instrument, writeTerminator: "\r\n", readTerminator: "\r\n",
            timeout: timeout)
    }

    // MARK: Instrument

    /// `*IDN?`, which must name `LSCI,MODEL372`.
    public func identify() throws(InstrumentError) -> InstrumentIdentity {
        let identity = try session.identify()
        guard identity.manufacturer == "LSCI", identity.model == "MODEL372" else {
            throw .unexpected(
                instrument, "*IDN?", reply: "\(identity.manufacturer),\(identity.model),…",
                expected: "LSCI,MODEL372,<serial>,<firmware>")
        }
        return identity
    }

    /// `*RST`: power-up settings (heaters off).
    public func reset() throws(InstrumentError) {
        try session.reset()
    }

    /// `*ESR?`: the standard event register, read and cleared; each error bit becomes one entry with the
    /// IEEE 488.2 code of its class (command -100, execution -200, device-dependent -300, query -400).
    public func errorQueue() throws(InstrumentError) -> [InstrumentQueueError] {
        let register = try integer("*ESR?", in: 0...255)
        let bits: [(bit: Int, code: Int, message: String)] = [
            (32, -100, "Command error (CME): a command was not recognised or was malformed"),
            (16, -200, "Execution error (EXE): a parameter was out of range or not valid now"),
            (8, -300, "Device-dependent error (DDE)"),
            (4, -400, "Query error (QYE): a reply was lost or requested with nothing to send"),
        ]
        return bits.filter { register & $0.bit != 0 }.map { InstrumentQueueError(code: $0.code, message: $0.message) }
    }

    // MARK: Readings

    /// `KRDG? n;SRDG? n;RDGST? n` in one round trip. A kelvin or ohm reading of zero (no curve, or an
    /// overloaded input) gives nil.
    public func reading(channel: String) throws(InstrumentError) -> TemperatureReading {
        try checkChannel(channel, for: "KRDG? \(channel)")
        let commands = ["KRDG? \(channel)", "SRDG? \(channel)", "RDGST? \(channel)"]
        let compound = commands.joined(separator: ";")
        let replies = try session.query(commands)
        let kelvin = try SCPIReply.real(replies[0], command: compound, instrument: instrument)
        let ohms = try SCPIReply.real(replies[1], command: compound, instrument: instrument)
        let status = try SCPIReply.integer(replies[2], command: compound, instrument: instrument)
        guard (0...255).contains(status), kelvin.isFinite, ohms.isFinite else {
            throw .unexpected(
                instrument, compound, reply: replies.joined(separator: ";"),
                expected: "finite readings and a status bitmask 0-255")
        }
        return TemperatureReading(
            channel: channel, temperature: kelvin > 0 ? .kelvin(kelvin) : nil,
            resistance: ohms > 0 ? .ohms(ohms) : nil, status: ReadingStatus(rawValue: status))
    }

    // MARK: Inputs

    /// `INSET? n;INNAME? n` for every input, one round trip each.
    public func channels() throws(InstrumentError) -> [InputChannel] {
        var result: [InputChannel] = []
        for channel in Self.inputChannels {
            let commands = ["INSET? \(channel)", "INNAME? \(channel)"]
            let compound = commands.joined(separator: ";")
            let replies = try session.query(commands)
            let fields = try SCPIReply.fields(replies[0], count: 5, command: compound, instrument: instrument)
            var values: [Int] = []
            for field in fields { values.append(try SCPIReply.integer(field, command: compound, instrument: instrument)) }
            guard (0...1).contains(values[0]), (0...200).contains(values[1]), (0...200).contains(values[2]),
                  (0...59).contains(values[3]), (1...2).contains(values[4]) else {
                throw .unexpected(
                    instrument, compound, reply: replies[0],
                    expected: "enabled 0-1, dwell 0-200 s, pause 0-200 s, curve 0-59 and tempco 1-2")
            }
            result.append(InputChannel(
                id: channel, name: Self.unquoted(replies[1]), enabled: values[0] == 1,
                dwell: .seconds(Double(values[1])), pause: .seconds(Double(values[2])), curve: values[3]))
        }
        return result
    }

    /// `SCAN?` → `NN,b`.
    public func scanner() throws(InstrumentError) -> ScannerState {
        let reply = try session.query("SCAN?")
        let fields = try SCPIReply.fields(reply, count: 2, command: "SCAN?", instrument: instrument)
        let channel = try SCPIReply.integer(fields[0], command: "SCAN?", instrument: instrument)
        let autoscan = try SCPIReply.integer(fields[1], command: "SCAN?", instrument: instrument)
        guard (1...16).contains(channel), (0...1).contains(autoscan) else {
            throw .unexpected(instrument, "SCAN?", reply: reply, expected: "a channel 1-16 and autoscan 0 or 1")
        }
        return ScannerState(channel: String(channel), autoscan: autoscan == 1)
    }

    /// `SCAN n,autoscan`: the scanner switches among channels 1…16 only.
    public func setScanner(_ state: ScannerState) throws(InstrumentError) {
        let command = "SCAN \(state.channel),\(state.autoscan ? 1 : 0)"
        guard let n = Int(state.channel), (1...16).contains(n) else {
            throw .invalid(instrument, command, "the scanner switches among channels 1 to 16, not \"\(state.channel)\"")
        }
        try session.write("SCAN \(n),\(state.autoscan ? 1 : 0)")
    }

    /// `INTYPE? n`: how an input is excited and read.
    public func inputType(channel: String) throws(InstrumentError) -> InputType {
        let command = "INTYPE? \(channel)"
        try checkChannel(channel, for: command)
        let reply = try session.query(command)
        let fields = try SCPIReply.fields(reply, count: 6, command: command, instrument: instrument)
        var v: [Int] = []
        for field in fields { v.append(try SCPIReply.integer(field, command: command, instrument: instrument)) }
        // The control input reports resistance range 0: it has none (372 manual, INTYPE).
        guard let mode = InputType.ExcitationMode(rawValue: v[0]), (1...22).contains(v[1]),
              let autorange = InputType.Autorange(rawValue: v[2]), (0...22).contains(v[3]),
              (0...1).contains(v[4]), let units = InputType.Units(rawValue: v[5]) else {
            throw .unexpected(
                instrument, command, reply: reply,
                expected: "mode 0-1, excitation 1-22, autorange 0-2, range 0-22, shunt 0-1 and units 1-2")
        }
        return InputType(
            excitationMode: mode, excitationRange: v[1], autorange: autorange, resistanceRange: v[3],
            currentSourceShunted: v[4] == 1, units: units)
    }

    /// `INTYPE n,mode,excitation,autorange,range,cs_shunt,units`. Excitation ranges are 1–22 for voltage
    /// and 1–12 for current excitation; resistance ranges 1–22.
    public func setInputType(_ type: InputType, channel: String) throws(InstrumentError) {
        let command =
            "INTYPE \(channel),\(type.excitationMode.rawValue),\(type.excitationRange),\(type.autorange.rawValue),"
            + "\(type.resistanceRange),\(type.currentSourceShunted ? 1 : 0),\(type.units.rawValue)"
        try checkChannel(channel, for: command)
        let excitations = type.excitationMode == .voltage ? 1...22 : 1...12
        guard excitations.contains(type.excitationRange), (1...22).contains(type.resistanceRange) else {
            throw .invalid(
                instrument, command,
                "excitation range must be in \(excitations) and resistance range in 1...22")
        }
        try session.write(command)
    }

    /// `INNAME? n`.
    public func name(of channel: String) throws(InstrumentError) -> String {
        let command = "INNAME? \(channel)"
        try checkChannel(channel, for: command)
        return Self.unquoted(try session.query(command))
    }

    /// `INNAME n,"name"`: at most 15 printable characters, no quotes, commas or semicolons.
    public func setName(_ name: String, of channel: String) throws(InstrumentError) {
        let command = "INNAME \(channel),\"\(name)\""
        try checkChannel(channel, for: command)
        guard name.unicodeScalars.count <= 15,
              name.unicodeScalars.allSatisfy({ (0x20..<0x7F).contains($0.value) && !"\",;".unicodeScalars.contains($0) })
        else {
            throw .invalid(instrument, command, "a name is at most 15 printable ASCII characters without \" , or ;")
        }
        try session.write(command)
    }

    /// `TLIMIT? n`: above this temperature the bridge turns every heater off (0: no limit).
    public func temperatureLimit(for channel: String) throws(InstrumentError) -> Temperature {
        let command = "TLIMIT? \(channel)"
        try checkChannel(channel, for: command)
        let reply = try session.query(command)
        let kelvin = try SCPIReply.real(reply, command: command, instrument: instrument)
        guard Self.temperatureRange.contains(kelvin) else {
            throw .unexpected(instrument, command, reply: reply, expected: "a limit of 0 to 1000 K")
        }
        return .kelvin(kelvin)
    }

    /// `TLIMIT n,limit`: 0 (no limit) to 1000 K (``temperatureRange``).
    public func setTemperatureLimit(_ limit: Temperature, for channel: String) throws(InstrumentError) {
        try checkChannel(channel, for: "TLIMIT \(channel),\(limit.kelvin)")
        guard Self.temperatureRange.contains(limit.kelvin) else {
            throw .invalid(instrument, "TLIMIT \(channel),\(limit.kelvin)", "a temperature limit is 0 to 1000 K")
        }
        try session.write("TLIMIT \(channel),\(WireNumber.fixed(limit.kelvin, decimals: 4))")
    }

    // MARK: Heater outputs

    /// `OUTMODE? i`: every field of an output's mode.
    public func outputMode(for output: Int) throws(InstrumentError) -> OutputMode {
        let command = "OUTMODE? \(output)"
        try checkOutput(output, for: command)
        return try session.withExclusiveAccess { (connection) throws(InstrumentError) in
            try readOutputMode(output, &connection)
        }
    }

    /// `OUTMODE i,mode,input,powerup,polarity,filter,delay`.
    public func setOutputMode(_ mode: OutputMode, for output: Int) throws(InstrumentError) {
        let command = Self.outmodeCommand(mode, output)
        try checkOutput(output, for: command)
        try checkOutputMode(mode, command)
        try session.write(command)
    }

    /// `OUTMODE? i`: the mode and controlling input.
    public func heaterMode(for output: Int) throws(InstrumentError) -> (mode: HeaterMode, input: String) {
        let mode = try outputMode(for: output)
        return (mode.mode, mode.input)
    }

    /// `OUTMODE? i` then `OUTMODE i,…` under one exclusive access, so the fields not changed here
    /// (power-up enable, polarity, filter, delay) keep their values.
    public func setHeaterMode(_ mode: HeaterMode, input: String, for output: Int) throws(InstrumentError) {
        try checkOutput(output, for: "OUTMODE \(output),\(mode.rawValue),\(input),…")
        try session.withExclusiveAccess { (connection) throws(InstrumentError) in
            var current = try readOutputMode(output, &connection)
            current.mode = mode
            current.input = input
            let command = Self.outmodeCommand(current, output)
            try checkOutputMode(current, command)
            try connection.write(command)
        }
    }

    /// `HTRSET? i` for the sample (0) or warm-up (1) heater.
    public func heaterSetup(for output: Int) throws(InstrumentError) -> HeaterSetup {
        let command = "HTRSET? \(output)"
        guard output == 0 || output == 1 else {
            throw .invalid(instrument, command, "HTRSET applies to output 0 (sample) or 1 (warm-up), not \(output)")
        }
        let reply = try session.query(command)
        let fields = try SCPIReply.fields(reply, count: 4, command: command, instrument: instrument)
        let maxCode = try SCPIReply.integer(fields[1], command: command, instrument: instrument)
        let user = try SCPIReply.real(fields[2], command: command, instrument: instrument)
        let display = try SCPIReply.integer(fields[3], command: command, instrument: instrument)
        guard (1...2).contains(display) else {
            throw .unexpected(instrument, command, reply: reply, expected: "current/power display 1 or 2 in field 4")
        }
        if output == 0 {
            let ohms = try SCPIReply.real(fields[0], command: command, instrument: instrument)
            guard ohms > 0, ohms.isFinite else {
                throw .unexpected(instrument, command, reply: reply, expected: "a heater resistance above 0 Ω")
            }
            return HeaterSetup(resistance: .ohms(ohms), maximumCurrent: nil, displaysPower: display == 2)
        }
        let code = try SCPIReply.integer(fields[0], command: command, instrument: instrument)
        let currents: [Int: Double] = [0: user, 1: 0.45, 2: 0.63]
        guard let ohms = [1: 25.0, 2: 50.0][code], let amperes = currents[maxCode], (0...1.732).contains(amperes) else {
            throw .unexpected(
                instrument, command, reply: reply,
                expected: "resistance code 1 (25 Ω) or 2 (50 Ω), maximum-current code 0-2 and a user current of 0 to 1.732 A")
        }
        return HeaterSetup(resistance: .ohms(ohms), maximumCurrent: .amperes(amperes), displaysPower: display == 2)
    }

    /// `HTRSET i,resistance,max current,max user current,current/power`. The sample heater takes 1–2000 Ω
    /// (its maximum current follows from the range); the warm-up heater 25 or 50 Ω and a maximum current
    /// of 0.45 A, 0.63 A or a user value up to 1.732 A.
    public func setHeaterSetup(_ setup: HeaterSetup, for output: Int) throws(InstrumentError) {
        let display = setup.displaysPower ? 2 : 1
        let command: String
        switch output {
        case 0:
            guard (1...2000).contains(setup.resistance.ohms) else {
                throw .invalid(
                    instrument, "HTRSET 0,\(setup.resistance.ohms),0,0,\(display)", "the sample heater resistance is 1 to 2000 Ω")
            }
            command = "HTRSET 0,\(WireNumber.fixed(setup.resistance.ohms, decimals: 3)),0,0,\(display)"
        case 1:
            let code = setup.resistance.ohms == 25 ? 1 : setup.resistance.ohms == 50 ? 2 : nil
            let amperes = setup.maximumCurrent?.amperes ?? -1
            let maxCode = amperes == 0.45 ? 1 : amperes == 0.63 ? 2 : 0
            let user = maxCode == 0 ? amperes : 0
            guard let code, (0...1.732).contains(user) else {
                throw .invalid(
                    instrument, "HTRSET 1,\(setup.resistance.ohms),\(maxCode),\(user),\(display)",
                    "the warm-up heater is 25 or 50 Ω with a maximum current of 0 to 1.732 A")
            }
            command = "HTRSET 1,\(code),\(maxCode),\(WireNumber.fixed(user, decimals: 3)),\(display)"
        default:
            throw .invalid(instrument, "HTRSET \(output),…", "HTRSET applies to output 0 (sample) or 1 (warm-up)")
        }
        try session.write(command)
    }

    /// `RANGE? i`: 0 is off; 1–8 for the sample heater, 1 (on) for the others.
    public func heaterRange(for output: Int) throws(InstrumentError) -> Int {
        let command = "RANGE? \(output)"
        try checkOutput(output, for: command)
        return try integer(command, in: Self.ranges(output))
    }

    /// `RANGE i,r`.
    public func setHeaterRange(_ range: Int, for output: Int) throws(InstrumentError) {
        let command = "RANGE \(output),\(range)"
        try checkOutput(output, for: command)
        guard Self.ranges(output).contains(range) else {
            throw .invalid(instrument, command, "output \(output) has ranges \(Self.ranges(output)), not \(range)")
        }
        try session.write(command)
    }

    /// `SETP? i`, in kelvin (the control input's units must be kelvin).
    public func setpoint(for output: Int) throws(InstrumentError) -> Temperature {
        let command = "SETP? \(output)"
        try checkOutput(output, for: command)
        let reply = try session.query(command)
        let kelvin = try SCPIReply.real(reply, command: command, instrument: instrument)
        guard Self.temperatureRange.contains(kelvin) else {
            throw .unexpected(instrument, command, reply: reply, expected: "a setpoint of 0 to 1000 K")
        }
        return .kelvin(kelvin)
    }

    /// `SETP i,value`: 0 to 1000 K (``temperatureRange``).
    public func setSetpoint(_ temperature: Temperature, for output: Int) throws(InstrumentError) {
        try checkOutput(output, for: "SETP \(output),\(temperature.kelvin)")
        guard Self.temperatureRange.contains(temperature.kelvin) else {
            throw .invalid(instrument, "SETP \(output),\(temperature.kelvin)", "a setpoint is 0 to 1000 K")
        }
        try session.write("SETP \(output),\(WireNumber.fixed(temperature.kelvin, decimals: 6))")
    }

    /// `PID? i`.
    public func pid(for output: Int) throws(InstrumentError) -> PIDGains {
        let command = "PID? \(output)"
        try checkOutput(output, for: command)
        let reply = try session.query(command)
        let fields = try SCPIReply.fields(reply, count: 3, command: command, instrument: instrument)
        let gains = PIDGains(
            proportional: try SCPIReply.real(fields[0], command: command, instrument: instrument),
            integral: try SCPIReply.real(fields[1], command: command, instrument: instrument),
            derivative: try SCPIReply.real(fields[2], command: command, instrument: instrument))
        guard Self.isValid(gains) else {
            throw .unexpected(instrument, command, reply: reply, expected: "P 0-1000, I 0-10000 and D 0-2500")
        }
        return gains
    }

    /// `PID i,P,I,D`: P 0–1000, I 0–10000 s, D 0–2500 s (``pidRanges``).
    public func setPID(_ gains: PIDGains, for output: Int) throws(InstrumentError) {
        let described = "PID \(output),\(gains.proportional),\(gains.integral),\(gains.derivative)"
        try checkOutput(output, for: described)
        guard Self.isValid(gains) else {
            throw .invalid(instrument, described, "P must be 0-1000, I 0-10000 and D 0-2500")
        }
        try session.write(
            "PID \(output),\(WireNumber.fixed(gains.proportional, decimals: 3)),"
                + "\(WireNumber.fixed(gains.integral, decimals: 1)),\(WireNumber.fixed(gains.derivative, decimals: 1))")
    }

    /// `RAMP? i` → `enabled,rate`.
    public func ramp(for output: Int) throws(InstrumentError) -> SetpointRamp {
        let command = "RAMP? \(output)"
        try checkOutput(output, for: command)
        let reply = try session.query(command)
        let fields = try SCPIReply.fields(reply, count: 2, command: command, instrument: instrument)
        let enabled = try SCPIReply.integer(fields[0], command: command, instrument: instrument)
        let rate = try SCPIReply.real(fields[1], command: command, instrument: instrument)
        guard (0...1).contains(enabled), rate == 0 || Self.rampRange.contains(rate) else {
            throw .unexpected(instrument, command, reply: reply, expected: "enabled 0 or 1 and a rate of 0 or 0.001 to 100 K/min")
        }
        return SetpointRamp(enabled: enabled == 1, kelvinPerMinute: rate)
    }

    /// `RAMP i,enabled,rate`: 0.001–100 K/min (``rampRange``).
    public func setRamp(_ ramp: SetpointRamp, for output: Int) throws(InstrumentError) {
        let described = "RAMP \(output),\(ramp.enabled ? 1 : 0),\(ramp.kelvinPerMinute)"
        try checkOutput(output, for: described)
        guard Self.rampRange.contains(ramp.kelvinPerMinute) else {
            throw .invalid(instrument, described, "the ramp rate is 0.001 to 100 K/min")
        }
        try session.write("RAMP \(output),\(ramp.enabled ? 1 : 0),\(WireNumber.fixed(ramp.kelvinPerMinute, decimals: 3))")
    }

    /// `RAMPST? i`.
    public func isRamping(output: Int) throws(InstrumentError) -> Bool {
        let command = "RAMPST? \(output)"
        try checkOutput(output, for: command)
        return try integer(command, in: 0...1) == 1
    }

    /// Percent of full-scale current: `AOUT? i` for outputs 1 and 2; for the sample heater (output 0)
    /// `HTRSET? 0;RANGE? 0;HTR?` in one round trip, because the 372 manual (rev. 1.7, HTR?) has HTR? return
    /// percent of current or, when HTRSET selects the power display, watts (`±nn.nnn`, so 1 mW resolution).
    /// Watts are converted back through I = √(P/R) and the range's full-scale current.
    public func heaterOutputPercent(for output: Int) throws(InstrumentError) -> Double {
        guard output == 0 else {
            let command = "AOUT? \(output)"
            try checkOutput(output, for: command)
            return try percent(try session.query(command), command)
        }
        return try sampleHeater().percent
    }

    /// The sample heater's power in its load, from the same `HTRSET? 0;RANGE? 0;HTR?` round trip:
    /// P = (percent / 100 × the range's full-scale current)² × R with the current display, or HTR?'s watts
    /// with the power display. Only the sample heater (output 0) has a known load; the analog outputs
    /// drive whatever is wired to them.
    public func heaterPowerWatts(for output: Int) throws(InstrumentError) -> Double {
        guard output == 0 else {
            throw .invalid(instrument, "HTR? (output \(output))", "only the sample heater (output 0) has a load whose power is known")
        }
        return try sampleHeater().watts
    }

    /// `HTRSET? 0;RANGE? 0;HTR?`: the sample heater's level in percent of full-scale current and its power.
    private func sampleHeater() throws(InstrumentError) -> (percent: Double, watts: Double) {
        let commands = ["HTRSET? 0", "RANGE? 0", "HTR?"]
        let compound = commands.joined(separator: ";")
        let replies = try session.query(commands)
        let fields = try SCPIReply.fields(replies[0], count: 4, command: compound, instrument: instrument)
        let ohms = try SCPIReply.real(fields[0], command: compound, instrument: instrument)
        let display = try SCPIReply.integer(fields[3], command: compound, instrument: instrument)
        let range = try SCPIReply.integer(replies[1], command: compound, instrument: instrument)
        guard ohms > 0, ohms.isFinite, (1...2).contains(display), Self.ranges(0).contains(range) else {
            throw .unexpected(
                instrument, compound, reply: replies.joined(separator: ";"),
                expected: "a heater resistance above 0 Ω, display 1 or 2 and a range 0-8")
        }
        guard range > 0 else {
            // Off: HTR? still answers, and must still parse.
            _ = display == 2 ? try SCPIReply.real(replies[2], command: compound, instrument: instrument) : try percent(replies[2], compound)
            return (0, 0)
        }
        let fullScale = Self.sampleHeaterRanges[range - 1]
        guard display == 2 else {
            let level = try percent(replies[2], compound)
            let amperes = level / 100 * fullScale
            return (level, amperes * amperes * ohms)
        }
        let watts = try SCPIReply.real(replies[2], command: compound, instrument: instrument)
        guard watts >= 0, watts.isFinite else {
            throw .unexpected(instrument, compound, reply: replies[2], expected: "a heater power of 0 W or more")
        }
        // The reply is rounded to 1 mW: only a power beyond full scale by more than that is an error.
        guard (max(watts - 0.0005, 0) / ohms).squareRoot() <= fullScale else {
            throw .unexpected(
                instrument, compound, reply: replies.joined(separator: ";"),
                expected: "a power within the range's full scale, \(fullScale * fullScale * ohms) W")
        }
        return (min(100, 100 * (watts / ohms).squareRoot() / fullScale), watts)
    }

    /// `STILL?`: the still (analog output 2) level in percent.
    public func stillOutputPercent() throws(InstrumentError) -> Double {
        let percent = try SCPIReply.real(try session.query("STILL?"), command: "STILL?", instrument: instrument)
        guard (0...100).contains(percent) else {
            throw .unexpected(instrument, "STILL?", reply: String(percent), expected: "a percentage of 0 to 100")
        }
        return percent
    }

    /// `STILL value`: 0–100 %.
    public func setStillOutputPercent(_ percent: Double) throws(InstrumentError) {
        guard (0...100).contains(percent) else { throw .invalid(instrument, "STILL \(percent)", "the still output is 0 to 100 %") }
        try session.write("STILL \(WireNumber.fixed(percent, decimals: 3))")
    }

    // MARK: Helpers

    private static func ranges(_ output: Int) -> ClosedRange<Int> { output == 0 ? 0...8 : 0...1 }

    /// Whether every gain lies in ``pidRanges`` (NaN and infinities do not).
    private static func isValid(_ gains: PIDGains) -> Bool {
        pidRanges.proportional.contains(gains.proportional) && pidRanges.integral.contains(gains.integral)
            && pidRanges.derivative.contains(gains.derivative)
    }

    /// The sample heater's full-scale current in amperes for ranges 1–8 (372 manual, RANGE: 31.6 µA…100 mA).
    private static let sampleHeaterRanges = [31.6e-6, 100e-6, 316e-6, 1e-3, 3.16e-3, 10e-3, 31.6e-3, 100e-3]

    /// A percentage reply of -100 to 100.
    private func percent(_ reply: String, _ command: String) throws(InstrumentError) -> Double {
        let percent = try SCPIReply.real(reply, command: command, instrument: instrument)
        guard (-100...100).contains(percent) else {
            throw .unexpected(instrument, command, reply: reply, expected: "a percentage of -100 to 100")
        }
        return percent
    }

    private static func outmodeCommand(_ mode: OutputMode, _ output: Int) -> String {
        "OUTMODE \(output),\(mode.mode.rawValue),\(mode.input),\(mode.powerUpEnabled ? 1 : 0),"
            + "\(mode.bipolar ? 1 : 0),\(mode.filtered ? 1 : 0),\(mode.delay)"
    }

    private static func unquoted(_ text: String) -> String {
        let trimmed = SCPIReply.trimmed(text)
        guard trimmed.count >= 2, trimmed.first == "\"", trimmed.last == "\"" else { return trimmed }
        return String(trimmed.dropFirst().dropLast())
    }

    private func readOutputMode(_ output: Int, _ connection: inout SCPIConnection) throws(InstrumentError) -> OutputMode {
        let command = "OUTMODE? \(output)"
        let reply = try connection.query(command)
        let fields = try SCPIReply.fields(reply, count: 6, command: command, instrument: instrument)
        var v: [Int] = []
        for index in [0, 2, 3, 4, 5] { v.append(try SCPIReply.integer(fields[index], command: command, instrument: instrument)) }
        let input = fields[1]
        guard let mode = HeaterMode(rawValue: v[0]), input == "0" || Self.inputChannels.contains(input),
              (0...1).contains(v[1]), (0...1).contains(v[2]), (0...1).contains(v[3]), (0...255).contains(v[4]) else {
            throw .unexpected(
                instrument, command, reply: reply,
                expected: "mode 0-6, input 0/A/1-16, power-up 0-1, polarity 0-1, filter 0-1 and delay 0-255")
        }
        return OutputMode(
            mode: mode, input: input, powerUpEnabled: v[1] == 1, bipolar: v[2] == 1, filtered: v[3] == 1, delay: v[4])
    }

    private func checkOutputMode(_ mode: OutputMode, _ command: String) throws(InstrumentError) {
        guard mode.input == "0" || Self.inputChannels.contains(mode.input), (0...255).contains(mode.delay) else {
            throw .invalid(instrument, command, "the input is 0 (none), A or 1-16 and the delay 0-255 s")
        }
    }

    private func checkChannel(_ channel: String, for command: String) throws(InstrumentError) {
        guard Self.inputChannels.contains(channel) else {
            throw .invalid(instrument, command, "the 372 has inputs A and 1 to 16, not \"\(channel)\"")
        }
    }

    private func checkOutput(_ output: Int, for command: String) throws(InstrumentError) {
        guard heaterOutputs.contains(output) else {
            throw .invalid(instrument, command, "the 372 has outputs 0 (sample), 1 (warm-up) and 2 (still), not \(output)")
        }
    }

    private func integer(_ command: String, in range: ClosedRange<Int>) throws(InstrumentError) -> Int {
        let reply = try session.query(command)
        let value = try SCPIReply.integer(reply, command: command, instrument: instrument)
        guard range.contains(value) else {
            throw .unexpected(instrument, command, reply: reply, expected: "an integer in \(range)")
        }
        return value
    }
}

extension LakeShore372 {
    /// An input's excitation and measurement (`INTYPE`).
    public struct InputType: Sendable, Hashable {
        public enum ExcitationMode: Int, Sendable, Hashable { case voltage = 0, current = 1 }
        public enum Autorange: Int, Sendable, Hashable { case off = 0, on = 1, rox102B = 2 }
        /// The units the front panel and the control loop use.
        public enum Units: Int, Sendable, Hashable { case kelvin = 1, ohms = 2 }

        public var excitationMode: ExcitationMode
        /// The excitation range index (voltage 1–22: 2 µV…632 mV; current 1–22: 1 pA…31.6 mA).
        public var excitationRange: Int
        public var autorange: Autorange
        /// The resistance range index, 1–22 (2 mΩ…63.2 MΩ).
        public var resistanceRange: Int
        public var currentSourceShunted: Bool
        public var units: Units

        public init(
            excitationMode: ExcitationMode, excitationRange: Int, autorange: Autorange, resistanceRange: Int,
            currentSourceShunted: Bool, units: Units
        ) {
            self.excitationMode = excitationMode
            self.excitationRange = excitationRange
            self.autorange = autorange
            self.resistanceRange = resistanceRange
            self.currentSourceShunted = currentSourceShunted
            self.units = units
        }
    }

    /// Every field of `OUTMODE`.
    public struct OutputMode: Sendable, Hashable {
        public var mode: HeaterMode
        /// The controlling input: `A`, `1`…`16`, or `0` for none.
        public var input: String
        public var powerUpEnabled: Bool
        /// Bipolar output (analog outputs only).
        public var bipolar: Bool
        /// Whether the control loop uses filtered readings.
        public var filtered: Bool
        /// The autoscan delay in seconds, 0–255.
        public var delay: Int

        public init(mode: HeaterMode, input: String, powerUpEnabled: Bool, bipolar: Bool, filtered: Bool, delay: Int) {
            self.mode = mode
            self.input = input
            self.powerUpEnabled = powerUpEnabled
            self.bipolar = bipolar
            self.filtered = filtered
            self.delay = delay
        }
    }

    /// A heater's load and limits (`HTRSET`).
    public struct HeaterSetup: Sendable, Hashable {
        public var resistance: Resistance
        /// The warm-up heater's maximum current; nil for the sample heater, whose range sets it.
        public var maximumCurrent: Current?
        /// The output is shown in power rather than current.
        public var displaysPower: Bool

        public init(resistance: Resistance, maximumCurrent: Current?, displaysPower: Bool) {
            self.resistance = resistance
            self.maximumCurrent = maximumCurrent
            self.displaysPower = displaysPower
        }
    }
}
