/// The schema version this build writes in every ``WireFrameHeader`` and accepts from others.
public let telemetrySchemaVersion: UInt32 = 1

/// Writes the protobuf encoding of the hot messages (FrameHeader, Payload{Sample},
/// Payload{SampleBatch}) straight into a preallocated buffer, without allocating.
///
/// The bytes are ordinary protobuf (proto3, packed repeated fields): every reader decodes them
/// with its generated code. The tests check them against SwiftProtobuf's own encoding.
/// Everything else is encoded with SwiftProtobuf, off the hot path.
struct WireWriter {
    private let base: UnsafeMutableRawPointer
    private let capacity: Int
    /// Bytes written so far.
    private(set) var count = 0

    init(_ buffer: UnsafeMutableRawBufferPointer) {
        base = buffer.baseAddress!
        capacity = buffer.count
    }

    /// The bytes written so far.
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    @inline(__always)
    mutating func byte(_ value: UInt8) {
        precondition(count < capacity, "telemetry scratch buffer overflow")
        base.storeBytes(of: value, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    @inline(__always)
    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            byte(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        byte(UInt8(value))
    }

    @inline(__always)
    mutating func fixed64(_ value: UInt64) {
        precondition(count + 8 <= capacity, "telemetry scratch buffer overflow")
        base.storeBytes(of: value.littleEndian, toByteOffset: count, as: UInt64.self)
        count += 8
    }

    @inline(__always)
    mutating func raw(_ source: UnsafeRawBufferPointer) {
        precondition(count + source.count <= capacity, "telemetry scratch buffer overflow")
        if let from = source.baseAddress, source.count > 0 {
            (base + count).copyMemory(from: from, byteCount: source.count)
        }
        count += source.count
    }

    /// A field key: (number << 3) | wire type (0 varint, 1 fixed64, 2 length-delimited).
    @inline(__always)
    mutating func key(_ field: UInt64, _ wireType: UInt64) { varint(field << 3 | wireType) }

    /// The FrameHeader: schema version, publisher id, instance, sequence, clocks.
    mutating func header(publisherID: UnsafeRawBufferPointer, instance: UInt64, sequence: UInt64,
                         monotonicNs: Int64, wallNs: Int64) {
        key(1, 0); varint(UInt64(telemetrySchemaVersion))
        key(2, 2); varint(UInt64(publisherID.count)); raw(publisherID)
        key(3, 1); fixed64(instance)
        key(4, 0); varint(sequence)
        key(5, 1); fixed64(UInt64(bitPattern: monotonicNs))
        key(6, 1); fixed64(UInt64(bitPattern: wallNs))
    }

    /// Payload{sample = 3}: Sample{value = 1 (double), hardware_time_ns = 2, host_time_ns = 3 (sfixed64)}.
    mutating func sample(value: Double, hardwareTimeNs: Int64, hostTimeNs: Int64) {
        key(3, 2); varint(27)
        key(1, 1); fixed64(value.bitPattern)
        key(2, 1); fixed64(UInt64(bitPattern: hardwareTimeNs))
        key(3, 1); fixed64(UInt64(bitPattern: hostTimeNs))
    }

    /// Payload{batch = 4}: SampleBatch with its three packed columns of `count` entries each.
    mutating func batch(values: UnsafePointer<Double>, hardwareTimeNs: UnsafePointer<Int64>,
                        hostTimeNs: UnsafePointer<Int64>, count n: Int) {
        let column = UInt64(n * 8)
        let inner = 3 * (1 + UInt64(WireWriter.varintSize(column)) + column)
        key(4, 2); varint(inner)
        key(1, 2); varint(column)
        fixed64Column(UnsafeRawPointer(values), count: n)
        key(2, 2); varint(column)
        fixed64Column(UnsafeRawPointer(hardwareTimeNs), count: n)
        key(3, 2); varint(column)
        fixed64Column(UnsafeRawPointer(hostTimeNs), count: n)
    }

    /// `count` 8-byte values as a packed fixed64 column: on a little-endian host their memory
    /// is already the wire format, so one copy.
    @inline(__always)
    private mutating func fixed64Column(_ from: UnsafeRawPointer, count n: Int) {
        #if _endian(little)
        raw(UnsafeRawBufferPointer(start: from, count: 8 * n))
        #else
        for i in 0..<n { fixed64(from.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)) }
        #endif
    }

    /// The bytes a varint of `value` takes.
    static func varintSize(_ value: UInt64) -> Int {
        var value = value, size = 1
        while value >= 0x80 { value >>= 7; size += 1 }
        return size
    }

    /// The largest header for a publisher id of `idBytes` bytes.
    static func maximumHeaderSize(idBytes: Int) -> Int { 2 + (1 + 10 + idBytes) + 9 + 11 + 9 + 9 }

    /// The largest batch payload of `count` samples.
    static func maximumBatchSize(count: Int) -> Int { 1 + 10 + 3 * (1 + 10 + 8 * count) }
}
