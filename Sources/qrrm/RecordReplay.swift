import ArgumentParser
import Foundation
import Telemetry
import TelemetryRecording
import ZeroMQ

/// `qrrm record`: writes selected topics to a SQLite recording, one transaction per batch.
struct Record: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record telemetry topics to a SQLite file (GRDB), with retention.",
        discussion: """
            Messages are committed in batches (--batch-size, or every --commit-interval). The file is in \
            WAL mode: a crash or kill -9 loses at most the batch not yet committed and never corrupts it. \
            SIGINT and SIGTERM commit what is pending and stop.
            """)

    @Argument(help: "Topic prefixes to record (default: everything).")
    var prefixes: [String] = []

    @OptionGroup var connection: TelemetryConnection

    @Option(name: .long, help: "The SQLite file to write (created if missing; appended to otherwise).")
    var to: String

    @Option(name: .long, help: "Delete messages older than this, e.g. 24h (default: keep everything).")
    var retention: String?

    @Option(name: .long, help: "Commit after this many messages.")
    var batchSize = 1000

    @Option(name: .long, help: "Commit at least this often, e.g. 200ms.")
    var commitInterval = "200ms"

    @Option(name: .long, help: "Stop after this long, e.g. 1h.")
    var duration: String?

    func validate() throws {
        if let retention = try parseDuration(retention, option: "--retention"), retention <= .zero {
            throw ValidationError("--retention must be positive, got \(retention)")
        }
        _ = try parseDuration(commitInterval, option: "--commit-interval")
        _ = try parseDuration(duration, option: "--duration")
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
    }

    func run() throws {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &signals, nil)

        let interval = try parseDuration(commitInterval, option: "--commit-interval")!
        let end = try parseDuration(duration, option: "--duration").map { ContinuousClock.now + $0 }
        let recorder = try TelemetryRecorder(path: to, retention: try parseDuration(retention, option: "--retention"))
        let subscriber = try TelemetrySubscriber(
            connectingTo: connection.connect, prefixes: prefixes.isEmpty ? [""] : prefixes, security: try connection.security())
        print("recording \(prefixes.isEmpty ? "all topics" : prefixes.joined(separator: " ")) from \(connection.connect.joined(separator: " ")) to \(to)")
        fflush(nil)
        var noWait = timespec(tv_sec: 0, tv_nsec: 0)
        while end.map({ ContinuousClock.now < $0 }) ?? true {
            let commitAt = ContinuousClock.now + interval
            while recorder.pendingCount < batchSize, ContinuousClock.now < commitAt {
                guard let message = try subscriber.receive(wait: .timeout(max(.zero, commitAt - .now))) else { break }
                recorder.append(message)
            }
            try recorder.commit()
            if sigtimedwait(&signals, nil, &noWait) > 0 { break }
        }
        try recorder.commit()
    }
}

/// `qrrm replay`: republishes a recording.
struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Republish a recording on a PUB endpoint, at the recorded pace or scaled.",
        discussion: "Messages go out frame for frame: the original topics, headers (publishers, sequences) and payloads.")

    @Argument(help: "The recording (SQLite file written by qrrm record).")
    var recording: String

    @Argument(help: "Topic prefixes to replay (default: everything).")
    var prefixes: [String] = []

    @Option(name: .long, help: "The PUB endpoint to bind, e.g. tcp://127.0.0.1:5600.")
    var endpoint: String

    @Option(name: .long, help: "Playback speed: 2 plays twice as fast as recorded.")
    var speed = 1.0

    @Flag(name: .long, help: "Ignore the recorded pace and send as fast as possible.")
    var asFastAsPossible = false

    @Option(name: .long, help: "Wait this long after binding, so subscribers can connect, e.g. 1s.")
    var waitForSubscribers = "1s"

    @OptionGroup var curve: CurveServerOptions

    func validate() throws {
        // Below 1e-6 one recorded second would take more than 11 days: a hang, not a replay.
        guard speed >= 1e-6 && speed <= 1e6 else { throw ValidationError("--speed must be within 1e-6…1e6, got \(speed)") }
        _ = try parseDuration(waitForSubscribers, option: "--wait-for-subscribers")
    }

    func run() throws {
        let security = try curve.security()
        let source = try TelemetryRecording(path: recording)
        let replayer = try TelemetryReplayer(endpoint: endpoint, security: security)
        print("replaying \(recording) on \(replayer.endpoint)")
        fflush(nil)
        if let wait = try parseDuration(waitForSubscribers, option: "--wait-for-subscribers"), wait > .zero {
            Thread.sleep(forTimeInterval: wait.seconds)
        }
        let sent = try replayer.replay(source, prefixes: prefixes, speed: asFastAsPossible ? nil : speed)
        print("replayed \(sent) messages")
    }
}
