#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// ML-DSA-65 signing (FIPS 204, Algorithms 2, 6 and 7) with the private key prepared once.
///
/// swift-crypto's `MLDSA65.PrivateKey.signature(for:context:)` (BoringSSL's `MLDSA65_sign`) expands Â from ρ
/// and transforms s₁, s₂ and t₀ on every call, and its modular arithmetic goes through a function call a
/// product. A realm signs every group of ledger entries with one key, so this signer derives the key from its
/// FIPS 204 seed once (`ML-DSA.KeyGen_internal`) and keeps Â, NTT(s₁), NTT(s₂), NTT(t₀), K and tr; a
/// signature is then the rejection loop alone, with the verifier's NTT.
///
/// Signing is hedged, as swift-crypto's is: each signature draws 32 fresh bytes from the system's
/// cryptographic generator. The secret parts live in memory of their own, wiped (`explicit_bzero`) when the
/// signer goes, as is every signature's scratch (y, and the products with s₁, s₂ and t₀). The arithmetic on
/// secrets has no secret-dependent branches; as in FIPS 204, only whether an attempt was rejected shows.
///
/// The tests hold it to swift-crypto: the public key it derives from a seed is swift-crypto's byte for byte,
/// and every signature it makes is accepted by `MLDSA65.PublicKey.isValidSignature`.
final class MLDSA65Signer: @unchecked Sendable {
    // @unchecked: the pointers below are written in init and only read after it; deinit wipes them.

    typealias P = MLDSA65Parameters

    /// pkEncode(ρ, t₁): what swift-crypto's `MLDSA65.PublicKey.rawRepresentation` holds.
    let publicKey: [UInt8]
    /// Â, k × ℓ polynomials in the NTT domain (public: it is expanded from ρ).
    private let aHat: [Int32]
    /// tr = H(pk, 64) (public).
    private let tr: [UInt8]
    /// K (32 bytes): the secret that ρ″ is hashed from.
    private let secretSeed: UnsafeMutableRawBufferPointer
    /// NTT(s₁) (ℓ polynomials), NTT(s₂) and NTT(t₀) (k each), one after another.
    private let secretPolynomials: UnsafeMutablePointer<Int32>
    private static let secretPolynomialCount = P.l + 2 * P.k

    /// ML-DSA.KeyGen_internal(ξ) for the 32-byte seed ξ; nil for another length.
    init?(seed: some Collection<UInt8>) {
        guard seed.count == 32 else { return nil }
        // (ρ, ρ′, K) = H(ξ ‖ k ‖ ℓ, 128).
        var input = Array(seed) + [UInt8(P.k), UInt8(P.l)]
        defer { input.withUnsafeMutableBytes { wipe($0) } }
        var expander = Shake.shake256()
        expander.absorb(input)
        var expanded = expander.squeeze(128)
        defer { expanded.withUnsafeMutableBytes { wipe($0) } }
        let rho = Array(expanded[0..<32])
        let secretSeed = UnsafeMutableRawBufferPointer.allocate(byteCount: 32, alignment: 8)
        expanded.withUnsafeBytes { secretSeed.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[96..<128])) }
        self.secretSeed = secretSeed
        aHat = MLDSA65Verifier.expandA(rho)
        let s1Hat = UnsafeMutablePointer<Int32>.allocate(capacity: Self.secretPolynomialCount * 256)
        secretPolynomials = s1Hat
        let s2Hat = s1Hat + P.l * 256, t0Hat = s2Hat + P.k * 256

        // s₁, s₂ = ExpandS(ρ′); t = NTT⁻¹(Â ∘ NTT(s₁)) + s₂; (t₁, t₀) = Power2Round(t).
        var t1 = [Int32](repeating: 0, count: P.k * 256)
        expanded.withUnsafeBytes { expanded in
            let rhoPrime = UnsafeRawBufferPointer(rebasing: expanded[32..<96])
            for r in 0..<P.l { Self.rejectBoundedPoly(rhoPrime, nonce: UInt16(r), into: s1Hat + r * 256) }
            for r in 0..<P.k { Self.rejectBoundedPoly(rhoPrime, nonce: UInt16(P.l + r), into: s2Hat + r * 256) }
        }
        for j in 0..<P.l { NTT.forward(s1Hat + j * 256) }
        aHat.withUnsafeBufferPointer { aHat in
            t1.withUnsafeMutableBufferPointer { t1 in
                for i in 0..<P.k {
                    let t = t0Hat + i * 256, s2 = s2Hat + i * 256
                    Self.multiplyRow(aHat.baseAddress! + i * P.l * 256, by: s1Hat, into: t)
                    for n in 0..<256 {
                        let coefficient = Self.freeze(t[n] &+ s2[n])
                        let high = (coefficient &+ (1 << (P.d - 1)) &- 1) >> P.d
                        t1[i * 256 + n] = high
                        t[n] = coefficient &- high << P.d
                    }
                    NTT.forward(t)
                    NTT.forward(s2)
                }
            }
        }
        var key = rho
        key.reserveCapacity(P.publicKeyBytes)
        for i in 0..<P.k {
            for j in 0..<64 {
                let c = (0..<4).map { t1[i * 256 + 4 * j + $0] }
                key += [UInt8(truncatingIfNeeded: c[0]), UInt8(truncatingIfNeeded: c[0] >> 8 | c[1] << 2),
                        UInt8(truncatingIfNeeded: c[1] >> 6 | c[2] << 4), UInt8(truncatingIfNeeded: c[2] >> 4 | c[3] << 6),
                        UInt8(truncatingIfNeeded: c[3] >> 2)]
            }
        }
        publicKey = key
        var hash = Shake.shake256()
        hash.absorb(key)
        tr = hash.squeeze(64)
    }

    deinit {
        wipe(secretSeed)
        wipe(UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(start: secretPolynomials, count: Self.secretPolynomialCount * 256)))
        secretSeed.deallocate()
        secretPolynomials.deallocate()
    }

    /// ML-DSA.Sign(sk, M, ctx) (Algorithm 2, hedged): a 3,309-byte signature of `message` in `context`
    /// (at most 255 bytes).
    func signature(for message: UnsafeRawBufferPointer, context: UnsafeRawBufferPointer) -> [UInt8] {
        var randomness = (0..<4).map { _ in UInt64.random(in: .min ... .max) }
        defer { randomness.withUnsafeMutableBytes { wipe($0) } }
        return randomness.withUnsafeBytes { signature(for: message, context: context, randomness: $0) }
    }

    /// ML-DSA.Sign_internal(sk, M′, rnd) (Algorithm 7) for M′ = 0 ‖ |ctx| ‖ ctx ‖ M; `randomness` is rnd,
    /// 32 bytes (all zero gives the deterministic variant).
    func signature(for message: UnsafeRawBufferPointer, context: UnsafeRawBufferPointer,
                   randomness: UnsafeRawBufferPointer) -> [UInt8] {
        precondition(context.count <= 255, "an ML-DSA context is at most 255 bytes")
        precondition(randomness.count == 32, "ML-DSA's rnd is 32 bytes")
        // y, ŷ (ℓ each); w, cs₂, ct₀ (k each); cs₁ then z (ℓ); c; hints (k).
        let polynomials = 3 * P.l + 4 * P.k + 1
        return withUnsafeTemporaryAllocation(of: Int32.self, capacity: polynomials * 256) { scratch in
            withUnsafeTemporaryAllocation(byteCount: 64 + 64 + 128 + P.cTildeBytes, alignment: 8) { bytes in
                defer {
                    wipe(UnsafeMutableRawBufferPointer(scratch))
                    wipe(bytes)
                }
                let y = scratch.baseAddress!, yHat = y + P.l * 256, w = yHat + P.l * 256, cs2 = w + P.k * 256
                let ct0 = cs2 + P.k * 256, z = ct0 + P.k * 256, c = z + P.l * 256, hints = c + 256
                let mu = UnsafeMutableRawBufferPointer(rebasing: bytes[0..<64])
                let rhoPrimePrime = UnsafeMutableRawBufferPointer(rebasing: bytes[64..<128])
                let encoded = UnsafeMutableRawBufferPointer(rebasing: bytes[128..<256])
                let cTilde = UnsafeMutableRawBufferPointer(rebasing: bytes[256...])
                // μ = H(tr ‖ M′, 64); ρ″ = H(K ‖ rnd ‖ μ, 64).
                MLDSA65Verifier.messageRepresentative(tr: tr, context: context, message: message, into: mu)
                var seeded = Shake.shake256()
                seeded.absorb(UnsafeRawBufferPointer(secretSeed))
                seeded.absorb(randomness)
                seeded.absorb(UnsafeRawBufferPointer(mu))
                seeded.squeeze(into: rhoPrimePrime)

                let s1Hat = secretPolynomials, s2Hat = s1Hat + P.l * 256, t0Hat = s2Hat + P.k * 256
                var kappa = 0
                while true {
                    defer { kappa += P.l }
                    // y = ExpandMask(ρ″, κ); w = NTT⁻¹(Â ∘ NTT(y)), in [0, q).
                    for r in 0..<P.l {
                        Self.expandMask(UnsafeRawBufferPointer(rhoPrimePrime), nonce: UInt16(truncatingIfNeeded: kappa + r), into: y + r * 256)
                    }
                    yHat.update(from: y, count: P.l * 256)
                    for j in 0..<P.l { NTT.forward(yHat + j * 256) }
                    // c̃ = H(μ ‖ w1Encode(HighBits(w)), λ/4).
                    var commitment = Shake.shake256()
                    commitment.absorb(UnsafeRawBufferPointer(mu))
                    aHat.withUnsafeBufferPointer { aHat in
                        for i in 0..<P.k {
                            let row = w + i * 256
                            Self.multiplyRow(aHat.baseAddress! + i * P.l * 256, by: yHat, into: row)
                            for n in 0..<256 { row[n] = NTT.addQ(row[n]) }
                            for n in stride(from: 0, to: 256, by: 2) {
                                let low = Self.decompose(row[n]).high, high = Self.decompose(row[n + 1]).high
                                encoded[n >> 1] = UInt8(truncatingIfNeeded: low | high << 4)
                            }
                            commitment.absorb(UnsafeRawBufferPointer(encoded))
                        }
                    }
                    commitment.squeeze(into: cTilde)
                    MLDSA65Verifier.sampleInBall(UnsafeRawBufferPointer(cTilde), into: c)
                    NTT.forward(c)

                    // z = y + ⟨⟨cs₁⟩⟩; reject when ‖z‖∞ ≥ γ₁ − β.
                    var worst: Int32 = 0
                    for j in 0..<P.l {
                        let zj = z + j * 256, yj = y + j * 256
                        Self.product(c, s1Hat + j * 256, into: zj)
                        for n in 0..<256 {
                            zj[n] = yj[n] &+ Self.centered(zj[n])
                            worst = max(worst, Self.magnitude(zj[n]))
                        }
                    }
                    guard worst < P.gamma1 - P.beta else { continue }
                    worst = 0
                    // r₀ = LowBits(w − ⟨⟨cs₂⟩⟩); reject when ‖r₀‖∞ ≥ γ₂ − β.
                    for i in 0..<P.k {
                        let cs2i = cs2 + i * 256, wi = w + i * 256
                        Self.product(c, s2Hat + i * 256, into: cs2i)
                        for n in 0..<256 {
                            cs2i[n] = Self.freeze(wi[n] &- Self.centered(cs2i[n]))
                            worst = max(worst, Self.magnitude(Self.decompose(cs2i[n]).low))
                        }
                    }
                    guard worst < P.gamma2 - P.beta else { continue }
                    worst = 0
                    // h = MakeHint(−⟨⟨ct₀⟩⟩, w − ⟨⟨cs₂⟩⟩ + ⟨⟨ct₀⟩⟩); reject when ‖ct₀‖∞ ≥ γ₂ or h has more than ω ones.
                    var ones: Int32 = 0
                    for i in 0..<P.k {
                        let ct0i = ct0 + i * 256, differences = cs2 + i * 256, hi = hints + i * 256
                        Self.product(c, t0Hat + i * 256, into: ct0i)
                        for n in 0..<256 {
                            let term = Self.centered(ct0i[n])
                            worst = max(worst, Self.magnitude(term))
                            let before = Self.decompose(Self.freeze(differences[n] &+ term)).high
                            let after = Self.decompose(differences[n]).high
                            hi[n] = (before ^ after) == 0 ? 0 : 1
                            ones &+= hi[n]
                        }
                    }
                    guard worst < P.gamma2, ones <= Int32(P.omega) else { continue }
                    return Self.encodeSignature(cTilde: UnsafeRawBufferPointer(cTilde), z: z, hints: hints)
                }
            }
        }
    }

    /// sigEncode(c̃, z, h) (Algorithm 26): c̃, then z packed 20 bits a coefficient as γ₁ − z, then the
    /// hint's indices and each polynomial's running count (HintBitPack, Algorithm 20).
    private static func encodeSignature(cTilde: UnsafeRawBufferPointer, z: UnsafePointer<Int32>, hints: UnsafePointer<Int32>) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: P.signatureBytes) { signature, initialized in
            signature.initialize(repeating: 0)
            for index in 0..<P.cTildeBytes { signature[index] = cTilde[index] }
            for j in 0..<(P.l * 128) {
                let even = UInt32(bitPattern: P.gamma1 - z[2 * j]), odd = UInt32(bitPattern: P.gamma1 - z[2 * j + 1])
                let at = P.cTildeBytes + 5 * j
                signature[at] = UInt8(truncatingIfNeeded: even)
                signature[at + 1] = UInt8(truncatingIfNeeded: even >> 8)
                signature[at + 2] = UInt8(truncatingIfNeeded: even >> 16 | odd << 4)
                signature[at + 3] = UInt8(truncatingIfNeeded: odd >> 4)
                signature[at + 4] = UInt8(truncatingIfNeeded: odd >> 12)
            }
            let base = P.cTildeBytes + P.l * 640
            var index = 0
            for i in 0..<P.k {
                for n in 0..<256 where hints[i * 256 + n] != 0 {
                    signature[base + index] = UInt8(n)
                    index += 1
                }
                signature[base + P.omega + i] = UInt8(index)
            }
            initialized = P.signatureBytes
        }
    }

    /// NTT⁻¹(Σⱼ Â[i][j] ∘ v̂ⱼ) for one row of Â and ℓ polynomials `vectorHat` in the NTT domain; (−q, q).
    private static func multiplyRow(_ row: UnsafePointer<Int32>, by vectorHat: UnsafePointer<Int32>, into out: UnsafeMutablePointer<Int32>) {
        for n in 0..<256 {
            var sum: Int32 = 0
            for j in 0..<P.l { sum &+= NTT.montgomery(Int64(row[j * 256 + n]) &* Int64(vectorHat[j * 256 + n])) }
            out[n] = NTT.reduce32(sum)
        }
        NTT.inverseToMontgomery(out)
    }

    /// NTT⁻¹(ĉ ∘ â); (−q, q).
    @inline(__always)
    private static func product(_ cHat: UnsafePointer<Int32>, _ aHat: UnsafePointer<Int32>, into out: UnsafeMutablePointer<Int32>) {
        for n in 0..<256 { out[n] = NTT.montgomery(Int64(cHat[n]) &* Int64(aHat[n])) }
        NTT.inverseToMontgomery(out)
    }

    /// a mod q in [0, q), for |a| < 2³¹ − 2²².
    @inline(__always) static func freeze(_ a: Int32) -> Int32 { NTT.addQ(NTT.reduce32(a)) }

    /// a mod± q, in (−(q − 1)/2, (q − 1)/2], for |a| < 2³¹ − 2²².
    @inline(__always) static func centered(_ a: Int32) -> Int32 {
        let reduced = freeze(a)
        return reduced &- (((P.q - 1) / 2 &- reduced) >> 31 & P.q)
    }

    /// |a|, without a branch.
    @inline(__always) static func magnitude(_ a: Int32) -> Int32 {
        let sign = a >> 31
        return (a ^ sign) &- sign
    }

    /// Decompose(r) (Algorithm 36) for γ₂ = (q − 1)/32 and r in [0, q), without branches: r₁ = HighBits(r) in
    /// 0…15 and r₀ = LowBits(r), with r = r₁·2γ₂ + r₀ mod q.
    @inline(__always) static func decompose(_ r: Int32) -> (high: Int32, low: Int32) {
        // r₁ = ⌊(r + γ₂ − 1)/2γ₂⌋ with 2γ₂ = 2¹⁸ − 2⁹: ⌈r/2⁷⌉·1025/2²² approximates it exactly on [0, q).
        var high = (r &+ 127) >> 7
        high = (high &* 1025 &+ (1 << 21)) >> 22
        high &= 15
        var low = r &- high &* 2 &* P.gamma2
        low &-= ((P.q - 1) / 2 &- low) >> 31 & P.q
        return (high, low)
    }

    /// RejBoundedPoly(ρ′ ‖ nonce) (Algorithm 31) for η = 4: half-bytes below 9, as 4 − b.
    private static func rejectBoundedPoly(_ rhoPrime: UnsafeRawBufferPointer, nonce: UInt16, into poly: UnsafeMutablePointer<Int32>) {
        var xof = Shake.shake256()
        xof.absorb(rhoPrime)
        withUnsafeBytes(of: nonce.littleEndian) { xof.absorb($0) }
        var count = 0
        while count < 256 {
            let byte = xof.squeezeByte()
            let low = Int32(byte & 15), high = Int32(byte >> 4)
            if low < 9 {
                poly[count] = 4 - low
                count += 1
            }
            if high < 9 && count < 256 {
                poly[count] = 4 - high
                count += 1
            }
        }
    }

    /// ExpandMask's polynomial (Algorithm 34): 640 bytes of H(ρ″ ‖ nonce), 20 bits a coefficient, as γ₁ − b.
    private static func expandMask(_ rhoPrimePrime: UnsafeRawBufferPointer, nonce: UInt16, into poly: UnsafeMutablePointer<Int32>) {
        withUnsafeTemporaryAllocation(byteCount: 640, alignment: 8) { bytes in
            defer { wipe(bytes) }
            var xof = Shake.shake256()
            xof.absorb(rhoPrimePrime)
            withUnsafeBytes(of: nonce.littleEndian) { xof.absorb($0) }
            xof.squeeze(into: bytes)
            for j in 0..<128 {
                let b0 = Int32(bytes[5 * j]), b1 = Int32(bytes[5 * j + 1]), b2 = Int32(bytes[5 * j + 2])
                let b3 = Int32(bytes[5 * j + 3]), b4 = Int32(bytes[5 * j + 4])
                poly[2 * j] = P.gamma1 - ((b0 | b1 << 8 | b2 << 16) & 0xFFFFF)
                poly[2 * j + 1] = P.gamma1 - (b2 >> 4 | b3 << 4 | b4 << 12)
            }
        }
    }
}

/// Overwrites `bytes` with zeros in a way the optimiser keeps (`explicit_bzero`).
private func wipe(_ bytes: UnsafeMutableRawBufferPointer) {
    guard let base = bytes.baseAddress else { return }
    explicit_bzero(base, bytes.count)
}
