import HAL
import Quantities
import Synchronization

/// The Keysight (formerly Agilent) 33500B-series Trueform waveform generator over SCPI (33500B Series Operating and
/// Service Guide): commands and replies end in LF, LAN socket port 5025. Errors queue for `SYSTem:ERRor?`; every
/// setting this driver sends is followed by a read of that queue, and an entry there throws `.refused` with the
/// instrument's own text (the 33500B clips an out-of-range number to its limit and queues
/// `-222,"Data out of range;value clipped to upper limit"`, so a silent clip never passes unseen).
///
/// As a ``PulseGenerator`` it plays one segment per channel (`FUNCtion:ARBitrary`), or a sequence of segments with
/// repeats and trigger waits (`DATA:SEQuence`), in N-cycle bursts. The 33500B has one marker per arb (or per sequence
/// step): the sample where the sync output (in `OUTPut:SYNC:MODE MARKer`) rises; a marker's length is not sent.
public final class Keysight33500B: PulseGenerator, Sendable {
    /// The LAN socket port (SCPI over raw TCP).
    public static let port: UInt16 = 5025

    /// A 33500B-series model, from the model field of `*IDN?` and the options of `*OPT?`.
    public struct Model: Sendable, Hashable {
        /// E.g. "33522B".
        public let number: String
        public let channels: Int
        /// The highest sine (and square, pulse) frequency.
        public let maximumFrequency: Frequency
        /// The arb clock range: 1 µSa/s to 160 MSa/s (20 MHz models) or 250 MSa/s (30 MHz models).
        public let sampleRates: ClosedRange<Double>
        /// The 33511B/12B/21B/22B play arbs as shipped; the 33509B/10B/19B/20B are taken to need option ARB.
        public let playsArbitraryWaveforms: Bool
        /// Volatile arb memory per channel: 1 MSa, or 16 MSa with option MEM.
        public let memorySamples: Int

        /// Nil for a model that is not of the series.
        public init?(number: String, options: [String]) {
            let table: [String: (channels: Int, megahertz: Double, arb: Bool)] = [
                "33509B": (1, 20, false), "33510B": (2, 20, false), "33511B": (1, 20, true), "33512B": (2, 20, true),
                "33519B": (1, 30, false), "33520B": (2, 30, false), "33521B": (1, 30, true), "33522B": (2, 30, true),
            ]
            guard let entry = table[number] else { return nil }
            self.number = number
            channels = entry.channels
            maximumFrequency = .megahertz(entry.megahertz)
            sampleRates = 1e-6...(entry.megahertz == 30 ? 250e6 : 160e6)
            playsArbitraryWaveforms = entry.arb || options.contains("ARB")
            memorySamples = options.contains("MEM") ? 16_777_216 : 1_048_576
        }
    }

    /// `FUNCtion`.
    public enum Function: String, Sendable, Hashable, CaseIterable {
        case sine = "SIN", square = "SQU", triangle = "TRI", ramp = "RAMP", pulse = "PULS", prbs = "PRBS", noise = "NOIS"
        case arbitrary = "ARB", dc = "DC"
    }

    /// `VOLTage:UNIT`.
    public enum AmplitudeUnit: String, Sendable, Hashable, CaseIterable {
        case peakToPeak = "VPP", rms = "VRMS", dBm = "DBM"
    }

    /// How arb samples travel: as decimal text (`DATA:ARBitrary name,v1,…`) or as int16 DAC codes in a binary block
    /// (`DATA:ARBitrary:DAC name,#…`) in the byte order set with `FORMat:BORDer NORMal|SWAPped`.
    public enum ArbitraryEncoding: Sendable, Hashable {
        case ascii
        case binary(bigEndian: Bool)
    }

    /// `BURSt:MODE`.
    public enum BurstMode: String, Sendable, Hashable {
        case triggered = "TRIG", gated = "GAT"
    }

    /// `BURSt:STATe`, `BURSt:MODE` and `BURSt:NCYCles` (nil cycles: INFinity).
    public struct Burst: Sendable, Hashable {
        public var enabled: Bool
        public var mode: BurstMode
        public var cycles: Int?

        public init(enabled: Bool, mode: BurstMode = .triggered, cycles: Int?) {
            self.enabled = enabled
            self.mode = mode
            self.cycles = cycles
        }
    }

    /// `OUTPut:SYNC:MODE`: the sync output follows the carrier's cycles or, for arbs, the marker point.
    public enum SyncMode: String, Sendable, Hashable {
        case normal = "NORM", carrier = "CARR", marker = "MARK"
    }

    /// One step of an arb sequence (`DATA:SEQuence`): a segment played `count` times (for `.repeat`), what happens
    /// after it, and its marker.
    public struct SequenceEntry: Sendable, Hashable {
        public enum PlayControl: String, Sendable, Hashable {
            case once, onceWaitTrig, `repeat`, repeatInf, repeatTilTrig
        }

        public enum MarkerMode: String, Sendable, Hashable {
            case maintain, lowAtStart, highAtStart, highAtStartGoLow
        }

        public var segment: String
        public var count: Int
        public var playControl: PlayControl
        public var markerMode: MarkerMode
        /// The sample (4 … points − 3) where a `lowAtStart` marker rises or a `highAtStartGoLow` one falls.
        public var markerPoint: Int

        public init(segment: String, count: Int, playControl: PlayControl, markerMode: MarkerMode, markerPoint: Int) {
            self.segment = segment
            self.count = count
            self.playControl = playControl
            self.markerMode = markerMode
            self.markerPoint = markerPoint
        }
    }

    public static let minimumArbLength = 8
    public static let maximumSequenceSteps = 512
    public static let maximumSequenceRepeats = 1_000_000
    public static let maximumBurstCycles = 100_000_000

    public let resource: ResourceName
    public let instrument: String
    public let identity: InstrumentIdentity
    public let model: Model
    /// From `*OPT?`, e.g. ["MEM"].
    public let options: [String]
    public let capabilities: PulseGeneratorCapabilities
    private let session: SCPISession
    /// The channels the last ``load(_:)`` programmed.
    private let loaded = Mutex<[Int]>([])

    /// Connects over `transport` (which it owns from now on) and asks the generator who it is (`*IDN?`, `*OPT?`),
    /// which sets ``model`` and ``capabilities``. Throws when it is not a 33500B-series generator.
    public init(transport: sending any ByteTransport, timeout: Duration = .seconds(5)) throws(InstrumentError) {
        resource = transport.resource
        let instrument = "Keysight 33500B at \(transport.resource)"
        self.instrument = instrument
        let session = SCPISession(
            transport: transport, instrument: instrument, writeTerminator: "\n", readTerminator: "\n", timeout: timeout)
        self.session = session
        identity = try Self.identity(session, instrument)
        let reply = try session.query("*OPT?")
        options = SCPIReply.trimmed(reply).split(separator: ",")
            .map { String($0.filter { $0 != "\"" && $0 != " " }) }
            .filter { !$0.isEmpty && $0 != "0" }
        guard let model = Model(number: identity.model, options: options) else {
            throw .unexpected(instrument, "*IDN?", reply: identity.model, expected: "a 33500B-series model, 33509B … 33522B")
        }
        self.model = model
        capabilities = Self.capabilities(of: model)
    }

    /// The limits of model `number` (e.g. "33522B") with `*OPT?` options such as "MEM"; nil for another model.
    public static func capabilities(model number: String, options: [String]) -> PulseGeneratorCapabilities? {
        Model(number: number, options: options).map(capabilities(of:))
    }

    private static func capabilities(of model: Model) -> PulseGeneratorCapabilities {
        PulseGeneratorCapabilities(
            channels: model.channels, sampleRates: model.sampleRates, maximumAmplitude: .volts(5),
            memorySamples: model.playsArbitraryWaveforms ? model.memorySamples : 0,
            minimumSegmentLength: minimumArbLength, granularity: 1, markersPerChannel: 1,
            maximumSteps: maximumSequenceSteps, maximumRepeats: maximumSequenceRepeats)
    }

    private static func identity(_ session: SCPISession, _ instrument: String) throws(InstrumentError) -> InstrumentIdentity {
        let identity = try session.identify()
        guard ["Agilent Technologies", "Keysight Technologies"].contains(identity.manufacturer) else {
            throw .unexpected(
                instrument, "*IDN?", reply: "\(identity.manufacturer),\(identity.model),…",
                expected: "Agilent Technologies or Keysight Technologies,335xxB,<serial>,<firmware>")
        }
        return identity
    }

    /// `*IDN?`, which must name a 33500B-series generator.
    public func identify() throws(InstrumentError) -> InstrumentIdentity {
        let identity = try Self.identity(session, instrument)
        guard Model(number: identity.model, options: options) != nil else {
            throw .unexpected(instrument, "*IDN?", reply: identity.model, expected: "a 33500B-series model, 33509B … 33522B")
        }
        return identity
    }

    /// `*RST`.
    public func reset() throws(InstrumentError) {
        try session.reset()
        loaded.withLock { $0 = [] }
    }

    /// `SYSTem:ERRor?` until `+0,"No error"`.
    public func errorQueue() throws(InstrumentError) -> [InstrumentQueueError] {
        try session.drainErrors(query: "SYST:ERR?")
    }

    // MARK: Waveform

    /// `SOURce<n>:FUNCtion?`.
    public func function(channel: Int = 1) throws(InstrumentError) -> Function {
        let command = "SOUR\(try check(channel)):FUNC?"
        let reply = try session.query(command)
        guard let function = Function(rawValue: SCPIReply.trimmed(reply)) else {
            throw .unexpected(instrument, command, reply: reply, expected: "SIN, SQU, TRI, RAMP, PULS, PRBS, NOIS, ARB or DC")
        }
        return function
    }

    /// `SOURce<n>:FUNCtion <function>`.
    public func setFunction(_ function: Function, channel: Int = 1) throws(InstrumentError) {
        try send("SOUR\(try check(channel)):FUNC \(function.rawValue)")
    }

    /// `SOURce<n>:FREQuency?`.
    public func frequency(channel: Int = 1) throws(InstrumentError) -> Frequency {
        .hertz(try real("SOUR\(try check(channel)):FREQ?", in: 1e-6...model.maximumFrequency.hertz))
    }

    /// `SOURce<n>:FREQuency <Hz>`, 1 µHz up to the model's maximum (ramps and triangles stop at 200 kHz; the
    /// generator refuses beyond that).
    public func setFrequency(_ frequency: Frequency, channel: Int = 1) throws(InstrumentError) {
        let command = "SOUR\(try check(channel)):FREQ \(Self.number(frequency.hertz))"
        guard (1e-6...model.maximumFrequency.hertz).contains(frequency.hertz) else {
            throw .invalid(instrument, command, "the \(model.number) generates 1 µHz to \(model.maximumFrequency.megahertz) MHz")
        }
        try send(command)
    }

    /// `SOURce<n>:VOLTage?`: the amplitude in the channel's ``AmplitudeUnit``.
    public func amplitude(channel: Int = 1) throws(InstrumentError) -> Double {
        try real("SOUR\(try check(channel)):VOLT?", in: -1000...1000)
    }

    /// `SOURce<n>:VOLTage <value>`, in the channel's ``AmplitudeUnit`` (Vpp by default).
    public func setAmplitude(_ value: Double, channel: Int = 1) throws(InstrumentError) {
        let command = "SOUR\(try check(channel)):VOLT \(Self.number(value))"
        guard value.isFinite else { throw .invalid(instrument, command, "the amplitude must be finite") }
        try send(command)
    }

    /// `SOURce<n>:VOLTage:UNIT?`.
    public func amplitudeUnit(channel: Int = 1) throws(InstrumentError) -> AmplitudeUnit {
        let command = "SOUR\(try check(channel)):VOLT:UNIT?"
        let reply = try session.query(command)
        guard let unit = AmplitudeUnit(rawValue: SCPIReply.trimmed(reply)) else {
            throw .unexpected(instrument, command, reply: reply, expected: "VPP, VRMS or DBM")
        }
        return unit
    }

    /// `SOURce<n>:VOLTage:UNIT VPP|VRMS|DBM`.
    public func setAmplitudeUnit(_ unit: AmplitudeUnit, channel: Int = 1) throws(InstrumentError) {
        try send("SOUR\(try check(channel)):VOLT:UNIT \(unit.rawValue)")
    }

    /// `SOURce<n>:VOLTage:OFFSet?`.
    public func offset(channel: Int = 1) throws(InstrumentError) -> Voltage {
        .volts(try real("SOUR\(try check(channel)):VOLT:OFFS?", in: -20...20))
    }

    /// `SOURce<n>:VOLTage:OFFSet <V>`.
    public func setOffset(_ offset: Voltage, channel: Int = 1) throws(InstrumentError) {
        try send("SOUR\(try check(channel)):VOLT:OFFS \(Self.number(offset.volts))")
    }

    // MARK: Outputs

    /// `OUTPut<n> ON|OFF`.
    public func setOutput(_ channel: Int, enabled: Bool) throws(InstrumentError) {
        try send("OUTP\(try check(channel)) \(enabled ? "ON" : "OFF")")
    }

    /// `OUTPut<n>?`.
    public func isOutputEnabled(_ channel: Int) throws(InstrumentError) -> Bool {
        try flag("OUTP\(try check(channel))?")
    }

    /// `OUTPut<n>:LOAD?`: the load the amplitude is set for; nil for high impedance (9.9E37, INFinity).
    public func outputLoad(channel: Int = 1) throws(InstrumentError) -> Resistance? {
        let command = "OUTP\(try check(channel)):LOAD?"
        let ohms = try SCPIReply.real(try session.query(command), command: command, instrument: instrument)
        if ohms == .infinity { return nil }
        guard (1...10_000).contains(ohms) else {
            throw .unexpected(instrument, command, reply: String(ohms), expected: "1 to 10000 Ω, or 9.9E37 (INF)")
        }
        return .ohms(ohms)
    }

    /// `OUTPut<n>:LOAD <Ω>|INF`: nil is high impedance. 1 Ω to 10 kΩ.
    public func setOutputLoad(_ load: Resistance?, channel: Int = 1) throws(InstrumentError) {
        let command = "OUTP\(try check(channel)):LOAD \(load.map { Self.number($0.ohms) } ?? "INF")"
        if let load, !(1...10_000).contains(load.ohms) {
            throw .invalid(instrument, command, "the load must be 1 Ω to 10 kΩ, or nil for high impedance")
        }
        try send(command)
    }

    /// `OUTPut:SYNC ON|OFF`.
    public func setSync(enabled: Bool) throws(InstrumentError) {
        try send("OUTP:SYNC \(enabled ? "ON" : "OFF")")
    }

    /// `OUTPut:SYNC?`.
    public func isSyncEnabled() throws(InstrumentError) -> Bool {
        try flag("OUTP:SYNC?")
    }

    /// `OUTPut:SYNC:SOURce CH<n>` (two-channel models).
    public func setSyncSource(channel: Int) throws(InstrumentError) {
        try send("OUTP:SYNC:SOUR CH\(try check(channel))")
    }

    /// `OUTPut:SYNC:MODE NORMal|CARRier|MARKer`.
    public func setSyncMode(_ mode: SyncMode) throws(InstrumentError) {
        try send("OUTP:SYNC:MODE \(mode.rawValue)")
    }

    /// `PHASe:SYNChronize`: restarts both channels' phase together.
    public func synchronizePhases() throws(InstrumentError) {
        try send("PHAS:SYNC")
    }

    // MARK: Arbitrary waveforms

    /// Uploads `samples` (−1…1, at least 8) as volatile arb `name` of `channel`: `SOURce<n>:DATA:ARBitrary` in
    /// text, or `FORMat:BORDer` then `SOURce<n>:DATA:ARBitrary:DAC` with int16 codes (round(sample × 32767)).
    public func uploadArbitrary(
        _ name: String, samples: [Float], channel: Int = 1, encoding: ArbitraryEncoding = .binary(bigEndian: true)
    ) throws(InstrumentError) {
        let source = "SOUR\(try check(channel))"
        let header = encoding == .ascii ? "\(source):DATA:ARB \(name)," : "\(source):DATA:ARB:DAC \(name),"
        try checkName(name, header)
        guard samples.count >= Self.minimumArbLength else {
            throw .invalid(instrument, header, "an arb holds at least \(Self.minimumArbLength) samples, got \(samples.count)")
        }
        if let bad = samples.firstIndex(where: { !($0.isFinite && abs($0) <= 1) }) {
            throw .invalid(instrument, header, "sample \(bad) is \(samples[bad]), outside −1…1")
        }
        switch encoding {
        case .ascii:
            var command = header
            command.reserveCapacity(header.utf8.count + samples.count * 12)
            for (index, sample) in samples.enumerated() {
                if index > 0 { command += "," }
                command += Double(sample).description
            }
            try send(command, named: header + "…")
        case .binary(let bigEndian):
            try send("FORM:BORD \(bigEndian ? "NORM" : "SWAP")")
            var bytes = [UInt8]()
            bytes.reserveCapacity(samples.count * 2)
            for sample in samples {
                let code = UInt16(bitPattern: Int16((Double(sample) * 32767).rounded()))
                let (high, low) = (UInt8(code >> 8), UInt8(code & 0xFF))
                bytes += bigEndian ? [high, low] : [low, high]
            }
            try session.withExclusiveAccess { (connection) throws(InstrumentError) in
                try connection.writeBinaryBlock(header: header, bytes: bytes)
                try Self.refuseQueuedErrors(&connection, header + "#…")
            }
        }
    }

    /// `SOURce<n>:DATA:SEQuence #<block>`: sequence `name` of arbs already uploaded to `channel`.
    public func uploadSequence(_ name: String, entries: [SequenceEntry], channel: Int = 1) throws(InstrumentError) {
        let header = "SOUR\(try check(channel)):DATA:SEQ "
        try checkName(name, header)
        guard (1...Self.maximumSequenceSteps).contains(entries.count) else {
            throw .invalid(instrument, header, "a sequence has 1 to \(Self.maximumSequenceSteps) steps, got \(entries.count)")
        }
        var text = "\"\(name)\""
        for entry in entries {
            try checkName(entry.segment, header)
            guard (1...Self.maximumSequenceRepeats).contains(entry.count), entry.markerPoint >= 4 else {
                throw .invalid(
                    instrument, header,
                    "step \(entry.segment): count must be 1 to \(Self.maximumSequenceRepeats) and the marker point at least 4")
            }
            text += ",\"\(entry.segment)\",\(entry.count),\(entry.playControl.rawValue),\(entry.markerMode.rawValue),\(entry.markerPoint)"
        }
        let bytes = Array(text.utf8)
        try session.withExclusiveAccess { (connection) throws(InstrumentError) in
            try connection.writeBinaryBlock(header: header, bytes: bytes)
            try Self.refuseQueuedErrors(&connection, header + "#…")
        }
    }

    /// `SOURce<n>:FUNCtion:ARBitrary <name>`: selects a volatile arb or sequence.
    public func selectArbitrary(_ name: String, channel: Int = 1) throws(InstrumentError) {
        let command = "SOUR\(try check(channel)):FUNC:ARB \(name)"
        try checkName(name, command)
        try send(command)
    }

    /// `SOURce<n>:FUNCtion:ARBitrary?`: the selected arb's name, without quotes.
    public func selectedArbitrary(channel: Int = 1) throws(InstrumentError) -> String {
        let command = "SOUR\(try check(channel)):FUNC:ARB?"
        return try Self.strings(try session.query(command), command, instrument).first ?? ""
    }

    /// `SOURce<n>:FUNCtion:ARBitrary:SRATe?`.
    public func sampleRate(channel: Int = 1) throws(InstrumentError) -> SampleRate {
        .samplesPerSecond(try real("SOUR\(try check(channel)):FUNC:ARB:SRAT?", in: model.sampleRates))
    }

    /// `SOURce<n>:FUNCtion:ARBitrary:SRATe <Sa/s>`, within the model's arb clock range.
    public func setSampleRate(_ rate: SampleRate, channel: Int = 1) throws(InstrumentError) {
        let command = "SOUR\(try check(channel)):FUNC:ARB:SRAT \(Self.number(rate.samplesPerSecond))"
        guard model.sampleRates.contains(rate.samplesPerSecond) else {
            throw .invalid(
                instrument, command,
                "the \(model.number) clocks arbs at \(model.sampleRates.lowerBound) to \(model.sampleRates.upperBound) Sa/s")
        }
        try send(command)
    }

    /// `SOURce<n>:MARKer:POINt <sample>`: where the selected arb's marker (the sync output in MARKer mode) rises.
    public func setMarkerPoint(_ sample: Int, channel: Int = 1) throws(InstrumentError) {
        try send("SOUR\(try check(channel)):MARK:POIN \(sample)")
    }

    /// `SOURce<n>:MARKer:POINt?`.
    public func markerPoint(channel: Int = 1) throws(InstrumentError) -> Int {
        Int(try real("SOUR\(try check(channel)):MARK:POIN?", in: 0...Double(Int32.max)))
    }

    /// `SOURce<n>:DATA:VOLatile:CLEar`: deletes the channel's volatile arbs and sequences.
    public func clearVolatileMemory(channel: Int = 1) throws(InstrumentError) {
        try send("SOUR\(try check(channel)):DATA:VOL:CLE")
    }

    /// `SOURce<n>:DATA:VOLatile:CATalog?`: the names in volatile memory.
    public func volatileCatalog(channel: Int = 1) throws(InstrumentError) -> [String] {
        let command = "SOUR\(try check(channel)):DATA:VOL:CAT?"
        return try Self.strings(try session.query(command), command, instrument).filter { !$0.isEmpty }
    }

    /// `SOURce<n>:DATA:VOLatile:FREE?`: free arb points.
    public func volatileFreePoints(channel: Int = 1) throws(InstrumentError) -> Int {
        let command = "SOUR\(try check(channel)):DATA:VOL:FREE?"
        let points = try SCPIReply.integer(try session.query(command), command: command, instrument: instrument)
        guard (0...model.memorySamples).contains(points) else {
            throw .unexpected(instrument, command, reply: String(points), expected: "0 to \(model.memorySamples) points")
        }
        return points
    }

    // MARK: Burst and trigger

    /// `SOURce<n>:BURSt:MODE`, `:NCYCles` (1 … 100 000 000 or INF) and `:STATe`.
    public func setBurst(_ burst: Burst, channel: Int = 1) throws(InstrumentError) {
        let source = "SOUR\(try check(channel))"
        let cycles = burst.cycles.map(String.init) ?? "INF"
        if let count = burst.cycles, !(1...Self.maximumBurstCycles).contains(count) {
            throw .invalid(instrument, "\(source):BURS:NCYC \(cycles)", "a burst has 1 to \(Self.maximumBurstCycles) cycles")
        }
        try send("\(source):BURS:MODE \(burst.mode.rawValue)")
        try send("\(source):BURS:NCYC \(cycles)")
        try send("\(source):BURS:STAT \(burst.enabled ? "ON" : "OFF")")
    }

    /// `SOURce<n>:BURSt:STATe?;MODE?;NCYCles?`.
    public func burst(channel: Int = 1) throws(InstrumentError) -> Burst {
        let source = "SOUR\(try check(channel))"
        let commands = ["\(source):BURS:STAT?", "\(source):BURS:MODE?", "\(source):BURS:NCYC?"]
        let replies = try session.query(commands)
        let compound = commands.joined(separator: ";")
        let enabled = try Self.flag(replies[0], compound, instrument)
        guard let mode = BurstMode(rawValue: SCPIReply.trimmed(replies[1])) else {
            throw .unexpected(instrument, compound, reply: replies[1], expected: "TRIG or GAT")
        }
        let cycles = try SCPIReply.real(replies[2], command: compound, instrument: instrument)
        if cycles == .infinity { return Burst(enabled: enabled, mode: mode, cycles: nil) }
        guard cycles.rounded() == cycles, (1...Double(Self.maximumBurstCycles)).contains(cycles) else {
            throw .unexpected(instrument, compound, reply: replies[2], expected: "1 to \(Self.maximumBurstCycles) cycles, or 9.9E37")
        }
        return Burst(enabled: enabled, mode: mode, cycles: Int(cycles))
    }

    /// `TRIGger<n>:SOURce IMM|BUS|EXT`, and `TRIGger<n>:SLOPe POS|NEG` for an external trigger.
    public func setTriggerSource(_ source: TriggerSource, channel: Int = 1) throws(InstrumentError) {
        let trigger = "TRIG\(try check(channel))"
        switch source {
        case .immediate: try send("\(trigger):SOUR IMM")
        case .bus: try send("\(trigger):SOUR BUS")
        case .external(let rising):
            try send("\(trigger):SOUR EXT")
            try send("\(trigger):SLOP \(rising ? "POS" : "NEG")")
        }
    }

    /// `TRIGger<n>:SOURce?` (and `:SLOPe?` for EXT). The timer source (TIM) has no ``TriggerSource`` and throws.
    public func triggerSource(channel: Int = 1) throws(InstrumentError) -> TriggerSource {
        let trigger = "TRIG\(try check(channel))"
        let commands = ["\(trigger):SOUR?", "\(trigger):SLOP?"]
        let replies = try session.query(commands)
        switch (SCPIReply.trimmed(replies[0]), SCPIReply.trimmed(replies[1])) {
        case ("IMM", _): return .immediate
        case ("BUS", _): return .bus
        case ("EXT", "POS"): return .external(risingEdge: true)
        case ("EXT", "NEG"): return .external(risingEdge: false)
        default:
            throw .unexpected(
                instrument, commands.joined(separator: ";"), reply: replies.joined(separator: ";"),
                expected: "IMM, BUS, or EXT with slope POS or NEG")
        }
    }

    /// `TRIGger<n>:DELay <s>`: 0 to 1000 s.
    public func setTriggerDelay(_ delay: Time, channel: Int = 1) throws(InstrumentError) {
        let command = "TRIG\(try check(channel)):DEL \(Self.number(delay.seconds))"
        guard (0...1000).contains(delay.seconds) else { throw .invalid(instrument, command, "the delay must be 0 to 1000 s") }
        try send(command)
    }

    /// `TRIGger<n>:COUNt <n>`: 1 to 1 000 000 triggers accepted before returning to idle.
    public func setTriggerCount(_ count: Int, channel: Int = 1) throws(InstrumentError) {
        let command = "TRIG\(try check(channel)):COUN \(count)"
        guard (1...1_000_000).contains(count) else { throw .invalid(instrument, command, "the count must be 1 to 1000000") }
        try send(command)
    }

    // MARK: PulseGenerator

    /// Checks `program` (capabilities, then what the 33500B cannot express: jumps, markers on both channels, more than
    /// one marker per segment, marker points outside 4 … length − 3, a trigger wait after a repeated step), then per
    /// channel: `DATA:VOLatile:CLEar`, one DAC upload per segment, `FUNCtion:ARBitrary` of the segment or of a
    /// `DATA:SEQuence`, `FUNCtion ARB`, `FUNCtion:ARBitrary:SRATe`, `VOLTage:UNIT VPP`, `VOLTage:OFFSet 0`,
    /// `VOLTage` (2 × peak), the marker point; and the sync output (`OUTPut:SYNC:SOURce`, `:MODE MARKer`, `ON`).
    public func load(_ program: PulseProgram) throws(InstrumentError) {
        do throws(PulseProgramError) {
            try capabilities.check(program)
        } catch {
            throw .invalid(instrument, nil, error.description)
        }
        let plan = try plan(program)
        for channel in program.channels {
            let source = "SOUR\(channel.number)"
            try send("\(source):DATA:VOL:CLE")
            for (index, segment) in program.segments.enumerated() {
                let samples = segment.waveforms[channel.number]?.rendered(length: segment.length)
                    ?? [Float](repeating: 0, count: segment.length)
                try uploadArbitrary(plan.names[index], samples: samples, channel: channel.number)
            }
            if let entries = plan.sequence {
                try uploadSequence(Self.sequenceName, entries: entries(channel.number), channel: channel.number)
                try send("\(source):FUNC:ARB \(Self.sequenceName)")
            } else {
                try send("\(source):FUNC:ARB \(plan.names[plan.firstSegment])")
            }
            try send("\(source):FUNC ARB")
            try send("\(source):FUNC:ARB:SRAT \(Self.number(program.sampleRate.samplesPerSecond))")
            try send("\(source):VOLT:UNIT VPP")
            try send("\(source):VOLT:OFFS 0")
            try send("\(source):VOLT \(Self.number(2 * channel.amplitude.volts))")
            if plan.sequence == nil, plan.markerChannel == channel.number, let point = plan.singleMarkerPoint {
                try send("\(source):MARK:POIN \(point)")
            }
        }
        if let markerChannel = plan.markerChannel {
            if model.channels > 1 { try send("OUTP:SYNC:SOUR CH\(markerChannel)") }
            try send("OUTP:SYNC:MODE MARK")
            try send("OUTP:SYNC ON")
        }
        loaded.withLock { $0 = program.channels.map(\.number) }
    }

    /// The name of the sequence ``load(_:)`` builds.
    static let sequenceName = "QRSEQ"

    /// How a program maps onto the 33500B: segment names, the sequence (per channel), and the marker.
    private struct Plan {
        var names: [String]
        var firstSegment: Int
        var sequence: ((Int) -> [SequenceEntry])?
        var markerChannel: Int?
        var singleMarkerPoint: Int?
    }

    private func plan(_ program: PulseProgram) throws(InstrumentError) -> Plan {
        func refuse(_ reason: String) -> InstrumentError { .invalid(instrument, nil, "pulse program: \(reason)") }
        let names = program.segments.indices.map { "QR\($0 + 1)" }
        let index = Dictionary(uniqueKeysWithValues: program.segments.enumerated().map { ($1.name, $0) })
        var markerChannels = Set<Int>()
        for segment in program.segments {
            guard segment.markers.count <= 1 else {
                throw refuse("segment \"\(segment.name)\" has \(segment.markers.count) markers; the 33500B has one marker point per arb")
            }
            if let marker = segment.markers.first {
                guard (4...segment.length - 3).contains(marker.start) else {
                    throw refuse("segment \"\(segment.name)\": the marker at sample \(marker.start) must lie in 4…\(segment.length - 3)")
                }
                markerChannels.insert(marker.channel)
            }
        }
        guard markerChannels.count <= 1 else { throw refuse("markers on channels \(markerChannels.sorted()); the 33500B has one sync output") }
        for (number, step) in program.steps.enumerated() {
            guard step.goTo == nil else { throw refuse("step \(number + 1) jumps; the 33500B sequence plays its steps in order") }
            if step.waitForTrigger, number > 0, program.steps[number - 1].repeats > 1 {
                throw refuse("step \(number + 1) waits for a trigger after a repeated step; the 33500B waits only after a step played once")
            }
        }
        let first = index[program.steps[0].segment]!
        var plan = Plan(names: names, firstSegment: first, markerChannel: markerChannels.first)
        if program.steps.count == 1, program.steps[0].repeats == 1 {
            plan.singleMarkerPoint = program.segments[first].markers.first?.start
            return plan
        }
        let steps = program.steps
        let segments = program.segments
        plan.sequence = { channel in
            steps.enumerated().map { number, step in
                let segment = segments[index[step.segment]!]
                let marker = segment.markers.first { $0.channel == channel }
                let waitsAfter = number + 1 < steps.count && steps[number + 1].waitForTrigger
                return SequenceEntry(
                    segment: names[index[step.segment]!], count: step.repeats,
                    playControl: waitsAfter ? .onceWaitTrig : (step.repeats > 1 ? .repeat : .once),
                    markerMode: marker == nil ? .maintain : .lowAtStart, markerPoint: marker?.start ?? 4)
            }
        }
        return plan
    }

    /// Every loaded channel plays `shots` bursts of its program per trigger: `BURSt:MODE TRIG`, `:NCYCles`, `:STATe ON`,
    /// `TRIGger<n>:SOURce` (and `:SLOPe`).
    public func setTrigger(_ source: TriggerSource, shots: Int) throws(InstrumentError) {
        for channel in activeChannels {
            try setBurst(Burst(enabled: true, mode: .triggered, cycles: shots), channel: channel)
            try setTriggerSource(source, channel: channel)
        }
    }

    /// Arms: `OUTPut<n> ON` for every loaded channel; a BUS- or EXT-triggered burst then waits for its trigger.
    public func arm() throws(InstrumentError) {
        for channel in activeChannels { try setOutput(channel, enabled: true) }
    }

    /// `*TRG`; the generator queues `-211,"Trigger ignored"` (thrown as `.refused`) when no channel waits on BUS.
    public func trigger() throws(InstrumentError) {
        try send("*TRG")
    }

    /// `OUTPut<n> OFF` on every channel.
    public func stop() throws(InstrumentError) {
        for channel in 1...model.channels { try setOutput(channel, enabled: false) }
    }

    /// The 33500B reports no run state, so it is read from the settings of the loaded channels (all channels when
    /// nothing was loaded): every output off → `.stopped`; an output on with a triggered burst on BUS or EXT →
    /// `.waitingForTrigger` (a finished burst waits for the next trigger); otherwise (continuous, IMMediate or timer
    /// bursts) → `.running`.
    public func runState() throws(InstrumentError) -> PulseGeneratorRunState {
        var waiting = false, running = false
        for channel in activeChannels {
            let commands = ["OUTP\(channel)?", "SOUR\(channel):BURS:STAT?", "TRIG\(channel):SOUR?"]
            let replies = try session.query(commands)
            let compound = commands.joined(separator: ";")
            guard try Self.flag(replies[0], compound, instrument) else { continue }
            let burst = try Self.flag(replies[1], compound, instrument)
            let source = SCPIReply.trimmed(replies[2])
            guard ["IMM", "BUS", "EXT", "TIM"].contains(source) else {
                throw .unexpected(instrument, compound, reply: replies[2], expected: "IMM, BUS, EXT or TIM")
            }
            if burst && (source == "BUS" || source == "EXT") { waiting = true } else { running = true }
        }
        return running ? .running : waiting ? .waitingForTrigger : .stopped
    }

    private var activeChannels: [Int] {
        let channels = loaded.withLock { $0 }
        return channels.isEmpty ? Array(1...model.channels) : channels
    }

    // MARK: Helpers

    /// `channel` when the model has it.
    private func check(_ channel: Int) throws(InstrumentError) -> Int {
        guard (1...model.channels).contains(channel) else {
            throw .invalid(instrument, nil, "channel \(channel) does not exist; the \(model.number) has \(model.channels)")
        }
        return channel
    }

    /// Arb and sequence names: a letter, then letters, digits or `_`, at most 12 characters.
    private func checkName(_ name: String, _ command: String) throws(InstrumentError) {
        let scalars = name.unicodeScalars
        guard let first = scalars.first, first.isASCII, first.properties.isAlphabetic, scalars.count <= 12,
              scalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_") })
        else {
            throw .invalid(instrument, command, "an arb name is a letter, then letters, digits or _, at most 12 characters; got \"\(name)\"")
        }
    }

    /// Writes `command` and reads the error queue in the same exclusive access.
    private func send(_ command: String, named name: String? = nil) throws(InstrumentError) {
        try session.withExclusiveAccess { (connection) throws(InstrumentError) in
            try connection.write(command)
            try Self.refuseQueuedErrors(&connection, name ?? command)
        }
    }

    /// Throws `.refused` with the instrument's error text when its queue holds entries after `command`.
    private static func refuseQueuedErrors(_ connection: inout SCPIConnection, _ command: String) throws(InstrumentError) {
        let errors = try connection.drainErrors(query: "SYST:ERR?")
        guard errors.isEmpty else {
            throw InstrumentError(
                instrument: connection.instrument, command: command,
                kind: .refused(errors.map(\.description).joined(separator: "; ")))
        }
    }

    /// An NR3 reply that must lie in `range` (which also keeps it finite).
    private func real(_ command: String, in range: ClosedRange<Double>) throws(InstrumentError) -> Double {
        let reply = try session.query(command)
        let value = try SCPIReply.real(reply, command: command, instrument: instrument)
        guard range.contains(value) else {
            throw .unexpected(instrument, command, reply: reply, expected: "a number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    private func flag(_ command: String) throws(InstrumentError) -> Bool {
        try Self.flag(try session.query(command), command, instrument)
    }

    /// `0` or `1`.
    private static func flag(_ reply: String, _ command: String, _ instrument: String) throws(InstrumentError) -> Bool {
        switch SCPIReply.trimmed(reply) {
        case "0": return false
        case "1": return true
        default: throw .unexpected(instrument, command, reply: reply, expected: "0 or 1")
        }
    }

    /// A list of quoted strings, `"A","B"` (`""` alone is an empty list entry).
    private static func strings(_ reply: String, _ command: String, _ instrument: String) throws(InstrumentError) -> [String] {
        let text = SCPIReply.trimmed(reply)
        let count = text.split(separator: ",", omittingEmptySubsequences: false).count
        let fields = try SCPIReply.fields(text, count: count, command: command, instrument: instrument)
        return try fields.map { (field) throws(InstrumentError) -> String in
            guard field.count >= 2, field.first == "\"", field.last == "\"" else {
                throw .unexpected(instrument, command, reply: reply, expected: "quoted names separated by commas")
            }
            return String(field.dropFirst().dropLast())
        }
    }

    /// A number as the generator reads it: the shortest decimal that round-trips (`1000.0`, `2.5e-07`).
    static func number(_ value: Double) -> String {
        value.description
    }
}
