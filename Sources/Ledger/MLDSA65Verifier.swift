/// ML-DSA-65 signature verification (FIPS 204, Algorithms 3 and 8) with the public key prepared once.
///
/// swift-crypto's `MLDSA65.PublicKey.isValidSignature` (BoringSSL's `MLDSA65_verify`) expands the matrix Â
/// from ρ with SHAKE128 and transforms t₁ on every call: a third of its time, and the same for every
/// signature by one key. A realm verifies every request of a few hundred client keys, so this verifier does
/// that work once per key: it keeps Â, NTT(t₁·2ᵈ) and tr = H(pk) (36 KB a key), and a verification is then
/// five forward NTTs of z, one of c, six inverse NTTs, the products, and three short SHAKE256 hashes.
///
/// It accepts exactly what `MLDSA65_verify` accepts, with the strong-unforgeability checks (hint indices
/// strictly increasing, unused hint bytes zero): the tests compare the two on valid signatures, and on
/// signatures, messages, contexts and keys altered byte by byte. The arithmetic follows the reference
/// implementation's bounds (Montgomery form, R = 2³², no reductions inside the NTT).
final class MLDSA65Verifier: Sendable {
    /// tr = SHAKE256(pk, 64).
    private let tr: [UInt8]
    /// Â, k × ℓ polynomials in the NTT domain, coefficients in [0, q).
    private let aHat: [Int32]
    /// NTT(t₁·2ᵈ), k polynomials.
    private let t1Hat: [Int32]

    typealias P = MLDSA65Parameters

    /// Prepares `publicKey` (pkEncode: ρ ‖ t₁ packed 10 bits a coefficient); nil unless it is 1,952 bytes.
    init?(publicKey: [UInt8]) {
        guard publicKey.count == P.publicKeyBytes else { return nil }
        var hash = Shake.shake256()
        hash.absorb(publicKey)
        tr = hash.squeeze(64)
        aHat = Self.expandA(Array(publicKey[0..<32]))
        var t1 = [Int32](repeating: 0, count: P.k * 256)
        publicKey.withUnsafeBufferPointer { bytes in
            t1.withUnsafeMutableBufferPointer { t1 in
                for i in 0..<P.k {
                    let packed = bytes.baseAddress! + 32 + i * 320
                    let poly = t1.baseAddress! + i * 256
                    for j in 0..<64 {
                        let b0 = Int32(packed[5 * j]), b1 = Int32(packed[5 * j + 1]), b2 = Int32(packed[5 * j + 2])
                        let b3 = Int32(packed[5 * j + 3]), b4 = Int32(packed[5 * j + 4])
                        poly[4 * j + 0] = (b0 | b1 << 8) & 0x3FF
                        poly[4 * j + 1] = (b1 >> 2 | b2 << 6) & 0x3FF
                        poly[4 * j + 2] = (b2 >> 4 | b3 << 4) & 0x3FF
                        poly[4 * j + 3] = (b3 >> 6 | b4 << 2) & 0x3FF
                    }
                    for j in 0..<256 { poly[j] <<= P.d }
                    NTT.forward(poly)
                }
            }
        }
        t1Hat = t1
    }

    /// ExpandA(ρ) (FIPS 204, Algorithm 32): Â, k × ℓ polynomials in the NTT domain, row by row.
    static func expandA(_ rho: [UInt8]) -> [Int32] {
        var a = [Int32](repeating: 0, count: P.k * P.l * 256)
        a.withUnsafeMutableBufferPointer { a in
            for r in 0..<P.k {
                for s in 0..<P.l {
                    rejectionSampleNTT(rho: rho, s: UInt8(s), r: UInt8(r), into: a.baseAddress! + (r * P.l + s) * 256)
                }
            }
        }
        return a
    }

    /// RejNTTPoly(ρ ‖ s ‖ r) (FIPS 204, Algorithm 30): coefficients below q from three SHAKE128 bytes each.
    private static func rejectionSampleNTT(rho: [UInt8], s: UInt8, r: UInt8, into poly: UnsafeMutablePointer<Int32>) {
        var xof = Shake.shake128()
        xof.absorb(rho + [s, r])
        var count = 0
        while count < 256 {
            let b0 = Int32(xof.squeezeByte()), b1 = Int32(xof.squeezeByte()), b2 = Int32(xof.squeezeByte() & 0x7F)
            let candidate = b2 << 16 | b1 << 8 | b0
            if candidate < P.q {
                poly[count] = candidate
                count += 1
            }
        }
    }

    /// ML-DSA.Verify(pk, M, sig, ctx): true when `signature` (3,309 bytes) signs `message` under `context`.
    func isValidSignature(_ signature: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer, context: UnsafeRawBufferPointer) -> Bool {
        guard signature.count == P.signatureBytes, context.count <= 255 else { return false }
        return withUnsafeTemporaryAllocation(of: Int32.self, capacity: (P.l + 1 + P.k + 1) * 256) { scratch in
            withUnsafeTemporaryAllocation(byteCount: 64 + 128 + P.cTildeBytes, alignment: 8) { bytes in
                let z = scratch.baseAddress!, c = z + P.l * 256, hints = c + 256, w = hints + P.k * 256
                let mu = UnsafeMutableRawBufferPointer(rebasing: bytes[0..<64])
                let encoded = UnsafeMutableRawBufferPointer(rebasing: bytes[64..<192])
                let recomputed = UnsafeMutableRawBufferPointer(rebasing: bytes[192...])
                guard Self.unpackHints(signature, into: hints), Self.unpackZ(signature, into: z) else { return false }
                Self.messageRepresentative(tr: tr, context: context, message: message, into: mu)
                let cTilde = UnsafeRawBufferPointer(rebasing: signature[0..<P.cTildeBytes])
                Self.sampleInBall(cTilde, into: c)
                for j in 0..<P.l { NTT.forward(z + j * 256) }
                NTT.forward(c)
                // c̃′ = H(μ ‖ w1Encode(UseHint(h, NTT⁻¹(Â·ẑ − ĉ·NTT(t₁·2ᵈ)))), λ/4).
                var commitment = Shake.shake256()
                commitment.absorb(UnsafeRawBufferPointer(mu))
                aHat.withUnsafeBufferPointer { aHat in
                    t1Hat.withUnsafeBufferPointer { t1Hat in
                        for i in 0..<P.k {
                            let row = aHat.baseAddress! + i * P.l * 256, t1 = t1Hat.baseAddress! + i * 256
                            for n in 0..<256 {
                                var sum: Int32 = 0
                                for j in 0..<P.l { sum &+= NTT.montgomery(Int64(row[j * 256 + n]) &* Int64(z[j * 256 + n])) }
                                sum &-= NTT.montgomery(Int64(c[n]) &* Int64(t1[n]))
                                w[n] = NTT.reduce32(sum)
                            }
                            NTT.inverseToMontgomery(w)
                            let h = hints + i * 256
                            for n in stride(from: 0, to: 256, by: 2) {
                                let low = Self.useHint(h[n], NTT.addQ(w[n])), high = Self.useHint(h[n + 1], NTT.addQ(w[n + 1]))
                                encoded[n >> 1] = UInt8(truncatingIfNeeded: low | high << 4)
                            }
                            commitment.absorb(UnsafeRawBufferPointer(encoded))
                        }
                    }
                }
                commitment.squeeze(into: recomputed)
                var difference: UInt8 = 0
                for index in 0..<P.cTildeBytes { difference |= recomputed[index] ^ cTilde[index] }
                return difference == 0
            }
        }
    }

    /// μ = H(tr ‖ M′, 64) for M′ = 0 ‖ |ctx| ‖ ctx ‖ M (FIPS 204, Algorithms 2 and 3, then 7 and 8): what a
    /// signature covers.
    static func messageRepresentative(tr: [UInt8], context: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer,
                                      into mu: UnsafeMutableRawBufferPointer) {
        var hash = Shake.shake256()
        hash.absorb(tr)
        withUnsafeBytes(of: (UInt8(0), UInt8(context.count))) { hash.absorb($0) }
        hash.absorb(context)
        hash.absorb(message)
        hash.squeeze(into: mu)
    }

    /// HintBitUnpack (FIPS 204, Algorithm 21): false when the hint is malformed — a count beyond ω or
    /// decreasing, indices not strictly increasing within a polynomial, or a non-zero unused byte.
    static func unpackHints(_ signature: UnsafeRawBufferPointer, into hints: UnsafeMutablePointer<Int32>) -> Bool {
        hints.initialize(repeating: 0, count: P.k * 256)
        let base = P.cTildeBytes + P.l * 640
        var index = 0
        for i in 0..<P.k {
            let end = Int(signature[base + P.omega + i])
            guard end >= index, end <= P.omega else { return false }
            let first = index
            while index < end {
                if index > first, signature[base + index] <= signature[base + index - 1] { return false }
                hints[i * 256 + Int(signature[base + index])] = 1
                index += 1
            }
        }
        while index < P.omega {
            if signature[base + index] != 0 { return false }
            index += 1
        }
        return true
    }

    /// BitUnpack(z, γ₁ − 1, γ₁), 20 bits a coefficient; false when ‖z‖∞ ≥ γ₁ − β.
    static func unpackZ(_ signature: UnsafeRawBufferPointer, into z: UnsafeMutablePointer<Int32>) -> Bool {
        var inRange = true
        for j in 0..<(P.l * 128) {
            let at = P.cTildeBytes + 5 * j
            let b0 = Int32(signature[at]), b1 = Int32(signature[at + 1]), b2 = Int32(signature[at + 2])
            let b3 = Int32(signature[at + 3]), b4 = Int32(signature[at + 4])
            let even = P.gamma1 - ((b0 | b1 << 8 | b2 << 16) & 0xFFFFF)
            let odd = P.gamma1 - (b2 >> 4 | b3 << 4 | b4 << 12)
            z[2 * j] = even
            z[2 * j + 1] = odd
            inRange = inRange && abs(even) < P.gamma1 - P.beta && abs(odd) < P.gamma1 - P.beta
        }
        return inRange
    }

    /// SampleInBall(c̃) (FIPS 204, Algorithm 29): τ = 49 coefficients ±1, from SHAKE256 of all of c̃.
    static func sampleInBall(_ cTilde: UnsafeRawBufferPointer, into c: UnsafeMutablePointer<Int32>) {
        c.initialize(repeating: 0, count: 256)
        var xof = Shake.shake256()
        xof.absorb(cTilde)
        var signs: UInt64 = 0
        for byte in 0..<8 { signs |= UInt64(xof.squeezeByte()) << (8 * UInt64(byte)) }
        for i in (256 - P.tau)..<256 {
            var j = Int(xof.squeezeByte())
            while j > i { j = Int(xof.squeezeByte()) }
            c[i] = c[j]
            c[j] = 1 - 2 * Int32(truncatingIfNeeded: signs & 1)
            signs >>= 1
        }
    }

    /// UseHint(h, r) (FIPS 204, Algorithm 40) for γ₂ = (q − 1)/32, with Decompose (Algorithm 36); r in [0, q).
    @inline(__always) static func useHint(_ hint: Int32, _ r: Int32) -> Int32 {
        var r0 = r % (2 * P.gamma2)
        if r0 > P.gamma2 { r0 -= 2 * P.gamma2 }
        let r1: Int32
        if r - r0 == P.q - 1 {
            r1 = 0
            r0 -= 1
        } else {
            r1 = (r - r0) / (2 * P.gamma2)
        }
        guard hint == 1 else { return r1 }
        return r0 > 0 ? (r1 + 1) & 15 : (r1 - 1) & 15
    }
}

/// ML-DSA-65's parameters (FIPS 204, Table 1) and encoding sizes.
enum MLDSA65Parameters {
    static let q: Int32 = 8_380_417
    static let d: Int32 = 13
    static let k = 6, l = 5
    static let tau = 49
    static let gamma1: Int32 = 1 << 19
    static let gamma2: Int32 = (q - 1) / 32
    static let beta: Int32 = 196
    static let omega = 55
    static let cTildeBytes = 48
    static let publicKeyBytes = 32 + k * 320
    static let signatureBytes = cTildeBytes + l * 640 + omega + k
}

/// The number-theoretic transform over Z_q[X]/(X²⁵⁶ + 1), as in the reference implementation: Montgomery
/// form with R = 2³², twiddles ζ^brv(i)·R for ζ = 1753, no reductions between layers.
enum NTT {
    static let q = MLDSA65Parameters.q
    /// q⁻¹ mod 2³².
    static let qInverse: Int32 = 58_728_449
    static let zetas: [Int32] = {
        func power(_ base: Int64, _ exponent: Int) -> Int64 {
            var result: Int64 = 1, base = base % Int64(q), exponent = exponent
            while exponent > 0 {
                if exponent & 1 == 1 { result = result * base % Int64(q) }
                base = base * base % Int64(q)
                exponent >>= 1
            }
            return result
        }
        let r = (Int64(1) << 32) % Int64(q)
        return (0..<256).map { i in
            var reversed = 0
            for bit in 0..<8 where i & (1 << bit) != 0 { reversed |= 1 << (7 - bit) }
            var zeta = power(1753, reversed) * r % Int64(q)
            if zeta > Int64(q) / 2 { zeta -= Int64(q) }
            return i == 0 ? 0 : Int32(zeta)
        }
    }()
    /// R²/256 mod q: the inverse transform's final factor.
    static let inverseScale: Int32 = 41_978

    /// a·R⁻¹ mod q, in (−q, q), for |a| < 2³¹·q.
    @inline(__always) static func montgomery(_ a: Int64) -> Int32 {
        let t = Int32(truncatingIfNeeded: a) &* qInverse
        return Int32(truncatingIfNeeded: (a &- Int64(t) &* Int64(q)) >> 32)
    }

    /// a mod q, centred, for a ≤ 2³¹ − 2²² − 1.
    @inline(__always) static func reduce32(_ a: Int32) -> Int32 {
        let t = (a &+ (1 << 22)) >> 23
        return a &- t &* q
    }

    /// a + q when a is negative.
    @inline(__always) static func addQ(_ a: Int32) -> Int32 { a &+ ((a >> 31) & q) }

    /// In place; coefficients grow by at most 8q.
    static func forward(_ a: UnsafeMutablePointer<Int32>) {
        zetas.withUnsafeBufferPointer { zetas in
            var k = 0, length = 128
            while length > 0 {
                var start = 0
                while start < 256 {
                    k += 1
                    let zeta = Int64(zetas[k])
                    for j in start..<(start + length) {
                        let t = montgomery(zeta &* Int64(a[j + length]))
                        a[j + length] = a[j] &- t
                        a[j] = a[j] &+ t
                    }
                    start += 2 * length
                }
                length >>= 1
            }
        }
    }

    /// In place, times R; inputs below q in absolute value, outputs too.
    static func inverseToMontgomery(_ a: UnsafeMutablePointer<Int32>) {
        zetas.withUnsafeBufferPointer { zetas in
            var k = 256, length = 1
            while length < 256 {
                var start = 0
                while start < 256 {
                    k -= 1
                    let zeta = -Int64(zetas[k])
                    for j in start..<(start + length) {
                        let t = a[j]
                        a[j] = t &+ a[j + length]
                        a[j + length] = montgomery(zeta &* Int64(t &- a[j + length]))
                    }
                    start += 2 * length
                }
                length <<= 1
            }
            for j in 0..<256 { a[j] = montgomery(Int64(inverseScale) &* Int64(a[j])) }
        }
    }
}
