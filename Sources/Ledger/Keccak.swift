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

    /// Squeezes `output.count` bytes, a block's worth at a time.
    mutating func squeeze(into output: UnsafeMutableRawBufferPointer) {
        #if _endian(little)
        guard !output.isEmpty else { return }
        output[0] = squeezeByte()
        var written = 1
        while written < output.count {
            if position == rate {
                permute()
                position = 0
            }
            let count = min(rate - position, output.count - written)
            withUnsafeBytes(of: &lanes) { lanes in
                output.baseAddress!.advanced(by: written).copyMemory(from: lanes.baseAddress!.advanced(by: position), byteCount: count)
            }
            position += count
            written += count
        }
        #else
        for index in output.indices { output[index] = squeezeByte() }
        #endif
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

    /// Keccak-f[1600]: 24 rounds of θ, ρ, π, χ and ι, on the 25 lanes held in locals (lane x + 5y is
    /// `a` followed by its index); the ρ offsets and the π moves are written out.
    private mutating func permute() {
        var a00 = lanes[0]
        var a01 = lanes[1]
        var a02 = lanes[2]
        var a03 = lanes[3]
        var a04 = lanes[4]
        var a05 = lanes[5]
        var a06 = lanes[6]
        var a07 = lanes[7]
        var a08 = lanes[8]
        var a09 = lanes[9]
        var a10 = lanes[10]
        var a11 = lanes[11]
        var a12 = lanes[12]
        var a13 = lanes[13]
        var a14 = lanes[14]
        var a15 = lanes[15]
        var a16 = lanes[16]
        var a17 = lanes[17]
        var a18 = lanes[18]
        var a19 = lanes[19]
        var a20 = lanes[20]
        var a21 = lanes[21]
        var a22 = lanes[22]
        var a23 = lanes[23]
        var a24 = lanes[24]
        for round in 0..<24 {
            let c0 = a00 ^ a05 ^ a10 ^ a15 ^ a20
            let c1 = a01 ^ a06 ^ a11 ^ a16 ^ a21
            let c2 = a02 ^ a07 ^ a12 ^ a17 ^ a22
            let c3 = a03 ^ a08 ^ a13 ^ a18 ^ a23
            let c4 = a04 ^ a09 ^ a14 ^ a19 ^ a24
            let d0 = c4 ^ c1.rotated(1)
            let d1 = c0 ^ c2.rotated(1)
            let d2 = c1 ^ c3.rotated(1)
            let d3 = c2 ^ c4.rotated(1)
            let d4 = c3 ^ c0.rotated(1)
            let b00 = (a00 ^ d0)
            let b16 = (a05 ^ d0).rotated(36)
            let b07 = (a10 ^ d0).rotated(3)
            let b23 = (a15 ^ d0).rotated(41)
            let b14 = (a20 ^ d0).rotated(18)
            let b10 = (a01 ^ d1).rotated(1)
            let b01 = (a06 ^ d1).rotated(44)
            let b17 = (a11 ^ d1).rotated(10)
            let b08 = (a16 ^ d1).rotated(45)
            let b24 = (a21 ^ d1).rotated(2)
            let b20 = (a02 ^ d2).rotated(62)
            let b11 = (a07 ^ d2).rotated(6)
            let b02 = (a12 ^ d2).rotated(43)
            let b18 = (a17 ^ d2).rotated(15)
            let b09 = (a22 ^ d2).rotated(61)
            let b05 = (a03 ^ d3).rotated(28)
            let b21 = (a08 ^ d3).rotated(55)
            let b12 = (a13 ^ d3).rotated(25)
            let b03 = (a18 ^ d3).rotated(21)
            let b19 = (a23 ^ d3).rotated(56)
            let b15 = (a04 ^ d4).rotated(27)
            let b06 = (a09 ^ d4).rotated(20)
            let b22 = (a14 ^ d4).rotated(39)
            let b13 = (a19 ^ d4).rotated(8)
            let b04 = (a24 ^ d4).rotated(14)
            a00 = b00 ^ (~b01 & b02)
            a01 = b01 ^ (~b02 & b03)
            a02 = b02 ^ (~b03 & b04)
            a03 = b03 ^ (~b04 & b00)
            a04 = b04 ^ (~b00 & b01)
            a05 = b05 ^ (~b06 & b07)
            a06 = b06 ^ (~b07 & b08)
            a07 = b07 ^ (~b08 & b09)
            a08 = b08 ^ (~b09 & b05)
            a09 = b09 ^ (~b05 & b06)
            a10 = b10 ^ (~b11 & b12)
            a11 = b11 ^ (~b12 & b13)
            a12 = b12 ^ (~b13 & b14)
            a13 = b13 ^ (~b14 & b10)
            a14 = b14 ^ (~b10 & b11)
            a15 = b15 ^ (~b16 & b17)
            a16 = b16 ^ (~b17 & b18)
            a17 = b17 ^ (~b18 & b19)
            a18 = b18 ^ (~b19 & b15)
            a19 = b19 ^ (~b15 & b16)
            a20 = b20 ^ (~b21 & b22)
            a21 = b21 ^ (~b22 & b23)
            a22 = b22 ^ (~b23 & b24)
            a23 = b23 ^ (~b24 & b20)
            a24 = b24 ^ (~b20 & b21)
            a00 ^= Self.roundConstants[round]
        }
        lanes[0] = a00
        lanes[1] = a01
        lanes[2] = a02
        lanes[3] = a03
        lanes[4] = a04
        lanes[5] = a05
        lanes[6] = a06
        lanes[7] = a07
        lanes[8] = a08
        lanes[9] = a09
        lanes[10] = a10
        lanes[11] = a11
        lanes[12] = a12
        lanes[13] = a13
        lanes[14] = a14
        lanes[15] = a15
        lanes[16] = a16
        lanes[17] = a17
        lanes[18] = a18
        lanes[19] = a19
        lanes[20] = a20
        lanes[21] = a21
        lanes[22] = a22
        lanes[23] = a23
        lanes[24] = a24
    }

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
