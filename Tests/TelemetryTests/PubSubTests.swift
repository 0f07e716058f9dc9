import Foundation
import Testing
@testable import Telemetry
import ZeroMQ

@Suite("Publisher → subscriber over TCP loopback")
struct PubSubTests {
    @Test("descriptor first, then every sample in order, batched or single", arguments: [1, 64])
    func samplesArriveInOrder(batchSize: Int) throws {
        let publisher = try makePublisher(batchSize: batchSize)
        defer { publisher.stop() }
        let subscriber = try TelemetrySubscriber(connectingTo: [publisher.endpoint], prefixes: ["node1/"], security: .plaintext)
        try #require(try waitForHeartbeat(subscriber))
        let channel = try publisher.declare(descriptor("node1/ls372/mxc"))
        var producer = publisher.makeProducer()
        let count = 1000
        for i in 0..<count {
            while !producer.record(channel, Double(i), hardwareTimeNs: Int64(i)) {}
        }
        let received = try receive(subscriber) { samples(in: $0, topic: "node1/ls372/mxc").count >= count }
        let onTopic = received.filter { $0.topic == "node1/ls372/mxc" }
        guard case .descriptor(let first)? = onTopic.first?.payload.body else {
            Issue.record("the first message on the topic is not its descriptor: \(String(describing: onTopic.first?.payload))")
            return
        }
        #expect(first.unit == "K")
        #expect(samples(in: received, topic: "node1/ls372/mxc") == (0..<count).map(Double.init))
        #expect(onTopic.map(\.header.sequence) == Array(1...UInt64(onTopic.count)))
        #expect(onTopic.dropFirst().allSatisfy { $0.continuity == .inOrder })
        if batchSize == 1 {
            #expect(onTopic.dropFirst().allSatisfy { if case .sample = $0.payload.body { true } else { false } })
        } else {
            #expect(onTopic.count < count / 2, "samples were not batched: \(onTopic.count) messages")
        }
        #expect(subscriber.statistics.totalMissed == 0)
        #expect(subscriber.statistics.totalGarbage == 0)
        let stream = subscriber.statistics.streams[StreamKey(publisherID: "node1", topic: "node1/ls372/mxc")]
        #expect(stream?.samples == UInt64(count))
    }

    @Test("headers carry schema version, publisher id and instance, and both clocks")
    func headers() throws {
        let publisher = try makePublisher()
        defer { publisher.stop() }
        let subscriber = try TelemetrySubscriber(connectingTo: [publisher.endpoint], security: .plaintext)
        let before = Int64(Date().timeIntervalSince1970 * 1e9)
        let heartbeats = try receive(subscriber) { $0.count >= 2 }
        let message = try #require(heartbeats.last)
        #expect(message.header.schemaVersion == telemetrySchemaVersion)
        #expect(message.header.publisherID == "node1")
        #expect(message.header.publisherInstance == publisher.instance)
        #expect(message.header.monotonicNs > 0)
        #expect(message.header.wallNs >= before - 1_000_000_000)
        guard case .heartbeat(let heartbeat) = message.payload.body else {
            Issue.record("expected a heartbeat, got \(message.payload)")
            return
        }
        #expect(heartbeat.intervalS == 0.05)
        #expect(subscriber.statistics.publishers["node1"]?.lastHeartbeat != nil)
    }

    @Test("a full ring drops and counts; it never blocks the producer, and what it accepted is sent")
    func producerNeverBlocks() throws {
        let publisher = try makePublisher(batchSize: 16)
        let channel = try publisher.declare(descriptor("node1/awg/trigger"))
        var producer = try publisher.makeProducer(ringCapacity: 4)
        var refused: UInt64 = 0
        let total: UInt64 = 200_000
        for i in 0..<total where !producer.record(channel, Double(i)) { refused += 1 }
        #expect(producer.dropped == refused)
        publisher.stop()
        let statistics = publisher.statistics
        #expect(statistics.samplesDropped == refused)
        #expect(statistics.samplesSent + statistics.samplesDropped == total)
    }

    @Test("alarms and other events go out on their topic; a topic of another node is refused")
    func events() throws {
        let publisher = try makePublisher()
        defer { publisher.stop() }
        let subscriber = try TelemetrySubscriber(connectingTo: [publisher.endpoint], prefixes: ["node1/ls372/"], security: .plaintext)
        let probe = try publisher.declare(descriptor("node1/ls372/probe"))
        var producer = publisher.makeProducer()
        // Wait for the subscription with samples on a channel, then send the alarm.
        var value = 0.0
        var seen: [TelemetryMessage] = []
        while seen.isEmpty && value < 500 {
            value += 1
            producer.record(probe, value)
            seen = try receive(subscriber, timeout: .milliseconds(20)) { !$0.isEmpty }
        }
        let alarm = WirePayload.with {
            $0.alarm = WireAlarm.with { $0.source = "ls372/ch6"; $0.severity = .critical; $0.message = "open circuit"; $0.active = true }
        }
        #expect(try producer.publish(alarm, on: TelemetryTopic("node1/ls372/alarm")))
        let received = try receive(subscriber) { $0.contains { $0.topic == "node1/ls372/alarm" } }
        let message = try #require(received.first { $0.topic == "node1/ls372/alarm" })
        #expect(message.payload == alarm)
        #expect(message.header.sequence == 1)
        #expect(throws: TelemetryError.self) { try producer.publish(alarm, on: TelemetryTopic("node2/ls372/alarm")) }
    }

    @Test("declaring a topic twice, of another node, or under _node is refused")
    func declarations() throws {
        let publisher = try makePublisher()
        defer { publisher.stop() }
        _ = try publisher.declare(descriptor("node1/ls372/mxc"))
        #expect(throws: TelemetryError.duplicateChannel(topic: "node1/ls372/mxc")) { try publisher.declare(descriptor("node1/ls372/mxc")) }
        #expect(throws: TelemetryError.self) { try publisher.declare(descriptor("node2/ls372/mxc")) }
        #expect(throws: TelemetryError.self) { try publisher.declare(descriptor("node1/_node/mxc")) }
    }

    @Test("bad configuration values are named")
    func configuration() {
        #expect { try makePublisher(batchSize: 0) } throws: { "\($0)".contains("batchSize 0") }
        #expect { try makePublisher(node: "bad node") } throws: { "\($0)".contains("U+20") }
    }

    @Test("the tail's JSON line is one JSON object with the header and the payload")
    func jsonLine() throws {
        let publisher = try makePublisher()
        defer { publisher.stop() }
        let subscriber = try TelemetrySubscriber(connectingTo: [publisher.endpoint], security: .plaintext)
        let received = try receive(subscriber) { $0.contains { $0.topic == "node1/_node/heartbeat" } }
        let message = try #require(received.first { $0.topic == "node1/_node/heartbeat" })
        let line = message.jsonLine()
        #expect(!line.contains("\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["topic"] as? String == "node1/_node/heartbeat")
        #expect(object["publisher"] as? String == "node1")
        #expect(object["continuity"] as? String == "first")
        let payload = try #require(object["payload"] as? [String: Any])
        #expect(payload["heartbeat"] != nil)
    }
}
