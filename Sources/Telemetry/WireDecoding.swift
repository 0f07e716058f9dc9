/// Why ``WireReader`` refused a frame. The subscriber then hands the frame to SwiftProtobuf,
/// which decodes what is valid but unusual (unknown fields, unpacked columns, merged repeats)
/// and refuses what is malformed, so the two paths always agree.
enum WireDecodingError: Error, Equatable {
    /// The bytes end inside a key, a value or a length-delimited field.
    case truncated
    /// A varint longer than 10 bytes, or one whose 10th byte overflows 64 bits.
    case malformedVarint
    /// A field number, wire type or repetition the fast path leaves to SwiftProtobuf.
    case unsupported(field: UInt64, wireType: UInt64)
    /// A packed fixed64 column whose length is not a multiple of 8.
    case malformedColumn(field: UInt64, bytes: Int)
    /// A string field (publisher_id, error) that is not valid UTF-8.
    case invalidUTF8(field: UInt64)
}

/// A payload as a received message keeps it: a Sample or SampleBatch unwrapped, anything else
/// (a payload with unknown fields included) as SwiftProtobuf decoded it.
enum PayloadBody: Sendable, Equatable {
    case sample(WireSample)
    case batch(WireSampleBatch)
    indirect case other(WirePayload)

    init(_ payload: WirePayload) {
        switch payload.body {
        case .sample(let sample)? where payload.unknownFields.data.isEmpty: self = .sample(sample)
        case .batch(let batch)? where payload.unknownFields.data.isEmpty: self = .batch(batch)
        default: self = .other(payload)
        }
    }

    /// The body as a `WirePayload`.
    var payload: WirePayload {
        switch self {
        case .sample(let sample): WirePayload.with { $0.sample = sample }
        case .batch(let batch): WirePayload.with { $0.batch = batch }
        case .other(let payload): payload
        }
    }
}

extension WireFrameHeader {
    /// The header ``WireReader/header(_:)`` read, with its publisher id as a string already made.
    init(_ fields: HeaderFields, publisherID: String) {
        self.init()
        schemaVersion = fields.schemaVersion
        self.publisherID = publisherID
        publisherInstance = fields.publisherInstance
        sequence = fields.sequence
        monotonicNs = fields.monotonicNs
        wallNs = fields.wallNs
        if !fields.error.isEmpty { error = String(decoding: fields.error, as: UTF8.self) }
    }
}

/// The fields of a FrameHeader, with the publisher id left in place in the frame.
struct HeaderFields {
    var schemaVersion: UInt32 = 0
    /// FrameHeader.publisher_id (field 2), still in the received frame.
    var publisherID = UnsafeRawBufferPointer(start: nil, count: 0)
    var publisherInstance: UInt64 = 0
    var sequence: UInt64 = 0
    var monotonicNs: Int64 = 0
    var wallNs: Int64 = 0
    /// FrameHeader.error (field 7), valid UTF-8, still in the received frame.
    var error = UnsafeRawBufferPointer(start: nil, count: 0)
}

/// Reads the protobuf encoding of the hot messages (FrameHeader, Payload{Sample},
/// Payload{SampleBatch}) straight from a received frame, without SwiftProtobuf and, for
/// single samples, without allocating: the counterpart of ``WireWriter``.
///
/// It accepts exactly the canonical encodings every protobuf writer produces for these
/// messages (known fields with their declared wire types, packed columns, scalars repeated
/// with the last one winning) and throws ``WireDecodingError`` for anything else.
struct WireReader {
    private let base: UnsafeRawPointer?
    private let end: Int
    /// Bytes read so far.
    private(set) var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        base = bytes.baseAddress
        end = bytes.count
    }

    var isAtEnd: Bool { offset >= end }

    @inline(__always)
    mutating func varint() throws(WireDecodingError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < end, let base else { throw .truncated }
            let byte = base.load(fromByteOffset: offset, as: UInt8.self)
            offset += 1
            if shift == 63 && byte > 1 { throw .malformedVarint }
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
            if shift > 63 { throw .malformedVarint }
        }
    }

    @inline(__always)
    mutating func fixed64() throws(WireDecodingError) -> UInt64 {
        guard end - offset >= 8, let base else { throw .truncated }
        let value = base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
        offset += 8
        return UInt64(littleEndian: value)
    }

    /// The bytes of a length-delimited field, after its length.
    @inline(__always)
    mutating func delimited() throws(WireDecodingError) -> UnsafeRawBufferPointer {
        let length = try varint()
        guard length <= UInt64(end - offset), let base else { throw .truncated }
        let bytes = UnsafeRawBufferPointer(start: base + offset, count: Int(length))
        offset += Int(length)
        return bytes
    }

    /// The next key as (field number, wire type).
    @inline(__always)
    mutating func key() throws(WireDecodingError) -> (field: UInt64, wireType: UInt64) {
        let key = try varint()
        return (key >> 3, key & 7)
    }

    /// A FrameHeader (fields 1–7).
    static func header(_ bytes: UnsafeRawBufferPointer) throws(WireDecodingError) -> HeaderFields {
        if let header = canonicalHeader(bytes) { return header }
        var reader = WireReader(bytes)
        var header = HeaderFields()
        while !reader.isAtEnd {
            let (field, wireType) = try reader.key()
            switch (field, wireType) {
            case (1, 0): header.schemaVersion = UInt32(truncatingIfNeeded: try reader.varint())
            case (2, 2):
                let id = try reader.delimited()
                guard isASCII(id) || String(validating: id, as: UTF8.self) != nil else { throw .invalidUTF8(field: 2) }
                header.publisherID = id
            case (3, 1): header.publisherInstance = try reader.fixed64()
            case (4, 0): header.sequence = try reader.varint()
            case (5, 1): header.monotonicNs = Int64(bitPattern: try reader.fixed64())
            case (6, 1): header.wallNs = Int64(bitPattern: try reader.fixed64())
            case (7, 2):
                let error = try reader.delimited()
                guard isASCII(error) || String(validating: error, as: UTF8.self) != nil else { throw .invalidUTF8(field: 7) }
                header.error = error
            default: throw .unsupported(field: field, wireType: wireType)
            }
        }
        return header
    }

    /// The header exactly as ``WireWriter/header(publisherID:instance:sequence:monotonicNs:wallNs:)``
    /// writes it (fields 1–6 in order, each once, an ASCII publisher id), read without the general
    /// loop; nil for anything else, which the loop then reads.
    @inline(__always)
    static func canonicalHeader(_ bytes: UnsafeRawBufferPointer) -> HeaderFields? {
        var reader = WireReader(bytes)
        var header = HeaderFields()
        guard reader.next(0x08), let version = try? reader.varint(),
              reader.next(0x12), let id = try? reader.delimited(), isASCII(id),
              reader.next(0x19), let instance = try? reader.fixed64(),
              reader.next(0x20), let sequence = try? reader.varint(),
              reader.next(0x29), let monotonic = try? reader.fixed64(),
              reader.next(0x31), let wall = try? reader.fixed64(), reader.isAtEnd else { return nil }
        header.schemaVersion = UInt32(truncatingIfNeeded: version)
        header.publisherID = id
        header.publisherInstance = instance
        header.sequence = sequence
        header.monotonicNs = Int64(bitPattern: monotonic)
        header.wallNs = Int64(bitPattern: wall)
        return header
    }

    /// Whether the next byte is `byte`; if so, steps over it.
    @inline(__always)
    private mutating func next(_ byte: UInt8) -> Bool {
        guard offset < end, let base, base.load(fromByteOffset: offset, as: UInt8.self) == byte else { return false }
        offset += 1
        return true
    }

    /// Whether every byte is below 0x80: valid UTF-8 without the generic validator's cost.
    @inline(__always)
    private static func isASCII(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var any: UInt8 = 0
        for byte in bytes { any |= byte }
        return any < 0x80
    }

    /// A Payload whose one body is a Sample (field 3) or a SampleBatch (field 4); any other
    /// body, or a body repeated (which protobuf merges), is ``WireDecodingError/unsupported(field:wireType:)``.
    static func payload(_ bytes: UnsafeRawBufferPointer) throws(WireDecodingError) -> PayloadBody {
        var reader = WireReader(bytes)
        let (field, wireType) = try reader.key()
        let body = try reader.delimited()
        guard wireType == 2, reader.isAtEnd else { throw .unsupported(field: field, wireType: wireType) }
        switch field {
        case 3: return .sample(try sample(body))
        case 4: return .batch(try batch(body))
        default: throw .unsupported(field: field, wireType: wireType)
        }
    }

    /// Sample{value = 1 (double), hardware_time_ns = 2, host_time_ns = 3 (sfixed64)}.
    static func sample(_ bytes: UnsafeRawBufferPointer) throws(WireDecodingError) -> WireSample {
        var reader = WireReader(bytes)
        var sample = WireSample()
        while !reader.isAtEnd {
            let (field, wireType) = try reader.key()
            guard wireType == 1 else { throw .unsupported(field: field, wireType: wireType) }
            let value = try reader.fixed64()
            switch field {
            case 1: sample.value = Double(bitPattern: value)
            case 2: sample.hardwareTimeNs = Int64(bitPattern: value)
            case 3: sample.hostTimeNs = Int64(bitPattern: value)
            default: throw .unsupported(field: field, wireType: wireType)
            }
        }
        return sample
    }

    /// SampleBatch{values = 1, hardware_time_ns = 2, host_time_ns = 3 (packed fixed64),
    /// hardware_time_delta_ns = 4, host_time_delta_ns = 5 (packed sint64)}, with the delta
    /// columns summed into the absolute ones. A column given in several pieces is their
    /// concatenation, as protobuf says; a clock given in both forms is left to SwiftProtobuf and
    /// ``WireSampleBatch/withAbsoluteTimes()``, which refuses it.
    static func batch(_ bytes: UnsafeRawBufferPointer) throws(WireDecodingError) -> WireSampleBatch {
        var reader = WireReader(bytes)
        var batch = WireSampleBatch()
        // Per clock (hardware, host): which forms were seen.
        var absolute = (false, false), delta = (false, false)
        while !reader.isAtEnd {
            let (field, wireType) = try reader.key()
            guard wireType == 2, (1...5).contains(field) else { throw .unsupported(field: field, wireType: wireType) }
            let column = try reader.delimited()
            switch field {
            case 1, 2, 3:
                guard column.count % 8 == 0 else { throw .malformedColumn(field: field, bytes: column.count) }
                switch field {
                case 1: appendColumn(column, to: &batch.values) { Double(bitPattern: $0) }
                case 2: absolute.0 = true; appendColumn(column, to: &batch.hardwareTimeNs) { Int64(bitPattern: $0) }
                default: absolute.1 = true; appendColumn(column, to: &batch.hostTimeNs) { Int64(bitPattern: $0) }
                }
            case 4: delta.0 = true; try appendDeltas(column, to: &batch.hardwareTimeNs)
            default: delta.1 = true; try appendDeltas(column, to: &batch.hostTimeNs)
            }
            if absolute.0 && delta.0 || absolute.1 && delta.1 { throw .unsupported(field: field, wireType: wireType) }
        }
        return batch
    }

    /// Appends the times a packed sint64 delta column stands for, continuing from the last time
    /// already in `times` (wrapping, as the writer subtracts).
    @inline(__always)
    private static func appendDeltas(_ column: UnsafeRawBufferPointer, to times: inout [Int64]) throws(WireDecodingError) {
        guard let bytes = column.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        var time = times.last ?? 0
        times.reserveCapacity(times.count + column.count)
        var at = 0
        while at < column.count {
            var zigzag: UInt64
            if bytes[at] < 0x80 {  // Steady samples: mostly one or two bytes.
                zigzag = UInt64(bytes[at])
                at += 1
            } else if at + 1 < column.count && bytes[at + 1] < 0x80 {
                zigzag = UInt64(bytes[at] & 0x7F) | UInt64(bytes[at + 1]) << 7
                at += 2
            } else {
                var reader = WireReader(UnsafeRawBufferPointer(rebasing: column[at...]))
                zigzag = try reader.varint()
                at += reader.offset
            }
            time &+= Int64(bitPattern: zigzag >> 1) ^ -Int64(bitPattern: zigzag & 1)
            times.append(time)
        }
    }

    /// Appends the little-endian fixed64 entries of `column` (a multiple of 8 bytes) to `array`;
    /// on a little-endian host a first column is one copy.
    @inline(__always)
    private static func appendColumn<T>(_ column: UnsafeRawBufferPointer, to array: inout [T], _ convert: (UInt64) -> T) {
        let n = column.count / 8
        guard n > 0, let from = column.baseAddress else { return }
        if array.isEmpty {
            array = Array(unsafeUninitializedCapacity: n) { buffer, initialized in
                #if _endian(little)
                UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: from, byteCount: 8 * n)
                #else
                for i in 0..<n { (buffer.baseAddress! + i).initialize(to: convert(UInt64(littleEndian: from.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))) }
                #endif
                initialized = n
            }
        } else {
            array.reserveCapacity(array.count + n)
            for i in 0..<n { array.append(convert(UInt64(littleEndian: from.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))) }
        }
    }
}

extension WireSampleBatch {
    /// The batch with its times in the absolute columns (`hardwareTimeNs`, `hostTimeNs`) and
    /// the delta columns (schema 2) empty, summed as ``WireWriter`` wrote them; nil when a clock
    /// has both forms.
    func withAbsoluteTimes() -> WireSampleBatch? {
        guard hardwareTimeNs.isEmpty || hardwareTimeDeltaNs.isEmpty, hostTimeNs.isEmpty || hostTimeDeltaNs.isEmpty else { return nil }
        guard !hardwareTimeDeltaNs.isEmpty || !hostTimeDeltaNs.isEmpty else { return self }
        var batch = self
        func sum(_ deltas: [Int64]) -> [Int64] {
            var time: Int64 = 0
            return deltas.map { time &+= $0; return time }
        }
        if !hardwareTimeDeltaNs.isEmpty { batch.hardwareTimeNs = sum(hardwareTimeDeltaNs); batch.hardwareTimeDeltaNs = [] }
        if !hostTimeDeltaNs.isEmpty { batch.hostTimeNs = sum(hostTimeDeltaNs); batch.hostTimeDeltaNs = [] }
        return batch
    }
}
