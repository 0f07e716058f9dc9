import Crypto
import Foundation
@testable import Ledger
import Testing
import TestSupport

private func hex(_ bytes: some Sequence<UInt8>) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

/// Ours and swift-crypto's (BoringSSL's `MLDSA65_verify`) decisions on the same input.
private func decisions(_ key: MLDSA65.PublicKey, _ signature: [UInt8], _ message: [UInt8], _ context: [UInt8],
                       verifier: MLDSA65Verifier? = nil) -> (ours: Bool, boringSSL: Bool) {
    let verifier = verifier ?? MLDSA65Verifier(publicKey: Array(key.rawRepresentation))!
    let ours = signature.withUnsafeBytes { s in message.withUnsafeBytes { m in context.withUnsafeBytes { c in
        verifier.isValidSignature(s, message: m, context: c)
    } } }
    return (ours, key.isValidSignature(signature, for: message, context: context))
}

@Suite("ML-DSA-65 verification with prepared keys decides as swift-crypto does")
struct MLDSA65VerifierTests {
    @Test("SHAKE matches swift-crypto's SHA3-256 and FIPS 202's vectors, however it is squeezed")
    func keccakMatchesSHA3AndFIPS202Vectors() {
        var generator = SplitMix64(seed: 1)
        for length in [0, 1, 135, 136, 137, 271, 272, 273, 1000] {
            let input = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            var sha3 = Shake(rate: 136, suffix: 0x06)
            sha3.absorb(input)
            #expect(sha3.squeeze(32) == Array(SHA3_256.hash(data: input)), "SHA3-256 of \(length) bytes")
        }
        var shake128 = Shake.shake128()
        #expect(hex(shake128.squeeze(32)) == "7f9c2ba4e88f827d616045507605853ed73b8093f6efbc88eb1a6eacfa66ef26")
        var shake256 = Shake.shake256()
        #expect(hex(shake256.squeeze(32)) == "46b9dd2b0ba88d13233b3feb743eeb243fcd52ea62b81b82b50c27646ed5762f")
        // Squeezing across block boundaries one byte at a time equals squeezing at once.
        var once = Shake.shake256(), bytewise = Shake.shake256()
        once.absorb([1, 2, 3])
        bytewise.absorb([1, 2, 3])
        #expect(once.squeeze(500) == (0..<500).map { _ in bytewise.squeezeByte() })
    }

    @Test("The NTT's constants: R²/256 and q⁻¹ mod 2³²")
    func inverseScaleIsRSquaredOver256() {
        let q = Int64(MLDSA65Parameters.q), r = (Int64(1) << 32) % q
        #expect(Int64(NTT.inverseScale) * 256 % q == r * r % q)
        #expect(Int64(NTT.qInverse) * q & 0xFFFF_FFFF == 1)
    }

    @Test("Every signature swift-crypto makes is accepted, in any context")
    func acceptsWhatSwiftCryptoSigns() throws {
        var generator = SplitMix64(seed: 2)
        for _ in 0..<6 {
            let key = try MLDSA65.PrivateKey()
            for _ in 0..<8 {
                let message = (0..<Int.random(in: 0...300, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let context = (0..<Int.random(in: 0...40, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let signature = Array(try key.signature(for: message, context: context))
                let result = decisions(key.publicKey, signature, message, context)
                #expect(result.ours && result.boringSSL, "a valid signature over \(message.count) bytes in a \(context.count)-byte context")
            }
        }
    }

    @Test("Altered signatures, messages, contexts and keys get swift-crypto's decision, byte by byte")
    func rejectsExactlyWhatSwiftCryptoRejects() throws {
        var generator = SplitMix64(seed: 3)
        let key = try MLDSA65.PrivateKey(), other = try MLDSA65.PrivateKey()
        let message = Array("allocate 8 qubits".utf8), context = Array("qrrm-ledger".utf8)
        let keyBytes = Array(key.publicKey.rawRepresentation), verifier = MLDSA65Verifier(publicKey: keyBytes)!
        var disagreements: [String] = []
        var rejected = 0
        func compare(_ what: String, key: MLDSA65.PublicKey, _ signature: [UInt8], _ message: [UInt8], _ context: [UInt8]) {
            let result = decisions(key, signature, message, context,
                                   verifier: Array(key.rawRepresentation) == keyBytes ? verifier : nil)
            if result.ours != result.boringSSL { disagreements.append("\(what): ours \(result.ours), BoringSSL \(result.boringSSL)") }
            if !result.boringSSL { rejected += 1 }
        }
        for _ in 0..<4 {
            let signature = Array(try key.signature(for: message, context: context))
            let hintStart = 48 + 5 * 640
            // Every byte of c̃ and the hint, and random bytes of z, changed.
            var positions = Array(0..<48) + Array(hintStart..<signature.count)
            positions += (0..<120).map { _ in Int.random(in: 48..<hintStart, using: &generator) }
            for position in positions {
                var altered = signature
                altered[position] ^= UInt8.random(in: 1...255, using: &generator)
                compare("byte \(position) altered", key: key.publicKey, altered, message, context)
            }
            // Hint counts and indices set to edge values.
            for position in hintStart..<signature.count {
                for value: UInt8 in [0, 1, 54, 55, 56, 255] where signature[position] != value {
                    var altered = signature
                    altered[position] = value
                    compare("hint byte \(position) = \(value)", key: key.publicKey, altered, message, context)
                }
            }
            compare("wrong key", key: other.publicKey, signature, message, context)
            compare("wrong context", key: key.publicKey, signature, message, Array("qrrm-ledgeR".utf8))
            compare("no context", key: key.publicKey, signature, message, [])
            compare("message altered", key: key.publicKey, signature, message + [0], context)
            compare("truncated", key: key.publicKey, Array(signature.dropLast()), message, context)
            compare("extended", key: key.publicKey, signature + [0], message, context)
            compare("empty", key: key.publicKey, [], message, context)
        }
        #expect(disagreements.count == 0, "\(disagreements.prefix(10))")
        #expect(rejected > 1000)
    }

    @Test("z is bounded exactly at γ₁ − β")
    func boundsZAtGammaOneMinusBeta() throws {
        let key = try MLDSA65.PrivateKey()
        let message = Array("z".utf8)
        let signature = Array(try key.signature(for: message, context: []))
        // z₀ is packed as γ₁ − z₀ in the low 20 bits of bytes 48…50.
        func withFirstZ(_ z: Int32) -> [UInt8] {
            var altered = signature
            let packed = UInt32(MLDSA65Parameters.gamma1 - z)
            altered[48] = UInt8(packed & 0xFF)
            altered[49] = UInt8(packed >> 8 & 0xFF)
            altered[50] = altered[50] & 0xF0 | UInt8(packed >> 16 & 0x0F)
            return altered
        }
        let bound = MLDSA65Parameters.gamma1 - MLDSA65Parameters.beta
        for (z, inRange) in [(bound - 1, true), (bound, false), (-(bound - 1), true), (-bound, false), (MLDSA65Parameters.gamma1, false)] {
            let altered = withFirstZ(z)
            let decoded = withUnsafeTemporaryAllocation(of: Int32.self, capacity: 5 * 256) { buffer in
                altered.withUnsafeBytes { MLDSA65Verifier.unpackZ($0, into: buffer.baseAddress!) ? buffer[0] : nil }
            }
            #expect(decoded == (inRange ? z : nil), "z₀ = \(z)")
            let result = decisions(key.publicKey, altered, message, [])
            #expect(!result.ours && !result.boringSSL, "z₀ = \(z) changes the commitment")
        }
    }

    /// Two encodings of the same hints: only the strong-unforgeability checks tell them apart.
    @Test("Hints out of order or padded with non-zero bytes are refused")
    func refusesNonCanonicalHints() throws {
        let key = try MLDSA65.PrivateKey()
        let message = Array("h".utf8)
        let signature = Array(try key.signature(for: message, context: []))
        let hintStart = 48 + 5 * 640, omega = MLDSA65Parameters.omega
        let ends = (0..<MLDSA65Parameters.k).map { Int(signature[hintStart + omega + $0]) }
        func refusedByBoth(_ altered: [UInt8]) -> Bool {
            let unpacked = withUnsafeTemporaryAllocation(of: Int32.self, capacity: 6 * 256) { buffer in
                altered.withUnsafeBytes { MLDSA65Verifier.unpackHints($0, into: buffer.baseAddress!) }
            }
            let result = decisions(key.publicKey, altered, message, [])
            return !unpacked && !result.ours && !result.boringSSL
        }
        // A non-zero byte after the last index.
        try #require(ends.last! < omega, "this signature uses every hint slot")
        var padded = signature
        padded[hintStart + omega - 1] = 7
        #expect(refusedByBoth(padded))
        // Two indices of one polynomial swapped: the same set, out of order.
        var start = 0
        var swapped: [UInt8]?
        for end in ends {
            if end - start >= 2 {
                var altered = signature
                altered.swapAt(hintStart + start, hintStart + start + 1)
                swapped = altered
                break
            }
            start = end
        }
        let outOfOrder = try #require(swapped, "no polynomial of this signature has two hints")
        #expect(refusedByBoth(outOfOrder))
    }

    @Test("Ledger keys verify in the ledger's context only")
    func ledgerKeysVerifyInTheLedgerContextOnly() throws {
        let key = try LedgerSigningKey(id: "alice")
        let digest = Data((0..<32).map { UInt8($0) })
        let signature = try key.sign(digest)
        #expect(key.publicKey.isValidSignature(signature, for: digest))
        var altered = signature
        altered[100] ^= 1
        #expect(!key.publicKey.isValidSignature(altered, for: digest))
        let plain = try MLDSA65.PrivateKey()
        let outside = try plain.signature(for: digest)
        let publicKey = try LedgerPublicKey(rawRepresentation: plain.publicKey.rawRepresentation)
        #expect(!publicKey.isValidSignature(outside, for: digest), "a signature without the ledger's context")
    }
}
