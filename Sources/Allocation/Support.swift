import Quantities

/// Codes a `Timestamp` as its RFC 3339 text ("2023-08-15T14:30:00.5Z"), which reads back to the
/// same nanosecond, so ledger entries stay readable and replay exactly.
@propertyWrapper
public struct RFC3339Coded: Codable, Hashable, Sendable {
    public var wrappedValue: Timestamp

    public init(wrappedValue: Timestamp) {
        self.wrappedValue = wrappedValue
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            wrappedValue = try Timestamp(parsing: text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(wrappedValue.description)
    }
}

/// A dictionary that never lets Swift's per-process hash seed show: it is traversed in key order and
/// coded as an array of `{key, value}` pairs sorted by key.
public struct SortedMap<Key: Hashable & Comparable & Codable & Sendable, Value: Codable & Equatable & Sendable>:
    Codable, Equatable, Sendable
{
    private var storage: [Key: Value] = [:]

    /// An empty map.
    public init() {}

    /// The value stored for `key`, if any.
    public subscript(key: Key) -> Value? {
        get { storage[key] }
        set { storage[key] = newValue }
    }

    /// The value stored for `key`, or `defaultValue`.
    public subscript(key: Key, default defaultValue: @autoclosure () -> Value) -> Value {
        get { storage[key] ?? defaultValue() }
        set { storage[key] = newValue }
    }

    /// The keys in ascending order.
    public var keys: [Key] { storage.keys.sorted() }

    /// The values in ascending order of their keys.
    public var values: [Value] { keys.map { storage[$0]! } }

    /// The number of entries.
    public var count: Int { storage.count }

    private struct Entry: Codable {
        var key: Key
        var value: Value
    }

    public init(from decoder: any Decoder) throws {
        for entry in try [Entry](from: decoder) {
            storage[entry.key] = entry.value
        }
    }

    public func encode(to encoder: any Encoder) throws {
        try keys.map { Entry(key: $0, value: storage[$0]!) }.encode(to: encoder)
    }
}

/// The 64-bit FNV-1a hash of `text`'s UTF-8 bytes, as 16 lowercase hex digits: a stable content
/// id that needs no crypto library (it names quotes; it does not protect them against forgery).
func fnv1a(_ text: String) -> String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in text.utf8 {
        hash ^= UInt64(byte)
        hash &*= 0x0000_0100_0000_01b3
    }
    let digits = String(hash, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
}

/// 2^(−x) for x ≥ 0, from IEEE-754 basic operations only, in a fixed order: a 30-term Taylor series
/// of e^(−f·ln 2) for the fractional part f and an exact power-of-two scaling for the integer part.
/// Unlike libm's `pow`, it gives the same bits on every platform, which replicas need.
func exp2Negative(_ x: Double) -> Double {
    precondition(x >= 0 && x.isFinite, "exp2Negative needs a finite x ≥ 0, got \(x)")
    guard x < 1074 else { return 0 }
    let whole = x.rounded(.down)
    let y = -(x - whole) * 0.693_147_180_559_945_3
    var term = 1.0
    var sum = 1.0
    for k in 1...30 {
        term = term * y / Double(k)
        sum += term
    }
    return Double(sign: .plus, exponent: -Int(whole), significand: sum)
}

extension Duration {
    /// The duration in whole nanoseconds, rounded up; nil when negative or beyond Int64.
    var nanosecondsRoundedUp: Int64? {
        let (seconds, attoseconds) = (components.seconds, components.attoseconds)
        guard seconds >= 0, attoseconds >= 0 else { return nil }
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let fraction = (attoseconds + 999_999_999) / 1_000_000_000
        guard !overflow, whole <= Int64.max - fraction else { return nil }
        return whole + fraction
    }
}

extension Timestamp {
    /// The instant `nanoseconds` later.
    func adding(nanoseconds: Int64) -> Timestamp {
        Timestamp(nanosecondsSinceEpoch: nanosecondsSinceEpoch + nanoseconds)
    }

    /// Nanoseconds from `earlier` to this instant.
    func nanoseconds(since earlier: Timestamp) -> Int64 {
        nanosecondsSinceEpoch - earlier.nanosecondsSinceEpoch
    }
}

/// Nanoseconds of overlap between the half-open windows [a0, a1) and [b0, b1); 0 when disjoint.
func overlapNanoseconds(_ a0: Timestamp, _ a1: Timestamp, _ b0: Timestamp, _ b1: Timestamp) -> Int64 {
    max(0, min(a1, b1).nanoseconds(since: max(a0, b0)))
}
