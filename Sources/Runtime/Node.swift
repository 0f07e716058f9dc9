import Drivers
import Foundation
import HAL
import Histogram
import Logging
import Synchronization
import Telemetry

/// One interlock trip as the node handled it.
public struct TripRecord: Sendable, Equatable {
    public var interlock: String
    public var severity: Station.Severity
    /// The value that tripped it (channel units, seconds for loss and watchdog, the line level).
    public var value: Double
    public var cycle: UInt64
    /// The loop cycle in which the instrument safe-state actions had all completed (GPIO outputs go
    /// safe in the trip's own cycle).
    public var safeByCycle: UInt64
    /// What the node did, e.g. "awg: outputs off".
    public var actions: [String]
}

/// The node's state as the layers above read it.
public struct NodeStatus: Sendable {
    public var admitted: Bool
    public var tripped: [String]
    public var trips: [TripRecord]
    public var cycles: UInt64
    /// Cumulative wake-up latency percentiles (ns): p50, p99, max; and deadline misses.
    public var latencyP50: UInt64, latencyP99: UInt64, latencyMax: UInt64, deadlineMisses: UInt64
    public var realtime: RealtimeStatus
    public var latest: [String: Double]
}

/// A running node: the station's instruments, an I/O task per sampled instrument feeding the real-time
/// loop through preallocated rings, the loop (interlocks, admission), a supervisor thread that drives the
/// instruments' safe state on a trip and publishes alarms, interlock events and loop timing, and the
/// telemetry publisher.
public final class Node: Sendable {
    public let station: Station
    public let instruments: StationInstruments
    public let publisher: TelemetryPublisher
    package let loop: ControlLoop
    private let ioTasks: [IOTask]
    private let supervisor: Supervisor
    private let logger: Logger
    private let latest = LatestValues()

    /// Opens the station's instruments and lines and starts publishing, sampling and the loop.
    /// `lines` opens a station GPIO line (default: the real chip through libgpiod).
    public init(
        station: Station, instruments: StationInstruments? = nil, logger: Logger = Logger(label: "qrrm.node"),
        lines: (Station.LineEntry) throws(InstrumentError) -> any DigitalLine = Node.openGPIO
    ) throws(StationStartError) {
        self.station = station
        self.logger = logger
        let instruments = if let instruments { instruments } else { try StationInstruments(station) }
        self.instruments = instruments
        var configuration = TelemetryPublisherConfiguration(
            nodeID: station.node, endpoint: station.telemetry.endpoint, snapshotEndpoint: station.telemetry.snapshotEndpoint,
            security: station.telemetry.security)
        configuration.announcement = Self.announcement(station)
        do { publisher = try TelemetryPublisher(configuration) } catch { throw StationStartError("telemetry: \(error)") }

        var channelHandles: [TelemetryChannel] = []
        for entry in station.channels {
            var descriptor = WireChannelDescriptor()
            descriptor.topic = "\(station.node)/\(entry.instrument)/\(entry.name)"
            descriptor.instrument = entry.instrument
            descriptor.channel = entry.name
            descriptor.unit = entry.reading.unit
            descriptor.nominalRateHz = 1 / (Double(entry.every.components.seconds) + Double(entry.every.components.attoseconds) * 1e-18)
            do { channelHandles.append(try publisher.declare(descriptor)) } catch { throw StationStartError("telemetry channel \(entry.name): \(error)") }
        }

        // Lines: inputs for interlocks, outputs for the safe state.
        var inputLines: [any DigitalLine] = [], outputLines: [any DigitalLine] = []
        var inputIndex: [String: Int] = [:], outputIndex: [String: (Int, Bool)] = [:]
        for entry in station.lines {
            let line: any DigitalLine
            do { line = try lines(entry) } catch { throw StationStartError("line \(entry.name): \(error)") }
            switch entry.role {
            case .interlock:
                inputIndex[entry.name] = inputLines.count
                inputLines.append(line)
            case let .output(safeHigh):
                outputIndex[entry.name] = (outputLines.count, safeHigh)
                outputLines.append(line)
            case .trigger: break
            }
        }

        let channelIndex = Dictionary(uniqueKeysWithValues: station.channels.enumerated().map { ($1.name, $0) })
        let instrumentIndex = Dictionary(uniqueKeysWithValues: station.instruments.enumerated().map { ($1.id, $0) })
        let compiled = station.interlocks.map { entry -> CompiledInterlock in
            let check: CompiledInterlock.Check = switch entry.condition {
            case let .above(channel, threshold): .above(channel: channelIndex[channel]!, threshold: threshold)
            case let .below(channel, threshold): .below(channel: channelIndex[channel]!, threshold: threshold)
            case let .line(name):
                if case let .interlock(tripsHigh) = station.lines.first(where: { $0.name == name })!.role {
                    .line(index: inputIndex[name]!, tripsHigh: tripsHigh)
                } else { preconditionFailure("validated station: \(name) is an interlock line") }
            case let .instrumentLost(instrument, after): .instrumentLost(instrument: instrumentIndex[instrument]!, afterNs: Self.nanoseconds(after))
            case let .watchdog(timeout): .watchdog(timeoutNs: Self.nanoseconds(timeout))
            }
            let lineTargets = station.safeState.compactMap { action -> (Int, Bool)? in
                guard case let .line(name) = action, entry.targets.isEmpty || entry.targets.contains(name) else { return nil }
                return outputIndex[name]
            }
            return CompiledInterlock(check: check, outputs: lineTargets.map { (index: $0.0, safeHigh: $0.1) })
        }

        // One I/O task (and ring) per sampled instrument.
        var tasks: [IOTask] = []
        for (index, entry) in station.instruments.enumerated() {
            let channels = station.channels.enumerated().filter { $0.element.instrument == entry.id }
            guard !channels.isEmpty else { continue }
            tasks.append(IOTask(instrument: index, channels: channels.map { ($0.offset, $0.element) }, instruments: instruments, latest: latest))
        }
        ioTasks = tasks
        loop = ControlLoop(
            setting: station.loop, inputs: tasks.map(\.ring), channels: station.channels.count, instruments: station.instruments.count,
            interlocks: compiled, admission: station.admission.map { (channelIndex[$0.channel]!, $0.below) },
            inputLines: inputLines, outputLines: outputLines, telemetryChannels: channelHandles, producer: publisher.makeProducer())
        supervisor = Supervisor(station: station, instruments: instruments, publisher: publisher, loop: loop, logger: logger)
        loop.start()
        supervisor.start()
        for task in tasks { task.start() }
        let status = loop.realtimeStatus
        for refusal in status.refusals { logger.warning("real-time set-up refused, carrying on without it: \(refusal)") }
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }

    /// Opens a GPIO line through libgpiod: inputs for interlocks, outputs (at their safe level) otherwise.
    public static func openGPIO(_ entry: Station.LineEntry) throws(InstrumentError) -> any DigitalLine {
        switch entry.role {
        case .interlock: try GPIODigitalLine(entry.resource, direction: .input)
        case let .output(safeHigh): try GPIODigitalLine(entry.resource, direction: .output(initiallyActive: safeHigh))
        case .trigger: try GPIODigitalLine(entry.resource, direction: .output(initiallyActive: false))
        }
    }

    /// What a node on `station` announces on telemetry (and in every snapshot): its instruments, channels, and
    /// the qubits and other particles it offers, each with its particle type and advertised properties.
    public static func announcement(_ station: Station) -> WireNodeAnnouncement {
        var announcement = WireNodeAnnouncement()
        announcement.nodeID = station.node
        announcement.instruments = station.instruments.map { entry in
            var info = WireInstrumentInfo()
            info.id = entry.id
            info.model = entry.kind.rawValue
            info.resource = entry.resource.description
            return info
        }
        announcement.qubits = station.qubits.map { qubit in
            Self.wireResource(qubit.name, advertised: qubit.advertised,
                              [("rabiPerVolt", qubit.rabiPerVolt, "Hz/V"), ("piPulse", qubit.piPulse, "s")])
        } + station.particles.map { Self.wireResource($0.name, advertised: $0.advertised, []) }
        return announcement
    }

    /// One announced resource: its own quantities, then what it is advertised as (type, coherence time,
    /// fidelity, entanglement readiness).
    private static func wireResource(_ name: String, advertised: Station.Advertised?,
                                     _ quantities: [(String, Double, String)]) -> WireQubit {
        var wire = WireQubit()
        wire.id = name
        var all = quantities
        if let advertised {
            wire.particleType = advertised.type
            all += [("coherenceTime", advertised.coherenceTime, "s"), ("fidelity", advertised.fidelity, ""),
                    ("entanglementReady", advertised.entanglementReady ? 1 : 0, "")]
        }
        wire.properties = all.map { name, value, unit in
            var quantity = WireQuantity()
            quantity.name = name
            quantity.value = value
            quantity.unit = unit
            return quantity
        }
        return wire
    }

    /// Whether experiments may run now: no interlock tripped and the admission channel within its limit.
    public var isAdmitted: Bool { loop.isAdmitted.load(ordering: .acquiring) }

    /// Acknowledges a tripped interlock. It re-arms only when its condition has cleared; returns whether it did.
    public func acknowledge(_ interlock: String, timeout: Duration = .seconds(2)) -> Bool {
        guard let index = station.interlocks.firstIndex(where: { $0.name == interlock }) else { return false }
        return supervisor.acknowledge(index, timeout: timeout)
    }

    /// Waits until the loop has run `cycles` more cycles (for callers that need the loop to have seen a change).
    public func waitForCycles(_ cycles: UInt64, timeout: Duration = .seconds(5)) -> Bool {
        let target = loop.cycles.load(ordering: .relaxed) + cycles
        let end = ContinuousClock.now + timeout
        while loop.cycles.load(ordering: .relaxed) < target {
            if ContinuousClock.now > end { return false }
            Thread.sleep(forTimeInterval: 0.001)
        }
        return true
    }

    public var status: NodeStatus { supervisor.status(latest: latest.values.withLock { $0 }) }

    /// The latest value of every sampled channel (NaN when its instrument did not answer).
    public var latestValues: [String: Double] { latest.values.withLock { $0 } }

    /// Publishes an experiment result (or any other message) on `<node>/<instrument>/<channel>`.
    public func publish(_ payload: WirePayload, instrument: String, channel: String) {
        supervisor.publish(payload, instrument: instrument, channel: channel)
    }

    /// Stops sampling and the loop, drives the whole safe state, and stops publishing (flushing what is queued).
    public func shutdown() {
        for task in ioTasks { task.stop() }
        loop.stop()
        supervisor.stop()
        for action in station.safeState {
            do { try instruments.apply(action) } catch { logger.error("safe state at shutdown: \(action.target): \(error)") }
        }
        publisher.stop()
    }
}

/// The latest value of each sampled channel, written by the I/O tasks for readers outside the loop.
final class LatestValues: Sendable {
    let values = Mutex<[String: Double]>([:])
}

/// Samples one instrument's channels on their schedules and hands the values to the loop.
final class IOTask: Sendable {
    let ring = SPSCRing<LoopInput>(minimumCapacity: 256)
    private let instrument: Int
    private let channels: [(index: Int, entry: Station.ChannelEntry)]
    private let instruments: StationInstruments
    private let latest: LatestValues
    private let worker = Mutex<WorkerThread?>(nil)

    init(instrument: Int, channels: [(Int, Station.ChannelEntry)], instruments: StationInstruments, latest: LatestValues) {
        self.instrument = instrument
        self.channels = channels.map { (index: $0.0, entry: $0.1) }
        self.instruments = instruments
        self.latest = latest
    }

    func start() {
        worker.withLock { $0 = WorkerThread(name: "qrrm-io-\(instrument)") { [self] in run($0) } }
    }

    func stop() { worker.withLock { $0 }?.stop() }

    private func run(_ thread: WorkerThread) {
        var due = [Int64](repeating: Realtime.monotonicNanoseconds, count: channels.count)
        while !thread.isStopping {
            let now = Realtime.monotonicNanoseconds
            for (k, channel) in channels.enumerated() where due[k] <= now {
                let value: Double
                do {
                    value = try instruments.read(channel.entry)
                    _ = ring.push(.reached(instrument: instrument, monotonicNs: Realtime.monotonicNanoseconds))
                } catch {
                    value = .nan
                }
                latest.values.withLock { $0[channel.entry.name] = value }
                _ = ring.push(.sample(channel: channel.index, value: value, hostTimeNs: Int64(Date().timeIntervalSince1970 * 1e9)))
                due[k] = now + Node.nanoseconds(channel.entry.every)
            }
            let next = due.min() ?? now + 100_000_000
            // Short naps, so a stop is seen within 50 ms.
            try? Realtime.sleep(untilMonotonicNanoseconds: min(next, Realtime.monotonicNanoseconds + 50_000_000))
        }
    }
}
