import Crypto
import Foundation
@testable import Ledger
import Testing
import TestSupport

private func bytes(_ count: Int, _ generator: inout SplitMix64) -> [UInt8] {
    (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
}

/// `signer`'s signature of `message` in `context`, hedged or with the given rnd.
private func sign(_ signer: MLDSA65Signer, _ message: [UInt8], _ context: [UInt8], randomness: [UInt8]? = nil) -> [UInt8] {
    message.withUnsafeBytes { m in
        context.withUnsafeBytes { c in
            guard let randomness else { return signer.signature(for: m, context: c) }
            return randomness.withUnsafeBytes { signer.signature(for: m, context: c, randomness: $0) }
        }
    }
}

@Suite("ML-DSA-65 signing with a prepared key makes what swift-crypto accepts")
struct MLDSA65SignerTests {
    @Test("The public key derived from a seed is swift-crypto's, byte for byte")
    func derivesSwiftCryptosPublicKey() throws {
        var generator = SplitMix64(seed: 11)
        for _ in 0..<8 {
            let seed = bytes(32, &generator)
            let signer = try #require(MLDSA65Signer(seed: seed))
            let reference = try MLDSA65.PrivateKey(seedRepresentation: seed, publicKey: nil)
            let same = signer.publicKey == Array(reference.publicKey.rawRepresentation)
            #expect(same, "the public key of seed \(seed)")
        }
        #expect(MLDSA65Signer(seed: [UInt8](repeating: 1, count: 31)) == nil)
        #expect(MLDSA65Signer(seed: [UInt8](repeating: 1, count: 33)) == nil)
    }

    @Test("Every signature it makes is accepted by swift-crypto and by the prepared verifier, and no other")
    func signaturesVerify() throws {
        var generator = SplitMix64(seed: 12)
        for _ in 0..<4 {
            let seed = bytes(32, &generator)
            let signer = try #require(MLDSA65Signer(seed: seed))
            let reference = try MLDSA65.PrivateKey(seedRepresentation: seed, publicKey: nil).publicKey
            let verifier = try #require(MLDSA65Verifier(publicKey: signer.publicKey))
            for _ in 0..<12 {
                let message = bytes(Int.random(in: 0...300, using: &generator), &generator)
                let context = bytes(Int.random(in: 0...255, using: &generator), &generator)
                let signature = sign(signer, message, context)
                #expect(signature.count == MLDSA65Parameters.signatureBytes)
                let accepted = reference.isValidSignature(signature, for: message, context: context)
                #expect(accepted, "a signature over \(message.count) bytes in a \(context.count)-byte context")
                let ours = signature.withUnsafeBytes { s in message.withUnsafeBytes { m in context.withUnsafeBytes { c in
                    verifier.isValidSignature(s, message: m, context: c)
                } } }
                #expect(ours)
                let otherMessage = reference.isValidSignature(signature, for: message + [0], context: context)
                let otherContext = reference.isValidSignature(signature, for: message, context: context + [0])
                #expect(!otherMessage && !otherContext, "accepted for another message or context")
            }
        }
    }

    @Test("rnd decides the signature: the same rnd gives the same bytes, hedged signing never repeats")
    func randomnessDecidesTheSignature() throws {
        let signer = try #require(MLDSA65Signer(seed: [UInt8](repeating: 7, count: 32)))
        let message = Array("allocate 8 qubits".utf8), context = Array("qrrm-ledger".utf8)
        let zero = [UInt8](repeating: 0, count: 32), one = [UInt8](repeating: 0, count: 31) + [1]
        let deterministic = sign(signer, message, context, randomness: zero)
        let repeated = sign(signer, message, context, randomness: zero) == deterministic
        let otherRandomness = sign(signer, message, context, randomness: one) == deterministic
        let hedgedRepeats = sign(signer, message, context) == sign(signer, message, context)
        #expect(repeated && !otherRandomness && !hedgedRepeats)
        let reference = try MLDSA65.PublicKey(rawRepresentation: signer.publicKey)
        let accepted = reference.isValidSignature(deterministic, for: message, context: context)
        #expect(accepted)
    }

    @Test("Decompose without branches is FIPS 204's Algorithm 36 on every r in [0, q)")
    func decomposeMatchesTheDefinition() {
        let q = MLDSA65Parameters.q, gamma2 = MLDSA65Parameters.gamma2
        var mismatches: [Int32] = []
        for r in 0..<q {
            // r₀ = r mod± 2γ₂; r₁ = (r − r₀)/2γ₂, or 0 with r₀ − 1 when r − r₀ = q − 1.
            var low = r % (2 * gamma2)
            if low > gamma2 { low -= 2 * gamma2 }
            var high = (r - low) / (2 * gamma2)
            if r - low == q - 1 {
                high = 0
                low -= 1
            }
            let ours = MLDSA65Signer.decompose(r)
            if ours.high != high || ours.low != low { mismatches.append(r) }
            if mismatches.count > 5 { break }
        }
        #expect(mismatches.isEmpty, "first mismatches: \(mismatches)")
    }

    @Test("Centred reduction and magnitude at the edges")
    func centredReduction() {
        let q = MLDSA65Parameters.q
        for (a, expected) in [(0, 0), (1, 1), (-1, -1), ((q - 1) / 2, (q - 1) / 2), ((q + 1) / 2, -(q - 1) / 2),
                              (q - 1, -1), (-(q - 1), 1), (q, 0), (3 * q + 5, 5)] as [(Int32, Int32)] {
            #expect(MLDSA65Signer.centered(a) == expected, "\(a)")
            #expect(MLDSA65Signer.magnitude(expected) == abs(expected))
        }
    }
}
