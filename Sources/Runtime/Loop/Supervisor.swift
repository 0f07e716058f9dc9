import Foundation
import HAL
import Histogram
import Logging
import Synchronization
import Telemetry

/// The loop's non-real-time partner: drains the loop's events, drives instrument safe states on a trip,
/// publishes interlock events, alarms and loop timing, and keeps the node's status for the layers above.
final class Supervisor: Sendable {
    private let station: Station
    private let instruments: StationInstruments
    private let loop: ControlLoop
    private let logger: Logger
    private let producer: Mutex<TelemetryProducer?>
    private let commandLock = Mutex(())
    private let state = Mutex(State())
    private let worker = Mutex<WorkerThread?>(nil)

    private struct State {
        var trips: [TripRecord] = []
        var acknowledgements: [Int: Bool] = [:]
        var cumulative = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 10_000_000_000, numberOfSignificantValueDigits: .three)
        var misses: UInt64 = 0
        var admitted = false
        var tripped = Set<Int>()
    }

    init(station: Station, instruments: StationInstruments, publisher: TelemetryPublisher, loop: ControlLoop, logger: Logger) {
        self.station = station
        self.instruments = instruments
        self.loop = loop
        self.logger = logger
        producer = Mutex(publisher.makeProducer())
    }

    func start() {
        worker.withLock {
            $0 = WorkerThread(name: "qrrm-supervisor") { [self] thread in
                while !thread.isStopping {
                    drain()
                    Thread.sleep(forTimeInterval: 0.0005)
                }
                drain()
            }
        }
    }

    func stop() { worker.withLock { $0 }?.stop() }

    private func drain() {
        while let event = loop.events.pop() {
            switch event {
            case let .tripped(index, value, _, cycle): handleTrip(index, value: value, cycle: cycle)
            case let .acknowledged(index, rearmed):
                let entry = station.interlocks[index]
                state.withLock {
                    $0.acknowledgements[index] = rearmed
                    if rearmed { $0.tripped.remove(index) }
                }
                if rearmed {
                    logger.notice("interlock \(entry.name) acknowledged and re-armed")
                    publishInterlock(entry, tripped: false, value: .nan, reason: "acknowledged; re-armed", actions: [])
                } else {
                    logger.warning("interlock \(entry.name): acknowledge refused, its condition still holds")
                }
            case let .admission(admitted):
                state.withLock { $0.admitted = admitted }
                logger.info("experiments \(admitted ? "admitted" : "not admitted")")
            case let .timing(histogram, iterations, misses, worst):
                var histogram = histogram
                publishTiming(histogram, iterations: iterations, misses: misses, worst: worst)
                state.withLock {
                    $0.cumulative.add(histogram)
                    $0.misses += misses
                }
                histogram.reset()
                loop.returnHistogram(histogram)
            }
        }
    }

    private func reason(_ entry: Station.InterlockEntry, value: Double) -> String {
        switch entry.condition {
        case let .above(channel, threshold): "\(channel) = \(value) above its limit \(threshold)"
        case let .below(channel, threshold): "\(channel) = \(value) below its limit \(threshold)"
        case let .line(name): value.isNaN ? "fault line \(name) could not be read" : "fault line \(name) is \(value == 1 ? "high" : "low")"
        case let .instrumentLost(instrument, _): "\(instrument) has not answered for \(String(format: "%.1f", value)) s"
        case .watchdog: "the I/O tasks have not fed the loop for \(String(format: "%.1f", value)) s"
        }
    }

    private func handleTrip(_ index: Int, value: Double, cycle: UInt64) {
        let entry = station.interlocks[index]
        let why = reason(entry, value: value)
        logger.critical("interlock \(entry.name) tripped: \(why)")
        var actions: [String] = []
        for action in station.safeState where entry.targets.isEmpty || entry.targets.contains(action.target) {
            let words: String = switch action {
            case let .outputsOff(id): "\(id): outputs off"
            case let .heaterOff(id, output): "\(id): heater \(output) off"
            case let .line(name): "\(name): to its safe level"
            }
            do {
                try instruments.apply(action)
                actions.append(words)
            } catch {
                actions.append("\(words) FAILED: \(error)")
                logger.error("safe state \(words) failed: \(error)")
            }
        }
        let safeBy = loop.cycles.load(ordering: .relaxed)
        state.withLock {
            $0.trips.append(TripRecord(interlock: entry.name, severity: entry.severity, value: value, cycle: cycle, safeByCycle: safeBy, actions: actions))
            $0.tripped.insert(index)
        }
        publishInterlock(entry, tripped: true, value: value, reason: why, actions: actions)
        var alarm = WireAlarm()
        alarm.source = "interlock/\(entry.name)"
        alarm.severity = Self.severity(entry.severity)
        alarm.message = why
        alarm.active = true
        alarm.timeNs = Int64(Date().timeIntervalSince1970 * 1e9)
        var payload = WirePayload()
        payload.alarm = alarm
        publish(payload, instrument: "_alarm", channel: entry.name)
    }

    static func severity(_ severity: Station.Severity) -> WireSeverity {
        switch severity {
        case .info: .info
        case .warning: .warning
        case .error: .error
        case .critical: .critical
        }
    }

    private func publishInterlock(_ entry: Station.InterlockEntry, tripped: Bool, value: Double, reason: String, actions: [String]) {
        var event = WireInterlockEvent()
        event.interlock = entry.name
        event.severity = Self.severity(entry.severity)
        event.tripped = tripped
        event.reason = reason
        event.value = value
        switch entry.condition {
        case let .above(_, threshold), let .below(_, threshold): event.threshold = threshold
        default: break
        }
        event.timeNs = Int64(Date().timeIntervalSince1970 * 1e9)
        event.actions = actions
        var payload = WirePayload()
        payload.interlock = event
        publish(payload, instrument: "_interlock", channel: entry.name)
    }

    private func publishTiming(_ histogram: Histogram<UInt64>, iterations: UInt64, misses: UInt64, worst: UInt64) {
        var timing = WireLoopTiming()
        timing.loop = "control"
        timing.periodS = 1 / station.loop.rate
        timing.iterations = iterations
        timing.deadlineMisses = misses
        timing.worstLatencyS = Double(worst) * 1e-9
        var wire = WireHistogram()
        let bounds: [UInt64] = [1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000, 10_000_000]
        var previous: UInt64 = 0
        for bound in bounds {
            wire.upperBoundsS.append(Double(bound) * 1e-9)
            wire.counts.append(histogram.count(within: previous...bound))
            previous = bound + 1
        }
        wire.counts.append(histogram.count(within: previous...UInt64.max))
        timing.latency = wire
        var payload = WirePayload()
        payload.loopTiming = timing
        publish(payload, instrument: "_node", channel: "loop")
    }

    func publish(_ payload: WirePayload, instrument: String, channel: String) {
        let topic: TelemetryTopic
        do { topic = try TelemetryTopic("\(station.node)/\(instrument)/\(channel)") } catch {
            logger.error("cannot publish on \(station.node)/\(instrument)/\(channel): \(error)")
            return
        }
        producer.withLock { producer in
            do { _ = try producer?.publish(payload, on: topic) } catch { logger.error("publish \(topic): \(error)") }
        }
    }

    func acknowledge(_ index: Int, timeout: Duration) -> Bool {
        state.withLock { _ = $0.acknowledgements.removeValue(forKey: index) }
        let pushed = commandLock.withLock { _ in loop.commands.push(.acknowledge(interlock: index)) }
        guard pushed else { return false }
        let end = ContinuousClock.now + timeout
        while ContinuousClock.now < end {
            if let result = state.withLock({ $0.acknowledgements[index] }) { return result }
            Thread.sleep(forTimeInterval: 0.001)
        }
        return false
    }

    func status(latest: [String: Double]) -> NodeStatus {
        state.withLock { s in
            NodeStatus(
                admitted: s.admitted, tripped: s.tripped.sorted().map { station.interlocks[$0].name }, trips: s.trips,
                cycles: loop.cycles.load(ordering: .relaxed),
                latencyP50: s.cumulative.totalCount > 0 ? s.cumulative.valueAtPercentile(50) : 0,
                latencyP99: s.cumulative.totalCount > 0 ? s.cumulative.valueAtPercentile(99) : 0,
                latencyMax: s.cumulative.max, deadlineMisses: s.misses, realtime: loop.realtimeStatus, latest: latest)
        }
    }
}
