import Foundation
import Testing
@testable import Telemetry
import ZeroMQ

@Suite("Loss detection, restarts and garbage")
struct LossAndGarbageTests {
    @Test("a sequence gap is counted per publisher and topic")
    func gaps() throws {
        let raw = try RawPublisher()
        let subscriber = try TelemetrySubscriber(connectingTo: [raw.endpoint], security: .plaintext)
        _ = try raw.handshake(subscriber)
        for sequence: UInt64 in [1, 2, 5, 6, 10] {
            try raw.send(frames(topic: "n/i/a", sequence: sequence, payload: samplePayload(Double(sequence))))
        }
        for sequence: UInt64 in [1, 3] {
            try raw.send(frames(topic: "n/i/b", sequence: sequence, payload: samplePayload(0)))
        }
        let received = try receive(subscriber) { $0.count >= 7 }
        #expect(received.filter { $0.topic == "n/i/a" }.map(\.continuity) == [.first, .inOrder, .gap(missed: 2), .inOrder, .gap(missed: 3)])
        #expect(received.filter { $0.topic == "n/i/b" }.map(\.continuity) == [.first, .gap(missed: 1)])
        let a = subscriber.statistics.streams[StreamKey(publisherID: "rogue", topic: "n/i/a")]
        #expect(a?.missed == 5)
        #expect(a?.gaps == 2)
        #expect(subscriber.statistics.streams[StreamKey(publisherID: "rogue", topic: "n/i/b")]?.missed == 1)
    }

    @Test("a new publisher instance is a restart, not a gap; a backwards sequence is a regression")
    func restarts() throws {
        let raw = try RawPublisher()
        let subscriber = try TelemetrySubscriber(connectingTo: [raw.endpoint], security: .plaintext)
        _ = try raw.handshake(subscriber)
        try raw.send(frames(topic: "n/i/a", instance: 1, sequence: 40, payload: samplePayload(1)))
        try raw.send(frames(topic: "n/i/a", instance: 1, sequence: 41, payload: samplePayload(1)))
        try raw.send(frames(topic: "n/i/a", instance: 2, sequence: 1, payload: samplePayload(1)))
        try raw.send(frames(topic: "n/i/a", instance: 2, sequence: 2, payload: samplePayload(1)))
        try raw.send(frames(topic: "n/i/a", instance: 2, sequence: 2, payload: samplePayload(1)))
        let received = try receive(subscriber) { $0.count >= 5 }
        #expect(received.map(\.continuity) == [.first, .inOrder, .restart, .inOrder, .regression(expected: 3)])
        #expect(subscriber.statistics.publishers["rogue"]?.restarts == 1)
        #expect(subscriber.statistics.totalMissed == 0)
    }

    @Test("messages resuming after a silence of more than three heartbeat intervals count as a resumption")
    func resumption() throws {
        let raw = try RawPublisher()
        let subscriber = try TelemetrySubscriber(connectingTo: [raw.endpoint], security: .plaintext)
        _ = try raw.handshake(subscriber)
        let heartbeat = WirePayload.with { $0.heartbeat = WireHeartbeat.with { $0.intervalS = 0.02 } }
        try raw.send(frames(topic: "n/_node/heartbeat", sequence: 1, payload: heartbeat))
        _ = try receive(subscriber) { $0.count >= 1 }
        try raw.send(frames(topic: "n/_node/heartbeat", sequence: 2, payload: heartbeat))
        _ = try receive(subscriber) { $0.count >= 1 }
        #expect(subscriber.statistics.publishers["rogue"]?.resumptions == 0)
        Thread.sleep(forTimeInterval: 0.2)
        try raw.send(frames(topic: "n/_node/heartbeat", sequence: 3, payload: heartbeat))
        _ = try receive(subscriber) { $0.count >= 1 }
        #expect(subscriber.statistics.publishers["rogue"]?.resumptions == 1)
    }

    @Test("each kind of garbage is counted and dropped, and the next good message still arrives")
    func garbage() throws {
        let raw = try RawPublisher()
        let subscriber = try TelemetrySubscriber(connectingTo: [raw.endpoint], security: .plaintext)
        _ = try raw.handshake(subscriber)
        let good = try frames(topic: "n/i/a", sequence: 1, payload: samplePayload(1))
        var inconsistent = WirePayload()
        inconsistent.batch = WireSampleBatch.with { $0.values = [1, 2]; $0.hardwareTimeNs = [1]; $0.hostTimeNs = [1, 2] }
        let cases: [(GarbageReason, [[UInt8]])] = [
            (.wrongFrameCount, [Array("n/i/a".utf8)]),
            (.wrongFrameCount, good + [[1]]),
            (.topicNotUTF8, [[0xFF, 0xFE]] + good.dropFirst()),
            (.undecodableHeader, [good[0], [0xFF, 0xFF, 0xFF], good[2]]),
            (.undecodableHeader, [good[0], [], good[2]]),
            (.unsupportedSchemaVersion, try frames(topic: "n/i/a", sequence: 1, payload: samplePayload(1), schemaVersion: 99)),
            (.undecodablePayload, [good[0], good[1], [0x1A, 0xFF, 0x01]]),
            (.unknownPayloadKind, [good[0], good[1], []]),
            (.inconsistentBatch, try frames(topic: "n/i/a", sequence: 1, payload: inconsistent)),
        ]
        for (_, message) in cases { try raw.send(message) }
        try raw.send(good)
        let received = try receive(subscriber) { !$0.isEmpty }
        #expect(received.count == 1)
        #expect(received.first?.payload == samplePayload(1))
        var expected: [GarbageReason: UInt64] = [:]
        for (reason, _) in cases { expected[reason, default: 0] += 1 }
        #expect(subscriber.statistics.garbage == expected)
    }

    @Test("a receive with a timeout ends on time while only garbage arrives")
    func timeoutAmidGarbage() throws {
        // Handed to the sender thread once the handshake is done; only that thread uses it then.
        nonisolated(unsafe) let raw = try RawPublisher()
        let subscriber = try TelemetrySubscriber(connectingTo: [raw.endpoint], security: .plaintext)
        _ = try raw.handshake(subscriber)
        let sender = Thread {
            // A one-frame message every 20 ms for 3 s: garbage, and it keeps coming past the timeout.
            for _ in 0..<150 {
                try? raw.send([Array("n/i/a".utf8)])
                Thread.sleep(forTimeInterval: 0.02)
            }
        }
        sender.start()
        let start = ContinuousClock.now
        let message = try subscriber.receive(wait: .timeout(.milliseconds(300)))
        let waited = ContinuousClock.now - start
        #expect(message == nil)
        // Not before the deadline, and not when the garbage stops (a deadline restarted per message).
        #expect(waited >= .milliseconds(300) && waited < .milliseconds(2500), "\(waited)")
        #expect((subscriber.statistics.garbage[.wrongFrameCount] ?? 0) > 0)
        while !sender.isFinished { Thread.sleep(forTimeInterval: 0.05) }
    }

    @Test("random frames never crash the subscriber: each is garbage or a valid message")
    func fuzz() throws {
        let raw = try RawPublisher()
        let subscriber = try TelemetrySubscriber(connectingTo: [raw.endpoint], security: .plaintext)
        _ = try raw.handshake(subscriber)
        var generator = SystemRandomNumberGenerator()
        let good = try frames(topic: "n/i/a", sequence: 1, payload: samplePayload(1))
        let count = 3000
        for _ in 0..<count {
            var message = good
            for frame in message.indices where Bool.random(using: &generator) {
                if message[frame].isEmpty || Bool.random(using: &generator) {
                    message[frame] = (0..<Int.random(in: 0...40, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                } else {
                    message[frame][Int.random(in: 0..<message[frame].count, using: &generator)] ^= UInt8.random(in: 1...255, using: &generator)
                }
            }
            if Int.random(in: 0..<10, using: &generator) == 0 { message.removeLast() }
            try raw.send(message)
        }
        let received = try receive(subscriber, timeout: .seconds(3)) { $0.count + Int(subscriber.statistics.totalGarbage) >= count }
        #expect(received.count + Int(subscriber.statistics.totalGarbage) == count)
    }
}
