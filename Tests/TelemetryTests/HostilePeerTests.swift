import Foundation
import Testing
@testable import Telemetry
import ZeroMQ

/// Peer-chosen values that used to trap the subscriber or the publisher, fed in directly.
@Suite("Hostile peers and out-of-range arguments")
struct HostilePeerTests {
    /// A subscriber connected to nothing: `decode` is fed by hand.
    func offlineSubscriber() throws -> TelemetrySubscriber {
        try TelemetrySubscriber(connectingTo: [], security: .plaintext)
    }

    func heartbeat(_ interval: Double) -> WirePayload {
        WirePayload.with { $0.heartbeat = WireHeartbeat.with { $0.intervalS = interval } }
    }

    func continuity(_ decoded: TelemetrySubscriber.Decoded) -> Continuity? {
        if case .message(let message) = decoded { message.continuity } else { nil }
    }

    func garbageReason(_ decoded: TelemetrySubscriber.Decoded) -> GarbageReason? {
        if case .garbage(let reason) = decoded { reason } else { nil }
    }

    @Test("a heartbeat interval that is infinite, huge, negative or NaN is garbage, and the next message does not trap",
          arguments: [Double.infinity, 1e30, 86_400, -1, Double.nan])
    func heartbeatInterval(_ interval: Double) throws {
        let subscriber = try offlineSubscriber()
        let topic = "n/_node/heartbeat"
        #expect(continuity(subscriber.decode(try frames(topic: topic, sequence: 1, payload: heartbeat(1)))) == .first)
        #expect(garbageReason(subscriber.decode(try frames(topic: topic, sequence: 2, payload: heartbeat(interval)))) == .invalidHeartbeat)
        #expect(continuity(subscriber.decode(try frames(topic: "n/i/a", sequence: 1, payload: samplePayload(1)))) == .first)
        #expect(subscriber.statistics.publishers["rogue"]?.lastHeartbeat?.intervalS == 1)
    }

    @Test("a sequence jump of more than 2^32 is a regression, not a gap, so the missed counts cannot overflow")
    func sequenceJump() throws {
        let subscriber = try offlineSubscriber()
        let decode = { (instance: UInt64, sequence: UInt64) in
            subscriber.decode(try frames(topic: "n/i/a", instance: instance, sequence: sequence, payload: samplePayload(1)))
        }
        #expect(continuity(try decode(1, 1)) == .first)
        #expect(continuity(try decode(1, .max)) == .regression(expected: 2))
        #expect(continuity(try decode(2, 1)) == .restart)
        #expect(continuity(try decode(2, .max)) == .regression(expected: 2))
        #expect(continuity(try decode(2, 2)) == .inOrder)
        #expect(continuity(try decode(2, 2 + (1 << 32))) == .gap(missed: (1 << 32) - 1))
        let stream = subscriber.statistics.streams[StreamKey(publisherID: "rogue", topic: "n/i/a")]
        #expect(stream?.regressions == 2)
        #expect(stream?.missed == (1 << 32) - 1)
        #expect(subscriber.statistics.totalMissed == (1 << 32) - 1)
    }

    @Test("the totals saturate instead of overflowing")
    func saturatingTotals() {
        var statistics = SubscriberStatistics()
        var full = StreamStatistics()
        full.missed = .max
        var one = StreamStatistics()
        one.missed = 1
        statistics.streams = [StreamKey(publisherID: "a", topic: "n/i/a"): full, StreamKey(publisherID: "b", topic: "n/i/a"): one]
        statistics.garbage = [.invalidTopic: .max, .invalidHeartbeat: 1]
        #expect(statistics.totalMissed == .max)
        #expect(statistics.totalGarbage == .max)
    }

    @Test("a topic that is not <node>/<instrument>/<channel> is garbage", arguments: ["n/i", "n/i/a/b", "n//a", "n/i/a b", ""])
    func invalidTopic(_ topic: String) throws {
        let subscriber = try offlineSubscriber()
        #expect(garbageReason(subscriber.decode(try frames(topic: topic, sequence: 1, payload: samplePayload(1)))) == .invalidTopic)
        #expect(subscriber.statistics.streams.isEmpty)
    }

    @Test("streams beyond the tracking limit are garbage; known streams keep flowing")
    func trackingLimit() throws {
        let subscriber = try offlineSubscriber()
        for index in 0..<TelemetrySubscriber.trackingLimit {
            let decoded = subscriber.decode(try frames(topic: "n/i/c\(index)", publisher: "p\(index % 3)", sequence: 1, payload: samplePayload(1)))
            try #require(continuity(decoded) == .first)
        }
        #expect(garbageReason(subscriber.decode(try frames(topic: "n/i/new", publisher: "p0", sequence: 1, payload: samplePayload(1)))) == .tooManyStreams)
        #expect(garbageReason(subscriber.decode(try frames(topic: "n/i/c0", publisher: "other", sequence: 1, payload: samplePayload(1)))) == .tooManyStreams)
        #expect(continuity(subscriber.decode(try frames(topic: "n/i/c0", publisher: "p0", sequence: 2, payload: samplePayload(1)))) == .inOrder)
        #expect(subscriber.statistics.streams.count == TelemetrySubscriber.trackingLimit)
        #expect(subscriber.statistics.publishers.count == 3)
    }

    @Test("the subscriber disconnects a peer sending a frame larger than 2 MiB and keeps its other connections")
    func oversizedFrame() throws {
        let hostile = try RawPublisher()
        let good = try RawPublisher()
        let subscriber = try TelemetrySubscriber(connectingTo: [hostile.endpoint, good.endpoint], security: .plaintext)
        _ = try hostile.handshake(subscriber, topic: "hostile/x/y")
        _ = try good.handshake(subscriber, topic: "good/x/y")
        let big = WirePayload.with { $0.alarm = WireAlarm.with { $0.message = String(repeating: "x", count: 4 << 20) } }
        try hostile.send(frames(topic: "big/i/a", publisher: "hostile", sequence: 1, payload: big))
        try good.send(frames(topic: "good/x/y", publisher: "good", sequence: 1000, payload: samplePayload(1)))
        let received = try receive(subscriber, timeout: .seconds(1)) { _ in false }
        #expect(received.contains { $0.topic == "good/x/y" })
        #expect(!received.contains { $0.topic == "big/i/a" })
    }

    @Test("makeProducer(ringCapacity:) throws for a capacity out of range", arguments: [0, -1, (1 << 24) + 1, Int.max])
    func ringCapacity(_ capacity: Int) throws {
        let publisher = try makePublisher()
        defer { publisher.stop() }
        #expect(throws: TelemetryError.invalidConfiguration("ringCapacity \(capacity) is not within 1…16777216")) {
            _ = try publisher.makeProducer(ringCapacity: capacity)
        }
    }
}

@Suite("Snapshot endpoint limits")
struct SnapshotLimitTests {
    @Test("a snapshot request larger than 2 MiB gets no reply; the endpoint still answers the next one")
    func oversizedRequest() throws {
        let publisher = try makePublisher()
        defer { publisher.stop() }
        let prefix = String(repeating: "x", count: 4 << 20)
        #expect(throws: TelemetryError.snapshotTimedOut(endpoint: publisher.snapshotEndpoint, after: .milliseconds(500))) {
            _ = try TelemetrySnapshotClient.fetch(from: publisher.snapshotEndpoint, prefix: prefix, security: .plaintext, timeout: .milliseconds(500))
        }
        #expect(try TelemetrySnapshotClient.fetch(from: publisher.snapshotEndpoint, security: .plaintext).publisherID == "node1")
        #expect(publisher.statistics.snapshotsServed == 1)
    }

    @Test("a snapshot request of more than 8 frames is dropped unanswered")
    func tooManyFrames() throws {
        let publisher = try makePublisher()
        defer { publisher.stop() }
        let context = try ZMQContext()
        let dealer = try context.socket(.dealer)
        try dealer.set(.linger, .zero)
        try dealer.connect(publisher.snapshotEndpoint)
        let request: [UInt8] = try WireSnapshotRequest().serializedBytes()
        // With the identity the ROUTER adds: 9 frames, then 8.
        try dealer.send(multipart: Array(repeating: [], count: 7) + [request])
        try dealer.send(multipart: Array(repeating: [], count: 6) + [request])
        let reply = try dealer.receiveMultipart(wait: .timeout(.seconds(5)))
        #expect(reply?.count == 7, "only the 8-frame request is answered, with its 6 envelope frames")
        #expect(try dealer.receiveMultipart(wait: .timeout(.milliseconds(300))) == nil)
        #expect(publisher.statistics.snapshotsServed == 1)
    }

    @Test("one pass answers at most 16 snapshot requests")
    func budget() throws {
        let context = try ZMQContext()
        let pub = try context.socket(.pub)
        let router = try context.socket(.router)
        try pub.set(.linger, .zero)
        try router.set(.linger, .zero)
        _ = try pub.bind("tcp://127.0.0.1:*")
        let endpoint = try router.bind("tcp://127.0.0.1:*")
        let shared = PublisherShared(announcement: WireNodeAnnouncement())
        let configuration = TelemetryPublisherConfiguration(nodeID: "node1", endpoint: "", snapshotEndpoint: "", security: .plaintext)
        let loop = PublisherLoop(configuration: configuration, instance: 1, shared: shared, publisher: pub, snapshot: router)
        let dealer = try context.socket(.dealer)
        try dealer.set(.linger, .zero)
        try dealer.connect(endpoint)
        let request: [UInt8] = try WireSnapshotRequest().serializedBytes()
        for _ in 0..<20 { try dealer.send(multipart: [[], request]) }
        // Let all 20 reach the ROUTER's queue before the first pass.
        Thread.sleep(forTimeInterval: 0.3)
        try loop.serveSnapshots(wait: .seconds(5))
        #expect(shared.snapshotsServed.load(ordering: .relaxed) == 16)
        try loop.serveSnapshots(wait: .seconds(5))
        #expect(shared.snapshotsServed.load(ordering: .relaxed) == 20)
    }
}
