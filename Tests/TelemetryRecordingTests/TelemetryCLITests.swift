import Foundation
import Telemetry
import TelemetryRecording
import Testing
import ZeroMQ

/// The qrrm binary built beside this test bundle.
private func qrrmBinary() throws -> URL {
    let qrrm = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("qrrm")
    try #require(FileManager.default.isExecutableFile(atPath: qrrm.path),
                 "\(qrrm.path) is missing: build the qrrm product first (`make test` and `swift build --build-tests` do)")
    return qrrm
}

/// A running `qrrm` whose standard output and error are collected as it goes.
private final class QRRM: @unchecked Sendable {
    let process = Process()
    private let output = Pipe(), errors = Pipe()
    private let lock = NSLock()
    private var out = Data(), err = Data()

    init(_ arguments: [String]) throws {
        process.executableURL = try qrrmBinary()
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = errors
        output.fileHandleForReading.readabilityHandler = { [unowned self] handle in
            let data = handle.availableData
            lock.withLock { out.append(data) }
        }
        errors.fileHandleForReading.readabilityHandler = { [unowned self] handle in
            let data = handle.availableData
            lock.withLock { err.append(data) }
        }
        try process.run()
    }

    var standardOutput: String { lock.withLock { String(decoding: out, as: UTF8.self) } }
    var standardError: String { lock.withLock { String(decoding: err, as: UTF8.self) } }

    /// Waits for the exit (at most `timeout`, then kills it) and for the pipes to drain.
    func finish(timeout: Duration = .seconds(30)) -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.01) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        output.fileHandleForReading.readabilityHandler = nil
        errors.fileHandleForReading.readabilityHandler = nil
        let restOut = output.fileHandleForReading.readDataToEndOfFile()
        let restErr = errors.fileHandleForReading.readDataToEndOfFile()
        lock.withLock { out.append(restOut); err.append(restErr) }
        return process.terminationStatus
    }
}

/// Starts qrrm with the arguments `arguments` makes for a fresh publisher's endpoint, and records
/// a sample on node1/ls372/mxc every 5 ms until it exits.
private func runWhilePublishing(_ arguments: (String) -> [String]) throws -> QRRM {
    let (publisher, _, channel) = try connectedPair()
    defer { publisher.stop() }
    let qrrm = try QRRM(arguments(publisher.endpoint))
    var producer = publisher.makeProducer()
    var value = 0.0
    while qrrm.process.isRunning {
        value += 1
        producer.record(channel, value)
        Thread.sleep(forTimeInterval: 0.005)
    }
    return qrrm
}

@Suite("qrrm telemetry tail, telemetry stats and replay, run as a program")
struct TelemetryCLITests {
    @Test("tail prints one JSON object a line, only under its prefix, and stops after --count")
    func tail() throws {
        let tail = try runWhilePublishing { endpoint in
            ["telemetry", "tail", "node1/ls372/", "--connect", endpoint, "--plaintext", "--count", "5", "--duration", "20s"]
        }
        #expect(tail.finish() == 0, "\(tail.standardError)")
        let lines = tail.standardOutput.split(separator: "\n")
        #expect(lines.count == 5, "\(tail.standardOutput)")
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["topic"] as? String == "node1/ls372/mxc", "\(line)")
            #expect(object?["publisher"] as? String == "node1")
            #expect((object?["payload"] as? [String: Any])?["sample"] != nil, "\(line)")
        }
    }

    @Test("stats prints rates and loss per publisher and topic each interval, then exits")
    func stats() throws {
        let stats = try runWhilePublishing { endpoint in
            ["telemetry", "stats", "node1/", "--connect", endpoint, "--plaintext", "--interval", "200ms", "--duration", "1500ms"]
        }
        #expect(stats.finish() == 0, "\(stats.standardError)")
        let text = stats.standardOutput
        #expect(text.contains("publisher  topic  msg/s  samples/s  missed  gaps"), "\(text)")
        // Once the subscription is in place every report has the sample stream, without loss.
        let streamLines = text.split(separator: "\n").filter { $0.hasPrefix("node1  node1/ls372/mxc  ") }
        #expect(!streamLines.isEmpty, "\(text)")
        for line in streamLines { #expect(line.split(separator: " ", omittingEmptySubsequences: true)[4...5] == ["0", "0"], "\(line)") }
        #expect(text.contains("publisher node1: instance"), "\(text)")
        #expect(text.contains(": connected, connects 1, disconnects 0, reconnects 0"), "\(text)")
        #expect(text.contains("lost 0, garbage 0"), "\(text)")
    }

    @Test("replay republishes a recording frame for frame and says how many it sent")
    func replay() throws {
        let (publisher, subscriber, channel) = try connectedPair()
        var producer = publisher.makeProducer()
        for i in 0..<20 { producer.record(channel, Double(i)) }
        let messages = try receive(21, on: "node1/ls372/mxc", from: subscriber)
        publisher.stop()
        try #require(messages.count == 21)
        let path = temporaryRecording("cli-replay.sqlite")
        let recorder = try TelemetryRecorder(path: path)
        for message in messages { recorder.append(message) }
        try recorder.commit()

        let replay = try QRRM([
            "replay", path, "node1/ls372/", "--endpoint", "tcp://127.0.0.1:*", "--plaintext", "--as-fast-as-possible",
            "--wait-for-subscribers", "3s",
        ])
        // The first line names the endpoint actually bound.
        let deadline = ContinuousClock.now + .seconds(20)
        while !replay.standardOutput.contains("\n") && replay.process.isRunning && ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.01)
        }
        let firstLine = replay.standardOutput.split(separator: "\n").first.map(String.init) ?? ""
        try #require(firstLine.hasPrefix("replaying \(path) on tcp://127.0.0.1:"), "\(firstLine) \(replay.standardError)")
        let endpoint = String(firstLine.split(separator: " ").last!)
        let listener = try TelemetrySubscriber(connectingTo: [endpoint], security: .plaintext)
        let replayed = try receive(21, on: "node1/ls372/mxc", from: listener)
        #expect(replay.finish() == 0, "\(replay.standardError)")
        #expect(replay.standardOutput.contains("replayed 21 messages"), "\(replay.standardOutput)")
        #expect(replayed.map(\.headerFrame) == messages.map(\.headerFrame))
        #expect(replayed.map(\.payloadFrame) == messages.map(\.payloadFrame))
    }

    @Test("bad arguments: a usage error (exit 64) or a failure (exit 1) that names what is wrong", arguments: [
        (["telemetry", "tail", "--plaintext"], Int32(64), "give at least one --connect endpoint"),
        (["telemetry", "tail", "--connect", "tcp://127.0.0.1:1", "--plaintext", "--duration", "soon"], 64, "--duration"),
        (["telemetry", "tail", "--connect", "tcp://127.0.0.1:1"], 64, "give --server-key and --secret-key-file for CURVE, or --plaintext"),
        (["telemetry", "tail", "--connect", "nowhere", "--plaintext"], 1, "connecting to the telemetry endpoint nowhere"),
        (["telemetry", "stats", "--connect", "tcp://127.0.0.1:1", "--plaintext", "--interval", "often"], 64, "--interval"),
        (["telemetry", "stats", "--connect", "tcp://127.0.0.1:1", "--plaintext", "--server-key", "x"], 64,
         "--plaintext excludes --server-key and --secret-key-file"),
        (["replay", "/nonexistent/qrrm/recording.sqlite", "--endpoint", "tcp://127.0.0.1:*", "--plaintext"], 1,
         "/nonexistent/qrrm/recording.sqlite"),
        (["replay", "x.sqlite", "--endpoint", "tcp://127.0.0.1:*", "--plaintext", "--speed", "0"], 64, "--speed must be within 1e-6…1e6, got 0.0"),
        (["replay", "x.sqlite", "--endpoint", "tcp://127.0.0.1:*"], 64, "give --secret-key-file (and --allow keys) for CURVE, or --plaintext"),
        (["replay", "x.sqlite", "--plaintext"], 64, "--endpoint"),
    ] as [([String], Int32, String)])
    func badArguments(arguments: [String], status: Int32, message: String) throws {
        let qrrm = try QRRM(arguments)
        #expect(qrrm.finish() == status, "\(qrrm.standardError)")
        #expect(qrrm.standardError.contains(message), "\(qrrm.standardError)")
    }
}
