import ArgumentParser
import Foundation
import Quantities
import Telemetry
import TelemetryMetrics
import ZeroMQ

/// `qrrm telemetry …`: look at what nodes publish.
struct TelemetryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "telemetry",
        abstract: "Subscribe to nodes' telemetry: tail decoded messages, or print rates and loss.",
        subcommands: [Tail.self, Stats.self, Metrics.self, KeyGen.self])
}

/// How to reach the nodes, shared by the telemetry subcommands.
struct TelemetryConnection: ParsableArguments {
    @Option(name: .long, help: "A node's telemetry endpoint, e.g. tcp://127.0.0.1:5600; repeat for several nodes.")
    var connect: [String] = []

    @OptionGroup var curve: CurveClientOptions

    func validate() throws {
        if connect.isEmpty { throw ValidationError("give at least one --connect endpoint") }
    }

    func security() throws -> TelemetryClientSecurity { try curve.security() }
}

/// A `--duration` value such as `10s` or `5 min`.
func parseDuration(_ text: String?, option: String) throws -> Duration? {
    guard let text else { return nil }
    do { return try Duration(parsing: text) } catch { throw ValidationError("\(option): \(error)") }
}

extension TelemetryCommand {
    /// `qrrm telemetry tail [prefix]`: decoded messages as JSON lines.
    struct Tail: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print decoded telemetry messages as JSON lines.",
            discussion: """
                Each line holds the topic, the header (publisher, instance, sequence, clocks), the \
                continuity (first, in-order, gap with the number missed, restart) and the payload in \
                protobuf's JSON mapping. With --snapshot the node's snapshot comes first, as one line.
                """)

        @Argument(help: "Only topics starting with this, e.g. node1/ls372/.")
        var prefix = ""

        @OptionGroup var connection: TelemetryConnection

        @Option(name: .long, help: "Fetch this snapshot endpoint first (a late joiner's picture).")
        var snapshot: String?

        @Option(name: .long, help: "Stop after this many messages.")
        var count: Int?

        @Option(name: .long, help: "Stop after this long, e.g. 10s.")
        var duration: String?

        func validate() throws { _ = try parseDuration(duration, option: "--duration") }

        func run() throws {
            let subscriber = try TelemetrySubscriber(
                connectingTo: connection.connect, prefixes: [prefix], security: try connection.security(), keepingFrames: false)
            if let snapshot {
                let picture = try subscriber.fetchSnapshot(from: snapshot, prefix: prefix)
                print("{\"snapshot\":\(try picture.jsonString())}")
            }
            let deadline = try parseDuration(duration, option: "--duration").map { ContinuousClock.now + $0 }
            var printed = 0
            while count.map({ printed < $0 }) ?? true {
                let wait: Wait = deadline.map { .timeout(max(.zero, $0 - .now)) } ?? .forever
                guard let message = try subscriber.receive(wait: wait) else { break }
                print(message.jsonLine())
                fflush(nil)
                printed += 1
            }
        }
    }

    /// `qrrm telemetry stats`: rates and loss per publisher and topic.
    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print message and sample rates, loss, restarts and garbage, per publisher and topic.")

        @Argument(help: "Only topics starting with this.")
        var prefix = ""

        @OptionGroup var connection: TelemetryConnection

        @Option(name: .long, help: "How often to print, e.g. 1s.")
        var interval = "1s"

        @Option(name: .long, help: "Stop after this long, e.g. 10s (default: run until interrupted).")
        var duration: String?

        func validate() throws {
            _ = try parseDuration(interval, option: "--interval")
            _ = try parseDuration(duration, option: "--duration")
        }

        func run() throws {
            let period = try parseDuration(interval, option: "--interval")!
            let end = try parseDuration(duration, option: "--duration").map { ContinuousClock.now + $0 }
            let subscriber = try TelemetrySubscriber(
                connectingTo: connection.connect, prefixes: [prefix], security: try connection.security(), keepingFrames: false)
            var previous = subscriber.statistics
            var lastReport = ContinuousClock.now
            while end.map({ ContinuousClock.now < $0 }) ?? true {
                let nextReport = lastReport + period
                while ContinuousClock.now < nextReport {
                    _ = try subscriber.receive(wait: .timeout(max(.zero, nextReport - .now)))
                }
                let now = ContinuousClock.now
                let current = subscriber.statistics
                print(StatsReport(previous: previous, current: current, seconds: (now - lastReport).seconds).text)
                fflush(nil)
                previous = current
                lastReport = now
            }
        }
    }

    /// `qrrm telemetry metrics`: a Prometheus /metrics endpoint fed from the bus.
    struct Metrics: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve Prometheus /metrics: latest channel values, node health from heartbeats, loss and garbage.")

        @Argument(help: "Only topics starting with this.")
        var prefix = ""

        @OptionGroup var connection: TelemetryConnection

        @Option(name: .long, help: "The address to serve /metrics on, host:port (IPv4).")
        var listen = "127.0.0.1:9464"

        @Option(name: .long, help: "Stop after this long, e.g. 1h (default: run until interrupted).")
        var duration: String?

        func validate() throws {
            _ = try parseDuration(duration, option: "--duration")
            guard let colon = listen.lastIndex(of: ":"), UInt16(listen[listen.index(after: colon)...]) != nil else {
                throw ValidationError("--listen must be host:port, got \(listen)")
            }
        }

        func run() throws {
            let colon = listen.lastIndex(of: ":")!
            let metrics = TelemetryMetrics()
            let server = try MetricsServer(
                host: String(listen[..<colon]), port: UInt16(listen[listen.index(after: colon)...])!) { metrics.exposition() }
            defer { server.stop() }
            let subscriber = try TelemetrySubscriber(
                connectingTo: connection.connect, prefixes: [prefix], security: try connection.security(), keepingFrames: false)
            print("serving http://\(listen[..<colon]):\(server.port)/metrics")
            fflush(nil)
            let end = try parseDuration(duration, option: "--duration").map { ContinuousClock.now + $0 }
            var lastStatistics = ContinuousClock.now
            while end.map({ ContinuousClock.now < $0 }) ?? true {
                if let message = try subscriber.receive(wait: .timeout(.milliseconds(200))) { metrics.observe(message) }
                if ContinuousClock.now - lastStatistics >= .seconds(1) {
                    metrics.observe(subscriber.statistics)
                    lastStatistics = .now
                }
            }
        }
    }

    /// `qrrm telemetry keygen`: a new CURVE key pair for a node or a client.
    struct KeyGen: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "keygen",
            abstract: "Print a new CURVE key pair (zmq_curve_keypair): public and secret key, in Z85.")

        func run() throws {
            let pair = try CurveKeyPair.generate()
            print("public \(pair.publicKey.z85)")
            print("secret \(pair.secretKey.z85)")
        }
    }
}

/// One `qrrm telemetry stats` report: per stream, rates over the last interval and totals.
struct StatsReport {
    let previous: SubscriberStatistics
    let current: SubscriberStatistics
    let seconds: Double

    var text: String {
        var lines = ["publisher  topic  msg/s  samples/s  missed  gaps  (totals: messages, samples)"]
        for key in current.streams.keys.sorted(by: { ($0.publisherID, $0.topic) < ($1.publisherID, $1.topic) }) {
            let now = current.streams[key]!
            let before = previous.streams[key] ?? StreamStatistics()
            let messageRate = Double(now.messages - before.messages) / seconds
            let sampleRate = Double(now.samples - before.samples) / seconds
            lines.append(
                "\(key.publisherID)  \(key.topic)  \(format(messageRate))  \(format(sampleRate))  \(now.missed)  \(now.gaps)  (\(now.messages), \(now.samples))")
        }
        for (id, publisher) in current.publishers.sorted(by: { $0.key < $1.key }) {
            lines.append("publisher \(id): instance \(String(publisher.instance, radix: 16)), restarts \(publisher.restarts), resumptions \(publisher.resumptions)")
        }
        for (endpoint, connection) in current.connections.sorted(by: { $0.key < $1.key }) {
            lines.append("endpoint \(endpoint): \(connection.isConnected ? "connected" : "disconnected"), connects \(connection.connects), disconnects \(connection.disconnects), reconnects \(connection.reconnects)")
        }
        let garbage = current.garbage.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key) \($0.value)" }
        lines.append("lost \(current.totalMissed), garbage \(current.totalGarbage)\(garbage.isEmpty ? "" : " (" + garbage.joined(separator: ", ") + ")")")
        return lines.joined(separator: "\n")
    }

    private func format(_ rate: Double) -> String { String(format: "%.1f", rate) }
}

extension Duration {
    /// The duration in seconds, as a Double.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
