import Emulator
import Foundation
import HAL
import Quantities
import Telemetry
import ZeroMQ

/// A node as its station file describes it: name, instruments by model and VISA resource, sampled
/// channels, qubit wiring, GPIO lines, interlocks, the safe state and what `qrrm run` does.
///
/// The same file drives real hardware (TCPIP, ASRL, USB and GPIO resources) or the emulator
/// (`LOOPBACK::` resources, served in this process from the `emulator:` profile). See the README's
/// "Station files" section for the syntax.
public struct Station: Sendable {
    /// Where the emulator serves a station's instruments.
    public enum EmulatorServing: String, Sendable { case loopback, tcp }

    /// The emulated hardware behind `LOOPBACK::` resources.
    public struct EmulatorSetting: Sendable {
        public var profile: URL
        public var serving: EmulatorServing
    }

    public struct TelemetrySetting: Sendable {
        public var endpoint: String
        public var snapshotEndpoint: String
        public var security: TelemetryServerSecurity
    }

    /// The host loop: its rate, SCHED_FIFO priority, optional CPU, memory locking and watchdog.
    public struct LoopSetting: Sendable, Equatable {
        public var rate: Double
        public var priority: Int32
        public var cpu: Int32?
        public var lockMemory: Bool
        public var period: Duration { .nanoseconds(Int64((1e9 / rate).rounded())) }
    }

    public struct InstrumentEntry: Sendable {
        public var id: String
        public var kind: InstrumentKind
        public var resource: ResourceName
        /// The readout tones (InfiniiVision), Hz.
        public var tones: [Double]
        /// The integration window after each trigger (InfiniiVision), s.
        public var window: Double
        /// The vertical range (InfiniiVision), V.
        public var verticalRange: Double
    }

    /// What a channel reads from its instrument.
    public enum Reading: Sendable, Equatable {
        /// A temperature controller's input (`RDGK? <input>`), K.
        case input(String)
        /// A cryostat stage's temperature, K.
        case stage(CryostatStage)
        /// A named channel of a sensor (`pressure gauge 1`, `magnetic field z`), in its SI unit.
        case sensor(String)
        /// A heater output of a temperature controller, % of full scale.
        case heater(Int)
        /// The power a temperature controller's heater output dissipates, W: what the realm meters energy by.
        case heaterPower(Int)

        /// The SI unit symbol of this reading's values.
        public var unit: String {
            switch self {
            case .input, .stage: "K"
            case let .sensor(name): name.hasPrefix("pressure") ? "Pa" : name.hasPrefix("magnetic") ? "T" : ""
            case .heater: "%"
            case .heaterPower: "W"
            }
        }
    }

    public struct ChannelEntry: Sendable {
        public var name: String
        public var instrument: String
        public var reading: Reading
        /// How often the I/O task samples it.
        public var every: Duration
    }

    public enum LineRole: Sendable, Equatable {
        /// A trigger output, pulsed by experiments.
        case trigger
        /// A fault input: the interlock trips when it reads `tripsHigh ? 1 : 0`.
        case interlock(tripsHigh: Bool)
        /// An output the safe state drives to `safeHigh ? 1 : 0`.
        case output(safeHigh: Bool)
    }

    public struct LineEntry: Sendable {
        public var name: String
        public var resource: ResourceName
        public var role: LineRole
    }

    /// One qubit's wiring and calibration, which a real station measures and writes down.
    public struct QubitEntry: Sendable {
        public var name: String
        public var generator: String
        public var iChannel: Int
        public var qChannel: Int
        public var sampleRate: Double
        /// Rabi frequency per volt of drive, Hz/V.
        public var rabiPerVolt: Double
        public var piPulse: Double
        public var readout: String
        public var tone: Double
        public var ground: IQPoint
        public var excited: IQPoint
        /// The generator marker that triggers the readout.
        public var marker: (channel: Int, number: Int)
        /// The readout's calibrated assignment fidelities [F₀, F₁], when given: results are corrected for them.
        public var fidelity: (ground: Double, excited: Double)?
        /// What the node offers the realm for this qubit (`advertise:`), announced on telemetry.
        public var advertised: Advertised?
    }

    /// A resource's advertised properties: the particle type the realm allocates it as, the coherence time
    /// and fidelity the lab stands behind, and whether it can take part in entanglement. The realm allocates
    /// by them and reclassifies when measurements fall short.
    public struct Advertised: Sendable, Equatable {
        /// "qubit", "qudit", "photon-pair" or another type's name.
        public var type: String
        public var coherenceTime: Double
        public var fidelity: Double
        public var entanglementReady: Bool
    }

    /// A particle the node hosts but does not drive as a qubit (a photon-pair source, say): announced to the
    /// realm, and reservable on the command endpoint, under its name.
    public struct ParticleEntry: Sendable, Equatable {
        public var name: String
        public var advertised: Advertised
    }

    public enum Severity: String, Sendable, CaseIterable { case info, warning, error, critical }

    /// What trips an interlock.
    public enum Condition: Sendable, Equatable {
        case above(channel: String, threshold: Double)
        case below(channel: String, threshold: Double)
        /// A GPIO fault input reads its trip level.
        case line(String)
        /// The I/O task has not reached the instrument for `after`.
        case instrumentLost(instrument: String, after: Duration)
        /// The I/O tasks have not fed the loop for `timeout` (a hung instrument or task).
        case watchdog(timeout: Duration)
    }

    public struct InterlockEntry: Sendable {
        public var name: String
        public var condition: Condition
        public var severity: Severity
        /// The safe-state targets this trip drives (instrument ids and line names); empty means all.
        public var targets: [String]
    }

    /// One action of the safe state.
    public enum SafeAction: Sendable, Equatable {
        /// Every output of a pulse generator off, and the generator stopped.
        case outputsOff(instrument: String)
        /// A temperature controller's heater output off (range 0).
        case heaterOff(instrument: String, output: Int)
        /// A GPIO output line to its safe level.
        case line(String)

        /// The instrument or line this acts on.
        public var target: String {
            switch self {
            case let .outputsOff(id), let .heaterOff(id, _): id
            case let .line(name): name
            }
        }
    }

    /// When an experiment may run: `channel` below `below`, and no active alarm.
    public struct Admission: Sendable, Equatable {
        public var channel: String
        public var below: Double

        public init(channel: String, below: Double) {
            self.channel = channel
            self.below = below
        }
    }

    public var file: URL
    public var node: String
    public var emulator: EmulatorSetting?
    public var telemetry: TelemetrySetting
    public var commandEndpoint: String?
    public var loop: LoopSetting
    public var instruments: [InstrumentEntry]
    public var channels: [ChannelEntry]
    public var lines: [LineEntry]
    public var qubits: [QubitEntry]
    /// The other particles the node offers the realm.
    public var particles: [ParticleEntry]
    public var interlocks: [InterlockEntry]
    public var safeState: [SafeAction]
    public var admission: Admission?
    /// What `qrrm run` does, in order.
    public var run: [RunStep]

    public func instrument(_ id: String) -> InstrumentEntry? { instruments.first { $0.id == id } }
    public func channel(_ name: String) -> ChannelEntry? { channels.first { $0.name == name } }
}

/// One step of a station's `run:` list: an experiment (`cpmgSweep: {qubit: q0, pulses: [1, 2, 4]}`) or a
/// station check (`cooldownCheck`). Parameters keep where they were written, so the experiment that
/// reads them reports a bad one by file, line and key.
public struct RunStep: Sendable {
    /// A parameter as written, with its place in the file.
    public struct Parameter: Sendable {
        public var text: String
        /// Set for a list (`[1, 2, 4]`).
        public var items: [String]?
        public var location: ProfileError

        /// An error at this parameter's place in the file.
        public func error(_ message: String) -> ProfileError {
            ProfileError(file: location.file, line: location.line, column: location.column, keyPath: location.keyPath, message: message)
        }
    }

    public var experiment: String
    public var qubit: String?
    public var parameters: [String: Parameter]
    public var location: ProfileError

    /// A step from a command: parameters as text, lists comma-separated ("1,2,4").
    public init(experiment: String, qubit: String?, parameters: [String: String]) {
        self.experiment = experiment
        self.qubit = qubit
        location = ProfileError(file: "command", line: 0, column: 0, keyPath: experiment, message: "")
        self.parameters = parameters.reduce(into: [:]) { all, entry in
            let place = ProfileError(file: "command", line: 0, column: 0, keyPath: "\(experiment).\(entry.key)", message: "")
            all[entry.key] = Parameter(text: entry.value, items: nil, location: place)
        }
    }

    init(_ item: YAMLValue, qubits: Set<String>) throws(ProfileError) {
        location = item.error("")
        if case .scalar = item.node {
            experiment = try item.string()
            qubit = nil
            parameters = [:]
            return
        }
        let pairs = try item.pairs()
        guard pairs.count == 1, let (key, body) = pairs.first else { throw item.error("each run step is one experiment: {name: {parameters}}") }
        experiment = try key.string()
        var parameters: [String: Parameter] = [:]
        for (nameValue, value) in try body.pairs() {
            let name = try nameValue.string()
            let items: [String]? = if case .sequence = value.node { try value.list().map { (v) throws(ProfileError) in try v.string() } } else { nil }
            parameters[name] = Parameter(text: items == nil ? try value.string() : "", items: items, location: value.error(""))
        }
        if let q = parameters.removeValue(forKey: "qubit") {
            guard qubits.contains(q.text) else { throw q.error("no qubit \"\(q.text)\"; the qubits are \(qubits.sorted().joined(separator: ", "))") }
            qubit = q.text
        } else {
            qubit = nil
        }
        self.parameters = parameters
    }
}

// MARK: - Reading the file

extension Station {
    static let topKeys = [
        "node", "emulator", "telemetry", "commands", "loop", "instruments", "channels", "lines", "qubits", "particles",
        "interlocks", "safeState", "admission", "run",
    ]

    /// Reads and validates the station file at `url`. Errors name the file, line, column and key.
    public init(contentsOf url: URL) throws(ProfileError) {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw ProfileError(file: url.lastPathComponent, line: 1, column: 1, keyPath: "", message: "cannot read the station file: \(error.localizedDescription)")
        }
        try self.init(yaml: text, file: url)
    }

    /// Reads a station from `yaml`; relative paths in it are resolved against `file`'s folder.
    public init(yaml: String, file: URL) throws(ProfileError) {
        let root = try parseYAML(yaml, file: file.lastPathComponent)
        let top = try root.mapping(allowed: Self.topKeys)
        let directory = file.deletingLastPathComponent()
        self.file = file
        node = try top.required("node").string()
        do { _ = try TelemetryTopic("\(node)/node/state") } catch { throw try top.required("node").error("\(error)") }

        emulator = try top.optional("emulator").map { (value) throws(ProfileError) in
            let m = try value.mapping(allowed: ["profile", "serve"])
            let path = try m.required("profile").string()
            let url = path.hasPrefix("/") ? URL(fileURLWithPath: path) : directory.appendingPathComponent(path)
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw try m.required("profile").error("no profile at \(url.path)")
            }
            let serving = try m.optional("serve")?.oneOf(["loopback": EmulatorServing.loopback, "tcp": .tcp]) ?? .loopback
            return EmulatorSetting(profile: url.standardizedFileURL, serving: serving)
        }

        let telemetryMap = try top.required("telemetry").mapping(allowed: ["endpoint", "snapshot", "security"])
        telemetry = TelemetrySetting(
            endpoint: try Self.endpoint(try telemetryMap.required("endpoint")),
            snapshotEndpoint: try Self.endpoint(try telemetryMap.required("snapshot")),
            security: try Self.security(try telemetryMap.required("security"), directory: directory))
        commandEndpoint = try top.optional("commands").map { (value) throws(ProfileError) in
            try Self.endpoint(try value.mapping(allowed: ["endpoint"]).required("endpoint"))
        }

        let loopMap = try top.required("loop").mapping(allowed: ["rate", "priority", "cpu", "lockMemory"])
        let rate = try loopMap.required("rate").quantity(FrequencyDimension.self).siValue
        guard rate >= 1, rate <= 100_000 else { throw try loopMap.required("rate").error("the loop rate must be from 1 Hz to 100 kHz") }
        loop = LoopSetting(
            rate: rate,
            priority: Int32(try loopMap.optional("priority")?.integer(in: 1...99) ?? 80),
            cpu: try loopMap.optional("cpu").map { v throws(ProfileError) in Int32(try v.integer(in: 0...4095)) },
            lockMemory: try loopMap.optional("lockMemory")?.boolean() ?? true)

        var ids = Set<String>()
        instruments = try (top.optional("instruments")?.list() ?? []).map { (item) throws(ProfileError) in
            let entry = try Self.instrument(item)
            guard ids.insert(entry.id).inserted else { throw try item.mapping(allowed: Self.instrumentKeys).required("id").error("duplicate instrument id \"\(entry.id)\"") }
            return entry
        }
        let instrumentsByID = Dictionary(uniqueKeysWithValues: instruments.map { ($0.id, $0) })

        var names = Set<String>()
        channels = try (top.optional("channels")?.list() ?? []).map { (item) throws(ProfileError) in
            let entry = try Self.channel(item, instruments: instrumentsByID)
            guard names.insert(entry.name).inserted else { throw try item.mapping(allowed: Self.channelKeys).required("name").error("duplicate channel \"\(entry.name)\"") }
            return entry
        }
        var lineNames = Set<String>()
        lines = try (top.optional("lines")?.list() ?? []).map { (item) throws(ProfileError) in
            let entry = try Self.line(item)
            guard lineNames.insert(entry.name).inserted, !ids.contains(entry.name) else {
                throw try item.mapping(allowed: Self.lineKeys).required("name").error("\"\(entry.name)\" is already the name of a line or instrument")
            }
            return entry
        }
        var qubitNames = Set<String>()
        qubits = try (top.optional("qubits")?.list() ?? []).map { (item) throws(ProfileError) in
            let entry = try Self.qubit(item, instruments: instrumentsByID)
            guard qubitNames.insert(entry.name).inserted else { throw try item.mapping(allowed: ["name"] + Self.qubitKeys).required("name").error("duplicate qubit \"\(entry.name)\"") }
            return entry
        }
        var particleNames = qubitNames
        particles = try (top.optional("particles")?.list() ?? []).map { (item) throws(ProfileError) in
            let m = try item.mapping(allowed: ["name", "advertise"])
            let name = try m.required("name").string()
            // Reserved by name on the command endpoint, like qubits, instruments and channels: no two may share one.
            guard !name.isEmpty, !name.contains("/"), !ids.contains(name), !names.contains(name), particleNames.insert(name).inserted else {
                throw try m.required("name").error("\"\(name)\" is empty, has a /, or is already the name of a qubit, particle, instrument or channel")
            }
            return ParticleEntry(name: name, advertised: try Self.advertised(try m.required("advertise")))
        }
        let channelUnits = Dictionary(uniqueKeysWithValues: channels.map { ($0.name, $0.reading.unit) }), lineByName = Dictionary(uniqueKeysWithValues: lines.map { ($0.name, $0) })
        safeState = try (top.optional("safeState")?.list() ?? []).map { (item) throws(ProfileError) in
            try Self.safeAction(item, instruments: instrumentsByID, lines: lineByName)
        }
        let targets = Set(safeState.map(\.target))
        var interlockNames = Set<String>()
        interlocks = try (top.optional("interlocks")?.list() ?? []).map { (item) throws(ProfileError) in
            let entry = try Self.interlock(item, channels: channelUnits, instruments: ids, lines: lineByName, targets: targets)
            guard interlockNames.insert(entry.name).inserted else { throw try item.mapping(allowed: Self.interlockKeys).required("name").error("duplicate interlock \"\(entry.name)\"") }
            return entry
        }
        let channels = self.channels
        admission = try top.optional("admission").map { (value) throws(ProfileError) in
            let m = try value.mapping(allowed: ["channel", "below"])
            let channel = try m.required("channel").string()
            guard let entry = channels.first(where: { $0.name == channel }) else {
                throw try m.required("channel").error("no channel \"\(channel)\"; the channels are \(channels.map(\.name).joined(separator: ", "))")
            }
            return Admission(channel: channel, below: try Self.threshold(try m.required("below"), unit: entry.reading.unit))
        }
        run = try (top.optional("run")?.list() ?? []).map { (item) throws(ProfileError) in try RunStep(item, qubits: qubitNames) }

        if emulator == nil, let loopback = instruments.first(where: { if case .loopback = $0.resource.address { true } else { false } }) {
            throw try root.mapping(allowed: Self.topKeys).required("instruments")
                .error("instrument \(loopback.id) is LOOPBACK::, which needs an emulator: {profile: …} section")
        }
    }

    static func endpoint(_ value: YAMLValue) throws(ProfileError) -> String {
        let text = try value.string()
        guard text.hasPrefix("tcp://") || text.hasPrefix("ipc://") || text.hasPrefix("inproc://") else {
            throw value.error("expected a ZeroMQ endpoint such as tcp://127.0.0.1:5556, got \"\(text)\"")
        }
        return text
    }

    /// `plaintext`, chosen explicitly, or `{curve: {secretKeyFile: node.key, allowedClients: [<Z85 public key>, …]}}`.
    static func security(_ value: YAMLValue, directory: URL) throws(ProfileError) -> TelemetryServerSecurity {
        if case .scalar = value.node {
            guard try value.string() == "plaintext" else { throw value.error("expected plaintext or {curve: {secretKeyFile, allowedClients}}") }
            return .plaintext
        }
        let curve = try value.mapping(allowed: ["curve"]).required("curve").mapping(allowed: ["secretKeyFile", "allowedClients"])
        let fileValue = try curve.required("secretKeyFile")
        let path = try fileValue.string()
        let url = path.hasPrefix("/") ? URL(fileURLWithPath: path) : directory.appendingPathComponent(path)
        let keys: CurveKeyPair
        do {
            let text = try String(contentsOf: url, encoding: .utf8)
            let secret = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                .compactMap { $0.hasPrefix("secret ") ? String($0.dropFirst(7)) : ($0.count == 40 ? $0 : nil) }.first ?? ""
            keys = try CurveKeyPair(secretKey: try CurveKey(z85: secret))
        } catch {
            throw fileValue.error("cannot read a Z85 CURVE secret key from \(url.path) (write one with `qrrm telemetry keygen`): \(error)")
        }
        var allowed = Set<CurveKey>()
        for item in try curve.required("allowedClients").list() {
            let text = try item.string()
            do { allowed.insert(try CurveKey(z85: text)) } catch { throw item.error("expected a client's Z85 public key (40 characters): \(error)") }
        }
        return .curve(serverKeys: keys, allowedClients: allowed)
    }

    static let instrumentKeys = ["id", "model", "resource", "tones", "window", "range"]

    static func instrument(_ item: YAMLValue) throws(ProfileError) -> InstrumentEntry {
        let m = try item.mapping(allowed: instrumentKeys)
        let kinds = Dictionary(uniqueKeysWithValues: InstrumentKind.allCases.map { ($0.rawValue, $0) })
        let kind = try m.required("model").oneOf(kinds)
        let resourceValue = try m.required("resource")
        let resourceText = try resourceValue.string()
        let resource: ResourceName
        do { resource = try ResourceName(parsing: resourceText) } catch { throw resourceValue.error("\(error)") }
        if case .gpio = resource.address { throw resourceValue.error("a GPIO line is not an instrument; list it under lines:") }
        let tones = try (m.optional("tones")?.list() ?? []).map { (v) throws(ProfileError) in try v.quantity(FrequencyDimension.self).siValue }
        if kind != .infiniiVision, let extra = ["tones", "window", "range"].first(where: { m.optional($0) != nil }) {
            throw try m.required(extra).error("only an infiniivision readout takes \(extra)")
        }
        return InstrumentEntry(
            id: try m.required("id").string(), kind: kind, resource: resource, tones: tones.isEmpty ? [25e6] : tones,
            window: try m.optional("window")?.quantity(TimeDimension.self).siValue ?? 400e-9,
            verticalRange: try m.optional("range")?.quantity(VoltageDimension.self).siValue ?? 0.04)
    }

    static let channelKeys = ["name", "instrument", "input", "stage", "sensor", "heater", "heaterPower", "every"]

    static func channel(_ item: YAMLValue, instruments: [String: InstrumentEntry]) throws(ProfileError) -> ChannelEntry {
        let m = try item.mapping(allowed: channelKeys)
        let name = try m.required("name").string()
        do { _ = try TelemetryTopic("node/\(name)/value") } catch { throw try m.required("name").error("a channel name is one topic level without /, got \"\(name)\"") }
        let instrumentValue = try m.required("instrument")
        let id = try instrumentValue.string()
        guard let instrument = instruments[id] else {
            throw instrumentValue.error("no instrument \"\(id)\"; the instruments are \(instruments.keys.sorted().joined(separator: ", "))")
        }
        let given = ["input", "stage", "sensor", "heater", "heaterPower"].filter { m.optional($0) != nil }
        guard given.count == 1, let key = given.first else { throw item.error("give exactly one of input, stage, sensor, heater or heaterPower") }
        let value = try m.required(key)
        let reading: Reading
        switch (key, instrument.kind) {
        case ("input", .lakeShore372): reading = .input(try value.string())
        case ("heater", .lakeShore372): reading = .heater(try value.integer(in: 0...2))
        case ("heaterPower", .lakeShore372):
            guard try value.integer(in: 0...2) == 0 else { throw value.error("only the sample heater (0) has a known load, so only its power can be read") }
            reading = .heaterPower(0)
        case ("stage", .triton):
            let stages = Dictionary(uniqueKeysWithValues: CryostatStage.allCases.map { ("\($0)", $0) })
            reading = .stage(try value.oneOf(stages))
        case ("sensor", .tpg366), ("sensor", .f71): reading = .sensor(try value.string())
        default: throw value.error("a \(instrument.kind.rawValue) has no \(key) reading")
        }
        let every = try m.optional("every")?.quantity(TimeDimension.self).siValue ?? 1
        guard every >= 1e-3, every <= 3600 else { throw try m.required("every").error("sample every 1 ms to 1 h") }
        return ChannelEntry(name: name, instrument: id, reading: reading, every: .nanoseconds(Int64(every * 1e9)))
    }

    static let lineKeys = ["name", "line", "role", "trips", "safe"]

    static func line(_ item: YAMLValue) throws(ProfileError) -> LineEntry {
        let m = try item.mapping(allowed: lineKeys)
        let lineValue = try m.required("line")
        let lineText = try lineValue.string()
        let resource: ResourceName
        do { resource = try ResourceName(parsing: lineText) } catch { throw lineValue.error("\(error)") }
        guard case .gpio = resource.address else { throw lineValue.error("expected a GPIO line, GPIO::<chip>::<offset>") }
        let levels = ["high": true, "low": false]
        let role: LineRole
        switch try m.required("role").oneOf(["trigger": 0, "interlock": 1, "output": 2]) {
        case 0: role = .trigger
        case 1: role = .interlock(tripsHigh: try m.required("trips").oneOf(levels))
        default: role = .output(safeHigh: try m.required("safe").oneOf(levels))
        }
        return LineEntry(name: try m.required("name").string(), resource: resource, role: role)
    }

    static let qubitKeys = ["drive", "readout", "advertise"]

    /// `{type: qudit, coherence: 150us, fidelity: 0.97, entanglementReady: false}`; the type is "qubit" unless given.
    static func advertised(_ value: YAMLValue) throws(ProfileError) -> Advertised {
        let a = try value.mapping(allowed: ["type", "coherence", "fidelity", "entanglementReady"])
        let type = try a.optional("type")?.string() ?? "qubit"
        guard !type.isEmpty, type.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else {
            throw try a.required("type").error("a particle type is a name of letters, digits and -, such as qubit, qudit or photon-pair")
        }
        let coherence = try a.required("coherence")
        let seconds = try coherence.quantity(TimeDimension.self).siValue
        guard seconds > 0 else { throw coherence.error("expected a positive coherence time, e.g. 80us") }
        return Advertised(type: type, coherenceTime: seconds, fidelity: try a.required("fidelity").fraction(),
                          entanglementReady: try a.optional("entanglementReady")?.boolean() ?? false)
    }

    static func qubit(_ item: YAMLValue, instruments: [String: InstrumentEntry]) throws(ProfileError) -> QubitEntry {
        let m = try item.mapping(allowed: ["name"] + qubitKeys)
        let drive = try m.required("drive").mapping(allowed: ["generator", "i", "q", "sampleRate", "rabiPerVolt", "piPulse"])
        let readout = try m.required("readout").mapping(allowed: ["instrument", "tone", "ground", "excited", "marker", "fidelity"])
        let generator = try drive.required("generator").string()
        guard instruments[generator]?.kind.isPulseGenerator == true else {
            throw try drive.required("generator").error("\"\(generator)\" is not a pulse generator of this station")
        }
        let scope = try readout.required("instrument").string()
        guard instruments[scope]?.kind == .infiniiVision else {
            throw try readout.required("instrument").error("\"\(scope)\" is not a readout (infiniivision) of this station")
        }
        let rabiValue = try drive.required("rabiPerVolt")
        let rabi = try rabiValue.quantity(FrequencyDimension.self).siValue
        guard rabi > 0 else { throw rabiValue.error("expected a positive Rabi frequency per volt, e.g. 50MHz") }
        let marker = try readout.optional("marker")?.mapping(allowed: ["channel", "number"])
        let fidelity = try readout.optional("fidelity").map { (value) throws(ProfileError) -> (ground: Double, excited: Double) in
            let pair = try value.list()
            guard pair.count == 2 else { throw value.error("expected [F0, F1], the ground and excited assignment fidelities") }
            let f = (ground: try pair[0].fraction(), excited: try pair[1].fraction())
            guard f.ground + f.excited > 1 else { throw value.error("assignment fidelities must sum to more than 1, got \(f.ground) + \(f.excited)") }
            return f
        }
        let advertised = try m.optional("advertise").map(Self.advertised)
        return QubitEntry(
            name: try m.required("name").string(), generator: generator,
            iChannel: try drive.optional("i")?.integer(in: 1...8) ?? 1, qChannel: try drive.optional("q")?.integer(in: 1...8) ?? 2,
            sampleRate: try drive.required("sampleRate").quantity(SampleRateDimension.self).siValue,
            rabiPerVolt: rabi, piPulse: try drive.required("piPulse").quantity(TimeDimension.self).siValue,
            readout: scope, tone: try readout.required("tone").quantity(FrequencyDimension.self).siValue,
            ground: try Self.point(try readout.required("ground")), excited: try Self.point(try readout.required("excited")),
            marker: (try marker?.optional("channel")?.integer(in: 1...8) ?? 1, try marker?.optional("number")?.integer(in: 1...4) ?? 1),
            fidelity: fidelity, advertised: advertised)
    }

    /// An IQ centre `[i, q]`, each a voltage.
    static func point(_ value: YAMLValue) throws(ProfileError) -> IQPoint {
        let pair = try value.list()
        guard pair.count == 2 else { throw value.error("expected [i, q], two voltages") }
        return IQPoint(i: try pair[0].quantity(VoltageDimension.self).siValue, q: try pair[1].quantity(VoltageDimension.self).siValue)
    }

    static func safeAction(_ item: YAMLValue, instruments: [String: InstrumentEntry], lines: [String: LineEntry]) throws(ProfileError) -> SafeAction {
        let m = try item.mapping(allowed: ["instrument", "outputs", "heaterOff", "line"])
        if let lineValue = m.optional("line") {
            let name = try lineValue.string()
            guard case .output = lines[name]?.role else { throw lineValue.error("\"\(name)\" is not an output line of this station") }
            return .line(name)
        }
        let instrumentValue = try m.required("instrument")
        let id = try instrumentValue.string()
        guard let instrument = instruments[id] else { throw instrumentValue.error("no instrument \"\(id)\"") }
        if let outputs = m.optional("outputs") {
            guard try outputs.string() == "off" else { throw outputs.error("the safe state of outputs is off") }
            guard instrument.kind.isPulseGenerator else { throw outputs.error("\(id) is not a pulse generator") }
            return .outputsOff(instrument: id)
        }
        let heater = try m.required("heaterOff")
        guard instrument.kind == .lakeShore372 else { throw heater.error("\(id) has no heater outputs this runtime drives") }
        return .heaterOff(instrument: id, output: try heater.integer(in: 0...2))
    }

    static let interlockKeys = ["name", "channel", "above", "below", "line", "instrumentLost", "after", "watchdog", "severity", "targets"]

    static func interlock(
        _ item: YAMLValue, channels: [String: String], instruments: Set<String>, lines: [String: LineEntry], targets: Set<String>
    ) throws(ProfileError) -> InterlockEntry {
        let m = try item.mapping(allowed: interlockKeys)
        let condition: Condition
        if let channelValue = m.optional("channel") {
            let channel = try channelValue.string()
            guard let unit = channels[channel] else { throw channelValue.error("no channel \"\(channel)\"") }
            switch (m.optional("above"), m.optional("below")) {
            case let (above?, nil): condition = .above(channel: channel, threshold: try Self.threshold(above, unit: unit))
            case let (nil, below?): condition = .below(channel: channel, threshold: try Self.threshold(below, unit: unit))
            default: throw item.error("a channel interlock takes exactly one of above or below")
            }
        } else if let lineValue = m.optional("line") {
            let name = try lineValue.string()
            guard case .interlock = lines[name]?.role else { throw lineValue.error("\"\(name)\" is not an interlock line of this station") }
            condition = .line(name)
        } else if let lost = m.optional("instrumentLost") {
            let id = try lost.string()
            guard instruments.contains(id) else { throw lost.error("no instrument \"\(id)\"") }
            let after = try m.optional("after")?.quantity(TimeDimension.self).siValue ?? 5
            condition = .instrumentLost(instrument: id, after: .nanoseconds(Int64(after * 1e9)))
        } else if let watchdog = m.optional("watchdog") {
            let timeout = try watchdog.quantity(TimeDimension.self).siValue
            guard timeout > 0 else { throw watchdog.error("expected a positive timeout") }
            condition = .watchdog(timeout: .nanoseconds(Int64(timeout * 1e9)))
        } else {
            throw item.error("an interlock needs channel (with above or below), line, instrumentLost or watchdog")
        }
        let severities = Dictionary(uniqueKeysWithValues: Severity.allCases.map { ($0.rawValue, $0) })
        let named = try (m.optional("targets")?.list() ?? []).map { (v) throws(ProfileError) in
            let target = try v.string()
            guard targets.contains(target) else { throw v.error("\"\(target)\" has no safeState entry") }
            return target
        }
        return InterlockEntry(
            name: try m.required("name").string(), condition: condition,
            severity: try m.optional("severity")?.oneOf(severities) ?? .critical, targets: named)
    }

    /// A limit in its channel's unit: a temperature (K), pressure (Pa) or field (T) written with its unit
    /// ("50mK", "1e-4mbar", "10mT"), or a bare number for a heater's %.
    static func threshold(_ value: YAMLValue, unit: String) throws(ProfileError) -> Double {
        switch unit {
        case "K": try value.quantity(TemperatureDimension.self).siValue
        case "Pa": try value.quantity(PressureDimension.self).siValue
        case "T": try value.quantity(MagneticFieldDimension.self).siValue
        default: try value.number()
        }
    }
}
