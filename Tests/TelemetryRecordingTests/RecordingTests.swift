import Foundation
import Telemetry
@testable import TelemetryRecording
import Testing
import ZeroMQ

/// A fresh file name in the temporary folder.
func temporaryRecording(_ name: String) -> String {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("qrrm-recording-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder.appendingPathComponent(name).path
}

/// A plaintext publisher and a subscriber that has heard its heartbeat.
func connectedPair(batchSize: Int = 1) throws -> (TelemetryPublisher, TelemetrySubscriber, TelemetryChannel) {
    var configuration = TelemetryPublisherConfiguration(
        nodeID: "node1", endpoint: "tcp://127.0.0.1:*", snapshotEndpoint: "tcp://127.0.0.1:*", security: .plaintext)
    configuration.batchSize = batchSize
    configuration.heartbeatInterval = .milliseconds(50)
    let publisher = try TelemetryPublisher(configuration)
    let subscriber = try TelemetrySubscriber(connectingTo: [publisher.endpoint], prefixes: ["node1/"], security: .plaintext)
    var heard = false
    let deadline = ContinuousClock.now + .seconds(10)
    while !heard && ContinuousClock.now < deadline {
        heard = try subscriber.receive(wait: .timeout(.milliseconds(100)))?.topic == "node1/_node/heartbeat"
    }
    let channel = try publisher.declare(WireChannelDescriptor.with { $0.topic = "node1/ls372/mxc"; $0.unit = "K" })
    return (publisher, subscriber, channel)
}

/// Receives `count` messages on `topic` (others are skipped).
func receive(_ count: Int, on topic: String, from subscriber: TelemetrySubscriber) throws -> [TelemetryMessage] {
    var out: [TelemetryMessage] = []
    let deadline = ContinuousClock.now + .seconds(10)
    while out.count < count && ContinuousClock.now < deadline {
        if let message = try subscriber.receive(wait: .timeout(.milliseconds(100))), message.topic == topic { out.append(message) }
    }
    return out
}

@Suite("Recording and replay")
struct RecordingTests {
    @Test("recorded messages read back byte for byte, filtered by prefix, in order")
    func roundTrip() throws {
        let (publisher, subscriber, channel) = try connectedPair()
        defer { publisher.stop() }
        var producer = publisher.makeProducer()
        for i in 0..<50 { producer.record(channel, Double(i)) }
        let messages = try receive(51, on: "node1/ls372/mxc", from: subscriber)
        try #require(messages.count == 51)
        let path = temporaryRecording("round-trip.sqlite")
        let recorder = try TelemetryRecorder(path: path)
        for message in messages { recorder.append(message) }
        #expect(recorder.pendingCount == 51)
        try recorder.commit()
        #expect(recorder.pendingCount == 0)

        let recording = try TelemetryRecording(path: path)
        #expect(try recording.count() == 51)
        let read = try recording.messages(prefixes: ["node1/ls372/"], limit: 100)
        #expect(read.map { Optional($0.header) } == messages.map(\.headerFrame))
        #expect(read.map { Optional($0.payload) } == messages.map(\.payloadFrame))
        #expect(read.map(\.sequence) == Array(1...51))
        #expect(try recording.messages(prefixes: ["node2/"]).isEmpty)
        #expect(try recording.messages(after: read[9].id, limit: 5).map(\.sequence) == [11, 12, 13, 14, 15])
    }

    @Test("retention deletes messages older than the limit")
    func retention() throws {
        let (publisher, subscriber, channel) = try connectedPair()
        defer { publisher.stop() }
        var producer = publisher.makeProducer()
        producer.record(channel, 1)
        let messages = try receive(2, on: "node1/ls372/mxc", from: subscriber)
        let path = temporaryRecording("retention.sqlite")
        let recorder = try TelemetryRecorder(path: path, retention: .milliseconds(100))
        recorder.append(messages[0])
        try recorder.commit()
        #expect(try TelemetryRecording(path: path).count() == 1)
        Thread.sleep(forTimeInterval: 1.2)
        recorder.append(messages[1])
        try recorder.commit()
        let left = try TelemetryRecording(path: path).messages()
        #expect(left.map(\.sequence) == [2])
    }

    @Test("replay republishes the frames unchanged, in order, and paces by the recorded clock")
    func replay() throws {
        let path = temporaryRecording("replay.sqlite")
        do {
            let (publisher, subscriber, channel) = try connectedPair()
            defer { publisher.stop() }
            var producer = publisher.makeProducer()
            let recorder = try TelemetryRecorder(path: path)
            for i in 0..<10 {
                producer.record(channel, Double(i))
                Thread.sleep(forTimeInterval: 0.03)
            }
            for message in try receive(11, on: "node1/ls372/mxc", from: subscriber) { recorder.append(message) }
            try recorder.commit()
        }
        let recording = try TelemetryRecording(path: path)
        let recorded = try recording.messages()
        let span = Double(recorded.last!.receivedMonotonicNs - recorded.first!.receivedMonotonicNs) / 1e9

        let replayer = try TelemetryReplayer(endpoint: "tcp://127.0.0.1:*", security: .plaintext)
        let listener = try TelemetrySubscriber(connectingTo: [replayer.endpoint], security: .plaintext)
        // Wait for the subscription: replay until the listener hears something.
        var heard: TelemetryMessage?
        var tries = 0
        while heard == nil && tries < 100 {
            tries += 1
            try replayer.replay(recording, prefixes: ["node1/ls372/mxc"], speed: nil)
            heard = try listener.receive(wait: .timeout(.milliseconds(50)))
        }
        try #require(heard != nil)
        while try listener.receive(wait: .timeout(.milliseconds(200))) != nil {}

        let started = ContinuousClock.now
        #expect(try replayer.replay(recording, speed: 2) == recorded.count)
        let took = (ContinuousClock.now - started)
        // Paced playback cannot finish before the recorded span divided by the speed.
        #expect(took >= .nanoseconds(Int64(span / 2 * 1e9)) - .milliseconds(5))
        let replayed = try receive(recorded.count, on: "node1/ls372/mxc", from: listener)
        #expect(replayed.map(\.headerFrame) == recorded.map { Optional($0.header) })
        #expect(replayed.map(\.payloadFrame) == recorded.map { Optional($0.payload) })
    }

    @Test("kill -9 while recording: the file passes integrity_check and holds every committed batch, without holes")
    func killNine() throws {
        let qrrm = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("qrrm")
        try #require(FileManager.default.isExecutableFile(atPath: qrrm.path),
                     "\(qrrm.path) is missing: build the qrrm product first (`make test` and `swift build --build-tests` do)")
        var configuration = TelemetryPublisherConfiguration(
            nodeID: "node1", endpoint: "tcp://127.0.0.1:*", snapshotEndpoint: "tcp://127.0.0.1:*", security: .plaintext)
        configuration.batchSize = 1
        let publisher = try TelemetryPublisher(configuration)
        defer { publisher.stop() }
        let channel = try publisher.declare(WireChannelDescriptor.with { $0.topic = "node1/ls372/mxc"; $0.unit = "K" })
        let path = temporaryRecording("killed.sqlite")
        var producer = publisher.makeProducer()
        var value = 0.0
        var committedBefore = 0

        for round in 0..<3 {
            let recorder = Process()
            recorder.executableURL = qrrm
            recorder.arguments = ["record", "node1/ls372/", "--connect", publisher.endpoint, "--plaintext", "--to", path,
                                  "--batch-size", "50", "--commit-interval", "20ms"]
            let output = Pipe()
            recorder.standardOutput = output
            try recorder.run()
            // It prints its first line once the file is open and its table exists.
            let firstLine = output.fileHandleForReading.availableData
            try #require(String(decoding: firstLine, as: UTF8.self).hasPrefix("recording "), "qrrm record did not start: \(String(decoding: firstLine, as: UTF8.self))")
            // Publish until this round's recorder has committed a good number of messages,
            // then kill it in the middle of its work.
            let deadline = ContinuousClock.now + .seconds(20)
            var committed = committedBefore
            while committed < committedBefore + 300 && ContinuousClock.now < deadline {
                for _ in 0..<20 {
                    value += 1
                    producer.record(channel, value)
                }
                Thread.sleep(forTimeInterval: 0.002)
                committed = try TelemetryRecording(path: path).count()
            }
            kill(recorder.processIdentifier, SIGKILL)
            recorder.waitUntilExit()
            #expect(recorder.terminationReason == .uncaughtSignal, "round \(round)")

            let recording = try TelemetryRecording(path: path)
            #expect(try recording.integrityCheck() == "ok", "round \(round)")
            let count = try recording.count()
            #expect(count >= committed, "round \(round): \(committed) messages were committed before the kill, \(count) are left")
            committedBefore = count
        }
        // Within each recorder's run the stored sequence numbers are consecutive: what the kill
        // lost is only the tail that was never committed.
        let stored = try TelemetryRecording(path: path).messages(limit: 1_000_000).filter { $0.topic == "node1/ls372/mxc" }
        var runs = 0
        for (previous, next) in zip(stored, stored.dropFirst()) where next.sequence != previous.sequence + 1 {
            #expect(next.sequence > previous.sequence, "sequence went back from \(previous.sequence) to \(next.sequence)")
            runs += 1
        }
        #expect(runs <= 2, "more holes than the two restarts of the recorder explain")
        #expect(stored.count >= 900)
    }
}
