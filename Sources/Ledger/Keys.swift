import Crypto
import Foundation
import Synchronization

/// What a registered key may do in a realm.
public enum Role: String, Codable, Sendable, CaseIterable, Comparable {
    /// Registers and revokes keys; signs the genesis entry.
    case authority
    /// A realm process: writes contract entries.
    case realm
    /// Signs requests (allocate, confirm, release, bid).
    case client
    /// A node, whose announcements and reports the realm records.
    case node
    /// Reads and verifies; signs nothing that changes state.
    case auditor

    public static func < (lhs: Role, rhs: Role) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// An ML-DSA-65 (FIPS 204) public key, as swift-crypto's `MLDSA65.PublicKey` serialises it.
public struct LedgerPublicKey: Sendable, Hashable, Codable {
    public let rawRepresentation: Data
    /// Its `MLDSA65Verifier`, prepared at the first verification (36 KB), then shared by every copy.
    private let prepared: PreparedVerifier

    /// Parses a FIPS 204 public key (`MLDSA65.PublicKey(rawRepresentation:)`).
    public init(rawRepresentation: Data) throws(LedgerError) {
        do {
            _ = try MLDSA65.PublicKey(rawRepresentation: rawRepresentation)
        } catch {
            throw .invalidKey(source: "public key of \(rawRepresentation.count) bytes",
                              reason: "not an ML-DSA-65 public key (\(error))")
        }
        self.rawRepresentation = rawRepresentation
        prepared = PreparedVerifier()
    }

    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(Data.self)
        do { try self.init(rawRepresentation: raw) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawRepresentation)
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.rawRepresentation == rhs.rawRepresentation }
    public func hash(into hasher: inout Hasher) { hasher.combine(rawRepresentation) }

    /// ML-DSA-65 verification of `signature` over `digest`, in the ledger's context: what
    /// `MLDSA65.PublicKey.isValidSignature(_:for:context:)` decides, through the key's prepared `MLDSA65Verifier`.
    public func isValidSignature(_ signature: some DataProtocol, for digest: some DataProtocol) -> Bool {
        let verifier = prepared.verifier(for: rawRepresentation)
        return Array(signature).withUnsafeBytes { signature in
            Array(digest).withUnsafeBytes { digest in
                signingContext.withUnsafeBytes { context in
                    verifier.isValidSignature(signature, message: digest, context: context)
                }
            }
        }
    }
}

/// A public key's verifier, made on first use: keys that are only stored or compared cost no 36 KB.
private final class PreparedVerifier: Sendable {
    private let made = Mutex<MLDSA65Verifier?>(nil)

    /// The verifier of `publicKey`, the key this belongs to.
    func verifier(for publicKey: Data) -> MLDSA65Verifier {
        made.withLock { made in
            if let made { return made }
            // swift-crypto parsed the key already; an ML-DSA-65 public key of the right size always prepares.
            let verifier = MLDSA65Verifier(publicKey: Array(publicKey))!
            made = verifier
            return verifier
        }
    }
}

/// A private key's signer, made on first use: keys that never sign (a client's, read back to be registered)
/// cost no expansion.
private final class PreparedSigner: Sendable {
    private let made = Mutex<MLDSA65Signer??>(nil)

    /// The signer of `key`, the key this belongs to; nil (and swift-crypto signs) should the key it derives
    /// from the seed ever differ from swift-crypto's.
    func signer(for key: MLDSA65.PrivateKey) -> MLDSA65Signer? {
        made.withLock { made in
            if let made { return made }
            let signer = MLDSA65Signer(seed: key.seedRepresentation)
            let usable = signer?.publicKey == Array(key.publicKey.rawRepresentation) ? signer : nil
            made = .some(usable)
            return usable
        }
    }
}

/// The ML-DSA context string: a signature made for a ledger is worthless anywhere else.
private let signingContext = Array("qrrm-ledger".utf8)

/// A named ML-DSA-65 private key: a realm's, an authority's or a client's.
///
/// Kept on disk as JSON, `{"id": …, "algorithm": "ML-DSA-65", "seed": <base64 of the 32-byte seed>}`,
/// readable by its owner only.
public struct LedgerSigningKey: Sendable {
    public let id: String
    private let key: MLDSA65.PrivateKey
    /// Its `MLDSA65Signer`, prepared at the first signature, then shared by every copy.
    private let prepared = PreparedSigner()

    /// A fresh key (`MLDSA65.PrivateKey()`).
    public init(id: String) throws(LedgerError) {
        do { key = try MLDSA65.PrivateKey() } catch {
            throw .invalidKey(source: id, reason: "could not generate an ML-DSA-65 key: \(error)")
        }
        self.id = id
    }

    /// The key whose FIPS 204 seed is `seed` (32 bytes).
    public init(id: String, seed: some DataProtocol) throws(LedgerError) {
        guard seed.count == 32 else {
            throw .invalidKey(source: id, reason: "an ML-DSA-65 seed is 32 bytes, got \(seed.count)")
        }
        do { key = try MLDSA65.PrivateKey(seedRepresentation: seed, publicKey: nil) } catch {
            throw .invalidKey(source: id, reason: "not an ML-DSA-65 seed: \(error)")
        }
        self.id = id
    }

    public var publicKey: LedgerPublicKey {
        // A key swift-crypto just derived always parses.
        try! LedgerPublicKey(rawRepresentation: key.publicKey.rawRepresentation)
    }

    /// An ML-DSA-65 signature over `digest` in the ledger's context, as
    /// `MLDSA65.PrivateKey.signature(for:context:)` makes it, through the key's prepared `MLDSA65Signer`.
    public func sign(_ digest: some DataProtocol) throws(LedgerError) -> Data {
        if let signer = prepared.signer(for: key) {
            return Array(digest).withUnsafeBytes { digest in
                signingContext.withUnsafeBytes { Data(signer.signature(for: digest, context: $0)) }
            }
        }
        do { return try key.signature(for: digest, context: signingContext) } catch {
            throw .invalidKey(source: id, reason: "signing failed: \(error)")
        }
    }

    private struct File: Codable {
        var id: String
        var algorithm: String
        var seed: Data
    }

    /// The key file's JSON.
    public func fileContents() -> Data {
        let file = File(id: id, algorithm: "ML-DSA-65", seed: key.seedRepresentation)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return try! encoder.encode(file)
    }

    /// Writes the key file, readable and writable by its owner only.
    public func write(to path: String) throws(LedgerError) {
        guard FileManager.default.createFile(atPath: path, contents: fileContents(), attributes: [.posixPermissions: 0o600]) else {
            throw .invalidKey(source: path, reason: "could not write the key file")
        }
    }

    /// Reads a key file written by `write(to:)`.
    public init(contentsOf path: String) throws(LedgerError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .invalidKey(source: path, reason: "no such file, or not readable")
        }
        let file: File
        do { file = try JSONDecoder().decode(File.self, from: data) } catch {
            throw .invalidKey(source: path, reason: "expected {\"id\", \"algorithm\": \"ML-DSA-65\", \"seed\"} JSON: \(error)")
        }
        guard file.algorithm == "ML-DSA-65" else {
            throw .invalidKey(source: path, reason: "algorithm \"\(file.algorithm)\" is not supported; expected \"ML-DSA-65\"")
        }
        do { try self.init(id: file.id, seed: file.seed) } catch {
            throw .invalidKey(source: path, reason: error.description)
        }
    }
}

/// A public key file, `{"id": …, "algorithm": "ML-DSA-65", "publicKey": <base64>}`: what a client hands the
/// realm's authority to be registered.
public struct PublicKeyFile: Codable, Sendable, Equatable {
    public var id: String
    public var algorithm: String
    public var publicKey: LedgerPublicKey

    public init(_ key: LedgerSigningKey) {
        id = key.id
        algorithm = "ML-DSA-65"
        publicKey = key.publicKey
    }

    public func contents() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return try! encoder.encode(self)
    }

    /// Reads a public key file, naming the file in any error.
    public init(contentsOf path: String) throws(LedgerError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .invalidKey(source: path, reason: "no such file, or not readable")
        }
        do { self = try JSONDecoder().decode(PublicKeyFile.self, from: data) } catch {
            throw .invalidKey(source: path, reason: "expected {\"id\", \"algorithm\": \"ML-DSA-65\", \"publicKey\"} JSON: \(error)")
        }
        guard algorithm == "ML-DSA-65" else {
            throw .invalidKey(source: path, reason: "algorithm \"\(algorithm)\" is not supported; expected \"ML-DSA-65\"")
        }
    }
}
