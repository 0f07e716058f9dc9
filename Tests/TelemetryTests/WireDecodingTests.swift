import Foundation
import SwiftProtobuf
import Testing
@testable import Telemetry
import TestSupport

/// `bytes` read by WireReader as a FrameHeader, in SwiftProtobuf's type (nil when refused).
private func fastHeader(_ bytes: [UInt8]) -> Result<WireFrameHeader, WireDecodingError> {
    bytes.withUnsafeBytes { raw in
        Result { () throws(WireDecodingError) in
            let fields = try WireReader.header(raw)
            return WireFrameHeader.with {
                $0.schemaVersion = fields.schemaVersion
                $0.publisherID = String(decoding: fields.publisherID, as: UTF8.self)
                $0.publisherInstance = fields.publisherInstance
                $0.sequence = fields.sequence
                $0.monotonicNs = fields.monotonicNs
                $0.wallNs = fields.wallNs
                $0.error = String(decoding: fields.error, as: UTF8.self)
            }
        }
    }
}

private func fastPayload(_ bytes: [UInt8]) -> Result<WirePayload, WireDecodingError> {
    bytes.withUnsafeBytes { raw in
        Result { () throws(WireDecodingError) in
            try WireReader.payload(raw).payload
        }
    }
}

private func encodedHeader(sequence: UInt64 = 1_000_000, id: String = "node1", schemaVersion: UInt32 = 1) throws -> [UInt8] {
    try WireFrameHeader.with {
        $0.schemaVersion = schemaVersion
        $0.publisherID = id
        $0.publisherInstance = 0x0123_4567_89AB_CDEF
        $0.sequence = sequence
        $0.monotonicNs = 123_456_789
        $0.wallNs = -42
    }.serializedBytes()
}

private func encodedSample() throws -> [UInt8] {
    try WirePayload.with { $0.sample = WireSample.with { $0.value = 0.01; $0.hardwareTimeNs = 42; $0.hostTimeNs = 1 << 60 } }.serializedBytes()
}

/// A FrameHeader as the publisher writes it (``WireWriter``), which keeps a zero sequence.
private func writtenHeader(sequence: UInt64) -> [UInt8] {
    let id = Array("node1".utf8)
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: WireWriter.maximumHeaderSize(idBytes: id.count), alignment: 8)
    defer { buffer.deallocate() }
    var writer = WireWriter(buffer)
    id.withUnsafeBytes { writer.header(publisherID: $0, instance: 0x0123_4567_89AB_CDEF, sequence: sequence, monotonicNs: 123_456_789, wallNs: -42) }
    return Array(writer.bytes)
}

/// A Payload{SampleBatch} of `n` samples, its times as absolute columns (schema 1) or as deltas (schema 2).
private func encodedBatch(_ n: Int, deltas: Bool = false) throws -> [UInt8] {
    let hardware = (0..<n).map { Int64($0) - 5 }, host = (0..<n).map { Int64($0) << 40 }
    return try WirePayload.with {
        $0.batch = WireSampleBatch.with {
            $0.values = (0..<n).map { Double($0) / 3 }
            if deltas {
                $0.hardwareTimeDeltaNs = differences(hardware)
                $0.hostTimeDeltaNs = differences(host)
            } else {
                $0.hardwareTimeNs = hardware
                $0.hostTimeNs = host
            }
        }
    }.serializedBytes()
}

/// Each time less the one before it (the first less 0), wrapping: schema 2's delta columns.
func differences(_ times: [Int64]) -> [Int64] { times.indices.map { times[$0] &- ($0 == 0 ? 0 : times[$0 - 1]) } }

/// SwiftProtobuf's reading of `bytes`, with a batch's delta columns summed into absolute ones, as
/// the subscriber delivers it; nil when SwiftProtobuf refuses the bytes or a clock has both forms.
func protobufReading(_ bytes: [UInt8]) -> WirePayload? {
    guard var payload = try? WirePayload(serializedBytes: bytes) else { return nil }
    if case .batch(let batch) = payload.body {
        guard let absolute = batch.withAbsoluteTimes() else { return nil }
        payload.body = .batch(absolute)
    }
    return payload
}

/// Whatever WireReader accepts, SwiftProtobuf decodes to the same message.
private func expectAgreement(header bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
    if case .success(let fast) = fastHeader(bytes) {
        #expect((try? WireFrameHeader(serializedBytes: bytes)) == fast, "\(bytes)", sourceLocation: sourceLocation)
    }
}

private func expectAgreement(payload bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
    if case .success(let fast) = fastPayload(bytes) {
        #expect(protobufReading(bytes) == fast, "\(bytes)", sourceLocation: sourceLocation)
    }
}

@Suite("Hand-written protobuf decoding of the hot messages")
struct WireDecodingTests {
    @Test("FrameHeader, Sample and SampleBatch decode to exactly what SwiftProtobuf decodes", arguments: [0, 1, 2, 64, 1000])
    func agreesWithSwiftProtobuf(batch n: Int) throws {
        for sequence in [UInt64(1), 127, 128, 1 << 40, .max] {
            let bytes = try encodedHeader(sequence: sequence, id: "node-α")
            #expect(try fastHeader(bytes).get() == WireFrameHeader(serializedBytes: bytes))
        }
        let sample = try encodedSample()
        #expect(try fastPayload(sample).get() == WirePayload(serializedBytes: sample))
        let batch = try encodedBatch(n)
        #expect(try fastPayload(batch).get() == WirePayload(serializedBytes: batch))
        let deltas = try encodedBatch(n, deltas: true)
        #expect(try fastPayload(deltas).get() == #require(protobufReading(deltas)))
        #expect(try fastPayload(deltas).get() == WirePayload(serializedBytes: batch))
    }

    @Test("a delta column in two pieces continues from the first piece's last time, as protobuf concatenates them")
    func deltaColumnInPieces() throws {
        let first = try encodedBatch(3, deltas: true)
        // Payload{batch} re-framed around the batch's fields followed by one more host delta (+5).
        let inner = Array(first.dropFirst(2)) + [0x2A, 0x01, 0x0A]
        let bytes = [0x22, UInt8(inner.count)] + inner
        let fast = try fastPayload(bytes).get()
        #expect(fast == protobufReading(bytes))
        #expect(fast.batch.hostTimeNs == [0, 1 << 40, 2 << 40, (2 << 40) + 5])
    }

    @Test("a subscriber delivers a schema 1 batch (absolute times) and a schema 2 batch (deltas) alike; schema 3 is garbage")
    func schemaVersions() throws {
        let subscriber = try TelemetrySubscriber(connectingTo: [], security: .plaintext)
        var delivered: [WirePayload] = []
        for (sequence, version, deltas) in [(UInt64(1), UInt32(1), false), (2, 2, true), (3, 2, false), (4, 1, true)] {
            let frames = [Array("n/i/c".utf8), try encodedHeader(sequence: sequence, schemaVersion: version), try encodedBatch(5, deltas: deltas)]
            guard case .message(let message) = subscriber.decode(frames) else {
                Issue.record("refused schema \(version), deltas \(deltas)")
                continue
            }
            delivered.append(message.payload)
        }
        #expect(delivered.count == 4 && delivered.allSatisfy { $0 == delivered[0] })
        #expect(delivered.first?.batch.hostTimeNs == (0..<5).map { Int64($0) << 40 })
        let future = [Array("n/i/c".utf8), try encodedHeader(sequence: 5, schemaVersion: telemetrySchemaVersion + 1), try encodedBatch(5, deltas: true)]
        guard case .garbage(let reason) = subscriber.decode(future) else {
            Issue.record("delivered a schema it does not know")
            return
        }
        #expect(reason == .unsupportedSchemaVersion)
    }

    @Test("a clock given both as absolute times and as deltas is refused by both readers")
    func bothForms() throws {
        let bytes = try WirePayload.with {
            $0.batch = WireSampleBatch.with { $0.values = [1]; $0.hostTimeNs = [7]; $0.hostTimeDeltaNs = [7]; $0.hardwareTimeNs = [0] }
        }.serializedBytes() as [UInt8]
        #expect(fastPayload(bytes).map { _ in true } == .failure(.unsupported(field: 5, wireType: 2)))
        #expect(protobufReading(bytes) == nil)
        let subscriber = try TelemetrySubscriber(connectingTo: [], security: .plaintext)
        guard case .garbage(let reason) = subscriber.decode([Array("n/i/c".utf8), try encodedHeader(), bytes]) else {
            Issue.record("delivered a batch with two forms of one clock")
            return
        }
        #expect(reason == .inconsistentBatch)
    }

    @Test("what the publisher writes (WireWriter) reads back field for field")
    func writerRoundTrip() throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: WireWriter.maximumBatchSize(count: 64), alignment: 8)
        defer { buffer.deallocate() }
        // Deltas of one, two, three and ten bytes, forwards and backwards.
        let values = (0..<64).map { Double($0) * -0.25 }, hardware = (0..<64).map { Int64($0) }
        let host = (0..<64).map { Int64($0) &* [7, -100, 20_000, 1 << 50, .min][$0 % 5] }
        var writer = WireWriter(buffer)
        writer.batch(values: values, hardwareTimeNs: hardware, hostTimeNs: host, count: 64)
        guard case .batch(let batch) = try fastPayload(Array(writer.bytes)).get().body else {
            Issue.record("not a batch")
            return
        }
        #expect(batch.values == values && batch.hardwareTimeNs == hardware && batch.hostTimeNs == host)
    }

    @Test("every truncation of a valid message is refused as truncated, never read past its end")
    func truncations() throws {
        for bytes in [try encodedHeader(), try encodedSample(), try encodedBatch(3)] {
            for length in 1..<bytes.count {
                let prefix = Array(bytes[..<length])
                expectAgreement(header: prefix)
                expectAgreement(payload: prefix)
            }
        }
        let sample = try encodedSample()
        #expect(fastPayload(Array(sample.dropLast())) == .failure(.truncated))
        #expect(fastPayload([]) == .failure(.truncated))
    }

    @Test("malformed bytes get the error that names them", arguments: [
        ([0x08] + [UInt8](repeating: 0xFF, count: 10) + [0x01], WireDecodingError.malformedVarint, "header"),
        ([0x08, 0x80], .truncated, "header"),
        ([0x12, 0x05, 0x6E], .truncated, "header"),
        ([0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F], .truncated, "header"),
        ([0x12, 0x02, 0xC3, 0x28], .invalidUTF8(field: 2), "header"),
        ([0x40, 0x01], .unsupported(field: 8, wireType: 0), "header"),
        ([0x22, 0x03, 0x0A, 0x01, 0x00], .malformedColumn(field: 1, bytes: 1), "payload"),
        ([0x22, 0x02, 0x09, 0x00], .unsupported(field: 1, wireType: 1), "payload"),
        ([0x1A, 0x02, 0x08, 0x01], .unsupported(field: 1, wireType: 0), "payload"),
        ([0x3A, 0x00], .unsupported(field: 7, wireType: 2), "payload"),
    ] as [([UInt8], WireDecodingError, String)])
    func malformed(bytes: [UInt8], error: WireDecodingError, kind: String) {
        switch kind {
        case "header": #expect(fastHeader(bytes).map { _ in true } == .failure(error))
        default: #expect(fastPayload(bytes).map { _ in true } == .failure(error))
        }
    }

    @Test("fuzz: mutated and random bytes are refused or read exactly as SwiftProtobuf reads them")
    func fuzz() throws {
        var random = SplitMix64(seed: 0x5EED)
        let seeds = [try encodedHeader(), try encodedSample(), try encodedBatch(4), try encodedBatch(0), try encodedBatch(3, deltas: true)]
        for round in 0..<20_000 {
            var bytes: [UInt8]
            if round % 4 == 3 {
                bytes = (0..<Int.random(in: 0...48, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            } else {
                bytes = seeds[round % seeds.count]
                for _ in 0...Int.random(in: 0...3, using: &random) where !bytes.isEmpty {
                    let at = Int.random(in: 0..<bytes.count, using: &random)
                    switch Int.random(in: 0..<3, using: &random) {
                    case 0: bytes[at] = UInt8.random(in: 0...255, using: &random)
                    case 1: bytes.remove(at: at)
                    default: bytes.insert(UInt8.random(in: 0...255, using: &random), at: at)
                    }
                }
            }
            expectAgreement(header: bytes)
            expectAgreement(payload: bytes)
        }
    }

    @Test("valid encodings the fast path leaves alone still decode, through SwiftProtobuf")
    func unusualButValid() throws {
        let subscriber = try TelemetrySubscriber(connectingTo: [], security: .plaintext)
        // An unknown header field (a newer publisher) and unpacked columns (a writer that does not pack).
        var header = try encodedHeader()
        header += [0x50, 0x07]
        let payload: [UInt8] = [0x22, 0x1B, 0x09] + [UInt8](repeating: 0, count: 8) + [0x11] + [UInt8](repeating: 0, count: 8) + [0x19] + [UInt8](repeating: 0, count: 8)
        #expect(fastHeader(header).map { _ in true } == .failure(.unsupported(field: 10, wireType: 0)))
        #expect(fastPayload(payload).map { _ in true } == .failure(.unsupported(field: 1, wireType: 1)))
        guard case .message(let message) = subscriber.decode([Array("n/i/c".utf8), header, payload]) else {
            Issue.record("refused a valid message")
            return
        }
        #expect(message.header == (try WireFrameHeader(serializedBytes: header)))
        #expect(message.payload == (try WirePayload(serializedBytes: payload)))
        #expect(message.payload.batch.values == [0])
    }

    @Test("on the last message's stream the fast lane delivers what the general path does, and leaves the rest to it")
    func recentStreamLane() throws {
        let subscriber = try TelemetrySubscriber(connectingTo: [], security: .plaintext)
        let topic = Array("n/i/c".utf8)
        let shortHost: [UInt8] = try WirePayload.with {
            $0.batch = WireSampleBatch.with { $0.values = [1, 2]; $0.hardwareTimeNs = [1, 2]; $0.hostTimeNs = [1] }
        }.serializedBytes()
        var unknownField = try encodedHeader(sequence: 6)
        unknownField += [0x50, 0x07]
        let heartbeat: [UInt8] = try WirePayload.with { $0.heartbeat = WireHeartbeat.with { $0.intervalS = 0.5 } }.serializedBytes()
        enum Arrives { case message(Continuity), garbage(GarbageReason) }
        // fast: whether the fast lane takes the message (the first has no last stream yet).
        let steps: [(header: [UInt8], payload: [UInt8], fast: Bool, arrives: Arrives)] = [
            (try encodedHeader(sequence: 1), try encodedSample(), false, .message(.first)),
            (try encodedHeader(sequence: 2), try encodedSample(), true, .message(.inOrder)),
            (try encodedHeader(sequence: 3), try encodedBatch(4, deltas: true), true, .message(.inOrder)),
            (try encodedHeader(sequence: 4, schemaVersion: 2), try encodedBatch(4), true, .message(.inOrder)),
            (try encodedHeader(sequence: 5), shortHost, false, .garbage(.inconsistentBatch)),
            (unknownField, try encodedSample(), false, .message(.gap(missed: 1))),
            // A payload with a field this schema does not know keeps it, and still hands over its sample.
            (try encodedHeader(sequence: 7), try encodedSample() + [0x50, 0x07], false, .message(.inOrder)),
            (try encodedHeader(sequence: 8), heartbeat, false, .message(.inOrder)),
            (try encodedHeader(sequence: 9, schemaVersion: telemetrySchemaVersion + 1), try encodedSample(), false, .garbage(.unsupportedSchemaVersion)),
            // Sequence 0 in the publisher's own layout (SwiftProtobuf would leave the field out).
            (writtenHeader(sequence: 0), try encodedSample(), false, .garbage(.undecodableHeader)),
            (try encodedHeader(sequence: 8), try encodedSample(), true, .message(.regression(expected: 9))),
            // 9 was garbage, so it and 10 are missing.
            (writtenHeader(sequence: 11), try encodedBatch(2), true, .message(.gap(missed: 2))),
        ]
        for (index, (header, payload, fast, expected)) in steps.enumerated() {
            let lane = subscriber.lastStream.flatMap { recent in
                header.withUnsafeBytes { header in
                    payload.withUnsafeBytes { payload in subscriber.decodeOnRecentStream(recent, header: header, payload: payload) }
                }
            }
            #expect((lane != nil) == fast, "step \(index)")
            switch (lane.map(TelemetrySubscriber.Decoded.message) ?? subscriber.decode([topic, header, payload]), expected) {
            case (.message(let message), .message(let continuity)):
                #expect(message.continuity == continuity, "step \(index)")
                #expect(message.header == (try WireFrameHeader(serializedBytes: header)), "step \(index)")
                #expect(message.payload == protobufReading(payload), "step \(index)")
                if case .sample(let sample)? = message.payload.body { #expect(message.sample == sample) } else { #expect(message.sample == nil) }
                if case .batch(let batch)? = message.payload.body { #expect(message.batch == batch) } else { #expect(message.batch == nil) }
            case (.garbage(let reason), .garbage(let expectedReason)):
                #expect(reason == expectedReason, "step \(index)")
            case (let decoded, _):
                Issue.record("step \(index): \(decoded), expected \(expected)")
            }
        }
        let stream = try #require(subscriber.statistics.streams[StreamKey(publisherID: "node1", topic: "n/i/c")])
        #expect(stream.messages == 9)
        #expect(stream.samples == 1 + 1 + 4 + 4 + 1 + 1 + 1 + 2)
        #expect(stream.missed == 3 && stream.gaps == 2 && stream.regressions == 1)
        #expect(subscriber.statistics.publishers["node1"]?.lastHeartbeat?.intervalS == 0.5)
    }

    @Test("a silence counts as a resumption only past three heartbeat intervals; lastHeard is when the last message came")
    func silences() throws {
        let subscriber = try TelemetrySubscriber(connectingTo: [], security: .plaintext)
        let topic = Array("n/_node/heartbeat".utf8)
        // Three intervals of 0.2 s: a 0.6 s silence.
        let heartbeat: [UInt8] = try WirePayload.with { $0.heartbeat = WireHeartbeat.with { $0.intervalS = 0.2 } }.serializedBytes()
        func send(_ sequence: UInt64) throws -> (before: ContinuousClock.Instant, after: ContinuousClock.Instant) {
            let before = ContinuousClock.now
            guard case .message = subscriber.decode([topic, try encodedHeader(sequence: sequence), heartbeat]) else {
                throw TelemetryError.invalidConfiguration("heartbeat \(sequence) was refused")
            }
            return (before, .now)
        }
        _ = try send(1)
        Thread.sleep(forTimeInterval: 0.05)
        let second = try send(2)
        var tracking = try #require(subscriber.statistics.publishers["node1"])
        #expect(tracking.resumptions == 0)
        // The subscriber's clock may lag by the 0.3 ms it reads the counter instead.
        #expect(tracking.lastHeard >= second.before - .milliseconds(1) && tracking.lastHeard <= second.after)
        Thread.sleep(forTimeInterval: 0.9)
        _ = try send(3)
        tracking = try #require(subscriber.statistics.publishers["node1"])
        #expect(tracking.resumptions == 1)
    }

    @Test("interleaved streams, one topic from two publishers among them, keep their own sequences")
    func interleavedStreams() throws {
        let subscriber = try TelemetrySubscriber(connectingTo: [], security: .plaintext)
        let steps: [(publisher: String, topic: String, sequence: UInt64, continuity: Continuity)] = [
            ("p1", "n/i/a", 1, .first), ("p1", "n/i/b", 1, .first), ("p2", "n/i/a", 1, .first),
            ("p1", "n/i/a", 2, .inOrder), ("p2", "n/i/a", 3, .gap(missed: 1)), ("p1", "n/i/b", 2, .inOrder),
            ("p1", "n/i/a", 4, .gap(missed: 1)), ("p1", "n/i/a", 5, .inOrder), ("p2", "n/i/a", 4, .inOrder),
        ]
        for (index, step) in steps.enumerated() {
            let frames = [Array(step.topic.utf8), try encodedHeader(sequence: step.sequence, id: step.publisher), try encodedSample()]
            guard case .message(let message) = subscriber.decode(frames) else {
                Issue.record("step \(index) was refused")
                continue
            }
            #expect(message.continuity == step.continuity, "step \(index)")
            #expect(message.header.publisherID == step.publisher && message.topic == step.topic, "step \(index)")
        }
        let streams = subscriber.statistics.streams
        #expect(streams.count == 3)
        #expect(streams[StreamKey(publisherID: "p1", topic: "n/i/a")]?.messages == 4)
        #expect(streams[StreamKey(publisherID: "p2", topic: "n/i/a")]?.missed == 1)
        #expect(streams[StreamKey(publisherID: "p1", topic: "n/i/b")]?.missed == 0)
    }

    @Test("a subscriber fed fuzzed frames counts garbage and never traps")
    func subscriberFuzz() throws {
        let subscriber = try TelemetrySubscriber(connectingTo: [], security: .plaintext)
        var random = SplitMix64(seed: 42)
        let header = try encodedHeader(), payloads = [try encodedBatch(2), try encodedBatch(2, deltas: true)]
        var delivered = 0, refused = 0
        for round in 0..<5_000 {
            var frames = [Array("node1/ls372/mxc".utf8), header, payloads[round % 2]]
            let which = Int.random(in: 0..<3, using: &random)
            if !frames[which].isEmpty {
                let at = Int.random(in: 0..<frames[which].count, using: &random)
                frames[which][at] = UInt8.random(in: 0...255, using: &random)
            }
            switch subscriber.decode(frames) {
            case .message(let message):
                delivered += 1
                #expect(message.payload == protobufReading(frames[2]))
            case .garbage: refused += 1
            }
        }
        #expect(delivered > 0 && refused > 0)
    }
}

