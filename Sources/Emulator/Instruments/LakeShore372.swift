import Foundation
import HAL
import Synchronization

/// The Lake Shore Model 372 AC resistance bridge and temperature controller, as its computer interface
/// behaves (372 user's manual rev. 1.7, ch. 6): lines end in CR LF, `;` joins commands, queries answer in
/// order joined by `;`, set commands never answer, and a malformed or out-of-range command is ignored
/// (no reply) and flagged in the standard event register (`*ESR?`: 32 command error, 16 execution error).
public final class LakeShore372Twin: InstrumentTwin {
    public let id: String
    public let kind = InstrumentKind.lakeShore372
    let profile: InstrumentProfile
    let model: CryostatModel
    private let state: Mutex<State>
    /// Per input (A, 1…16): the thermometer the profile wires to it and its open-circuit key,
    /// looked up once here instead of on every reading.
    private let wiring: [(thermometer: ThermometerChannel?, openCircuitKey: String)]

    struct Channel: Sendable {
        var enabled = true, dwell = 7, pause = 3, curve = 0, tempco = 1
        var excitationMode = 0, excitation = 5, autorange = 0, range = 12, shunted = 0, units = 1
        var name = ""
        var limit = 0.0
    }

    struct Output: Sendable {
        var mode = 0, powerup = 0, polarity = 0, filter = 0, delay = 0
        /// The controlling input: `A`, `1`…`16`, or `0` for none.
        var input = "1"
        /// HTRSET: sample heater resistance in ohms, or the warm-up heater's resistance code (1: 25 Ω, 2: 50 Ω).
        var resistance = 0.0
        var maxCurrent = 0
        var maxUserCurrent = 0.0
        var display = 1
        var range = 0
    }

    struct State: Sendable {
        /// Inputs by index: 0 is the control input `A`, 1…16 the scanner channels.
        var channels: [Channel]
        var outputs: [Output]
        var scanChannel = 1
        var autoscan = false
        var eventRegister = 0
    }

    /// Output numbers: 0 sample heater, 1 warm-up heater, 2 analog/still.
    static let roles = ["sample", "warmup", "still"]

    init(profile: InstrumentProfile, model: CryostatModel) {
        id = profile.id
        self.profile = profile
        self.model = model
        state = Mutex(Self.powerUpState(profile: profile, model: model))
        wiring = (0...16).map { index in
            (profile.thermometers.first { $0.channel == Self.inputName(index) }, "\(profile.id)/\(Self.inputName(index))")
        }
    }

    private static func powerUpState(profile: InstrumentProfile, model: CryostatModel) -> State {
        // Inputs with no thermometer wired are disabled, as a lab configures them. The control input is
        // current-excited and has no resistance range (372 manual, INTYPE).
        var channels = Array(repeating: Channel(), count: 17)
        for index in channels.indices {
            channels[index].name = index == 0 ? "Control Input" : "Channel \(index)"
            channels[index].enabled = false
        }
        channels[0].excitationMode = 1
        channels[0].excitation = 3
        channels[0].range = 0
        for thermometer in profile.thermometers {
            guard let n = inputIndex(thermometer.channel) else { continue }
            channels[n].name = String(thermometer.name.prefix(15))
            // Each wired input reads through its own user curve: channel n uses curve n, input A curve 17.
            channels[n].curve = n == 0 ? 17 : n
            channels[n].enabled = true
        }
        var outputs = Array(repeating: Output(), count: 3)
        outputs[0].resistance = 100
        outputs[1].resistance = 2
        outputs[1].maxCurrent = 1
        for (number, role) in roles.enumerated() {
            guard let heaterID = profile.heaters[role] else { continue }
            model.withHeater(heaterID) { heater, _ in
                outputs[number].mode = heater.mode.rawValue
                if number == 0 {
                    outputs[0].resistance = heater.resistance
                    outputs[0].range = lakeShore372SampleHeaterRanges.lastIndex { $0 <= heater.fullScaleCurrent } ?? 0
                } else {
                    outputs[number].range = heater.fullScaleCurrent > 0 ? 1 : 0
                }
                if let channel = profile.thermometers.first(where: { $0.stage == heater.controlStage }) {
                    outputs[number].input = channel.channel
                }
            }
        }
        return State(channels: channels, outputs: outputs)
    }

    public func makeSession() -> any TwinSession {
        LakeShore372Session(twin: self)
    }

    /// Executes one line (several `;`-joined commands); the reply without terminator, or nil when no
    /// command in the line was a query that could answer.
    func execute(line: String) -> String? {
        var replies: [String] = []
        for command in line.split(separator: ";", omittingEmptySubsequences: true) {
            let text = String(command.trimmedSpaces)
            guard !text.isEmpty else { continue }
            switch run(text) {
            case let .reply(reply): replies.append(reply)
            case .done: break
            case let .failed(bit): state.withLock { $0.eventRegister |= bit }
            }
        }
        return replies.isEmpty ? nil : replies.joined(separator: ";")
    }

    enum Outcome {
        case reply(String)
        case done
        /// Event-register bit: 32 command error (unknown or malformed), 16 execution error (out of range).
        case failed(Int)
    }

    private static let commandError = Outcome.failed(32)
    /// SETP's range, in kelvin: the emulated inputs control in kelvin, and a curve's setpoint limit
    /// (CRVHDR `<limit value>`, format +nnn.nnn) stays below 1000 K.
    static let setpointKelvin = 0.0...999.999
    private static let executionError = Outcome.failed(16)

    private func run(_ text: String) -> Outcome {
        var head = text.prefix { character in
            guard let a = character.asciiValue else { return false }
            return (65...90).contains(a) || (97...122).contains(a) || a == 42  // A–Z, a–z, *
        }
        var rest = text.dropFirst(head.count)
        var isQuery = false
        if rest.first == "?" {
            isQuery = true
            rest = rest.dropFirst()
        }
        head = Substring(head.uppercased())
        let argumentText = rest.trimmedSpaces
        let args = argumentText.isEmpty ? [] : argumentText.split(separator: ",", omittingEmptySubsequences: false).map {
            String($0.trimmedSpaces)
        }
        switch (String(head), isQuery) {
        case ("*IDN", true): return args.isEmpty ? .reply("LSCI,MODEL372,\(profile.serialNumber),\(profile.firmware)") : Self.commandError
        case ("*RST", false):
            for role in Self.roles {
                if let heaterID = profile.heaters[role] {
                    model.withHeater(heaterID) { heater, t in
                        heater.mode = .off
                        heater.fullScaleCurrent = 0
                        heater.rampEnabled = false
                        heater.setSetpoint(0, currentTemperature: t)
                        heater.resetController()
                    }
                }
            }
            let fresh = Self.powerUpState(profile: profile, model: model)
            state.withLock { $0 = fresh }
            return .done
        case ("*CLS", false): state.withLock { $0.eventRegister = 0 }; return .done
        case ("*ESR", true): return .reply(String(state.withLock { s in defer { s.eventRegister = 0 }; return s.eventRegister }))
        case ("*OPC", true): return .reply("1")
        case ("KRDG", true), ("RDGK", true): return reading(args, kelvin: true)
        case ("SRDG", true), ("RDGR", true): return reading(args, kelvin: false)
        case ("RDGST", true): return status(args)
        case ("SCAN", true): return args.isEmpty ? .reply(state.withLock { WireFormat.zeroPadded($0.scanChannel, width: 2) + ($0.autoscan ? ",1" : ",0") }) : Self.commandError
        case ("SCAN", false): return scan(args)
        case ("INSET", true): return channelQuery(args) { c in "\(c.enabled ? 1 : 0),\(WireFormat.zeroPadded(c.dwell, width: 3)),\(WireFormat.zeroPadded(c.pause, width: 3)),\(WireFormat.zeroPadded(c.curve, width: 2)),\(c.tempco)" }
        case ("INSET", false): return inset(args)
        case ("INTYPE", true):
            return channelQuery(args) { c in "\(c.excitationMode),\(WireFormat.zeroPadded(c.excitation, width: 2)),\(c.autorange),\(WireFormat.zeroPadded(c.range, width: 2)),\(c.shunted),\(c.units)" }
        case ("INTYPE", false): return intype(args)
        case ("INNAME", true): return channelQuery(args) { $0.name }
        case ("INNAME", false): return inname(args)
        case ("TLIMIT", true): return channelQuery(args) { WireFormat.signed($0.limit, decimals: 4) }
        case ("TLIMIT", false):
            guard args.count == 2, let n = Self.inputIndex(args[0]), let limit = WireNumber.decimal(args[1], in: 0...9999) else { return Self.executionError }
            state.withLock { $0.channels[n].limit = limit }
            return .done
        case ("OUTMODE", true):
            return outputQuery(args, allowed: 0...2) { o in "\(o.mode),\(o.input),\(o.powerup),\(o.polarity),\(o.filter),\(o.delay)" }
        case ("OUTMODE", false): return outmode(args)
        case ("HTRSET", true):
            // Sample heater `+nnn.nnn,n,+nnn.nnn,n`; warm-up heater `n,n,+nnn.nnn,n` (resistance code).
            let sample = Int(args.first ?? "") == 0
            return outputQuery(args, allowed: 0...1) { o in
                let resistance = sample ? String(format: "%+08.3f", o.resistance) : String(Int(o.resistance))
                return "\(resistance),\(o.maxCurrent),\(String(format: "%+08.3f", o.maxUserCurrent)),\(o.display)"
            }
        case ("HTRSET", false): return htrset(args)
        case ("RANGE", true): return outputQuery(args, allowed: 0...2) { String($0.range) }
        case ("RANGE", false): return range(args)
        case ("SETP", true): return heaterQuery(args, allowed: 0...2) { h, _ in WireFormat.engineering(h.setpoint) }
        case ("SETP", false):
            guard args.count == 2, let value = WireNumber.decimal(args[1], in: Self.setpointKelvin) else { return Self.executionError }
            return heaterChange(args[0], allowed: 0...2) { h, t in h.setSetpoint(value, currentTemperature: t) }
        case ("PID", true):
            return heaterQuery(args, allowed: 0...2) { h, _ in
                "\(WireFormat.signed(h.gains.proportional, decimals: 3)),\(WireFormat.signed(h.gains.integral, decimals: 1)),\(WireFormat.signed(h.gains.derivative, decimals: 1))"
            }
        case ("PID", false):
            guard args.count == 4, let p = WireNumber.decimal(args[1], in: 0...1000), let i = WireNumber.decimal(args[2], in: 0...10000),
                  let d = WireNumber.decimal(args[3], in: 0...2500) else { return Self.executionError }
            return heaterChange(args[0], allowed: 0...2) { h, _ in h.gains = PIDGains(proportional: p, integral: i, derivative: d) }
        case ("RAMP", true): return heaterQuery(args, allowed: 0...2) { h, _ in "\(h.rampEnabled ? 1 : 0),\(WireFormat.signed(h.rampKelvinPerMinute, decimals: 3))" }
        case ("RAMP", false):
            guard args.count == 3, let on = Int(args[1]), (0...1).contains(on), let rate = WireNumber.decimal(args[2], in: 0...100) else {
                return Self.executionError
            }
            return heaterChange(args[0], allowed: 0...2) { h, _ in
                h.rampEnabled = on == 1
                h.rampKelvinPerMinute = rate
            }
        case ("RAMPST", true): return heaterQuery(args, allowed: 0...2) { h, _ in h.isRamping ? "1" : "0" }
        case ("HTR", true):
            // HTR? reads the sample heater, `±nn.nnn`: percent of full-scale current, or watts when HTRSET
            // selects the power display (372 manual rev. 1.7, HTR?). An output number (QCoDeS sends `HTR? 1`,
            // `HTR? 2`) reads that output as AOUT? would, so a snapshot does not wait for a timeout.
            let output = args.first ?? "0"
            let display = state.withLock { $0.outputs[0].display }
            return heaterQuery([output], allowed: 0...2) { h, _ in
                WireFormat.signed(display == 2 && output == "0" ? h.power : h.outputPercent, decimals: 3)
            }
        case ("AOUT", true): return heaterQuery(args, allowed: 1...2) { h, _ in WireFormat.signed(h.outputPercent, decimals: 3) }
        case ("MOUT", true): return heaterQuery(args, allowed: 0...2) { h, _ in WireFormat.signed(h.manualPercent, decimals: 3) }
        case ("MOUT", false):
            guard args.count == 2, let value = WireNumber.decimal(args[1], in: 0...100) else { return Self.executionError }
            return heaterChange(args[0], allowed: 0...2) { h, _ in h.manualPercent = value }
        case ("STILL", true): return args.isEmpty ? heaterQuery(["2"], allowed: 2...2) { h, _ in WireFormat.signed(h.manualPercent, decimals: 3) } : Self.commandError
        case ("STILL", false):
            guard args.count == 1, let value = WireNumber.decimal(args[0], in: 0...100) else { return Self.executionError }
            return heaterChange("2", allowed: 2...2) { h, _ in h.manualPercent = value }
        default:
            return Self.commandError
        }
    }

    // MARK: Inputs

    /// An input argument's index in `State.channels`: `A` (the control input) is 0, channels 1…16 are 1…16.
    static func inputIndex(_ text: String) -> Int? {
        if text.uppercased() == "A" { return 0 }
        guard let n = Int(text), (1...16).contains(n) else { return nil }
        return n
    }

    /// The input's name on the wire and in the profile: `A` or `1`…`16`.
    private static func inputName(_ index: Int) -> String {
        index == 0 ? "A" : String(index)
    }

    private func thermometer(_ n: Int) -> ThermometerChannel? {
        wiring[n].thermometer
    }

    /// The input's resistance in ohms, or nil when its leads are open (or nothing is connected).
    private func resistance(_ n: Int) -> (ohms: Double, kelvin: Double)? {
        guard let thermometer = thermometer(n), !model.isOpenCircuit(wiring[n].openCircuitKey) else { return nil }
        let kelvin = model.temperature(of: thermometer.stage)
        return (thermometer.sensor.resistance(at: kelvin), kelvin)
    }

    /// KRDG? / SRDG?: kelvin or ohms in engineering notation; zero without a curve or when over range.
    private func reading(_ args: [String], kelvin: Bool) -> Outcome {
        guard args.count == 1, let n = Self.inputIndex(args[0]) else { return Self.executionError }
        guard let value = resistance(n) else { return .reply(WireFormat.engineering(0)) }
        if kelvin {
            let curve = state.withLock { $0.channels[n].curve }
            guard curve > 0, let t = thermometer(n)?.sensor.temperature(forResistance: value.ohms) else { return .reply(WireFormat.engineering(0)) }
            return .reply(WireFormat.engineering(t))
        }
        return .reply(WireFormat.engineering(value.ohms))
    }

    /// RDGST?: the status bits, `nnn` (16 R.OVER for an open or unconnected sensor).
    private func status(_ args: [String]) -> Outcome {
        guard args.count == 1, let n = Self.inputIndex(args[0]) else { return Self.executionError }
        return .reply(WireFormat.zeroPadded(resistance(n) == nil ? ReadingStatus.resistanceOverRange.rawValue : 0, width: 3))
    }

    private func channelQuery(_ args: [String], _ format: (Channel) -> String) -> Outcome {
        guard args.count == 1, let n = Self.inputIndex(args[0]) else { return Self.executionError }
        return .reply(format(state.withLock { $0.channels[n] }))
    }

    /// SCAN n,autoscan: the scanner switches among channels 1…16, never the control input.
    private func scan(_ args: [String]) -> Outcome {
        guard args.count == 2, let n = Self.inputIndex(args[0]), n > 0, let auto = Int(args[1]), (0...1).contains(auto) else { return Self.executionError }
        state.withLock {
            $0.scanChannel = n
            $0.autoscan = auto == 1
        }
        return .done
    }

    /// INSET n,enabled,dwell,pause,curve,tempco. The control input does not scan, so its dwell may be 0.
    private func inset(_ args: [String]) -> Outcome {
        guard args.count == 6, let n = Self.inputIndex(args[0]), let values = integers(args.dropFirst()),
              (0...1).contains(values[0]), ((n == 0 ? 0 : 1)...200).contains(values[1]), (3...200).contains(values[2]),
              (0...59).contains(values[3]), (1...2).contains(values[4]) else { return Self.executionError }
        state.withLock {
            $0.channels[n].enabled = values[0] == 1
            $0.channels[n].dwell = values[1]
            $0.channels[n].pause = values[2]
            $0.channels[n].curve = values[3]
            $0.channels[n].tempco = values[4]
        }
        return .done
    }

    /// INTYPE n,mode,excitation,autorange,range,cs_shunt,units. The control input takes current excitation
    /// only, ranges 1–6 (316 pA…100 nA), autorange off or on, and no resistance range (0 accepted).
    private func intype(_ args: [String]) -> Outcome {
        guard args.count == 7, let n = Self.inputIndex(args[0]), let v = integers(args.dropFirst()),
              (0...1).contains(v[4]), (1...2).contains(v[5]) else { return Self.executionError }
        if n == 0 {
            guard v[0] == 1, (1...6).contains(v[1]), (0...1).contains(v[2]), (0...22).contains(v[3]) else { return Self.executionError }
        } else {
            guard (0...1).contains(v[0]), (1...22).contains(v[1]), (0...2).contains(v[2]), (1...22).contains(v[3]) else {
                return Self.executionError
            }
        }
        state.withLock {
            $0.channels[n].excitationMode = v[0]
            $0.channels[n].excitation = v[1]
            $0.channels[n].autorange = v[2]
            $0.channels[n].range = v[3]
            $0.channels[n].shunted = v[4]
            $0.channels[n].units = v[5]
        }
        return .done
    }

    /// INNAME n,"name" (up to 15 characters).
    private func inname(_ args: [String]) -> Outcome {
        guard args.count >= 2, let n = Self.inputIndex(args[0]) else { return Self.executionError }
        var name = args.dropFirst().joined(separator: ",")
        if name.hasPrefix("\""), name.hasSuffix("\""), name.count >= 2 { name = String(name.dropFirst().dropLast()) }
        guard name.count <= 15 else { return Self.executionError }
        state.withLock { $0.channels[n].name = name }
        return .done
    }

    private func integers(_ texts: ArraySlice<String>) -> [Int]? {
        let values = texts.compactMap { Int($0) }
        return values.count == texts.count ? values : nil
    }

    // MARK: Outputs

    private func outputNumber(_ text: String, allowed: ClosedRange<Int>) -> Int? {
        guard let n = Int(text), allowed.contains(n) else { return nil }
        return n
    }

    private func outputQuery(_ args: [String], allowed: ClosedRange<Int>, _ format: (Output) -> String) -> Outcome {
        guard args.count == 1, let n = outputNumber(args[0], allowed: allowed) else { return Self.executionError }
        return .reply(format(state.withLock { $0.outputs[n] }))
    }

    private func heaterQuery(_ args: [String], allowed: ClosedRange<Int>, _ format: (HeaterLoop, Double) -> String) -> Outcome {
        guard args.count == 1, let n = outputNumber(args[0], allowed: allowed) else { return Self.executionError }
        guard let heaterID = profile.heaters[Self.roles[n]],
              let text = model.withHeater(heaterID, { h, t in format(h, t) }) else { return Self.executionError }
        return .reply(text)
    }

    private func heaterChange(_ output: String, allowed: ClosedRange<Int>, _ change: (inout HeaterLoop, Double) -> Void) -> Outcome {
        guard let n = outputNumber(output, allowed: allowed) else { return Self.executionError }
        guard let heaterID = profile.heaters[Self.roles[n]], model.withHeater(heaterID, { h, t in change(&h, t) }) != nil else {
            return Self.executionError
        }
        return .done
    }

    /// OUTMODE output,mode,input,powerup,polarity,filter,delay; the input is `0` (none), `A` or 1–16.
    private func outmode(_ args: [String]) -> Outcome {
        guard args.count == 7, let n = outputNumber(args[0], allowed: 0...2), let v = integers(args[3...6]),
              let modeCode = Int(args[1]), let mode = HeaterMode(rawValue: modeCode),
              args[2] == "0" || Self.inputIndex(args[2]) != nil, (0...1).contains(v[0]), (0...1).contains(v[1]),
              (0...1).contains(v[2]), (0...255).contains(v[3]) else { return Self.executionError }
        let input = Self.inputIndex(args[2]).map(Self.inputName) ?? "0"
        state.withLock {
            $0.outputs[n].mode = modeCode
            $0.outputs[n].input = input
            $0.outputs[n].powerup = v[0]
            $0.outputs[n].polarity = v[1]
            $0.outputs[n].filter = v[2]
            $0.outputs[n].delay = v[3]
        }
        let controlStage = Self.inputIndex(input).flatMap { thermometer($0)?.stage }
        return heaterChange(args[0], allowed: 0...2) { h, _ in
            h.mode = mode
            if let controlStage { h.controlStage = controlStage }
            h.resetController()
        }
    }

    /// HTRSET output,resistance,max current,max user current,current/power.
    private func htrset(_ args: [String]) -> Outcome {
        guard args.count == 5, let n = outputNumber(args[0], allowed: 0...1), let resistance = WireNumber.decimal(args[1]),
              let maxCurrent = Int(args[2]), let user = WireNumber.decimal(args[3]), let display = Int(args[4]), (1...2).contains(display) else {
            return Self.executionError
        }
        if n == 0 {
            guard (1...2000).contains(resistance) else { return Self.executionError }
        } else {
            guard resistance == 1 || resistance == 2, (0...2).contains(maxCurrent), (0...1.732).contains(user) else { return Self.executionError }
        }
        state.withLock {
            $0.outputs[n].resistance = resistance
            $0.outputs[n].maxCurrent = n == 0 ? 0 : maxCurrent
            $0.outputs[n].maxUserCurrent = n == 0 ? 0 : user
            $0.outputs[n].display = display
        }
        if n == 0 { return heaterChange("0", allowed: 0...0) { h, _ in h.resistance = resistance } }
        return applyRange(1)
    }

    /// RANGE output,range: 0–8 for the sample heater, 0/1 for the others.
    private func range(_ args: [String]) -> Outcome {
        guard args.count == 2, let n = outputNumber(args[0], allowed: 0...2), let r = Int(args[1]),
              (0...(n == 0 ? 8 : 1)).contains(r) else { return Self.executionError }
        state.withLock { $0.outputs[n].range = r }
        return applyRange(n)
    }

    /// Sets the heater's full-scale current from the output's range (and, for the warm-up heater, HTRSET).
    private func applyRange(_ n: Int) -> Outcome {
        let output = state.withLock { $0.outputs[n] }
        let profileCurrent = profile.heaters[Self.roles[n]].flatMap { id in model.spec.heaters[id]?.fullScaleCurrent } ?? 0
        let current: Double
        switch n {
        case 0: current = lakeShore372SampleHeaterRanges[output.range]
        case 1: current = output.range == 0 ? 0 : [output.maxUserCurrent, 0.45, 0.63][output.maxCurrent]
        default: current = output.range == 0 ? 0 : profileCurrent
        }
        return heaterChange(String(n), allowed: 0...2) { h, _ in
            h.fullScaleCurrent = current
            h.resetController()
        }
    }
}

/// One connection to the 372: CR LF lines in, CR LF replies out.
final class LakeShore372Session: TwinSession {
    private let twin: LakeShore372Twin
    private var framer = LineFramer()

    init(twin: LakeShore372Twin) {
        self.twin = twin
    }

    func receive(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        for line in framer.feed(bytes) {
            guard case let .text(text) = line else { continue }
            if let reply = twin.execute(line: text) { out += Array((reply + "\r\n").utf8) }
        }
        return out
    }
}
