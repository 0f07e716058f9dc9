import Foundation
import Quantities
import HAL

/// The instrument families the emulator speaks.
public enum InstrumentKind: String, Sendable, Hashable, CaseIterable {
    case lakeShore372 = "lakeshore372"
    case triton
    case tpg366
    case f71
    case keysight33500B = "keysight33500b"
    case awg5200
    case infiniiVision = "infiniivision"

    /// The TCP port the manufacturer documents: 7777 for Lake Shore (372 and F71), 33576 for the Triton
    /// remote interface, 8000 for the MaxiGauge's Ethernet interface, 5025 (the SCPI socket) for Keysight,
    /// 4000 for Tektronix AWGs.
    public var documentedPort: UInt16 {
        switch self {
        case .lakeShore372, .f71: 7777
        case .triton: 33576
        case .tpg366: 8000
        case .keysight33500B, .infiniiVision: 5025
        case .awg5200: 4000
        }
    }

    /// Whether the instrument plays pulse programs to the qubit testbed.
    public var isPulseGenerator: Bool { self == .keysight33500B || self == .awg5200 }
}

/// One thermometer input of an instrument: its channel, name, stage and RuOx characteristic.
public struct ThermometerChannel: Sendable, Hashable {
    /// The instrument's channel name: `A` (the control input) or `1`…`16` on the 372, `T1`…`T16` on the Triton.
    public var channel: String
    public var name: String
    public var stage: StageID
    public var sensor: RuOxSensor
}

/// Reply faults injected on one instrument's wire, all drawn from a seeded generator.
public struct FaultProfile: Sendable, Hashable {
    /// How long a reply waits before it is sent.
    public enum Latency: Sendable, Hashable {
        case none
        case fixed(milliseconds: Double)
        case uniform(minimumMilliseconds: Double, maximumMilliseconds: Double)
        case exponential(meanMilliseconds: Double)
    }

    /// The longest latency a profile may ask for, in milliseconds: one minute, longer than any
    /// driver's timeout, so a connection never stalls for longer.
    public static let maximumLatencyMilliseconds = 60_000.0

    public var latency: Latency = .none
    /// Probability that a reply is never sent.
    public var dropProbability: Double = 0
    /// Probability that some bytes of a reply are replaced by garbage.
    public var garbleProbability: Double = 0
    /// Probability that a reply loses its second half (and its terminator).
    public var truncateProbability: Double = 0
    /// After this many replies on one connection the instrument drops that connection (nil: never);
    /// every connection counts its own replies.
    public var disconnectAfterReplies: Int?
    /// Channels whose sensor leads are open from the start.
    public var openCircuitChannels: [String] = []

    public init() {}
}

/// A speed factor outside 0 < factor ≤ `HardwareProfile.maximumSpeedFactor`.
public struct SpeedFactorError: Error, Sendable, Equatable, CustomStringConvertible {
    public let value: Double

    public var description: String {
        "the speed factor must be a positive number of at most \(HardwareProfile.maximumSpeedFactor) simulated seconds per real second, got \(value)"
    }
}

/// One emulated instrument in a station profile.
public struct InstrumentProfile: Sendable, Hashable {
    /// The id used in `LOOPBACK::<id>` and in the station's list.
    public var id: String
    public var kind: InstrumentKind
    /// The TCP port to serve on; nil means the documented port, 0 any free port.
    public var port: UInt16?
    public var serialNumber: String
    public var firmware: String
    /// The exact model within the family (`33522B`, `AWG5204`, `DSOX3034T`); nil takes the family's default.
    public var modelNumber: String?
    /// Installed options as the instrument lists them in `*OPT?` (e.g. `MEM` for 16 MSa of arb memory).
    public var options: [String] = []
    /// A readout's intermediate frequencies in Hz, one per qubit it reads in the order of `qubits:`
    /// (`tones: [25MHz, 45MHz]`); empty takes 25 MHz, 45 MHz, … .
    public var tones: [Double] = []
    public var thermometers: [ThermometerChannel] = []
    /// Pressure gauge ids in the order the instrument numbers them (TPG 366: gauges 1–6; Triton: P1…).
    public var gauges: [String] = []
    /// Heater outputs by role: `sample`, `warmup`, `still` (372) or `loop` (Triton) → physics heater id.
    public var heaters: [String: String] = [:]
    /// Triton: the channel that carries the temperature control loop.
    public var loopChannel: String?
    public var faults = FaultProfile()
}

/// Something the profile schedules at a simulated time.
public struct ScheduledEvent: Sendable, Hashable {
    public enum Action: Sendable, Hashable {
        case quench(stage: StageID, joules: Double, seconds: Double)
        case pressureSpike(factor: Double, decaySeconds: Double)
        case openCircuit(sensor: String, open: Bool)
        case cooldown
        case warmUp
    }

    /// Simulated seconds from the start.
    public var at: Double
    public var action: Action
}

/// A station: the fridge's physics and the instruments that read it, loaded from YAML.
public struct HardwareProfile: Sendable, Hashable {
    public var name: String
    /// Simulated seconds per real second.
    public var speedFactor: Double
    public var physics: PhysicsSpec
    public var events: [ScheduledEvent]
    public var instruments: [InstrumentProfile]
    /// The qubits behind the pulse generators and readouts (`qubits:`), when the station has any.
    public var testbed: TestbedSpec?

    /// The largest speed factor: 10⁵ simulated seconds per real second (a day in under a second), which
    /// keeps each 10 ms clock tick to about 1000 simulated seconds of physics.
    public static let maximumSpeedFactor = 1e5

    /// This profile running at `factor` simulated seconds per real second (`qrrm emulate --speed-factor`).
    /// Throws unless the factor is finite, positive and at most `maximumSpeedFactor`.
    public func withSpeedFactor(_ factor: Double) throws(SpeedFactorError) -> HardwareProfile {
        var profile = self
        profile.speedFactor = try Self.checkedSpeedFactor(factor)
        return profile
    }

    /// `factor` if it is finite, positive and at most `maximumSpeedFactor`.
    static func checkedSpeedFactor(_ factor: Double) throws(SpeedFactorError) -> Double {
        guard factor.isFinite, factor > 0, factor <= maximumSpeedFactor else { throw SpeedFactorError(value: factor) }
        return factor
    }

    /// Loads a profile file; any problem is reported with the file, line, column and key path.
    public init(contentsOf url: URL) throws(ProfileError) {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw ProfileError(file: url.lastPathComponent, line: 1, column: 1, keyPath: "", message: "cannot read the file: \(error.localizedDescription)")
        }
        try self.init(yaml: text, file: url.lastPathComponent, directory: url.deletingLastPathComponent())
    }

    /// How deep `extends` may chain (a profile extending one that extends another …).
    static let maximumExtendsDepth = 4

    /// Parses profile text; `file` names it in error messages. `extends: <file>` names a base profile,
    /// looked up in `directory`: this profile then takes the base's physics, events, instruments and speed,
    /// replaces each section it gives itself (`physics`, `events`, `seed`, `speedFactor`), and adds its own
    /// instruments after the base's.
    public init(yaml: String, file: String, directory: URL? = nil) throws(ProfileError) {
        try self.init(yaml: yaml, file: file, directory: directory, depth: 0)
    }

    private init(yaml: String, file: String, directory: URL?, depth: Int) throws(ProfileError) {
        let root = try parseYAML(yaml, file: file).mapping(
            allowed: ["name", "extends", "speedFactor", "seed", "physics", "events", "instruments", "qubits"])
        var base: HardwareProfile? = nil
        if let extends = root.optional("extends") {
            let baseFile = try extends.string()
            guard let directory else { throw extends.error("extends needs the profile to be read from a file, so \"\(baseFile)\" can be found next to it") }
            guard depth < Self.maximumExtendsDepth else {
                throw extends.error("extends chains more than \(Self.maximumExtendsDepth) profiles deep (is there a cycle?)")
            }
            let url = directory.appendingPathComponent(baseFile)
            guard let text = try? String(contentsOf: url, encoding: .utf8) else {
                throw extends.error("cannot read the base profile \(url.path)")
            }
            base = try HardwareProfile(yaml: text, file: url.lastPathComponent, directory: url.deletingLastPathComponent(), depth: depth + 1)
        }
        name = try root.required("name").string()
        speedFactor = base?.speedFactor ?? 1
        if let factor = root.optional("speedFactor") {
            speedFactor = try factor.positiveNumber()
            guard speedFactor <= Self.maximumSpeedFactor else {
                throw factor.error("must be at most \(Self.maximumSpeedFactor) (simulated seconds per real second), got \(speedFactor)")
            }
        }
        let seed = try root.optional("seed").map { v throws(ProfileError) in UInt64(try v.integer(in: 0...Int.max)) }
        if let base, root.optional("physics") == nil {
            physics = base.physics
            if let seed { physics.seed = seed }
        } else {
            physics = try ProfileReader.physics(root.required("physics"), seed: seed ?? 1)
        }
        events = try root.optional("events").map { value throws(ProfileError) in try value.list().map(ProfileReader.event) } ?? base?.events ?? []
        let own = try root.optional("instruments").map { v throws(ProfileError) in try v.list().map(ProfileReader.instrument) }
        if base == nil, own == nil { _ = try root.required("instruments") }
        instruments = (base?.instruments ?? []) + (own ?? [])
        var seen: Set<String> = []
        for (index, instrument) in instruments.enumerated() where !seen.insert(instrument.id).inserted {
            let ownIndex = index - (base?.instruments.count ?? 0)
            let value = try root.required("instruments").list()[ownIndex]
            throw try value.mapping(allowed: ProfileReader.instrumentKeys).required("id").error("duplicate instrument id \"\(instrument.id)\"")
        }
        if own != nil { try ProfileReader.check(Array(instruments.dropFirst(base?.instruments.count ?? 0)), against: physics, root: root) }
        if let section = root.optional("qubits") {
            let spec = try QubitProfileReader.qubits(section, seed: physics.seed)
            try ProfileReader.check(spec, against: instruments, section: section)
            testbed = spec
        } else {
            testbed = base?.testbed
        }
    }
}

/// The schema, one function per section.
enum ProfileReader {
    static let stageNames: [String: StageID] = Dictionary(uniqueKeysWithValues: StageID.allCases.map { ($0.rawValue, $0) })
    static let phases: [String: CirculationPhase] = [
        "precooling": .precooling, "condensing": .condensing, "circulating": .circulating, "warmingUp": .warmingUp, "idle": .idle,
    ]
    static let instrumentKeys = ["id", "model", "modelNumber", "options", "tones", "port", "serialNumber", "firmware", "thermometers", "gauges", "heaters", "loopChannel", "faults"]

    static func physics(_ value: YAMLValue, seed: UInt64) throws(ProfileError) -> PhysicsSpec {
        let map = try value.mapping(allowed: [
            "roomKelvin", "initialPhase", "initialKelvin", "materials", "stages", "links", "pulseTube", "dilutionUnit",
            "heaters", "gauges", "field",
        ])
        let room = try map.optional("roomKelvin")?.positiveNumber() ?? 300
        var materials: [String: HeatCapacityModel] = ["copper": .copper]
        for (key, entry) in try map.optional("materials")?.pairs() ?? [] {
            let m = try entry.mapping(allowed: ["gamma", "beta"])
            materials[try key.string()] = HeatCapacityModel(gamma: try m.required("gamma").positiveNumber(), beta: try m.required("beta").positiveNumber())
        }
        var stages: [StageSpec] = []
        for (key, entry) in try map.required("stages").pairs() {
            let id = try key.oneOf(stageNames)
            let m = try entry.mapping(allowed: ["copperMoles", "materials", "staticLoad"])
            var parts: [StageSpec.Material] = []
            if let copper = m.optional("copperMoles") {
                parts.append(.init(name: "copper", heatCapacity: .copper, moles: try copper.positiveNumber()))
            }
            for item in try m.optional("materials")?.list() ?? [] {
                let mm = try item.mapping(allowed: ["name", "moles"])
                let nameValue = try mm.required("name")
                let name = try nameValue.string()
                guard let model = materials[name] else {
                    throw nameValue.error("unknown material \"\(name)\"; define it under physics.materials (known: \(materials.keys.sorted().joined(separator: ", ")))")
                }
                parts.append(.init(name: name, heatCapacity: model, moles: try mm.required("moles").positiveNumber()))
            }
            guard !parts.isEmpty else { throw entry.error("a stage needs copperMoles or materials (its heat capacity)") }
            stages.append(StageSpec(id: id, materials: parts, staticLoad: try m.optional("staticLoad")?.nonNegativeNumber() ?? 0))
        }
        for required in [StageID.fiftyKelvin, .fourKelvin, .still, .coldPlate, .mixingChamber] where !stages.contains(where: { $0.id == required }) {
            throw try map.required("stages").error("missing stage \(required.rawValue)")
        }
        var links: [ThermalLink] = []
        for item in try map.optional("links")?.list() ?? [] {
            let m = try item.mapping(allowed: ["from", "to", "coefficient", "exponent", "onlyDuring"])
            let nodes = stageNames.mapValues { ThermalNode.stage($0) }.merging(["room": .room]) { a, _ in a }
            links.append(ThermalLink(
                try m.required("from").oneOf(nodes), try m.required("to").oneOf(nodes),
                coefficient: try m.required("coefficient").positiveNumber(),
                exponent: try m.required("exponent").nonNegativeNumber(),
                onlyDuring: try m.optional("onlyDuring").map { v throws(ProfileError) in Set(try v.list().map { p throws(ProfileError) in try p.oneOf(phases) }) }))
        }
        let pt = try map.required("pulseTube").mapping(allowed: ["firstStage", "secondStage"])
        let pulseTube = PulseTubeSpec(firstStage: try curve(pt.required("firstStage")), secondStage: try curve(pt.required("secondStage")))
        let du = try map.required("dilutionUnit").mapping(allowed: [
            "nominalCirculation", "maximumCirculation", "stillReferenceKelvin", "latentHeat", "heatExchangerEffectiveness",
            "condensingHours", "condenseBelowKelvin",
        ])
        let nominal = try du.required("nominalCirculation").positiveNumber()
        let dilution = DilutionUnitSpec(
            nominalCirculation: nominal,
            maximumCirculation: try du.optional("maximumCirculation")?.positiveNumber() ?? 2 * nominal,
            stillReferenceKelvin: try du.required("stillReferenceKelvin").positiveNumber(),
            latentHeat: try du.required("latentHeat").positiveNumber(),
            heatExchangerEffectiveness: try du.optional("heatExchangerEffectiveness")?.fraction() ?? 0.5,
            condensingSeconds: (try du.optional("condensingHours")?.nonNegativeNumber() ?? 2) * 3600,
            condenseBelowKelvin: try du.optional("condenseBelowKelvin")?.positiveNumber() ?? 4.5)
        let phase = try map.optional("initialPhase")?.oneOf(phases) ?? .circulating
        var initial: [StageID: Double] = [:]
        for (key, entry) in try map.optional("initialKelvin")?.pairs() ?? [] {
            initial[try key.oneOf(stageNames)] = try entry.positiveNumber()
        }
        var heaters: [String: HeaterLoop] = [:]
        for (key, entry) in try map.optional("heaters")?.pairs() ?? [] {
            heaters[try key.string()] = try heater(entry)
        }
        let gauges = try map.optional("gauges")?.list().map(gauge) ?? []
        var field = MagneticFieldSpec(x: 0, y: 0, z: 0, noise: 0)
        if let f = map.optional("field") {
            let m = try f.mapping(allowed: ["x", "y", "z", "noise"])
            field = MagneticFieldSpec(
                x: try m.optional("x")?.number() ?? 0, y: try m.optional("y")?.number() ?? 0,
                z: try m.optional("z")?.number() ?? 0, noise: try m.optional("noise")?.nonNegativeNumber() ?? 0)
        }
        let thermal = ThermalSpec(roomKelvin: room, stages: stages, links: links, pulseTube: pulseTube, dilutionUnit: dilution)
        return PhysicsSpec(thermal: thermal, initialKelvin: initial, initialPhase: phase, heaters: heaters, gauges: gauges, field: field, seed: seed)
    }

    static func curve(_ value: YAMLValue) throws(ProfileError) -> CoolingCurve {
        var points: [CoolingCurve.Point] = []
        for item in try value.list() {
            let pair = try item.list()
            guard pair.count == 2 else { throw item.error("expected [kelvin, watts]") }
            points.append(.init(kelvin: try pair[0].positiveNumber(), watts: try pair[1].nonNegativeNumber()))
        }
        guard points.count >= 2 else { throw value.error("a cooling curve needs at least two [kelvin, watts] points") }
        guard zip(points, points.dropFirst()).allSatisfy({ $0.kelvin < $1.kelvin }) else {
            throw value.error("the points' temperatures must increase strictly")
        }
        return CoolingCurve(points)
    }

    static func heater(_ value: YAMLValue) throws(ProfileError) -> HeaterLoop {
        let m = try value.mapping(allowed: ["stage", "controlStage", "resistance", "fullScaleCurrent", "mode", "percent", "setpoint", "P", "I", "D"])
        let stage = try m.required("stage").oneOf(stageNames)
        var loop = HeaterLoop(stage: stage, controlStage: try m.optional("controlStage")?.oneOf(stageNames) ?? stage,
                              resistance: try m.required("resistance").positiveNumber())
        loop.fullScaleCurrent = try m.optional("fullScaleCurrent")?.nonNegativeNumber() ?? 0
        loop.mode = try m.optional("mode")?.oneOf([
            "off": HeaterMode.off, "openLoop": .openLoop, "closedLoop": .closedLoop, "still": .still, "warmUp": .warmUp,
        ]) ?? .off
        loop.manualPercent = try m.optional("percent")?.nonNegativeNumber() ?? 0
        if let setpoint = try m.optional("setpoint")?.nonNegativeNumber() { loop.setSetpoint(setpoint, currentTemperature: setpoint) }
        loop.gains = PIDGains(
            proportional: try m.optional("P")?.nonNegativeNumber() ?? 2,
            integral: try m.optional("I")?.nonNegativeNumber() ?? 20,
            derivative: try m.optional("D")?.nonNegativeNumber() ?? 0)
        return loop
    }

    static func gauge(_ value: YAMLValue) throws(ProfileError) -> PressureGaugeSpec {
        let m = try value.mapping(allowed: ["id", "baseMillibar", "stage", "referenceKelvin", "exponent", "millibarPerMicromolePerSecond", "minimumMillibar", "maximumMillibar"])
        let minimum = try m.optional("minimumMillibar")?.nonNegativeNumber() ?? 5e-10
        let maximum = try m.optional("maximumMillibar")?.positiveNumber() ?? 1100
        if minimum > maximum, let key = m.optional("minimumMillibar") ?? m.optional("maximumMillibar") {
            throw key.error("minimumMillibar (\(minimum)) must not exceed maximumMillibar (\(maximum))")
        }
        return PressureGaugeSpec(
            id: try m.required("id").string(),
            baseMillibar: try m.required("baseMillibar").nonNegativeNumber(),
            stage: try m.required("stage").oneOf(stageNames),
            referenceKelvin: try m.optional("referenceKelvin")?.positiveNumber() ?? 300,
            exponent: try m.optional("exponent")?.number() ?? 0,
            millibarPerMicromolePerSecond: try m.optional("millibarPerMicromolePerSecond")?.nonNegativeNumber() ?? 0,
            minimumMillibar: minimum,
            maximumMillibar: maximum)
    }

    static func event(_ value: YAMLValue) throws(ProfileError) -> ScheduledEvent {
        let m = try value.mapping(allowed: ["atHours", "quench", "pressureSpike", "openCircuit", "closeCircuit", "cooldown", "warmUp"])
        let at = try m.required("atHours").nonNegativeNumber() * 3600
        let actions = ["quench", "pressureSpike", "openCircuit", "closeCircuit", "cooldown", "warmUp"].filter { m.optional($0) != nil }
        if actions.count > 1, let second = m.optional(actions[1]) {
            throw second.error("an event takes exactly one action, got \(actions.joined(separator: " and ")); give each its own event")
        }
        if let q = m.optional("quench") {
            let qm = try q.mapping(allowed: ["stage", "joules", "seconds"])
            return ScheduledEvent(at: at, action: .quench(stage: try qm.required("stage").oneOf(stageNames),
                                                          joules: try qm.required("joules").positiveNumber(),
                                                          seconds: try qm.optional("seconds")?.positiveNumber() ?? 1))
        }
        if let s = m.optional("pressureSpike") {
            let sm = try s.mapping(allowed: ["factor", "decaySeconds"])
            return ScheduledEvent(at: at, action: .pressureSpike(factor: try sm.required("factor").positiveNumber(),
                                                                 decaySeconds: try sm.optional("decaySeconds")?.positiveNumber() ?? 60))
        }
        if let o = m.optional("openCircuit") { return ScheduledEvent(at: at, action: .openCircuit(sensor: try o.string(), open: true)) }
        if let c = m.optional("closeCircuit") { return ScheduledEvent(at: at, action: .openCircuit(sensor: try c.string(), open: false)) }
        if m.optional("cooldown") != nil { return ScheduledEvent(at: at, action: .cooldown) }
        if m.optional("warmUp") != nil { return ScheduledEvent(at: at, action: .warmUp) }
        throw value.error("an event needs one of quench, pressureSpike, openCircuit, closeCircuit, cooldown, warmUp")
    }

    static func instrument(_ value: YAMLValue) throws(ProfileError) -> InstrumentProfile {
        let m = try value.mapping(allowed: instrumentKeys)
        let kind = try m.required("model").oneOf(Dictionary(uniqueKeysWithValues: InstrumentKind.allCases.map { ($0.rawValue, $0) }))
        var profile = InstrumentProfile(
            id: try m.required("id").string(), kind: kind,
            port: try m.optional("port").map { v throws(ProfileError) in UInt16(try v.integer(in: 0...65535)) },
            serialNumber: try m.optional("serialNumber")?.string() ?? "EMU0001",
            firmware: try m.optional("firmware")?.string() ?? "1.0")
        for item in try m.optional("thermometers")?.list() ?? [] {
            let t = try item.mapping(allowed: ["channel", "name", "stage", "r0", "t0", "exponent"])
            let channelValue = try t.required("channel")
            let channel = try channelValue.string()
            switch kind {
            case .lakeShore372:
                guard channel == "A" || Int(channel).map({ (1...16).contains($0) }) == true else {
                    throw channelValue.error("a Lake Shore 372 input is A (the control input) or 1 to 16, got \"\(channel)\"")
                }
            case .triton:
                guard channel.hasPrefix("T"), let n = Int(channel.dropFirst()), (1...16).contains(n) else {
                    throw channelValue.error("a Triton channel is T1 to T16, got \"\(channel)\"")
                }
            case .tpg366, .f71, .keysight33500B, .awg5200, .infiniiVision:
                throw item.error("a \(kind.rawValue) has no thermometers")
            }
            profile.thermometers.append(ThermometerChannel(
                channel: channel, name: try t.optional("name")?.string() ?? channel, stage: try t.required("stage").oneOf(stageNames),
                sensor: RuOxSensor(r0: try t.required("r0").positiveNumber(), t0: try t.required("t0").positiveNumber(),
                                   exponent: try t.optional("exponent")?.positiveNumber() ?? 0.5)))
        }
        profile.modelNumber = try m.optional("modelNumber")?.string()
        profile.options = try m.optional("options")?.list().map { v throws(ProfileError) in try v.string() } ?? []
        if let t = m.optional("tones") {
            guard kind == .infiniiVision else { throw t.error("only a readout (infiniivision) has tones") }
            for item in try t.list() {
                let text = try item.string()
                guard let hertz = try? Frequency(parsing: text).hertz, hertz > 0 else {
                    throw item.error("expected a positive frequency such as 25MHz, got \"\(text)\"")
                }
                profile.tones.append(hertz)
            }
        }
        if let number = profile.modelNumber {
            let known: [String]
            switch kind {
            case .keysight33500B: known = Keysight33500BModel.numbers
            case .awg5200: known = TektronixAWG5200Twin.supportedModels.keys.sorted()
            case .infiniiVision: known = ["DSOX3014T", "DSOX3024T", "DSOX3034T", "DSOX3054T", "DSOX3104T", "DSOX4024A", "DSOX4034A", "DSOX4054A", "DSOX4104A", "DSOX4154A"]
            default: known = []
            }
            guard known.contains(number) else {
                throw try m.required("modelNumber").error(known.isEmpty
                    ? "a \(kind.rawValue) has no model variants; remove modelNumber"
                    : "unknown \(kind.rawValue) model \"\(number)\"; known: \(known.joined(separator: ", "))")
            }
        }
        profile.gauges = try m.optional("gauges")?.list().map { v throws(ProfileError) in try v.string() } ?? []
        if kind == .tpg366, profile.gauges.count > 6 { throw try m.required("gauges").error("a TPG 366 has six gauge channels") }
        for (key, entry) in try m.optional("heaters")?.pairs() ?? [] {
            profile.heaters[try key.string()] = try entry.string()
        }
        profile.loopChannel = try m.optional("loopChannel")?.string()
        if let f = m.optional("faults") { profile.faults = try faults(f) }
        return profile
    }

    static func faults(_ value: YAMLValue) throws(ProfileError) -> FaultProfile {
        let m = try value.mapping(allowed: ["latency", "dropProbability", "garbleProbability", "truncateProbability", "disconnectAfterReplies", "openCircuitChannels"])
        var faults = FaultProfile()
        if let l = m.optional("latency") {
            let lm = try l.mapping(allowed: ["distribution", "milliseconds", "maximumMilliseconds"])
            let kind = try lm.required("distribution").oneOf(["fixed": 0, "uniform": 1, "exponential": 2])
            let ms = try lm.required("milliseconds").latencyMilliseconds()
            switch kind {
            case 0: faults.latency = .fixed(milliseconds: ms)
            case 1:
                let maxValue = try lm.required("maximumMilliseconds")
                let max = try maxValue.latencyMilliseconds()
                guard max >= ms else { throw maxValue.error("must be at least milliseconds (\(ms))") }
                faults.latency = .uniform(minimumMilliseconds: ms, maximumMilliseconds: max)
            default: faults.latency = .exponential(meanMilliseconds: ms)
            }
        }
        faults.dropProbability = try m.optional("dropProbability")?.fraction() ?? 0
        faults.garbleProbability = try m.optional("garbleProbability")?.fraction() ?? 0
        faults.truncateProbability = try m.optional("truncateProbability")?.fraction() ?? 0
        faults.disconnectAfterReplies = try m.optional("disconnectAfterReplies")?.integer(in: 1...Int.max)
        faults.openCircuitChannels = try m.optional("openCircuitChannels")?.list().map { v throws(ProfileError) in try v.string() } ?? []
        return faults
    }

    /// Cross-references of the `qubits:` section: drives come from pulse generators, readouts are instruments.
    static func check(_ spec: TestbedSpec, against instruments: [InstrumentProfile], section: YAMLValue) throws(ProfileError) {
        let kinds = Dictionary(instruments.map { ($0.id, $0.kind) }, uniquingKeysWith: { a, _ in a })
        let items = try section.list()
        for (index, qubit) in spec.qubits.enumerated() {
            let m = try items[index].mapping(allowed: QubitProfileReader.qubitKeys)
            if let drive = qubit.drive, kinds[drive.generator]?.isPulseGenerator != true {
                throw try m.required("drive").mapping(allowed: ["generator", "i", "q"]).required("generator")
                    .error("no pulse generator \"\(drive.generator)\" among the instruments (\(instruments.filter(\.kind.isPulseGenerator).map(\.id).joined(separator: ", ")))")
            }
            if let readout = qubit.readout, kinds[readout] == nil {
                throw try m.required("readout").error("no instrument \"\(readout)\" for this readout")
            }
        }
        for wiring in spec.readouts where kinds[wiring.trigger.generator]?.isPulseGenerator != true {
            throw section.error("readout \(wiring.instrument) is triggered by \"\(wiring.trigger.generator)\", which is not a pulse generator of this profile")
        }
        do { try spec.validate() } catch { throw section.error("\(error)") }
    }

    /// Cross-references: heaters, gauges and loop channels an instrument names must exist.
    static func check(_ instruments: [InstrumentProfile], against physics: PhysicsSpec, root: YAMLMapping) throws(ProfileError) {
        let list = try root.required("instruments").list()
        for (index, instrument) in instruments.enumerated() {
            let m = try list[index].mapping(allowed: instrumentKeys)
            for (role, heater) in instrument.heaters where physics.heaters[heater] == nil {
                throw try m.required("heaters").error("\(role): no heater \"\(heater)\" under physics.heaters")
            }
            for gauge in instrument.gauges where !physics.gauges.contains(where: { $0.id == gauge }) {
                throw try m.required("gauges").error("no gauge \"\(gauge)\" under physics.gauges")
            }
            for stage in instrument.thermometers.map(\.stage) where !physics.thermal.stages.contains(where: { $0.id == stage }) {
                throw try m.required("thermometers").error("the fridge has no stage \(stage.rawValue)")
            }
        }
    }
}
