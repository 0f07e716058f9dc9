import ArgumentParser
import Foundation
import Logging
import Quantities
import Runtime
import ServiceLifecycle
import Synchronization
import Telemetry
import TelemetryMetrics
import TelemetryRecording
import ZeroMQ

/// `qrrm run --station <file>`: the main job. Brings the node up (instruments, the real-time loop and its
/// interlocks, telemetry, the command endpoint), runs the station's plan with live progress, writes each
/// result as JSON and SVG to a results folder, prints a summary, and shuts down gracefully: on SIGTERM or
/// SIGINT the current experiment is aborted, the outputs go to their safe state and the recorder is flushed.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a node: the station's instruments, control loop, interlocks, telemetry, commands and experiment plan.")

    @Option(name: .long, help: "The station file.")
    var station = "HardwareProfiles/stations/demo.yaml"

    @Option(name: .long, help: "Where results (JSON, SVG, summary) are written, in a folder per run.")
    var results = "results"

    @Flag(name: .long, help: "Keep serving (telemetry, commands) after the plan, until SIGINT or SIGTERM.")
    var serve = false

    @Flag(name: .long, help: "Skip the station's run plan (with --serve: a node driven only through its command endpoint).")
    var noPlan = false

    @Option(name: .long, help: "Record the node's telemetry to this SQLite file while it runs.")
    var record: String?

    @Option(name: .long, help: "Serve Prometheus /metrics of the node's telemetry on host:port, e.g. 127.0.0.1:9464.")
    var metrics: String?

    @Flag(name: .long, help: "Plain lines even on a terminal.")
    var plain = false

    func run() async throws {
        let console = Console(live: !plain && isatty(STDOUT_FILENO) == 1)
        bootstrapLogging()
        let logger = Logger(label: "qrrm.run")
        let url = URL(fileURLWithPath: station)
        var loaded: Station
        let plan: [RunStepPlan]
        do {
            loaded = try Station(contentsOf: url)
            plan = noPlan ? [] : try RunPlan.steps(loaded)
        } catch {
            console.line("\(error)")
            throw ExitCode.failure
        }
        // The recorder and /metrics subscribe like any client: on a CURVE station with a key of their own,
        // allowed for this run only.
        var clientSecurity = TelemetryClientSecurity.plaintext
        if record != nil || metrics != nil, case let .curve(keys, allowed) = loaded.telemetry.security {
            let clientKeys = try CurveKeyPair.generate()
            loaded.telemetry.security = .curve(serverKeys: keys, allowedClients: allowed.union([clientKeys.publicKey]))
            clientSecurity = .curve(serverKey: keys.publicKey, clientKeys: clientKeys)
        }
        console.line("qrrm run: station \(loaded.node) (\(url.lastPathComponent))\(loaded.emulator.map { " on the emulator \($0.profile.lastPathComponent)" } ?? "")")
        let node: Node
        do { node = try Node(station: loaded, logger: logger) } catch {
            console.line("cannot start the node: \(error)")
            throw ExitCode.failure
        }
        let realtime = node.status.realtime
        console.line(realtime.fifoPriority.map { "control loop: \(Int(loaded.loop.rate)) Hz, SCHED_FIFO \($0)\(realtime.memoryLocked ? ", memory locked" : "")" }
            ?? "control loop: \(Int(loaded.loop.rate)) Hz without real-time scheduling (\(realtime.refusals.joined(separator: "; "))); carrying on")
        console.line("telemetry: \(node.publisher.endpoint) (snapshot \(node.publisher.snapshotEndpoint))")
        let host = try ExperimentHost(node: node, logger: logger)
        let commands = try loaded.commandEndpoint.map { endpoint throws in
            try CommandServer(node: node, endpoint: endpoint, security: loaded.telemetry.security, experiments: host, logger: logger)
        }
        if let commands { console.line("commands: \(commands.endpoint)") }

        let folder = URL(fileURLWithPath: results).appendingPathComponent(Self.folderName())
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: NodeService(node: node, commands: commands, experiments: host, logger: logger)),
        ]
        if let record {
            services.append(.init(service: try BusClientService.recorder(path: record, endpoint: node.publisher.endpoint, client: clientSecurity, logger: logger)))
            console.line("recording telemetry to \(record)")
        }
        if let metrics {
            services.append(.init(service: try BusClientService.metrics(listen: metrics, endpoint: node.publisher.endpoint, client: clientSecurity, logger: logger)))
            console.line("metrics: http://\(metrics)/metrics")
        }
        let planService = PlanService(plan: plan, node: node, host: host, folder: folder, console: console, serve: serve)
        services.append(.init(service: planService, successTerminationBehavior: serve ? .ignore : .gracefullyShutdownGroup))
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        if planService.failed.load(ordering: .relaxed) { throw ExitCode.failure }
    }

    static func folderName() -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        formatter.locale = Locale(identifier: "en_US_POSIX")
        return formatter.string(from: Date())
    }
}

/// Prints progress: on a terminal the current step rewrites one status line; otherwise plain lines.
final class Console: Sendable {
    let live: Bool
    private let lock = Mutex(false)  // whether a status line is showing

    init(live: Bool) { self.live = live }

    /// A permanent line.
    func line(_ text: String) {
        lock.withLock { showing in
            print((showing ? "\r\u{1B}[2K" : "") + text)
            showing = false
            fflush(nil)
        }
    }

    /// A transient status line (a plain line when not on a terminal).
    func status(_ text: String) {
        guard live else { return line(text) }
        lock.withLock { showing in
            print("\r\u{1B}[2K" + text, terminator: "")
            showing = true
            fflush(nil)
        }
    }
}

/// Runs the station's plan step by step on a thread of its own, then ends (or keeps the node serving).
final class PlanService: Service, Sendable {
    let plan: [RunStepPlan]
    let node: Node
    let host: ExperimentHost
    let folder: URL
    let console: Console
    let serve: Bool
    let failed = Atomic<Bool>(false)
    private let stopping = Atomic<Bool>(false)

    init(plan: [RunStepPlan], node: Node, host: ExperimentHost, folder: URL, console: Console, serve: Bool) {
        self.plan = plan
        self.node = node
        self.host = host
        self.folder = folder
        self.console = console
        self.serve = serve
    }

    func run() async throws {
        await withGracefulShutdownHandler {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                let thread = Thread { [self] in
                    execute()
                    done.resume()
                }
                thread.name = "qrrm-plan"
                thread.start()
            }
        } onGracefulShutdown: { [self] in
            stopping.store(true, ordering: .relaxed)
            host.stopRuns(on: node.station.qubits.map(\.name))
        }
        if serve, !stopping.load(ordering: .relaxed) {
            console.line("serving until SIGINT or SIGTERM")
            try? await gracefulShutdown()
        }
    }

    private func execute() {
        guard !plan.isEmpty else { return }
        var summary: [String] = []
        host.onProgress.withLock { [console] in
            $0 = { p in console.status("  \(p.experiment.rawValue) \(p.qubit) [\(p.step)/\(p.steps)] \(p.message)") }
        }
        for (index, step) in plan.enumerated() {
            guard !stopping.load(ordering: .relaxed) else { break }
            switch step {
            case let .cooldownCheck(timeout):
                console.line("[\(index + 1)/\(plan.count)] cool-down check")
                let line = cooldown(timeout: timeout)
                summary.append(line)
            case let .experiment(name, qubit, experiment):
                console.line("[\(index + 1)/\(plan.count)] \(name) on \(qubit)")
                do {
                    let result = try host.runNow(name, qubit: qubit, plan: experiment)
                    console.line("  \(result.summary)")
                    summary.append(result.summary)
                    save(result, name: "\(index + 1)-\(name)-\(qubit)")
                } catch {
                    if case let .aborted(_, partial) = error { save(partial, name: "\(index + 1)-\(name)-\(qubit)-aborted") }
                    console.line("  \(name) on \(qubit): \(error)")
                    summary.append("\(name) on \(qubit): \(error)")
                    failed.store(true, ordering: .relaxed)
                }
            }
        }
        let status = node.status
        // The loop hands its latency histogram over once a second; a shorter plan has none yet.
        summary.append(status.latencyMax == 0
            ? "control loop: \(status.cycles) cycles, \(status.trips.count) interlock trips"
            : String(
                format: "control loop: %llu cycles, wake-up latency p50 %.1f µs, p99 %.1f µs, max %.1f µs, %llu deadline misses; %d interlock trips",
                status.cycles, Double(status.latencyP50) / 1000, Double(status.latencyP99) / 1000, Double(status.latencyMax) / 1000,
                status.deadlineMisses, status.trips.count))
        let text = summary.map { "- \($0)" }.joined(separator: "\n") + "\n"
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try? text.write(to: folder.appendingPathComponent("summary.txt"), atomically: true, encoding: .utf8)
        console.line("summary (\(folder.path)):\n" + text.dropLast())
    }

    /// Waits until the station admits experiments: the admission channel below its limit and no interlock tripped.
    private func cooldown(timeout: Double) -> String {
        let end = Date().addingTimeInterval(timeout)
        while !node.isAdmitted, Date() < end, !stopping.load(ordering: .relaxed) {
            console.status("  waiting: \(temperatures())")
            Thread.sleep(forTimeInterval: 0.2)
        }
        let line = node.isAdmitted
            ? "cool-down check passed: \(temperatures())"
            : "cool-down check failed after \(Int(timeout)) s: \(temperatures())\(node.status.tripped.isEmpty ? "" : "; tripped: \(node.status.tripped.joined(separator: ", "))")"
        if !node.isAdmitted { failed.store(true, ordering: .relaxed) }
        console.line("  " + line)
        return line
    }

    private func temperatures() -> String {
        let values = node.latestValues
        return node.station.channels.compactMap { channel -> String? in
            guard let value = values[channel.name], !value.isNaN else { return nil }
            switch channel.reading.unit {
            case "K": return "\(channel.name) \(Temperature.kelvin(value))"
            case "Pa": return "\(channel.name) \(Pressure(siValue: value))"
            case "T": return "\(channel.name) \(MagneticField(siValue: value))"
            default: return String(format: "%@ %.3g %@", channel.name, value, channel.reading.unit)
            }
        }.joined(separator: ", ")
    }

    /// Writes the result's JSON and SVG plot.
    private func save(_ result: ExperimentResult, name: String) {
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.dateEncodingStrategy = .iso8601
            encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            try encoder.encode(result).write(to: folder.appendingPathComponent("\(name).json"))
            try SVGPlot().render(result).write(to: folder.appendingPathComponent("\(name).svg"), atomically: true, encoding: .utf8)
        } catch {
            console.line("  cannot write \(name) to \(folder.path): \(error)")
        }
    }
}

/// A subscriber of the node's own telemetry, on a thread of its own, for the services below: `onMessage`
/// for each message, `onTick` every 200 ms and once more after the last message at shutdown.
final class BusClientService: Service, Sendable {
    private let worker: WorkerThread
    private let onStop: @Sendable () -> Void

    init(
        endpoint: String, client: TelemetryClientSecurity, name: String, logger: Logger,
        onMessage: @escaping @Sendable (TelemetryMessage, TelemetrySubscriber) -> Void,
        onTick: @escaping @Sendable (TelemetrySubscriber) throws -> Void, onStop: @escaping @Sendable () -> Void = {}
    ) throws {
        let box = SubscriberBox(try TelemetrySubscriber(connectingTo: [endpoint], security: client))
        self.onStop = onStop
        worker = WorkerThread(name: "qrrm-\(name)") { thread in
            let subscriber = box.take()
            while !thread.isStopping {
                let tickAt = ContinuousClock.now + .milliseconds(200)
                do {
                    while ContinuousClock.now < tickAt, let message = try subscriber.receive(wait: .timeout(max(.zero, tickAt - .now))) {
                        onMessage(message, subscriber)
                    }
                    try onTick(subscriber)
                } catch {
                    logger.error("\(name): \(error)")
                }
            }
            // What already arrived, then a last tick (the recorder commits it).
            while let message = try? subscriber.receive(wait: .timeout(.milliseconds(100))) { onMessage(message, subscriber) }
            do { try onTick(subscriber) } catch { logger.error("\(name): \(error)") }
        }
    }

    func run() async throws {
        try? await gracefulShutdown()
        // The node service stops publishing first; give the last messages a moment to arrive.
        try? await Task.sleep(for: .milliseconds(300))
        worker.stop()
        onStop()
    }

    /// Records every message to SQLite, committing every 200 ms and at shutdown.
    static func recorder(path: String, endpoint: String, client: TelemetryClientSecurity, logger: Logger) throws -> BusClientService {
        let recorder = RecorderBox(try TelemetryRecorder(path: path))
        return try BusClientService(
            endpoint: endpoint, client: client, name: "recorder", logger: logger,
            onMessage: { message, _ in recorder.recorder.append(message) }, onTick: { _ in try recorder.recorder.commit() })
    }

    /// Serves Prometheus /metrics on `host:port` from the node's telemetry.
    static func metrics(listen: String, endpoint: String, client: TelemetryClientSecurity, logger: Logger) throws -> BusClientService {
        guard let colon = listen.lastIndex(of: ":"), let port = UInt16(listen[listen.index(after: colon)...]) else {
            throw ValidationError("--metrics must be host:port, got \(listen)")
        }
        let metrics = TelemetryMetrics()
        let server = try MetricsServer(host: String(listen[..<colon]), port: port) { metrics.exposition() }
        return try BusClientService(
            endpoint: endpoint, client: client, name: "metrics", logger: logger,
            onMessage: { message, _ in metrics.observe(message) }, onTick: { metrics.observe($0.statistics) },
            onStop: { server.stop() })
    }
}

/// Hands a subscriber (not Sendable) to the thread that owns it.
final class SubscriberBox: @unchecked Sendable {
    private var subscriber: TelemetrySubscriber?
    init(_ subscriber: TelemetrySubscriber) { self.subscriber = subscriber }
    func take() -> TelemetrySubscriber {
        defer { subscriber = nil }
        return subscriber!
    }
}

/// The recorder, used only by its subscriber's thread.
final class RecorderBox: @unchecked Sendable {
    let recorder: TelemetryRecorder
    init(_ recorder: TelemetryRecorder) { self.recorder = recorder }
}

/// Logs to stderr at the level in `QRRM_LOG` (trace … critical; default warning).
func bootstrapLogging() {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = ProcessInfo.processInfo.environment["QRRM_LOG"].flatMap { Logger.Level(rawValue: $0) } ?? .warning
        return handler
    }
}
