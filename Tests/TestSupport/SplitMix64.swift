/// SplitMix64 (Steele, Lea and Flood, 2014): a small seeded generator, so a randomized test runs the same
/// script every time and a failing input replays from its seed. Shared by the test targets.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// An integer in 0..<bound (by remainder: the bias is below bound/2⁶⁴).
    public mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    /// A double uniform in (0, 1): the top 53 bits, offset by half a step so neither end is reached.
    public mutating func uniform() -> Double { (Double(next() >> 11) + 0.5) / Double(1 << 53) }
}
