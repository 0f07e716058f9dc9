import HAL
import Quantities
import Synchronization

/// The Tektronix AWG5200 series (AWG5202/5204/5208) over its raw SCPI socket: the waveform list
/// (`WLISt:…`), the sequence list (`SLISt:…`, option `SEQ`), channel assignment, amplitude, sample rate,
/// run modes and triggers, with the instrument's limits and the SCPI-99 errors it queues for them.
///
/// When a trigger starts a shot (`TRIGger:IMMediate`, `*TRG`) the twin hands the bench the
/// ``PulseProgram`` the enabled outputs play: the sample rate, each channel's peak volts (half its
/// peak-to-peak `SOURce<n>:VOLTage`), one segment per distinct combination of waveforms a sequence step
/// plays across the channels (named by those waveforms joined with `+`), their marker bits as ``PulseProgram/Marker``s,
/// and the steps with repeats, trigger waits and jumps — repeats are never expanded. One trigger is one
/// shot. In continuous run mode the real AWG plays without end; the emulator plays one shot per trigger
/// there too, standing in for time passing. Trigger waits inside a shot are satisfied at once.
///
/// Unconfirmed against the AWG5200 Programmer Manual (documented where used): the error numbers and texts
/// (SCPI-99's standard ones are used, with the detail after `;`), the 2400-sample minimum of a sequence
/// step, the marker bit order (bit 0 is marker 1), `*RST` clearing both lists, and 0 as a new
/// waveform's samples. Predefined waveforms (`*Sine…`) are not listed.
///
/// Memory: a waveform may be as long as the instrument's 2 GSamples per channel, but the emulator stores
/// what it is sent, so the whole waveform and sequence lists must fit `storageBudget` bytes of host memory;
/// beyond it `-225,"Out of memory"` is queued, as the real instrument does beyond its own memory.
public final class TektronixAWG5200Twin: InstrumentTwin {
    public let id: String
    /// The profile's kind.
    public var kind: InstrumentKind { profile.kind }
    let profile: InstrumentProfile
    let bench: any QubitBench
    let model: Model
    let storageBudget: Int
    let state: Mutex<State>

    /// The models of the series, by name, and their channel counts.
    public static let supportedModels = ["AWG5202": 2, "AWG5204": 4, "AWG5208": 8]

    /// A twin of `model` (one of ``supportedModels``; anything else is a programmer error the profile
    /// loader must catch) with `options` as `*OPT?` lists them: `50` for 5 GS/s (else 2.5 GS/s), `SEQ` for
    /// sequencing.
    public init(
        profile: InstrumentProfile, bench: any QubitBench, model: String = "AWG5204", options: [String] = ["50", "SEQ"],
        storageBudget: Int = 256 << 20
    ) {
        guard let channels = Self.supportedModels[model] else {
            preconditionFailure("the AWG5200 series has models \(Self.supportedModels.keys.sorted()), not \(model)")
        }
        id = profile.id
        self.profile = profile
        self.bench = bench
        self.model = Model(
            name: model, channels: channels, options: options, maximumRate: options.contains("50") ? 5e9 : 2.5e9,
            sequencing: options.contains("SEQ"))
        self.storageBudget = storageBudget
        state = Mutex(State(channels: channels))
    }

    public func makeSession() -> any TwinSession {
        SCPITwinSession(self, messageLimit: Self.messageLimit)
    }

    struct Model {
        let name: String
        let channels: Int
        let options: [String]
        let maximumRate: Double
        let sequencing: Bool

        /// 298 S/s (datasheet; unconfirmed) up to 2.5 or 5 GS/s.
        var sampleRates: ClosedRange<Double> { 298...maximumRate }
        /// Waveform memory per channel: 2 GSamples.
        static let memorySamples = 2_000_000_000
        static let maximumSteps = 16_383
        static let maximumRepeats = 1_048_576
        static let maximumTracks = 8
        /// The shortest waveform a sequence step may play (QCoDeS's AWG5208 notes; unconfirmed).
        static let minimumStepLength = 2400
        /// Peak-to-peak amplitude, DC high-bandwidth path (datasheet; unconfirmed).
        static let amplitudes = 0.025...1.5
    }

    // MARK: State

    struct Waveform {
        var samples: [Float]
        /// One byte per sample, bits 0…3 for markers 1…4; nil until marker data arrives (all low).
        var markers: [UInt8]?
    }

    enum Jump: Equatable {
        case next, first, last, end
        /// 1-based.
        case step(Int)
    }

    struct Step {
        /// Per track, the waveform played.
        var waveforms: [String?]
        /// 0 is `INFinite`.
        var repeats = 1
        /// `OFF`, `ATR`, `BTR` or `ITR`.
        var waitInput = "OFF"
        var jump = Jump.next
    }

    struct Sequence {
        var steps: [Step]
        var tracks: Int
    }

    enum Asset: Equatable {
        case none
        case waveform(String)
        case sequence(String, track: Int)
    }

    struct Channel {
        var asset = Asset.none
        var peakToPeak = 0.5
        var output = false
        var triggered = false
        var triggerInput = "ATR"
    }

    struct State {
        var sampleRate = 2.5e9
        var waveforms: [String: Waveform] = [:]
        var waveformOrder: [String] = []
        var sequences: [String: Sequence] = [:]
        var sequenceOrder: [String] = []
        /// Host bytes the two lists hold, as charged against the storage budget.
        var stored = 0
        var channels: [Channel]
        /// `AWGControl:RSTate?`: 0 stopped, 1 waiting for a trigger, 2 running.
        var runState = 0
        var slopes = ["ATR": "POS", "BTR": "POS"]
        var errors = SCPIErrorQueue(noError: "0,\"No error\"")
        /// The program the outputs play, built when the AWG starts running and after any later change.
        var program: PulseProgram?

        init(channels: Int) {
            self.channels = Array(repeating: Channel(), count: channels)
        }
    }

    /// A command refused: the error-queue entry.
    struct Refusal: Error {
        let entry: String

        init(_ code: Int, _ text: String, _ detail: String? = nil) {
            entry = "\(code),\"\(text)\(detail.map { "; " + $0.replacing("\"", with: "'") } ?? "")\""
        }

        static let undefinedHeader = Refusal(-113, "Undefined header")
        static let missingParameter = Refusal(-109, "Missing parameter")
        static let parameterNotAllowed = Refusal(-108, "Parameter not allowed")
        static func illegal(_ detail: String) -> Refusal { Refusal(-224, "Illegal parameter value", detail) }
        static func outOfRange(_ detail: String) -> Refusal { Refusal(-222, "Data out of range", detail) }
        static func dataType(_ detail: String) -> Refusal { Refusal(-104, "Data type error", detail) }
        static func outOfMemory(_ detail: String) -> Refusal { Refusal(-225, "Out of memory", detail) }
        static func conflict(_ detail: String) -> Refusal { Refusal(-221, "Settings conflict", detail) }
    }

    // MARK: Executing

    /// Runs one program message: the replies of its queries joined by `;` (nil if none), and the programs
    /// its triggers started, for the caller to play once the lock is released.
    func execute(_ message: [UInt8], plays: inout [PulseProgram]) -> String? {
        state.withLock { state in
            let commands: [SCPICommand]
            do throws(SCPITwinError) {
                commands = try SCPICommand.split(message)
            } catch {
                state.errors.push(error.queueEntry)
                return nil
            }
            var replies: [String] = []
            for command in commands {
                do throws(Refusal) {
                    if let reply = try run(command, &state, &plays) { replies.append(reply) }
                } catch {
                    state.errors.push(error.entry)
                }
            }
            return replies.isEmpty ? nil : replies.joined(separator: ";")
        }
    }

    func queueError(_ entry: String) {
        state.withLock { $0.errors.push(entry) }
    }

    private func run(_ command: SCPICommand, _ s: inout State, _ plays: inout [PulseProgram]) throws(Refusal) -> String? {
        let words = command.keywords
        let query = command.isQuery
        let args = command.arguments
        func match(_ pattern: String) -> [Int]? { SCPIKeyword.match(words, pattern) }
        func expect(_ count: ClosedRange<Int>) throws(Refusal) {
            if args.count < count.lowerBound { throw .missingParameter }
            if args.count > count.upperBound { throw .parameterNotAllowed }
        }
        func channel(_ n: Int) throws(Refusal) -> Int {
            guard n <= model.channels else { throw Refusal(-114, "Header suffix out of range", "channel \(n) of \(model.channels)") }
            return n - 1
        }
        if command.isCommon {
            switch (words[0].uppercased(), query) {
            case ("*IDN", true):
                let firmware = profile.firmware.hasPrefix("FV:") ? profile.firmware : "FV:" + profile.firmware
                return "TEKTRONIX,\(model.name),\(profile.serialNumber),\(firmware)"
            case ("*OPT", true): return model.options.isEmpty ? "0" : model.options.joined(separator: ",")
            case ("*OPC", true): return "1"
            case ("*OPC", false), ("*WAI", false): return nil
            case ("*CLS", false):
                s.errors.clear()
                return nil
            case ("*RST", false):
                let errors = s.errors
                s = State(channels: model.channels)
                s.errors = errors
                return nil
            case ("*TRG", false):
                trigger(input: "ATR", &s, &plays)
                return nil
            default: throw .undefinedHeader
            }
        }
        if match("SYSTem:ERRor:[NEXT]") != nil, query {
            try expect(0...0)
            return s.errors.pop()
        }
        if match("SYSTem:ERRor:COUNt") != nil, query { return String(s.errors.entries.count) }
        // Anything but a query or a trigger may change what the outputs play.
        let isTrigger = match("TRIGger:[SEQuence]:IMMediate") != nil
        if !query && !isTrigger { s.program = nil }
        if words.first.map({ SCPIKeyword.matches($0, "WLISt") }) == true { return try waveformList(command, &s) }
        if words.first.map({ SCPIKeyword.matches($0, "SLISt") }) == true {
            guard model.sequencing else { throw Refusal(-241, "Hardware missing", "option SEQ (sequencing) is not installed") }
            return try sequenceList(command, &s)
        }
        if let n = match("SOURce#:CASSet:SEQuence"), !query {
            try expect(2...2)
            let c = try channel(n[0])
            let name = try Self.name(args[0])
            guard let sequence = s.sequences[name] else { throw .illegal("sequence \"\(name)\" does not exist") }
            let track = try Self.integer(args[1], in: 1...sequence.tracks, "track")
            s.channels[c].asset = .sequence(name, track: track)
            return nil
        }
        if let n = match("SOURce#:CASSet:WAVeform"), !query {
            try expect(1...1)
            let c = try channel(n[0])
            let name = try Self.name(args[0])
            guard s.waveforms[name] != nil else { throw .illegal("waveform \"\(name)\" does not exist") }
            s.channels[c].asset = .waveform(name)
            return nil
        }
        if let n = match("[SOURce#]:VOLTage:[AMPLitude]") {
            let c = try channel(n[0])
            if query { return Self.format(s.channels[c].peakToPeak) }
            try expect(1...1)
            s.channels[c].peakToPeak = try Self.number(args[0], in: Model.amplitudes, units: ["V"], "amplitude (Vpp)")
            return nil
        }
        if match("[SOURce#]:FREQuency") != nil || match("CLOCk:SRATe") != nil {
            if query { return Self.format(s.sampleRate) }
            try expect(1...1)
            s.sampleRate = try Self.number(args[0], in: model.sampleRates, units: ["HZ", "SA/S"], "sample rate")
            return nil
        }
        if let n = match("OUTPut#:[STATe]") {
            let c = try channel(n[0])
            if query { return s.channels[c].output ? "1" : "0" }
            try expect(1...1)
            guard let on = SCPIBoolean.parse(Self.text(args[0])) else { throw .illegal("ON, OFF, 1 or 0") }
            s.channels[c].output = on
            return nil
        }
        if let n = match("SOURce#:RMODe") {
            let c = try channel(n[0])
            if query { return s.channels[c].triggered ? "TRIG" : "CONT" }
            try expect(1...1)
            switch try Self.choice(args[0], ["CONTinuous", "TRIGgered", "TCONtinuous"]) {
            case "CONTinuous": s.channels[c].triggered = false
            default: s.channels[c].triggered = true  // TCONtinuous: triggered, then continuous; one shot here
            }
            return nil
        }
        if let n = match("SOURce#:TINPut") {
            let c = try channel(n[0])
            if query { return s.channels[c].triggerInput }
            try expect(1...1)
            s.channels[c].triggerInput = Self.short(try Self.choice(args[0], ["ATRigger", "BTRigger", "ITRigger"]))
            return nil
        }
        if match("AWGControl:RUN:[IMMediate]") != nil, !query {
            try expect(0...0)
            let program = try build(s)
            s.program = program
            let active = s.channels.filter { $0.output && $0.asset != .none }
            s.runState = (active.isEmpty ? s.channels : active).contains(where: \.triggered) ? 1 : 2
            return nil
        }
        if match("AWGControl:STOP:[IMMediate]") != nil, !query {
            s.runState = 0
            return nil
        }
        if match("AWGControl:RSTate") != nil, query { return String(s.runState) }
        if isTrigger, !query {
            try expect(0...1)
            let input = args.isEmpty ? "ATR" : Self.short(try Self.choice(args[0], ["ATRigger", "BTRigger"]))
            trigger(input: input, &s, &plays)
            return nil
        }
        if match("TRIGger:[SEQuence]:SLOPe") != nil {
            let input = args.count > (query ? 0 : 1)
                ? Self.short(try Self.choice(args[query ? 0 : 1], ["ATRigger", "BTRigger"])) : "ATR"
            if query { return s.slopes[input] }
            try expect(1...2)
            s.slopes[input] = Self.short(try Self.choice(args[0], ["POSitive", "NEGative"]))
            return nil
        }
        throw .undefinedHeader
    }

    /// A trigger on `input`: plays one shot when the AWG waits for that input (or runs continuously).
    private func trigger(input: String, _ s: inout State, _ plays: inout [PulseProgram]) {
        let active = s.channels.filter { $0.output && $0.asset != .none }
        switch s.runState {
        case 1 where active.contains(where: { $0.triggered && $0.triggerInput == input }), 2: break
        default: return
        }
        if s.program == nil {
            do throws(Refusal) {
                s.program = try build(s)
            } catch {
                s.errors.push(error.entry)
                return
            }
        }
        if let program = s.program, !program.channels.isEmpty { plays.append(program) }
    }

    // MARK: Waveform list

    private func waveformList(_ command: SCPICommand, _ s: inout State) throws(Refusal) -> String? {
        let words = command.keywords
        let args = command.arguments
        func match(_ pattern: String) -> Bool { SCPIKeyword.match(words, pattern) != nil }
        func waveform(_ argument: SCPICommand.Argument) throws(Refusal) -> String {
            let name = try Self.name(argument)
            guard s.waveforms[name] != nil else { throw .illegal("waveform \"\(name)\" does not exist") }
            return name
        }
        if command.isQuery {
            if match("WLISt:LIST") { return "\"" + s.waveformOrder.joined(separator: ",") + "\"" }
            if match("WLISt:SIZE") { return String(s.waveformOrder.count) }
            if match("WLISt:WAVeform:LENGth"), args.count == 1 { return String(s.waveforms[try waveform(args[0])]!.samples.count) }
            throw .undefinedHeader
        }
        if match("WLISt:WAVeform:NEW") {
            guard args.count >= 2 else { throw .missingParameter }
            guard args.count == 2 else { throw .parameterNotAllowed }
            let name = try Self.name(args[0])
            guard s.waveforms[name] == nil else { throw .illegal("waveform \"\(name)\" already exists") }
            let size = try Self.integer(args[1], in: 1...Int.max, "waveform size")
            guard size <= Model.memorySamples else {
                throw .outOfMemory("\(size) samples exceed the \(Model.memorySamples) of waveform memory")
            }
            try charge(4 * size + name.utf8.count + 256, &s)
            s.waveforms[name] = Waveform(samples: [Float](repeating: 0, count: size))
            s.waveformOrder.append(name)
            return nil
        }
        let markers = match("WLISt:WAVeform:MARKer:DATA")
        if markers || match("WLISt:WAVeform:DATA") {
            // <name>,[<start>[,<size>]],<block>
            guard args.count >= 2 else { throw .missingParameter }
            guard args.count <= 4 else { throw .parameterNotAllowed }
            guard case let .block(bytes) = args[args.count - 1] else { throw .dataType("the data must be an IEEE 488.2 block") }
            let name = try waveform(args[0])
            let length = s.waveforms[name]!.samples.count
            let width = markers ? 1 : 4
            let start = args.count >= 3 ? try Self.integer(args[1], in: 0...(length - 1), "start index") : 0
            let size = args.count == 4 ? try Self.integer(args[2], in: 1...(length - start), "size") : bytes.count / width
            guard bytes.count == width * size, size >= 1, start + size <= length else {
                throw Refusal(-161, "Invalid block data", "\(bytes.count) bytes for \(size) samples of \(width) from \(start) in \(length)")
            }
            if markers {
                if s.waveforms[name]!.markers == nil {
                    try charge(length, &s)
                    s.waveforms[name]!.markers = [UInt8](repeating: 0, count: length)
                }
                s.waveforms[name]!.markers!.withUnsafeMutableBufferPointer { bits in
                    for i in 0..<size { bits[start + i] = bytes[i] & 0x0F }
                }
            } else {
                // Decode first, so a refused block leaves the waveform as it was.
                var decoded = [Float](repeating: 0, count: size)
                for i in 0..<size {
                    let o = 4 * i
                    let bits = UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16 | UInt32(bytes[o + 3]) << 24
                    let value = Float(bitPattern: bits)
                    guard value.isFinite else { throw .outOfRange("sample \(start + i) is not a finite number") }
                    decoded[i] = min(1, max(-1, value))  // the DAC's full scale clips
                }
                s.waveforms[name]!.samples.withUnsafeMutableBufferPointer { samples in
                    for i in 0..<size { samples[start + i] = decoded[i] }
                }
            }
            return nil
        }
        if match("WLISt:WAVeform:DELete") {
            try Self.expectOne(args)
            if Self.isAll(args[0]) {
                s.waveforms.removeAll()
                s.waveformOrder.removeAll()
            } else {
                let name = try waveform(args[0])
                s.waveforms[name] = nil
                s.waveformOrder.removeAll { $0 == name }
            }
            s.stored = storedBytes(s)
            return nil
        }
        throw .undefinedHeader
    }

    // MARK: Sequence list

    private func sequenceList(_ command: SCPICommand, _ s: inout State) throws(Refusal) -> String? {
        let words = command.keywords
        let args = command.arguments
        func sequence(_ argument: SCPICommand.Argument) throws(Refusal) -> String {
            let name = try Self.name(argument)
            guard s.sequences[name] != nil else { throw .illegal("sequence \"\(name)\" does not exist") }
            return name
        }
        if command.isQuery {
            if SCPIKeyword.match(words, "SLISt:SIZE") != nil { return String(s.sequenceOrder.count) }
            if SCPIKeyword.match(words, "SLISt:SEQuence:LENGth") != nil, args.count == 1 {
                return String(s.sequences[try sequence(args[0])]!.steps.count)
            }
        }
        if SCPIKeyword.match(words, "SLISt:SEQuence:NEW") != nil, !command.isQuery {
            guard args.count >= 2 else { throw .missingParameter }
            guard args.count <= 3 else { throw .parameterNotAllowed }
            let name = try Self.name(args[0])
            guard s.sequences[name] == nil else { throw .illegal("sequence \"\(name)\" already exists") }
            let steps = try Self.integer(args[1], in: 1...Model.maximumSteps, "step count")
            let tracks = args.count == 3 ? try Self.integer(args[2], in: 1...Model.maximumTracks, "track count") : 1
            try charge(steps * (24 * tracks + 48) + name.utf8.count + 256, &s)
            s.sequences[name] = Sequence(steps: Array(repeating: Step(waveforms: Array(repeating: nil, count: tracks)), count: steps), tracks: tracks)
            s.sequenceOrder.append(name)
            return nil
        }
        if SCPIKeyword.match(words, "SLISt:SEQuence:DELete") != nil, !command.isQuery {
            try Self.expectOne(args)
            if Self.isAll(args[0]) {
                s.sequences.removeAll()
                s.sequenceOrder.removeAll()
            } else {
                let name = try sequence(args[0])
                s.sequences[name] = nil
                s.sequenceOrder.removeAll { $0 == name }
            }
            for c in s.channels.indices {
                if case let .sequence(name, _) = s.channels[c].asset, s.sequences[name] == nil { s.channels[c].asset = .none }
            }
            s.stored = storedBytes(s)
            return nil
        }
        // SLISt:SEQuence:STEP<n>:…  "<sequence>"[,<value>]
        guard words.count >= 4, SCPIKeyword.matches(words[1], "SEQuence"), let n = Self.stepNumber(words[2]) else {
            throw .undefinedHeader
        }
        guard !args.isEmpty else { throw .missingParameter }
        guard args.count <= (command.isQuery ? 1 : 2) else { throw .parameterNotAllowed }
        let name = try sequence(args[0])
        let count = s.sequences[name]!.steps.count
        guard n <= count else { throw .outOfRange("step \(n) of \(count)") }
        let rest = Array(words[3...])
        let value: SCPICommand.Argument? = command.isQuery ? nil : args.count == 2 ? args[1] : nil
        if !command.isQuery, value == nil { throw .missingParameter }
        var step = s.sequences[name]!.steps[n - 1]
        if let t = SCPIKeyword.match(rest, "TASSet#:WAVeform") {
            guard t[0] <= s.sequences[name]!.tracks else { throw .outOfRange("track \(t[0]) of \(s.sequences[name]!.tracks)") }
            guard let value else { return "\"\(step.waveforms[t[0] - 1] ?? "")\"" }
            let waveform = try Self.name(value)
            guard let length = s.waveforms[waveform]?.samples.count else { throw .illegal("waveform \"\(waveform)\" does not exist") }
            guard length >= Model.minimumStepLength else {
                throw .outOfRange("waveform \"\(waveform)\" has \(length) samples; a sequence step needs at least \(Model.minimumStepLength)")
            }
            step.waveforms[t[0] - 1] = waveform
        } else if SCPIKeyword.match(rest, "RCOunt") != nil {
            guard let value else { return step.repeats == 0 ? "INF" : String(step.repeats) }
            let text = Self.text(value).uppercased()
            if SCPIKeyword.matches(Substring(text), "ONCE") {
                step.repeats = 1
            } else if SCPIKeyword.matches(Substring(text), "INFinite") {
                step.repeats = 0
            } else {
                step.repeats = try Self.integer(value, in: 1...Model.maximumRepeats, "repeat count")
            }
        } else if SCPIKeyword.match(rest, "WINPut") != nil {
            guard let value else { return step.waitInput }
            step.waitInput = Self.short(try Self.choice(value, ["OFF", "ATRigger", "BTRigger", "ITRigger"]))
        } else if SCPIKeyword.match(rest, "GOTO") != nil {
            guard let value else {
                switch step.jump {
                case .next: return "NEXT"
                case .first: return "FIRS"
                case .last: return "LAST"
                case .end: return "END"
                case let .step(k): return String(k)
                }
            }
            let text = Self.text(value)
            if let k = WireNumber.decimal(text) {
                guard k == k.rounded(), k >= 1, k <= Double(count) else { throw .outOfRange("goto step \(text) of \(count)") }
                step.jump = .step(Int(k))
            } else {
                switch try Self.choice(value, ["FIRSt", "LAST", "NEXT", "END"]) {
                case "FIRSt": step.jump = .first
                case "LAST": step.jump = .last
                case "END": step.jump = .end
                default: step.jump = .next
                }
            }
        } else {
            throw .undefinedHeader
        }
        s.sequences[name]!.steps[n - 1] = step
        return nil
    }

    /// Charges `cost` bytes of host memory against the storage budget, or refuses.
    private func charge(_ cost: Int, _ s: inout State) throws(Refusal) {
        guard s.stored + cost <= storageBudget else {
            throw .outOfMemory("the emulator holds at most \(storageBudget) bytes of waveforms and sequences")
        }
        s.stored += cost
    }

    private func storedBytes(_ s: State) -> Int {
        var total = 0
        for (name, waveform) in s.waveforms {
            total += 4 * waveform.samples.count + (waveform.markers?.count ?? 0) + name.utf8.count + 256
        }
        for (name, sequence) in s.sequences {
            total += sequence.steps.count * (24 * sequence.tracks + 48) + name.utf8.count + 256
        }
        return total
    }

    // MARK: The program played

    /// What the enabled outputs play, as a ``PulseProgram``; a program with no channels when no output is
    /// enabled with something assigned.
    func build(_ s: State) throws(Refusal) -> PulseProgram {
        let active = s.channels.indices.filter { s.channels[$0].output && s.channels[$0].asset != .none }
        let channels = active.map {
            PulseProgram.OutputChannel(number: $0 + 1, amplitude: .volts(s.channels[$0].peakToPeak / 2))
        }
        let rate = SampleRate.samplesPerSecond(s.sampleRate)
        guard let first = active.first else { return PulseProgram(sampleRate: rate, channels: [], segments: [], steps: []) }
        var segments: [PulseProgram.Segment] = []
        var known = Set<String>()
        /// The segment playing `names` (per active channel), added once.
        func segment(_ names: [String]) throws(Refusal) -> String {
            let key = names.joined(separator: "+")
            if known.contains(key) { return key }
            var lengths = Set<Int>()
            var waveforms: [Int: PulseProgram.Waveform] = [:]
            var markers: [PulseProgram.Marker] = []
            for (c, name) in zip(active, names) {
                guard let waveform = s.waveforms[name] else { throw .conflict("waveform \"\(name)\" was deleted") }
                lengths.insert(waveform.samples.count)
                waveforms[c + 1] = .samples(waveform.samples)
                if let bits = waveform.markers { markers += Self.markers(bits, channel: c + 1) }
            }
            guard lengths.count == 1, let length = lengths.first else {
                throw .conflict("waveforms \(names) played together have different lengths \(lengths.sorted())")
            }
            segments.append(PulseProgram.Segment(name: key, length: length, waveforms: waveforms, markers: markers))
            known.insert(key)
            return key
        }
        switch s.channels[first].asset {
        case .waveform:
            var names: [String] = []
            for c in active {
                guard case let .waveform(name) = s.channels[c].asset else { throw .conflict("channels play both waveforms and sequences") }
                names.append(name)
            }
            let step = PulseProgram.Step(segment: try segment(names))
            return PulseProgram(sampleRate: rate, channels: channels, segments: segments, steps: [step])
        case let .sequence(sequenceName, _):
            var tracks: [Int] = []
            for c in active {
                guard case let .sequence(name, track) = s.channels[c].asset, name == sequenceName else {
                    throw .conflict("the enabled channels must play tracks of one sequence")
                }
                tracks.append(track)
            }
            guard let sequence = s.sequences[sequenceName] else { throw .conflict("sequence \"\(sequenceName)\" was deleted") }
            var steps: [PulseProgram.Step] = []
            var ends: [Int] = []
            let last = sequence.steps.count - 1
            for (index, step) in sequence.steps.enumerated() {
                var names: [String] = []
                for track in tracks {
                    guard let name = step.waveforms[track - 1] else {
                        throw .conflict("step \(index + 1) of \"\(sequenceName)\" has no waveform on track \(track)")
                    }
                    names.append(name)
                }
                var goTo: Int?
                switch step.jump {
                case .next: goTo = nil
                case .first: goTo = 0
                case .last: goTo = last
                case let .step(k): goTo = k - 1
                case .end:
                    goTo = nil
                    ends.append(index)
                }
                // An infinitely repeated step loops on itself until the AWG stops.
                if step.repeats == 0 { goTo = index }
                if goTo == index + 1 || (goTo == nil && index == last) { goTo = nil }
                steps.append(PulseProgram.Step(
                    segment: try segment(names), repeats: max(step.repeats, 1), waitForTrigger: step.waitInput != "OFF",
                    goTo: goTo))
            }
            // `END` before the last step ends the shot there: drop what follows when nothing jumps past it.
            if let end = ends.first, end < last, !steps[...end].contains(where: { ($0.goTo ?? 0) > end }) {
                steps.removeSubrange((end + 1)...)
                let used = Set(steps.map(\.segment))
                segments.removeAll { !used.contains($0.name) }
            }
            return PulseProgram(sampleRate: rate, channels: channels, segments: segments, steps: steps)
        case .none:
            return PulseProgram(sampleRate: rate, channels: [], segments: [], steps: [])
        }
    }

    /// Each run of high samples of each marker bit, as a marker.
    static func markers(_ bits: [UInt8], channel: Int) -> [PulseProgram.Marker] {
        var markers: [PulseProgram.Marker] = []
        for bit in 0..<4 {
            let mask = UInt8(1) << bit
            var start: Int?
            for index in 0...bits.count {
                let high = index < bits.count && bits[index] & mask != 0
                if high, start == nil { start = index }
                if !high, let first = start {
                    markers.append(PulseProgram.Marker(channel: channel, number: bit + 1, start: first, length: index - first))
                    start = nil
                }
            }
        }
        return markers
    }

    // MARK: Arguments

    private static func text(_ argument: SCPICommand.Argument) -> String {
        if case let .text(text) = argument { return text }
        return ""
    }

    /// A quoted name (`"name"` or `'name'`, a doubled quote inside standing for one).
    static func name(_ argument: SCPICommand.Argument) throws(Refusal) -> String {
        let text = Self.text(argument)
        guard text.count >= 3, let quote = text.first, quote == "\"" || quote == "'", text.last == quote else {
            throw .dataType("a quoted, non-empty name")
        }
        return String(text.dropFirst().dropLast()).replacing(String(repeating: quote, count: 2), with: String(quote))
    }

    private static func isAll(_ argument: SCPICommand.Argument) -> Bool {
        text(argument).uppercased() == "ALL"
    }

    private static func expectOne(_ args: [SCPICommand.Argument]) throws(Refusal) {
        if args.isEmpty { throw .missingParameter }
        if args.count > 1 { throw .parameterNotAllowed }
    }

    /// The suffix of `STEP<n>`, up to 16,383 (five digits: ``SCPIKeyword/suffix(_:_:default:)`` takes four).
    static func stepNumber(_ word: Substring) -> Int? {
        let digits = word.utf8.reversed().prefix { (0x30...0x39).contains($0) }.count
        guard SCPIKeyword.matches(word.dropLast(digits), "STEP") else { return nil }
        guard digits > 0 else { return 1 }
        guard digits <= 6, let n = Int(word.suffix(digits)), n >= 1 else { return nil }
        return n
    }

    /// A whole number in `range`.
    static func integer(_ argument: SCPICommand.Argument, in range: ClosedRange<Int>, _ what: String) throws(Refusal) -> Int {
        let text = Self.text(argument)
        guard let value = WireNumber.decimal(text), value == value.rounded() else { throw .dataType("\(what): a whole number, got \(text)") }
        guard value >= Double(range.lowerBound), value <= Double(range.upperBound), abs(value) < 9e18 else {
            throw .outOfRange("\(what) \(text) is outside \(range.lowerBound)…\(range.upperBound)")
        }
        return Int(value)
    }

    /// A number (with an optional unit, or `MINimum`/`MAXimum`) in `range`.
    private static func number(
        _ argument: SCPICommand.Argument, in range: ClosedRange<Double>, units: [String], _ what: String
    ) throws(Refusal) -> Double {
        switch SCPINumber.parse(text(argument), units: units) {
        case let .number(value)?:
            guard range.contains(value) else { throw .outOfRange("\(what) \(value) is outside \(range.lowerBound)…\(range.upperBound)") }
            return value
        case .minimum?: return range.lowerBound
        case .maximum?: return range.upperBound
        case .default?, nil: throw .dataType("\(what): a number, got \(text(argument))")
        }
    }

    /// One of `choices` (in long form, short form upper case), returned in its long form.
    private static func choice(_ argument: SCPICommand.Argument, _ choices: [String]) throws(Refusal) -> String {
        let word = Substring(text(argument))
        guard let choice = choices.first(where: { SCPIKeyword.matches(word, $0) }) else {
            throw .illegal("one of \(choices.joined(separator: ", ")), got \(word)")
        }
        return choice
    }

    /// The short form of a keyword (`ATRigger` → `ATR`).
    private static func short(_ keyword: String) -> String {
        keyword.filter(\.isUppercase)
    }

    /// A value as the AWG returns it (NR3-like decimal; Swift's shortest round-trip form).
    private static func format(_ value: Double) -> String {
        String(value)
    }
}

extension TektronixAWG5200Twin: SCPIProgramExecutor {
    /// The longest message: a 1 MiB data block with room to spare. Longer ones overrun the input buffer.
    static let messageLimit = (4 << 20) + 4096

    /// Executes the message, then plays what it triggered, outside the twin's lock.
    func respond(to message: [UInt8]) -> [UInt8] {
        var plays: [PulseProgram] = []
        let reply = execute(message, plays: &plays)
        for program in plays { bench.play(program, generator: id, shots: 1) }
        return reply.map { Array($0.utf8) + [0x0A] } ?? []
    }

    func inputOverrun() {
        queueError("-363,\"Input buffer overrun\"")
    }
}
