/// The schema version this build writes in every ``WireFrameHeader``; it reads this one and
/// every earlier one (``telemetryReadableSchemaVersions``).
public let telemetrySchemaVersion: UInt32 = 2

/// The schema versions this build decodes: 1 (batch times as absolute columns) and 2 (as deltas).
public let telemetryReadableSchemaVersions: ClosedRange<UInt32> = 1...telemetrySchemaVersion

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

    /// Payload{batch = 4}: SampleBatch with its values as a packed double column (field 1) and
    /// its times as packed zigzag-varint deltas (fields 4 and 5, schema 2).
    /// The delta columns go to `scratch` (``deltaScratchSize(count:)`` bytes) first: their
    /// lengths come before them on the wire.
    mutating func batch(values: UnsafePointer<Double>, hardwareTimeNs: UnsafePointer<Int64>,
                        hostTimeNs: UnsafePointer<Int64>, count n: Int, scratch base: UnsafeMutablePointer<UInt8>) {
        guard n > 0 else { key(4, 2); varint(0); return }
        let hardwareBytes = WireWriter.deltaColumn(hardwareTimeNs, count: n, into: base)
        let hostBytes = WireWriter.deltaColumn(hostTimeNs, count: n, into: base + hardwareBytes)
        let valueBytes = 8 * n
        func field(_ bytes: Int) -> UInt64 { UInt64(1 + WireWriter.varintSize(UInt64(bytes)) + bytes) }
        key(4, 2); varint(field(valueBytes) + field(hardwareBytes) + field(hostBytes))
        key(1, 2); varint(UInt64(valueBytes))
        #if _endian(little)
        raw(UnsafeRawBufferPointer(start: values, count: valueBytes))
        #else
        for i in 0..<n { fixed64(values[i].bitPattern) }
        #endif
        key(4, 2); varint(UInt64(hardwareBytes))
        raw(UnsafeRawBufferPointer(start: base, count: hardwareBytes))
        key(5, 2); varint(UInt64(hostBytes))
        raw(UnsafeRawBufferPointer(start: base + hardwareBytes, count: hostBytes))
    }

    /// Writes `times[0]`, then each time less the one before (wrapping), as zigzag varints (a
    /// packed sint64 delta column) to `out`, which has room for 10 bytes a time; returns the bytes.
    @inline(__always)
    private static func deltaColumn(_ times: UnsafePointer<Int64>, count n: Int, into out: UnsafeMutablePointer<UInt8>) -> Int {
        var previous: Int64 = 0, at = 0
        for i in 0..<n {
            var value = zigzag(times[i] &- previous)
            previous = times[i]
            while value >= 0x80 {
                out[at] = UInt8(truncatingIfNeeded: value) | 0x80
                value >>= 7
                at += 1
            }
            out[at] = UInt8(value)
            at += 1
        }
        return at
    }

    /// Protobuf's sint64 mapping: 0, −1, 1, −2, … to 0, 1, 2, 3, …
    @inline(__always)
    static func zigzag(_ value: Int64) -> UInt64 { UInt64(bitPattern: value &<< 1 ^ value &>> 63) }

    /// The bytes a varint of `value` takes.
    @inline(__always)
    static func varintSize(_ value: UInt64) -> Int { (70 - (value | 1).leadingZeroBitCount) / 7 }

    /// The largest header for a publisher id of `idBytes` bytes.
    static func maximumHeaderSize(idBytes: Int) -> Int { 2 + (1 + 10 + idBytes) + 9 + 11 + 9 + 9 }

    /// The scratch bytes ``batch(values:hardwareTimeNs:hostTimeNs:count:scratch:)`` needs.
    static func deltaScratchSize(count: Int) -> Int { 20 * count }

    /// The largest batch payload of `count` samples.
    static func maximumBatchSize(count: Int) -> Int { 1 + 10 + (1 + 10 + 8 * count) + 2 * (1 + 10 + 10 * count) }
}
