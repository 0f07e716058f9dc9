import Drivers
import Emulator
import Foundation
import HAL
import Runtime
import Synchronization
import Telemetry
import Testing

/// A GPIO line in memory, for the interlock-line and safe-output tests (CI has no GPIO chip).
final class MemoryLine: DigitalLine, @unchecked Sendable {
    let resource: ResourceName
    private let level: Mutex<Bool>
    let writes = Atomic<Int>(0)

    init(_ name: String, active: Bool) {
        resource = ResourceName(.gpio(chip: "memory", line: 0))
        level = Mutex(active)
        _ = name
    }

    func isActive() throws(InstrumentError) -> Bool { level.withLock { $0 } }
    func setActive(_ active: Bool) throws(InstrumentError) {
        level.withLock { $0 = active }
        writes.add(1, ordering: .relaxed)
    }
}

/// Nodes on the emulated LD400 testbed: every kind of interlock trips, drives its safe state within one loop
/// cycle, raises its alarm on telemetry, and re-arms only on an acknowledge once its condition has cleared.
@Suite("Node interlocks on the emulated station", .serialized)
struct NodeTests {
    static let profile = StationTests.stations.deletingLastPathComponent().appendingPathComponent("transmon-testbed.yaml")

    /// A station on the emulator with `channels`, `lines` and `interlocks` (YAML list bodies) and a 200 Hz loop.
    static func station(channels: String, lines: String = "", interlocks: String, admission: String = "") throws -> Station {
        let yaml = """
            node: test-node
            emulator: {profile: \(profile.path)}
            telemetry: {endpoint: "tcp://127.0.0.1:*", snapshot: "tcp://127.0.0.1:*", security: plaintext}
            loop: {rate: 200Hz, priority: 50, lockMemory: false}
            instruments:
              - {id: ls372, model: lakeshore372, resource: "LOOPBACK::ls372"}
              - {id: maxigauge, model: tpg366, resource: "LOOPBACK::maxigauge"}
              - {id: awg, model: awg5200, resource: "LOOPBACK::awg"}
            channels:
            \(channels)
            \(lines.isEmpty ? "" : "lines:\n\(lines)")
            interlocks:
            \(interlocks)
            safeState:
              - {instrument: awg, outputs: off}
              - {instrument: ls372, heaterOff: 0}
            \(lines.contains("role: output") ? "  - {line: rf-switch}" : "")
            \(admission)
            """
        return try Station(yaml: yaml, file: URL(fileURLWithPath: "/tmp/test-node.yaml"))
    }

    /// A station with one qubit, q0, on the emulator's AWG5200 and InfiniiVision (readout `centres`), the
    /// mixing chamber's temperature as channel `mxc` with a 100 mK interlock, and `admission` if given.
    static func qubitStation(node: String, centres: String = "ground: [1.0mV, 0.2mV], excited: [-0.6mV, 0.9mV]",
                             admission: String = "") throws -> Station {
        let yaml = """
            node: \(node)
            emulator: {profile: \(profile.path)}
            telemetry: {endpoint: "tcp://127.0.0.1:*", snapshot: "tcp://127.0.0.1:*", security: plaintext}
            loop: {rate: 200Hz, lockMemory: false}
            instruments:
              - {id: ls372, model: lakeshore372, resource: "LOOPBACK::ls372"}
              - {id: awg, model: awg5200, resource: "LOOPBACK::awg"}
              - {id: scope, model: infiniivision, resource: "LOOPBACK::scope"}
            channels:
              - {name: mxc, instrument: ls372, input: "6", every: 50ms}
            qubits:
              - name: q0
                drive: {generator: awg, sampleRate: 100MS/s, rabiPerVolt: 50MHz, piPulse: 20ns}
                readout: {instrument: scope, tone: 25MHz, \(centres)}
            interlocks:
              - {name: mxc-warm, channel: mxc, above: 100mK}
            safeState:
              - {instrument: awg, outputs: off}
            \(admission)
            """
        return try Station(yaml: yaml, file: URL(fileURLWithPath: "/tmp/\(node).yaml"))
    }

    /// Waits up to `seconds` for `condition`.
    static func eventually(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return condition()
    }

    /// Turns the AWG's outputs on and the mixing-chamber heater's range up, so the safe state has work to do.
    static func energise(_ instruments: StationInstruments) throws {
        guard case let .generator(awg)? = instruments.driver("awg"), case let .temperatureController(ls)? = instruments.driver("ls372") else {
            Issue.record("the station has no awg or ls372")
            return
        }
        try awg.setOutput(1, enabled: true)
        try awg.setOutput(2, enabled: true)
        try ls.setHeaterRange(3, for: 0)
        #expect(try awg.isOutputEnabled(1) && ls.heaterRange(for: 0) == 3)
    }

    static func expectSafe(_ instruments: StationInstruments) throws {
        guard case let .generator(awg)? = instruments.driver("awg"), case let .temperatureController(ls)? = instruments.driver("ls372") else { return }
        #expect(try !awg.isOutputEnabled(1) && !awg.isOutputEnabled(2), "AWG outputs still on after the trip")
        #expect(try ls.heaterRange(for: 0) == 0, "heater still on after the trip")
    }

    @Test("A quench in the emulator trips the mixing-chamber limit: outputs safe within one cycle, alarm on telemetry, re-arm refused while warm")
    func quench() throws {
        let station = try Self.station(
            channels: "  - {name: mxc, instrument: ls372, input: \"6\", every: 50ms}",
            interlocks: "  - {name: mxc-warm, channel: mxc, above: 100mK, severity: critical}",
            admission: "admission: {channel: mxc, below: 30mK}")
        let instruments = try StationInstruments(station)
        let node = try Node(station: station, instruments: instruments, lines: { _ throws(InstrumentError) in MemoryLine("unused", active: false) })
        defer { node.shutdown() }
        let subscriber = try TelemetrySubscriber(connectingTo: [node.publisher.endpoint], prefixes: ["test-node/_interlock/"], security: .plaintext)
        try Self.energise(instruments)
        #expect(Self.eventually(5) { node.isAdmitted }, "a cold fridge should admit experiments")
        #expect(node.status.realtime.fifoPriority != nil || !node.status.realtime.refusals.isEmpty, "the real-time set-up must report what it got")

        let emulator = try #require(instruments.emulator)
        emulator.model.quench(stage: .mixingChamber, energy: 5e-3, seconds: 0.5)
        emulator.advance(by: 2)
        #expect(Self.eventually(10) { !node.status.trips.isEmpty }, "no trip; mxc = \(node.latestValues["mxc"] ?? .nan) K")
        let trip = try #require(node.status.trips.first)
        #expect(trip.interlock == "mxc-warm" && trip.value > 0.1)
        #expect(trip.safeByCycle - trip.cycle <= 1, "the safe state took \(trip.safeByCycle - trip.cycle) cycles")
        #expect(trip.actions == ["awg: outputs off", "ls372: heater 0 off"])
        try Self.expectSafe(instruments)
        #expect(!node.isAdmitted)
        #expect(node.status.tripped == ["mxc-warm"])

        var event: WireInterlockEvent?
        while event == nil, let message = try subscriber.receive(wait: .timeout(.seconds(5))) {
            if case let .interlock(e)? = message.payload.body { event = e }
        }
        let published = try #require(event, "no interlock event on telemetry")
        #expect(published.interlock == "mxc-warm" && published.tripped && published.severity == .critical)
        #expect(published.threshold == 0.1 && published.actions.count == 2)

        #expect(!node.acknowledge("mxc-warm"), "an acknowledge must not re-arm while the fridge is warm")
        #expect(node.status.tripped == ["mxc-warm"])
    }

    @Test("A fault line trips, drives the output line safe in the same cycle, and re-arms on acknowledge once clear")
    func faultLine() throws {
        let station = try Self.station(
            channels: "  - {name: mxc, instrument: ls372, input: \"6\", every: 100ms}",
            lines: "  - {name: quench-detector, line: \"GPIO::gpiochip0::22\", role: interlock, trips: high}\n  - {name: rf-switch, line: \"GPIO::gpiochip0::23\", role: output, safe: low}",
            interlocks: "  - {name: quench-line, line: quench-detector, severity: critical, targets: [rf-switch, awg]}")
        let fault = MemoryLine("quench-detector", active: false), rf = MemoryLine("rf-switch", active: false)
        let instruments = try StationInstruments(station)
        let node = try Node(station: station, instruments: instruments, lines: { entry throws(InstrumentError) in entry.name == "rf-switch" ? rf : fault })
        defer { node.shutdown() }
        try Self.energise(instruments)
        try rf.setActive(true)
        #expect(node.waitForCycles(5))
        #expect(node.status.trips.isEmpty)
        try fault.setActive(true)
        #expect(Self.eventually(5) { !node.status.trips.isEmpty })
        let trip = try #require(node.status.trips.first)
        #expect(trip.interlock == "quench-line" && trip.value == 1)
        #expect(try !rf.isActive(), "the RF switch must be driven to its safe level (low) in the trip's cycle")
        #expect(trip.actions == ["awg: outputs off", "rf-switch: to its safe level"], "targets limit the safe state to the AWG and the line")
        guard case let .generator(awg)? = instruments.driver("awg"), case let .temperatureController(ls)? = instruments.driver("ls372") else { return }
        #expect(try !awg.isOutputEnabled(1) && ls.heaterRange(for: 0) == 3, "only the targets go safe")

        #expect(!node.acknowledge("quench-line"), "still high: no re-arm")
        try fault.setActive(false)
        #expect(node.acknowledge("quench-line"))
        #expect(node.status.tripped.isEmpty)
    }

    @Test("An instrument that stops answering trips its loss interlock")
    func instrumentLost() throws {
        let station = try Self.station(
            channels: "  - {name: mxc, instrument: ls372, input: \"6\", every: 50ms}\n  - {name: ovc, instrument: maxigauge, sensor: pressure gauge 1, every: 50ms}",
            interlocks: "  - {name: bridge-lost, instrumentLost: ls372, after: 500ms, severity: error}")
        let instruments = try StationInstruments(station)
        let node = try Node(station: station, instruments: instruments, lines: { _ throws(InstrumentError) in MemoryLine("unused", active: false) })
        defer { node.shutdown() }
        #expect(Self.eventually(3) { node.latestValues["mxc"].map { !$0.isNaN } == true })
        #expect(node.waitForCycles(150))
        #expect(node.status.trips.isEmpty, "a healthy bridge must not trip")
        var silent = FaultProfile()
        silent.dropProbability = 1
        try #require(instruments.emulator).setFaults(silent, for: "ls372")
        #expect(Self.eventually(10) { !node.status.trips.isEmpty })
        let trip = try #require(node.status.trips.first)
        #expect(trip.interlock == "bridge-lost" && trip.value > 0.5 && trip.severity == .error)
        try #require(instruments.emulator).setFaults(FaultProfile(), for: "ls372")
    }

    @Test("I/O tasks that stop feeding the loop trip the watchdog")
    func watchdog() throws {
        let station = try Self.station(
            channels: "  - {name: ovc, instrument: maxigauge, sensor: pressure gauge 1, every: 50ms}",
            interlocks: "  - {name: io-watchdog, watchdog: 400ms, severity: critical}")
        let instruments = try StationInstruments(station)
        let node = try Node(station: station, instruments: instruments, lines: { _ throws(InstrumentError) in MemoryLine("unused", active: false) })
        defer { node.shutdown() }
        #expect(node.waitForCycles(150))
        #expect(node.status.trips.isEmpty, "a fed watchdog must not trip")
        var slow = FaultProfile()
        slow.latency = .fixed(milliseconds: 1500)
        try #require(instruments.emulator).setFaults(slow, for: "maxigauge")
        #expect(Self.eventually(10) { !node.status.trips.isEmpty })
        #expect(node.status.trips.first?.interlock == "io-watchdog")
        try Self.expectSafe(instruments)
        try #require(instruments.emulator).setFaults(FaultProfile(), for: "maxigauge")
    }

    @Test("A channel below its limit trips; the loop reports its timing")
    func belowLimitAndTiming() throws {
        let station = try Self.station(
            channels: "  - {name: fourKelvin, instrument: ls372, input: \"2\", every: 50ms}",
            interlocks: "  - {name: fourK-too-cold, channel: fourKelvin, below: 10K, severity: warning}")
        let node = try Node(station: station, lines: { _ throws(InstrumentError) in MemoryLine("unused", active: false) })
        defer { node.shutdown() }
        #expect(Self.eventually(5) { !node.status.trips.isEmpty })
        let trip = try #require(node.status.trips.first)
        #expect(trip.interlock == "fourK-too-cold" && trip.value < 10 && trip.value > 1)
        #expect(Self.eventually(5) { node.status.latencyP99 > 0 }, "no loop timing reached the supervisor")
        let status = node.status
        #expect(status.latencyP50 <= status.latencyP99 && status.latencyP99 <= status.latencyMax)
        #expect(status.cycles >= 200, "the first timing report comes after one second of cycles")
    }

    @Test("A quench during an experiment aborts it cleanly: run aborted with its partial data, generator stopped, outputs off")
    func quenchAbortsExperiment() throws {
        let station = try Self.qubitStation(node: "abort-node", admission: "admission: {channel: mxc, below: 30mK}")
        let node = try Node(station: station, lines: { _ throws(InstrumentError) in MemoryLine("unused", active: false) })
        defer { node.shutdown() }
        let host = try ExperimentHost(node: node)
        let progressed = Atomic<Int>(0)
        host.onProgress.withLock { $0 = { _ in progressed.add(1, ordering: .relaxed) } }
        #expect(Self.eventually(5) { node.isAdmitted })
        let run = try host.start(
            experiment: "cpmgSweep", qubit: "q0", parameters: ["pulses": "1,2,4,8", "shots": "400", "from": "5us", "to": "1ms"], owner: "test")
        #expect(Self.eventually(60) { progressed.load(ordering: .relaxed) >= 2 }, "the sweep did not get going: \(String(describing: host.run(run)))")
        let emulator = try #require(node.instruments.emulator)
        emulator.model.quench(stage: .mixingChamber, energy: 5e-3, seconds: 0.5)
        emulator.advance(by: 2)
        #expect(Self.eventually(60) { host.run(run)?.status != "running" },
                "still running; tripped \(node.status.tripped), mxc \(node.latestValues["mxc"] ?? .nan) K, admitted \(node.isAdmitted)")
        let record = try #require(host.run(run))
        #expect(record.status == "aborted" && record.summary.contains("mxc-warm"), "\(record)")
        guard case let .generator(awg)? = node.instruments.driver("awg") else { return }
        #expect(try awg.runState() == .stopped && !awg.isOutputEnabled(1) && !awg.isOutputEnabled(2))
        #expect(throws: CommandFailure.self) {
            try host.start(experiment: "t1", qubit: "q0", parameters: [:], owner: "test")
        }
    }

    @Test("After a reset the qubit is read alone: at rest it reads |0⟩, outputs off; read against swapped centres it does not pass")
    func restingReadout() throws {
        for (centres, rests) in [("ground: [1.0mV, 0.2mV], excited: [-0.6mV, 0.9mV]", true),
                                 ("ground: [-0.6mV, 0.9mV], excited: [1.0mV, 0.2mV]", false)] {
            let station = try Self.qubitStation(node: "rest-node", centres: centres)
            let node = try Node(station: station, lines: { _ throws(InstrumentError) in MemoryLine("unused", active: false) })
            defer { node.shutdown() }
            let host = try ExperimentHost(node: node)
            #expect(Self.eventually(5) { node.isAdmitted })
            let resting = try host.restingPopulation(of: "q0", shots: CommandServer.resetCheckShots)
            #expect(resting.shots >= CommandServer.resetCheckShots)
            #expect(CommandServer.restsInGround(resting) == rests, "reads |1⟩ in \(resting.value) ± \(resting.standardError)")
            // Readout error alone: 1.5 % of |0⟩ shots read |1⟩ on this transmon, so 98.5 % when the centres are swapped.
            #expect(rests ? resting.value < 0.05 : resting.value > 0.9, "\(resting.value)")
            guard case let .generator(awg)? = node.instruments.driver("awg") else { return }
            #expect(try !awg.isOutputEnabled(1) && !awg.isOutputEnabled(2), "the readout left the drive on")
            #expect(throws: CommandFailure.self) { try host.restingPopulation(of: "q9", shots: 10) }
            guard rests else { continue }
            // A warm fridge trips the interlock: the readout, which would turn the drive outputs on, waits.
            let emulator = try #require(node.instruments.emulator)
            emulator.model.quench(stage: .mixingChamber, energy: 5e-3, seconds: 0.5)
            emulator.advance(by: 2)
            // The loop stops admitting at once; the supervisor records the trip once it has applied
            // the safe state, and only then does a refusal name the interlock.
            #expect(Self.eventually(30) { !node.isAdmitted && node.status.tripped.contains("mxc-warm") }, "the quench did not trip mxc-warm")
            let refused = #expect(throws: CommandFailure.self) { try host.restingPopulation(of: "q0", shots: 10) }
            #expect(refused?.code == .notAdmitted && refused?.message.contains("mxc-warm") == true, "\(String(describing: refused))")
        }
    }
}
