/// SHAKE128 and SHAKE256 (FIPS 202), incrementally: what ML-DSA verification hashes with.
///
/// swift-crypto exposes SHA-3 digests but no extendable-output functions, and `MLDSA65Verifier` needs
/// SHAKE's squeeze. Tested against swift-crypto's `SHA3_256` (the same permutation, another padding) and
/// FIPS 202's SHAKE vectors.
struct Shake {
    private var lanes: InlineArray<25, UInt64> = .init(repeating: 0)
    /// Bytes absorbed into, or squeezed from, the current block.
    private var position = 0
    private var squeezing = false
    /// Bytes per block: 168 for SHAKE128, 136 for SHAKE256.
    let rate: Int
    /// 0x1F for SHAKE; 0x06 for SHA3 (used by the tests only).
    private let suffix: UInt8

    static func shake128() -> Shake { Shake(rate: 168, suffix: 0x1F) }
    static func shake256() -> Shake { Shake(rate: 136, suffix: 0x1F) }
    init(rate: Int, suffix: UInt8) {
        self.rate = rate
        self.suffix = suffix
    }

    @inline(__always) private mutating func xor(_ byte: UInt8, at index: Int) {
        lanes[index >> 3] ^= UInt64(byte) << (UInt64(index & 7) << 3)
    }

    mutating func absorb(_ bytes: UnsafeRawBufferPointer) {
        precondition(!squeezing, "SHAKE: absorb after squeeze")
        for byte in bytes {
            xor(byte, at: position)
            position += 1
            if position == rate {
                permute()
                position = 0
            }
        }
    }

    mutating func absorb(_ bytes: [UInt8]) { bytes.withUnsafeBytes { absorb($0) } }

    /// Squeezes `output.count` bytes.
    mutating func squeeze(into output: UnsafeMutableRawBufferPointer) {
        for index in output.indices { output[index] = squeezeByte() }
    }

    mutating func squeezeByte() -> UInt8 {
        if !squeezing {
            xor(suffix, at: position)
            xor(0x80, at: rate - 1)
            permute()
            position = 0
            squeezing = true
        } else if position == rate {
            permute()
            position = 0
        }
        let byte = UInt8(truncatingIfNeeded: lanes[position >> 3] >> (UInt64(position & 7) << 3))
        position += 1
        return byte
    }

    mutating func squeeze(_ count: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            squeeze(into: UnsafeMutableRawBufferPointer(buffer))
            initialized = count
        }
    }

    /// Keccak-f[1600]: 24 rounds of θ, ρ, π, χ and ι.
    private mutating func permute() {
        var a = lanes
        for round in 0..<24 {
            var c: InlineArray<5, UInt64> = .init(repeating: 0)
            for x in 0..<5 { c[x] = a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20] }
            for x in 0..<5 {
                let d = c[(x + 4) % 5] ^ c[(x + 1) % 5].rotated(1)
                for y in stride(from: 0, to: 25, by: 5) { a[y + x] ^= d }
            }
            var carried = a[1]
            for step in 0..<24 {
                let target = Self.piLane[step]
                let next = a[target]
                a[target] = carried.rotated(Self.rhoOffset[step])
                carried = next
            }
            for y in stride(from: 0, to: 25, by: 5) {
                for x in 0..<5 { c[x] = a[y + x] }
                for x in 0..<5 { a[y + x] = c[x] ^ (~c[(x + 1) % 5] & c[(x + 2) % 5]) }
            }
            a[0] ^= Self.roundConstants[round]
        }
        lanes = a
    }

    /// ρ's rotations, in the order π visits the lanes (starting from lane 1).
    private static let rhoOffset: InlineArray<24, UInt64> = [1, 3, 6, 10, 15, 21, 28, 36, 45, 55, 2, 14, 27, 41, 56, 8, 25, 43, 62, 18, 39, 61, 20, 44]
    private static let piLane: InlineArray<24, Int> = [10, 7, 11, 17, 18, 3, 5, 16, 8, 21, 24, 4, 15, 23, 19, 13, 12, 2, 20, 14, 22, 9, 6, 1]
    /// ι's constants, from FIPS 202's LFSR rc(t) (x⁸ + x⁶ + x⁵ + x⁴ + 1).
    private static let roundConstants: [UInt64] = (0..<24).map { round in
        var constant: UInt64 = 0
        for j in 0...6 {
            var r: UInt16 = 1
            let t = (j + 7 * round) % 255
            for _ in 0..<t {
                r <<= 1
                if r & 0x100 != 0 { r ^= 0x171 }
            }
            if r & 1 == 1 { constant |= 1 << ((1 << j) - 1) }
        }
        return constant
    }
}

extension UInt64 {
    @inline(__always) fileprivate func rotated(_ count: UInt64) -> UInt64 { (self << count) | (self >> (64 - count)) }
}
