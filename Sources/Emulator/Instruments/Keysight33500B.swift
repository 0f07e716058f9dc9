import Foundation
import HAL
import Synchronization

/// One model of the Keysight (formerly Agilent) 33500B Trueform series, from the model field of `*IDN?`:
/// 335x9/335x1 have one channel, 335x0/335x2 two; 3350x/3351x reach 20 MHz (arb clock 160 MSa/s), 3351x/3352x
/// 30 MHz (250 MSa/s). The 33511B/12B/21B/22B play arbitrary waveforms as shipped; on the 33509B/10B/19B/20B the
/// twin takes them to need option `ARB` (an upgrade license). Arb memory is 1 MSa per channel, 16 MSa with `MEM`.
struct Keysight33500BModel: Sendable, Hashable {
    let number: String
    let channels: Int
    let maximumFrequency: Double
    let maximumSampleRate: Double
    let playsArbs: Bool
    let memorySamples: Int

    static let minimumSampleRate = 1e-6
    static let minimumArbLength = 8
    static let maximumSequenceSteps = 512
    static let maximumSequenceRepeats = 1_000_000
    static let maximumBurstCycles = 100_000_000.0

    private static let table: [String: (channels: Int, megahertz: Double, arb: Bool)] = [
        "33509B": (1, 20, false), "33510B": (2, 20, false), "33511B": (1, 20, true), "33512B": (2, 20, true),
        "33519B": (1, 30, false), "33520B": (2, 30, false), "33521B": (1, 30, true), "33522B": (2, 30, true),
    ]

    /// The model numbers of the series.
    static var numbers: [String] { table.keys.sorted() }

    init?(number: String, options: [String]) {
        guard let entry = Self.table[number] else { return nil }
        self.number = number
        channels = entry.channels
        maximumFrequency = entry.megahertz * 1e6
        maximumSampleRate = entry.megahertz == 30 ? 250e6 : 160e6
        playsArbs = entry.arb || options.contains("ARB")
        memorySamples = options.contains("MEM") ? 16_777_216 : 1_048_576
    }
}

/// The Keysight 33500B-series waveform generator's SCPI (33500B Series Operating and Service Guide): LF-ended
/// program messages with `;` compound commands, short or long keywords in any case with optional `SOURce<n>` /
/// `OUTPut<n>` / `TRIGger<n>` suffixes, `MINimum|MAXimum|DEFault`, definite-length blocks (which may hold LF bytes),
/// and the error queue `SYSTem:ERRor?` (`+0,"No error"`, 20 entries). Numbers beyond a limit are clipped to it and
/// queue `-222,"Data out of range;value clipped to upper limit"` (or lower), as the instrument does.
///
/// When a triggered burst of a volatile arb (or arb sequence) plays — on `*TRG` or `TRIGger<n>` with source BUS, or
/// when a channel's output, burst and IMMediate source first all hold — the twin hands the program it plays to the
/// qubit bench: the arb's samples (DAC code / 32767), the channel's peak volts at its load, the sync marker when the
/// sync output is in MARKer mode on that channel, and the burst count as shots. Continuous (non-burst) output, gated
/// bursts and built-in arbs never reach the bench.
public final class Keysight33500BTwin: InstrumentTwin {
    public let id: String
    public let kind: InstrumentKind
    let profile: InstrumentProfile
    let model: Keysight33500BModel
    let manufacturer: String
    let options: [String]
    private let bench: any QubitBench
    private let state: Mutex<State>

    /// A twin of model `model` (e.g. "33522B") with the given `*OPT?` options (e.g. ["MEM"]). An unknown model
    /// is a programmer error.
    public init(
        profile: InstrumentProfile, bench: any QubitBench, model: String = "33522B", options: [String] = [],
        manufacturer: String = "Keysight Technologies"
    ) {
        guard let resolved = Keysight33500BModel(number: model, options: options) else {
            preconditionFailure("\(model) is not a 33500B-series model (33509B…33522B)")
        }
        id = profile.id
        kind = profile.kind
        self.profile = profile
        self.model = resolved
        self.manufacturer = manufacturer
        self.options = options
        self.bench = bench
        state = Mutex(State(channels: resolved.channels))
    }

    public func makeSession() -> any TwinSession {
        SCPITwinSession(self, messageLimit: Self.messageLimit)
    }

    /// Executes one program message; the replies of its queries joined by `;`, nil if none.
    func execute(_ message: [UInt8]) -> String? {
        let (reply, plays) = state.withLock { state -> (String?, [(PulseProgram, Int)]) in
            var replies: [String] = []
            do throws(SCPITwinError) {
                for command in try SCPICommand.split(message) {
                    var context = Context(twin: self, state: State(channels: 0), command: command)
                    swap(&context.state, &state)
                    let reply = context.run()
                    swap(&context.state, &state)
                    if let reply { replies.append(reply) }
                }
            } catch {
                state.fail(error.queueEntry)
            }
            let plays = state.takePendingPlays() + state.startImmediateBursts(self)
            return (replies.isEmpty ? nil : replies.joined(separator: ";"), plays)
        }
        for (program, shots) in plays { bench.play(program, generator: id, shots: shots) }
        return reply
    }

    /// Queues an error raised outside a command (an over-long message).
    func fail(_ entry: String) {
        state.withLock { $0.fail(entry) }
    }
}

// MARK: - State

extension Keysight33500BTwin {
    /// One step of an arb sequence (`DATA:SEQuence`).
    struct SequenceEntry: Hashable {
        var segment: String
        var count: Int
        var playControl: String
        var markerMode: String
        var markerPoint: Int
    }

    struct Channel {
        static let builtInArb = "INT:\\BUILTIN\\EXP_RISE.ARB"
        var function = "SIN"
        var frequency = 1000.0
        /// Peak-to-peak volts at the load.
        var amplitude = 0.1
        var unit = "VPP"
        var offset = 0.0
        var phase = 0.0
        var output = false
        /// Ohms; infinity is high-Z.
        var load = 50.0
        var polarity = "NORM"
        var frequencyMode = "CW"
        var rampSymmetry = 100.0
        var pulseWidth = 100e-6
        var arb = builtInArb
        var sampleRate = 40e3
        var filter = "NORM"
        var markerPoint = 4
        var burst = false
        var burstMode = "TRIG"
        /// 9.9E37 is INFinity.
        var burstCycles = 1.0
        var burstPhase = 0.0
        var burstPeriod = 0.01
        var gatePolarity = "NORM"
        var triggerSource = "IMM"
        var triggerSlope = "POS"
        var triggerCount = 1.0
        var triggerDelay = 0.0
        var triggerTimer = 1e-3
        /// Volatile arbs (DAC codes), in upload order.
        var arbs: [String: [Int16]] = [:]
        var arbOrder: [String] = []
        var sequences: [String: [SequenceEntry]] = [:]
        /// Whether an IMMediate-triggered burst is already running (so it is handed to the bench once).
        var immediateRunning = false

        var usedMemory: Int { arbs.values.reduce(0) { $0 + $1.count } }

        /// The fraction of the source EMF that reaches the load (50 Ω output impedance).
        var loadFactor: Double { load.isInfinite ? 1 : load / (load + 50) }

        mutating func clearSettings() {
            let kept = (arbs, arbOrder, sequences)
            self = Channel()
            (arbs, arbOrder, sequences) = kept
        }
    }

    struct State {
        var channels: [Channel]
        var errors = SCPIErrorQueue(capacity: 20, noError: "+0,\"No error\"")
        var eventStatus = 0
        var byteOrderSwapped = false
        var sync = true
        var syncSource = 1
        var syncMode = "NORM"
        /// Programs triggered by this message, in order, with their shot counts.
        var pendingPlays: [(PulseProgram, Int)] = []

        init(channels: Int) {
            self.channels = Array(repeating: Channel(), count: channels)
        }

        /// Queues `entry` and sets the event-status bit of its class (IEEE 488.2 §11.5.1).
        mutating func fail(_ entry: String) {
            errors.push(entry)
            let code = Int(entry.prefix { $0 != "," }) ?? 0
            switch code {
            case -199 ... -100: eventStatus |= 32
            case -299 ... -200: eventStatus |= 16
            case -499 ... -400: eventStatus |= 4
            default: eventStatus |= 8
            }
        }

        mutating func takePendingPlays() -> [(PulseProgram, Int)] {
            defer { pendingPlays.removeAll() }
            return pendingPlays
        }

        /// Bursts whose output, burst state and IMMediate source have just come together start playing.
        mutating func startImmediateBursts(_ twin: Keysight33500BTwin) -> [(PulseProgram, Int)] {
            var started: [Int] = []
            for index in channels.indices {
                let c = channels[index]
                let running = c.output && c.burst && c.triggerSource == "IMM"
                if running && !c.immediateRunning { started.append(index + 1) }
                channels[index].immediateRunning = running
            }
            return started.isEmpty ? [] : twin.programs(playing: started, state: self)
        }
    }
}

// MARK: - Commands

extension Keysight33500BTwin {
    enum Error {
        static let undefinedHeader = "-113,\"Undefined header\""
        static let missingParameter = "-109,\"Missing parameter\""
        static let parameterNotAllowed = "-108,\"Parameter not allowed\""
        static let illegalValue = "-224,\"Illegal parameter value\""
        static let outOfRange = "-222,\"Data out of range\""
        static let clippedHigh = "-222,\"Data out of range;value clipped to upper limit\""
        static let clippedLow = "-222,\"Data out of range;value clipped to lower limit\""
        static let settingsConflict = "-221,\"Settings conflict\""
        static let triggerIgnored = "-211,\"Trigger ignored\""
        static let tooMuchData = "-223,\"Too much data\""
        static let invalidBlock = "-161,\"Invalid block data\""
        static let inputOverrun = "-363,\"Input buffer overrun\""
        // The 7xx arb errors follow the 33200-family list; the 33500B guide's exact texts are unconfirmed.
        static let memoryFull = "+781,\"Not enough memory to store new arb waveform; use DATA:VOLatile:CLEar\""
        static let builtInName = "+782,\"Cannot overwrite a built-in waveform\""
        static let unknownArb = "+783,\"Unknown arb waveform\""
    }

    /// One command being executed against a copy of the state.
    struct Context {
        let twin: Keysight33500BTwin
        var state: State
        let command: SCPICommand

        var model: Keysight33500BModel { twin.model }

        mutating func fail(_ entry: String) -> String? {
            state.fail(entry)
            return nil
        }

        mutating func run() -> String? {
            if command.isCommon { return common() }
            let words = command.keywords
            for (pattern, handler) in Self.routes {
                guard let suffixes = SCPIKeyword.match(words, pattern) else { continue }
                // The one numbered keyword of each route names the channel (SOURce, OUTPut or TRIGger).
                let channel = suffixes.first ?? 1
                guard (1...model.channels).contains(channel) else { return fail(Error.undefinedHeader) }
                return handler(&self, channel)
            }
            return fail(Error.undefinedHeader)
        }

        // MARK: IEEE 488.2

        mutating func common() -> String? {
            let header = command.keywords.first.map { $0.uppercased() } ?? ""
            switch (header, command.isQuery) {
            case ("*IDN", true):
                return "\(twin.manufacturer),\(model.number),\(twin.profile.serialNumber),\(twin.profile.firmware)"
            case ("*OPT", true):
                return "\"" + twin.options.joined(separator: ",") + "\""
            case ("*RST", false):
                for index in state.channels.indices { state.channels[index].clearSettings() }
                state.byteOrderSwapped = false
                state.sync = true
                state.syncSource = 1
                state.syncMode = "NORM"
                return nil
            case ("*CLS", false):
                state.errors.clear()
                state.eventStatus = 0
                return nil
            case ("*OPC", true): return "1"
            case ("*OPC", false):
                state.eventStatus |= 1
                return nil
            case ("*WAI", false): return nil
            case ("*ESR", true):
                defer { state.eventStatus = 0 }
                return String(state.eventStatus)
            case ("*STB", true):
                return String(state.errors.entries.isEmpty ? 0 : 4)
            case ("*TRG", false):
                let bus = state.channels.indices.filter { state.channels[$0].triggerSource == "BUS" }.map { $0 + 1 }
                guard !bus.isEmpty else { return fail(Error.triggerIgnored) }
                trigger(bus)
                return nil
            default:
                return fail(Error.undefinedHeader)
            }
        }

        mutating func trigger(_ channels: [Int]) {
            let playing = channels.filter { state.channels[$0 - 1].output && state.channels[$0 - 1].burst }
            state.pendingPlays += twin.programs(playing: playing, state: state)
        }

        // MARK: Argument helpers

        /// The command's single text argument (nil after queuing -109/-108/-224 for a missing, extra or block one).
        mutating func argument() -> String? {
            guard let first = command.arguments.first else { _ = fail(Error.missingParameter); return nil }
            guard command.arguments.count == 1 else { _ = fail(Error.parameterNotAllowed); return nil }
            guard case let .text(text) = first, !text.isEmpty else { _ = fail(Error.illegalValue); return nil }
            return text
        }

        /// Queries take no parameters here; a query with one queues -108.
        mutating func plainQuery() -> Bool {
            guard command.arguments.isEmpty else { _ = fail(Error.parameterNotAllowed); return false }
            return true
        }

        /// A numeric setting or query clipped to `range` as the instrument does; `set` receives the value.
        mutating func number(
            _ current: Double, _ range: ClosedRange<Double>, units: [String] = [], default defaultValue: Double,
            infinity: Bool = false, set: (inout State, Double) -> Void
        ) -> String? {
            if command.isQuery {
                if command.arguments.isEmpty { return Keysight33500BTwin.nr3(current) }
                guard let text = argument() else { return nil }
                switch SCPINumber.parse(text) {
                case .minimum?: return Keysight33500BTwin.nr3(range.lowerBound)
                case .maximum?: return Keysight33500BTwin.nr3(range.upperBound)
                default: return fail(Error.illegalValue)
                }
            }
            guard let text = argument() else { return nil }
            let value: Double
            if infinity, SCPIKeyword.matches(Substring(text), "INFinity") {
                value = Keysight33500BTwin.infinity
            } else {
                switch SCPINumber.parse(text, units: units) {
                case .number(let number)?:
                    if number > range.upperBound {
                        state.fail(Error.clippedHigh)
                        value = range.upperBound
                    } else if number < range.lowerBound {
                        state.fail(Error.clippedLow)
                        value = range.lowerBound
                    } else {
                        value = number
                    }
                case .minimum?: value = range.lowerBound
                case .maximum?: value = range.upperBound
                case .default?: value = defaultValue
                case nil: return fail(Error.illegalValue)
                }
            }
            set(&state, value)
            return nil
        }

        /// An enumerated setting or query: `choices` are keywords (`SINusoid`) answered by their short form.
        mutating func choice(_ current: String, _ choices: [String], set: (inout State, String) -> Void) -> String? {
            if command.isQuery { return plainQuery() ? current : nil }
            guard let text = argument() else { return nil }
            guard let chosen = choices.first(where: { SCPIKeyword.matches(Substring(text), $0) }) else {
                return fail(Error.illegalValue)
            }
            set(&state, chosen.filter { $0.isUppercase || $0.isNumber })
            return nil
        }

        /// An `ON|OFF|1|0` setting or query, answered `1` or `0`.
        mutating func boolean(_ current: Bool, set: (inout State, Bool) -> Void) -> String? {
            if command.isQuery { return plainQuery() ? (current ? "1" : "0") : nil }
            guard let text = argument() else { return nil }
            guard let value = SCPIBoolean.parse(text) else { return fail(Error.illegalValue) }
            set(&state, value)
            return nil
        }

        /// A command without parameters and without a query form.
        mutating func event(_ action: (inout State) -> Void) -> String? {
            guard !command.isQuery else { return fail(Error.undefinedHeader) }
            guard command.arguments.isEmpty else { return fail(Error.parameterNotAllowed) }
            action(&state)
            return nil
        }

        /// A query without a command form.
        mutating func queryOnly(_ reply: (inout State) -> String) -> String? {
            guard command.isQuery else { return fail(Error.undefinedHeader) }
            return plainQuery() ? reply(&state) : nil
        }

        /// `TRIGger<n>[:IMMediate]`: triggers channel `ch` now, whatever its source.
        mutating func triggerNow(_ ch: Int) -> String? {
            guard !command.isQuery else { return fail(Error.undefinedHeader) }
            guard command.arguments.isEmpty else { return fail(Error.parameterNotAllowed) }
            trigger([ch])
            return nil
        }
    }
}

// MARK: - Routes

extension Keysight33500BTwin.Context {
    typealias Twin = Keysight33500BTwin
    typealias Handler = @Sendable (inout Keysight33500BTwin.Context, Int) -> String?

    /// Header patterns and their handlers, tried in order; the first match runs.
    static let routes: [(String, Handler)] = [
        ("SYSTem:ERRor:[NEXT]", { c, _ in c.queryOnly { $0.errors.pop() } }),
        ("FORMat:BORDer", { c, _ in
            c.choice(c.state.byteOrderSwapped ? "SWAP" : "NORM", ["NORMal", "SWAPped"]) { $0.byteOrderSwapped = $1 == "SWAP" }
        }),
        ("[SOURce#]:FUNCtion:[SHAPe]", { c, ch in c.function(ch) }),
        ("[SOURce#]:FUNCtion:ARBitrary", { c, ch in c.selectArb(ch) }),
        ("[SOURce#]:FUNCtion:ARBitrary:SRATe", { c, ch in
            c.number(c.state.channels[ch - 1].sampleRate, Twin.minimumSampleRate...c.model.maximumSampleRate,
                     units: ["SA/S"], default: 40e3) { $0.channels[ch - 1].sampleRate = $1 }
        }),
        ("[SOURce#]:FUNCtion:ARBitrary:FILTer", { c, ch in
            c.choice(c.state.channels[ch - 1].filter, ["NORMal", "STEP", "OFF"]) { $0.channels[ch - 1].filter = $1 }
        }),
        ("[SOURce#]:FUNCtion:RAMP:SYMMetry", { c, ch in
            c.number(c.state.channels[ch - 1].rampSymmetry, 0...100, default: 100) { $0.channels[ch - 1].rampSymmetry = $1 }
        }),
        ("[SOURce#]:FUNCtion:PULSe:WIDTh", { c, ch in
            c.number(c.state.channels[ch - 1].pulseWidth, 16e-9...1e6, units: ["S"], default: 100e-6) {
                $0.channels[ch - 1].pulseWidth = $1
            }
        }),
        ("[SOURce#]:FREQuency:[CW]", { c, ch in c.frequency(ch) }),
        ("[SOURce#]:FREQuency:FIXed", { c, ch in c.frequency(ch) }),
        ("[SOURce#]:FREQuency:MODE", { c, ch in
            c.choice(c.state.channels[ch - 1].frequencyMode, ["CW", "FIXed", "LIST", "SWEep"]) {
                $0.channels[ch - 1].frequencyMode = $1
            }
        }),
        ("[SOURce#]:VOLTage:[LEVel]:[IMMediate]:[AMPLitude]", { c, ch in c.amplitude(ch) }),
        ("[SOURce#]:VOLTage:UNIT", { c, ch in c.amplitudeUnit(ch) }),
        ("[SOURce#]:VOLTage:[LEVel]:[IMMediate]:OFFSet", { c, ch in c.offset(ch) }),
        ("[SOURce#]:PHASe:[ADJust]", { c, ch in
            c.number(c.state.channels[ch - 1].phase, -360...360, units: ["DEG"], default: 0) { $0.channels[ch - 1].phase = $1 }
        }),
        ("[SOURce#]:PHASe:SYNChronize", { c, _ in c.event { _ in } }),
        ("OUTPut#:[STATe]", { c, ch in c.boolean(c.state.channels[ch - 1].output) { $0.channels[ch - 1].output = $1 } }),
        ("OUTPut#:LOAD", { c, ch in c.load(ch) }),
        ("OUTPut#:POLarity", { c, ch in
            c.choice(c.state.channels[ch - 1].polarity, ["NORMal", "INVerted"]) { $0.channels[ch - 1].polarity = $1 }
        }),
        ("OUTPut:SYNC:[STATe]", { c, _ in c.boolean(c.state.sync) { $0.sync = $1 } }),
        ("OUTPut:SYNC:MODE", { c, _ in c.choice(c.state.syncMode, ["NORMal", "CARRier", "MARKer"]) { $0.syncMode = $1 } }),
        ("OUTPut:SYNC:SOURce", { c, _ in
            c.choice("CH\(c.state.syncSource)", (1...c.model.channels).map { "CH\($0)" }) { $0.syncSource = Int($1.dropFirst(2)) ?? 1 }
        }),
        ("[SOURce#]:BURSt:STATe", { c, ch in c.boolean(c.state.channels[ch - 1].burst) { $0.channels[ch - 1].burst = $1 } }),
        ("[SOURce#]:BURSt:MODE", { c, ch in
            c.choice(c.state.channels[ch - 1].burstMode, ["TRIGgered", "GATed"]) { $0.channels[ch - 1].burstMode = $1 }
        }),
        ("[SOURce#]:BURSt:NCYCles", { c, ch in
            c.number(c.state.channels[ch - 1].burstCycles, 1...Twin.maximumBurstCycles, default: 1, infinity: true) {
                $0.channels[ch - 1].burstCycles = $1 == Keysight33500BTwin.infinity ? $1 : $1.rounded()
            }
        }),
        ("[SOURce#]:BURSt:PHASe", { c, ch in
            c.number(c.state.channels[ch - 1].burstPhase, -360...360, units: ["DEG"], default: 0) { $0.channels[ch - 1].burstPhase = $1 }
        }),
        ("[SOURce#]:BURSt:INTernal:PERiod", { c, ch in
            c.number(c.state.channels[ch - 1].burstPeriod, 1e-6...8000, units: ["S"], default: 0.01) { $0.channels[ch - 1].burstPeriod = $1 }
        }),
        ("[SOURce#]:BURSt:GATE:POLarity", { c, ch in
            c.choice(c.state.channels[ch - 1].gatePolarity, ["NORMal", "INVerted"]) { $0.channels[ch - 1].gatePolarity = $1 }
        }),
        ("TRIGger#:SOURce", { c, ch in
            c.choice(c.state.channels[ch - 1].triggerSource, ["IMMediate", "EXTernal", "TIMer", "BUS"]) {
                $0.channels[ch - 1].triggerSource = $1
            }
        }),
        ("TRIGger#:SLOPe", { c, ch in
            c.choice(c.state.channels[ch - 1].triggerSlope, ["POSitive", "NEGative"]) { $0.channels[ch - 1].triggerSlope = $1 }
        }),
        ("TRIGger#:COUNt", { c, ch in
            c.number(c.state.channels[ch - 1].triggerCount, 1...1_000_000, default: 1, infinity: true) {
                $0.channels[ch - 1].triggerCount = $1 == Keysight33500BTwin.infinity ? $1 : $1.rounded()
            }
        }),
        ("TRIGger#:DELay", { c, ch in
            c.number(c.state.channels[ch - 1].triggerDelay, 0...1000, units: ["S"], default: 0) { $0.channels[ch - 1].triggerDelay = $1 }
        }),
        ("TRIGger#:TIMer", { c, ch in
            c.number(c.state.channels[ch - 1].triggerTimer, 1e-6...8000, units: ["S"], default: 1e-3) { $0.channels[ch - 1].triggerTimer = $1 }
        }),
        ("TRIGger#:[IMMediate]", { c, ch in c.triggerNow(ch) }),
        ("[SOURce#]:DATA:ARBitrary", { c, ch in c.uploadArb(ch, dac: false) }),
        ("[SOURce#]:DATA:ARBitrary:DAC", { c, ch in c.uploadArb(ch, dac: true) }),
        ("[SOURce#]:DATA:SEQuence", { c, ch in c.uploadSequence(ch) }),
        ("[SOURce#]:DATA:VOLatile:CLEar", { c, ch in
            c.event { state in
                state.channels[ch - 1].arbs.removeAll()
                state.channels[ch - 1].arbOrder.removeAll()
                state.channels[ch - 1].sequences.removeAll()
                state.channels[ch - 1].arb = Keysight33500BTwin.Channel.builtInArb
            }
        }),
        ("[SOURce#]:DATA:VOLatile:CATalog", { c, ch in
            c.queryOnly { state in
                let names = state.channels[ch - 1].arbOrder + state.channels[ch - 1].sequences.keys.sorted()
                return names.isEmpty ? "\"\"" : names.map { "\"\($0)\"" }.joined(separator: ",")
            }
        }),
        ("[SOURce#]:DATA:VOLatile:FREE", { c, ch in
            let memory = c.model.memorySamples
            return c.queryOnly { String(memory - $0.channels[ch - 1].usedMemory) }
        }),
        ("[SOURce#]:MARKer:POINt", { c, ch in c.markerPoint(ch) }),
    ]
}

extension Keysight33500BTwin {
    /// SCPI's +infinity (9.9E37): `OUTPut:LOAD INF`, `BURSt:NCYCles INF`.
    static let infinity = 9.9e37
    static var minimumSampleRate: Double { Keysight33500BModel.minimumSampleRate }
    static var maximumBurstCycles: Double { Keysight33500BModel.maximumBurstCycles }
}

// MARK: - Waveform settings

extension Keysight33500BTwin.Context {
    /// `FUNCtion SIN|SQU|TRI|RAMP|PULS|PRBS|NOIS|ARB|DC`; ARB needs an arb-capable model.
    mutating func function(_ ch: Int) -> String? {
        let choices = ["SINusoid", "SQUare", "TRIangle", "RAMP", "PULSe", "PRBS", "NOISe", "ARBitrary", "DC"]
        let playsArbs = model.playsArbs
        var refused = false
        let reply = choice(state.channels[ch - 1].function, choices) { state, chosen in
            if chosen == "ARB" && !playsArbs { refused = true; return }
            state.channels[ch - 1].function = chosen
            state.channels[ch - 1].frequency = min(state.channels[ch - 1].frequency, Self.frequencyLimit(chosen))
        }
        return refused ? fail(Twin.Error.settingsConflict) : reply
    }

    /// The highest frequency of `function`: ramps and triangles reach 200 kHz, the rest the model's maximum.
    static func frequencyLimit(_ function: String) -> Double {
        function == "RAMP" || function == "TRI" ? 200e3 : .infinity
    }

    mutating func frequency(_ ch: Int) -> String? {
        let limit = min(model.maximumFrequency, Self.frequencyLimit(state.channels[ch - 1].function))
        return number(state.channels[ch - 1].frequency, 1e-6...limit, units: ["HZ"], default: 1000) { $0.channels[ch - 1].frequency = $1 }
    }

    /// Peak-to-peak volts per unit of VRMS for `function`, nil where the 33500B has no RMS form here.
    static func crestRatio(_ function: String) -> Double? {
        switch function {
        case "SIN": 2 * 2.0.squareRoot()
        case "SQU": 2
        case "TRI", "RAMP": 2 * 3.0.squareRoot()
        default: nil
        }
    }

    /// `VOLTage`: the amplitude in the channel's unit (VPP, VRMS or DBM), within 1 mVpp … 10 Vpp into 50 Ω (scaled
    /// by the load) and leaving room for the offset.
    mutating func amplitude(_ ch: Int) -> String? {
        let c = state.channels[ch - 1]
        let ceiling = 20 * c.loadFactor
        let range = 0.002 * c.loadFactor...max(0.002 * c.loadFactor, ceiling - 2 * abs(c.offset))
        guard c.unit != "VPP" else {
            return number(c.amplitude, range, units: ["V"], default: 0.1) { $0.channels[ch - 1].amplitude = $1 }
        }
        guard let ratio = Self.crestRatio(c.function), c.unit == "VRMS" || !c.load.isInfinite else {
            return fail(Twin.Error.settingsConflict)
        }
        let toUnit: (Double) -> Double = { vpp in
            let rms = vpp / ratio
            return c.unit == "VRMS" ? rms : 10 * log10(rms * rms / c.load / 1e-3)
        }
        let fromUnit: (Double) -> Double = { value in
            c.unit == "VRMS" ? value * ratio : (pow(10, value / 10) * 1e-3 * c.load).squareRoot() * ratio
        }
        return number(toUnit(c.amplitude), toUnit(range.lowerBound)...toUnit(range.upperBound), default: toUnit(0.1)) {
            $0.channels[ch - 1].amplitude = fromUnit($1)
        }
    }

    mutating func amplitudeUnit(_ ch: Int) -> String? {
        let c = state.channels[ch - 1]
        var conflict = false
        let reply = choice(c.unit, ["VPP", "VRMS", "DBM"]) { state, unit in
            if unit != "VPP" && (Self.crestRatio(c.function) == nil || (unit == "DBM" && c.load.isInfinite)) {
                conflict = true
            } else {
                state.channels[ch - 1].unit = unit
            }
        }
        return conflict ? fail(Twin.Error.settingsConflict) : reply
    }

    /// `VOLTage:OFFSet`: within ±(5 V − Vpp/2) into 50 Ω, scaled by the load.
    mutating func offset(_ ch: Int) -> String? {
        let c = state.channels[ch - 1]
        let limit = max(0, 10 * c.loadFactor - c.amplitude / 2)
        return number(c.offset, -limit...limit, units: ["V"], default: 0) { $0.channels[ch - 1].offset = $1 }
    }

    /// `OUTPut:LOAD`: 1 Ω … 10 kΩ or INFinity. The displayed amplitude and offset follow the load, as on the
    /// instrument (high-Z doubles them).
    mutating func load(_ ch: Int) -> String? {
        let c = state.channels[ch - 1]
        return number(c.load.isInfinite ? Keysight33500BTwin.infinity : c.load, 1...10_000, units: ["OHM"], default: 50, infinity: true) { state, ohms in
            var channel = state.channels[ch - 1]
            let before = channel.loadFactor
            channel.load = ohms == Keysight33500BTwin.infinity ? .infinity : ohms
            channel.amplitude *= channel.loadFactor / before
            channel.offset *= channel.loadFactor / before
            if channel.unit == "DBM" && channel.load.isInfinite { channel.unit = "VPP" }
            state.channels[ch - 1] = channel
        }
    }
}

// MARK: - Arbitrary waveforms and sequences

extension Keysight33500BTwin.Context {
    /// Arb and sequence names: a letter, then letters, digits or `_`, at most 12 characters (unquoted or quoted).
    static func name(_ text: String) -> String? {
        var name = Substring(text)
        if name.count >= 2, let first = name.first, first == "\"" || first == "'", name.last == first {
            name = name.dropFirst().dropLast()
        }
        guard let first = name.unicodeScalars.first, first.properties.isAlphabetic, first.isASCII, name.count <= 12,
              name.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_") })
        else { return nil }
        return name.uppercased()
    }

    /// `DATA:ARBitrary name,v1,…|#block` (floats −1…1, or float32 in a block) and `DATA:ARBitrary:DAC name,d1,…|#block`
    /// (int16 codes −32767…32767), byte order from `FORMat:BORDer`.
    mutating func uploadArb(_ ch: Int, dac: Bool) -> String? {
        guard !command.isQuery else { return fail(Twin.Error.undefinedHeader) }
        guard command.arguments.count >= 2 else { return fail(Twin.Error.missingParameter) }
        guard case let .text(nameText) = command.arguments[0], let name = Self.name(nameText) else {
            return fail(Twin.Error.illegalValue)
        }
        var codes: [Int16] = []
        if case let .block(bytes) = command.arguments[1] {
            guard command.arguments.count == 2 else { return fail(Twin.Error.parameterNotAllowed) }
            let width = dac ? 2 : 4
            guard bytes.count % width == 0 else { return fail(Twin.Error.invalidBlock) }
            codes.reserveCapacity(bytes.count / width)
            for start in stride(from: 0, to: bytes.count, by: width) {
                var word: UInt32 = 0
                for k in 0..<width {
                    let byte = UInt32(bytes[start + (state.byteOrderSwapped ? width - 1 - k : k)])
                    word = word << 8 | byte
                }
                if dac {
                    let code = Int16(bitPattern: UInt16(word))
                    guard code >= -32767 else { return fail(Twin.Error.outOfRange) }
                    codes.append(code)
                } else {
                    let value = Float(bitPattern: word)
                    guard value.isFinite, abs(value) <= 1 else { return fail(Twin.Error.outOfRange) }
                    codes.append(Twin.code(Double(value)))
                }
            }
        } else {
            codes.reserveCapacity(command.arguments.count - 1)
            for argument in command.arguments.dropFirst() {
                guard case let .text(text) = argument, let value = WireNumber.decimal(text) else {
                    return fail(Twin.Error.illegalValue)
                }
                if dac {
                    guard value == value.rounded(), abs(value) <= 32767 else { return fail(Twin.Error.outOfRange) }
                    codes.append(Int16(value))
                } else {
                    guard abs(value) <= 1 else { return fail(Twin.Error.outOfRange) }
                    codes.append(Twin.code(value))
                }
            }
        }
        guard codes.count >= Keysight33500BModel.minimumArbLength else { return fail(Twin.Error.outOfRange) }
        var channel = state.channels[ch - 1]
        guard channel.sequences[name] == nil else { return fail(Twin.Error.settingsConflict) }
        let replaced = channel.arbs[name]?.count ?? 0
        guard channel.usedMemory - replaced + codes.count <= model.memorySamples else { return fail(Twin.Error.memoryFull) }
        if channel.arbs[name] == nil { channel.arbOrder.append(name) }
        channel.arbs[name] = codes
        state.channels[ch - 1] = channel
        return nil
    }

    /// `DATA:SEQuence #<block>`: `"name","segment",count,playControl,markerMode,markerPoint,…` (names quoted or not).
    mutating func uploadSequence(_ ch: Int) -> String? {
        guard !command.isQuery else { return fail(Twin.Error.undefinedHeader) }
        guard let first = command.arguments.first else { return fail(Twin.Error.missingParameter) }
        guard command.arguments.count == 1, case let .block(bytes) = first else { return fail(Twin.Error.illegalValue) }
        let fields = SequenceFields.split(bytes)
        guard fields.count >= 6, (fields.count - 1) % 5 == 0, let name = Self.name(fields[0]) else {
            return fail(Twin.Error.illegalValue)
        }
        let steps = (fields.count - 1) / 5
        guard steps <= Keysight33500BModel.maximumSequenceSteps else { return fail(Twin.Error.tooMuchData) }
        let channel = state.channels[ch - 1]
        guard channel.arbs[name] == nil else { return fail(Twin.Error.settingsConflict) }
        var entries: [Twin.SequenceEntry] = []
        for step in 0..<steps {
            let f = Array(fields[(1 + 5 * step)..<(6 + 5 * step)])
            guard let segment = Self.name(f[0]) else { return fail(Twin.Error.illegalValue) }
            guard let samples = channel.arbs[segment] else { return fail(Twin.Error.unknownArb) }
            guard let count = Int(f[1]), let point = Int(f[4]) else { return fail(Twin.Error.illegalValue) }
            guard (1...Keysight33500BModel.maximumSequenceRepeats).contains(count),
                  (4...max(4, samples.count - 3)).contains(point)
            else { return fail(Twin.Error.outOfRange) }
            let controls = ["once", "onceWaitTrig", "repeat", "repeatInf", "repeatTilTrig"]
            let modes = ["maintain", "lowAtStart", "highAtStart", "highAtStartGoLow"]
            guard let control = controls.first(where: { $0.lowercased() == f[2].lowercased() }),
                  let mode = modes.first(where: { $0.lowercased() == f[3].lowercased() })
            else { return fail(Twin.Error.illegalValue) }
            entries.append(Twin.SequenceEntry(segment: segment, count: count, playControl: control, markerMode: mode, markerPoint: point))
        }
        state.channels[ch - 1].sequences[name] = entries
        return nil
    }

    /// `FUNCtion:ARBitrary name`: a volatile arb or sequence of this channel, or the built-in default.
    mutating func selectArb(_ ch: Int) -> String? {
        if command.isQuery { return plainQuery() ? "\"\(state.channels[ch - 1].arb)\"" : nil }
        guard let text = argument() else { return nil }
        let unquoted = text.count >= 2 && text.first == "\"" && text.last == "\"" ? String(text.dropFirst().dropLast()) : text
        if unquoted.uppercased() == Twin.Channel.builtInArb {
            state.channels[ch - 1].arb = Twin.Channel.builtInArb
            return nil
        }
        guard let name = Self.name(text) else { return fail(Twin.Error.illegalValue) }
        let channel = state.channels[ch - 1]
        guard channel.arbs[name] != nil || channel.sequences[name] != nil else { return fail(Twin.Error.unknownArb) }
        state.channels[ch - 1].arb = name
        if let samples = channel.arbs[name] {
            state.channels[ch - 1].markerPoint = min(max(channel.markerPoint, 4), samples.count - 3)
        }
        return nil
    }

    /// `MARKer:POINt n`: the sample of the selected volatile arb at which the marker (sync in MARKer mode) rises,
    /// 4 … points − 3.
    mutating func markerPoint(_ ch: Int) -> String? {
        let channel = state.channels[ch - 1]
        if command.isQuery { return plainQuery() ? String(channel.markerPoint) : nil }
        guard let samples = channel.arbs[channel.arb] else { return fail(Twin.Error.settingsConflict) }
        return number(Double(channel.markerPoint), 4...Double(samples.count - 3), default: 4) {
            $0.channels[ch - 1].markerPoint = Int($1.rounded())
        }
    }
}

/// Splits a sequence block's text at commas outside double quotes, trimming spaces and dropping the quotes.
enum SequenceFields {
    static func split(_ bytes: [UInt8]) -> [String] {
        var fields: [String] = []
        var current: [UInt8] = []
        var quoted = false
        for byte in bytes {
            if byte == 0x22 { quoted.toggle(); continue }
            if byte == 0x2C && !quoted {
                fields.append(String(String(decoding: current, as: UTF8.self).trimmedSpaces))
                current.removeAll(keepingCapacity: true)
            } else {
                current.append(byte)
            }
        }
        fields.append(String(String(decoding: current, as: UTF8.self).trimmedSpaces))
        return fields
    }
}

// MARK: - What plays

extension Keysight33500BTwin {
    /// The DAC code of a sample in −1…1.
    static func code(_ value: Double) -> Int16 {
        Int16((value * 32767).rounded())
    }

    /// One channel's triggered burst: its steps and how it reaches the bench.
    private struct Track {
        struct Step {
            var name: String
            var samples: [Float]
            var repeats: Int
            var waitForTrigger: Bool
            var marker: (start: Int, length: Int)?
        }

        var channel: Int
        var sampleRate: Double
        var peakVolts: Double
        var shots: Int
        var steps: [Step]
    }

    /// The programs the given channels play on a trigger, with their shot counts: one program when the channels'
    /// timelines line up (same clock, burst count and step lengths), else one per channel.
    fileprivate func programs(playing channels: [Int], state: State) -> [(PulseProgram, Int)] {
        let tracks = channels.compactMap { track($0, state) }
        guard let first = tracks.first else { return [] }
        let aligned = tracks.allSatisfy { t in
            t.sampleRate == first.sampleRate && t.shots == first.shots && t.steps.count == first.steps.count
                && zip(t.steps, first.steps).allSatisfy {
                    $0.samples.count == $1.samples.count && $0.repeats == $1.repeats && $0.waitForTrigger == $1.waitForTrigger
                }
        }
        return (aligned ? [tracks] : tracks.map { [$0] }).map { (program($0), $0[0].shots) }
    }

    private func program(_ tracks: [Track]) -> PulseProgram {
        var segments: [PulseProgram.Segment] = []
        var steps: [PulseProgram.Step] = []
        var names: [String: String] = [:]
        for index in tracks[0].steps.indices {
            let parts = tracks.map { ($0.channel, $0.steps[index]) }
            let key = parts.map { "\($0.0):\($0.1.name):\($0.1.marker.map { "\($0.start)+\($0.length)" } ?? "-")" }.joined(separator: "|")
            let name: String
            if let existing = names[key] {
                name = existing
            } else {
                name = parts.map { $0.1.name }.joined(separator: "+") + (names.isEmpty ? "" : "#\(segments.count)")
                names[key] = name
                segments.append(PulseProgram.Segment(
                    name: name, length: parts[0].1.samples.count,
                    waveforms: Dictionary(uniqueKeysWithValues: parts.map { ($0.0, .samples($0.1.samples)) }),
                    markers: parts.compactMap { channel, step in
                        step.marker.map { PulseProgram.Marker(channel: channel, number: 1, start: $0.start, length: $0.length) }
                    }))
            }
            steps.append(PulseProgram.Step(segment: name, repeats: parts[0].1.repeats, waitForTrigger: parts[0].1.waitForTrigger))
        }
        return PulseProgram(
            sampleRate: .samplesPerSecond(tracks[0].sampleRate),
            channels: tracks.map { PulseProgram.OutputChannel(number: $0.channel, amplitude: .volts($0.peakVolts)) },
            segments: segments, steps: steps)
    }

    /// What channel `ch` plays on one trigger, nil when it plays nothing the bench can take (not a triggered
    /// N-cycle burst of a volatile arb or a finite sequence, or its output is off).
    private func track(_ ch: Int, _ state: State) -> Track? {
        let c = state.channels[ch - 1]
        guard c.output, c.burst, c.burstMode == "TRIG", c.function == "ARB", c.burstCycles < Keysight33500BTwin.infinity,
              c.amplitude > 0
        else { return nil }
        let markers = state.sync && state.syncMode == "MARK" && state.syncSource == ch
        // An inverted output plays the samples negated.
        let sign: Float = c.polarity == "INV" ? -1 : 1
        func samples(_ codes: [Int16]) -> [Float] { codes.map { sign * Float($0) / 32767 } }
        var steps: [Track.Step] = []
        if let codes = c.arbs[c.arb] {
            steps = [Track.Step(
                name: c.arb, samples: samples(codes), repeats: 1, waitForTrigger: false,
                marker: markers ? (c.markerPoint, codes.count - c.markerPoint) : nil)]
        } else if let entries = c.sequences[c.arb] {
            var waitNext = false
            for entry in entries {
                guard let codes = c.arbs[entry.segment], !["repeatInf", "repeatTilTrig"].contains(entry.playControl) else { return nil }
                let length = codes.count, point = entry.markerPoint
                let marker: (Int, Int)? =
                    switch entry.markerMode {
                    case "lowAtStart": (point, length - point)
                    case "highAtStartGoLow": (0, point)
                    case "highAtStart": (0, length)
                    default: nil
                    }
                steps.append(Track.Step(
                    name: entry.segment, samples: samples(codes), repeats: entry.playControl == "repeat" ? entry.count : 1,
                    waitForTrigger: waitNext, marker: markers ? marker : nil))
                waitNext = entry.playControl == "onceWaitTrig"
            }
        } else {
            return nil
        }
        return Track(channel: ch, sampleRate: c.sampleRate, peakVolts: c.amplitude / 2, shots: Int(c.burstCycles), steps: steps)
    }
}

// MARK: - Number format and session

extension Keysight33500BTwin {
    /// The 33500B's NR3 reply format, fifteen significant digits: 1000 → `+1.00000000000000E+03`, 9.9E37 →
    /// `+9.90000000000000E+37`. Built from the shortest round-trip digits, without Foundation's `String(format:)`.
    static func nr3(_ value: Double) -> String {
        let significant = 15
        guard value.isFinite, value != 0 else { return "+" + "0." + String(repeating: "0", count: significant - 1) + "E+00" }
        let text = abs(value).description
        let parts = text.split(separator: "e", maxSplits: 1)
        var exponent = parts.count == 2 ? Int(parts[1]) ?? 0 : 0
        let mantissa = parts[0]
        let pointIndex = mantissa.firstIndex(of: ".").map { mantissa.distance(from: mantissa.startIndex, to: $0) } ?? mantissa.count
        var digits = mantissa.utf8.filter { $0 != UInt8(ascii: ".") }.map { Int($0) - 48 }
        exponent += pointIndex - 1
        while digits.first == 0 { digits.removeFirst(); exponent -= 1 }
        if digits.count > significant {
            let roundUp = digits[significant] >= 5
            digits.removeLast(digits.count - significant)
            var index = significant - 1
            var carry = roundUp
            while carry && index >= 0 {
                digits[index] += 1
                carry = digits[index] == 10
                if carry { digits[index] = 0 }
                index -= 1
            }
            if carry { digits.insert(1, at: 0); digits.removeLast(); exponent += 1 }
        }
        while digits.count < significant { digits.append(0) }
        var result = value < 0 ? "-" : "+"
        result.unicodeScalars.append(Unicode.Scalar(UInt8(48 + digits[0])))
        result += "."
        for digit in digits.dropFirst() { result.unicodeScalars.append(Unicode.Scalar(UInt8(48 + digit))) }
        result += exponent < 0 ? "E-" : "E+"
        result += WireFormat.zeroPadded(abs(exponent), width: 2)
        return result
    }
}

extension Keysight33500BTwin: SCPIProgramExecutor {
    /// Large enough for a 16 MSa DAC block (32 MB) in one message.
    static let messageLimit = 40 << 20

    func respond(to message: [UInt8]) -> [UInt8] {
        execute(message).map { Array($0.utf8) + [0x0A] } ?? []
    }

    func inputOverrun() {
        fail(Error.inputOverrun)
    }
}
