/// The byte layout that entry hashes and signatures cover: fixed-width big-endian integers and
/// length-prefixed fields, so two different entries can never serialise to the same bytes.
struct CanonicalWriter {
    private(set) var bytes: [UInt8] = []

    init(domain: String) {
        bytes.reserveCapacity(256)
        field(Array(domain.utf8))
    }

    mutating func integer<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    /// A u32 length, then the bytes.
    mutating func field(_ value: some Collection<UInt8>) {
        integer(UInt32(value.count))
        bytes.append(contentsOf: value)
    }

    mutating func field(_ value: String) { field(Array(value.utf8)) }
}
