import SwiftProtobuf
import Testing
@testable import Telemetry

@Suite("Hand-written protobuf encoding of the hot messages")
struct WireEncodingTests {
    @Test("FrameHeader bytes equal SwiftProtobuf's and decode back", arguments: [UInt64(1), 127, 128, 1 << 40, .max])
    func header(sequence: UInt64) throws {
        let id = Array("node-α".utf8)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: WireWriter.maximumHeaderSize(idBytes: id.count), alignment: 8)
        defer { buffer.deallocate() }
        var writer = WireWriter(buffer)
        id.withUnsafeBytes {
            writer.header(publisherID: $0, instance: 0xDEAD_BEEF_0000_0001, sequence: sequence, monotonicNs: 123_456_789, wallNs: -5)
        }
        let expected = WireFrameHeader.with {
            $0.schemaVersion = telemetrySchemaVersion
            $0.publisherID = "node-α"
            $0.publisherInstance = 0xDEAD_BEEF_0000_0001
            $0.sequence = sequence
            $0.monotonicNs = 123_456_789
            $0.wallNs = -5
        }
        #expect(Array(writer.bytes) == (try expected.serializedBytes() as [UInt8]))
        #expect(try WireFrameHeader(serializedBytes: Array(writer.bytes)) == expected)
    }

    @Test("Payload{Sample} bytes equal SwiftProtobuf's")
    func sample() throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 8)
        defer { buffer.deallocate() }
        var writer = WireWriter(buffer)
        writer.sample(value: -273.15, hardwareTimeNs: 42, hostTimeNs: 1_700_000_000_000_000_000)
        let expected = WirePayload.with {
            $0.sample = WireSample.with { $0.value = -273.15; $0.hardwareTimeNs = 42; $0.hostTimeNs = 1_700_000_000_000_000_000 }
        }
        #expect(Array(writer.bytes) == (try expected.serializedBytes() as [UInt8]))
    }

    @Test("Payload{SampleBatch} bytes equal SwiftProtobuf's, times as deltas", arguments: [0, 1, 2, 15, 16, 64, 1000])
    func batch(count: Int) throws {
        let values = (0..<count).map { Double($0) * 0.5 - 3 }
        // Steady, backwards, and wrapping steps (Int64.max to Int64.min is a delta of 1).
        let hardware = (0..<count).map { Int64($0) * 1000 + 1 }
        let host = (0..<count).map { [Int64.max, .min, -7, 1_790_000_000_000_000_000][$0 % 4] &+ Int64($0 / 4) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: WireWriter.maximumBatchSize(count: count), alignment: 8)
        defer { buffer.deallocate() }
        var writer = WireWriter(buffer)
        writer.batch(values: values, hardwareTimeNs: hardware, hostTimeNs: host, count: count)
        let expected = WirePayload.with {
            $0.batch = WireSampleBatch.with {
                $0.values = values; $0.hardwareTimeDeltaNs = differences(hardware); $0.hostTimeDeltaNs = differences(host)
            }
        }
        #expect(Array(writer.bytes) == (try expected.serializedBytes() as [UInt8]))
        let read = try WirePayload(serializedBytes: Array(writer.bytes)).batch.withAbsoluteTimes()
        #expect(read == WireSampleBatch.with { $0.values = values; $0.hardwareTimeNs = hardware; $0.hostTimeNs = host })
    }

    @Test("a steady batch of 64 is about half the bytes of absolute times")
    func deltaSize() {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: WireWriter.maximumBatchSize(count: 64), alignment: 8)
        defer { buffer.deallocate() }
        var writer = WireWriter(buffer)
        let hardware = (0..<64).map { Int64($0) * 1_000 }, host = (0..<64).map { 1_790_000_000_000_000_000 + Int64($0) * 1_000 }
        writer.batch(values: [Double](repeating: 4.2, count: 64), hardwareTimeNs: hardware, hostTimeNs: host, count: 64)
        // Values 3 + 512; hardware 1 + 1 + 1 + 63·2 (zigzag 2000); host 1 + 2 + 9 + 63·2; the body's key and length 3.
        #expect(writer.count == 515 + 129 + 138 + 3)
    }
}

@Suite("Topics")
struct TopicTests {
    @Test("valid topics parse into node, instrument and channel")
    func valid() throws {
        let topic = try TelemetryTopic("node1/ls372/mxc")
        #expect(topic.node == "node1" && topic.instrument == "ls372" && topic.channel == "mxc")
        #expect(topic.description == "node1/ls372/mxc")
    }

    @Test("malformed topics name what is wrong", arguments: [
        ("node1/ls372", "three segments"), ("node1//mxc", "instrument segment is empty"),
        ("/ls372/mxc", "node segment is empty"), ("a/b/c/d", "three segments"), ("node1/ls 372/mxc", "U+20"),
    ])
    func invalid(text: String, reason: String) {
        #expect {
            try TelemetryTopic(text)
        } throws: { error in
            "\(error)".contains(reason) && "\(error)".contains(text)
        }
    }
}
