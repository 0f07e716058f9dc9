import Crypto
import Foundation
import Quantities

/// A client's own signed request, carried inside the entry that acts on it, so anyone can check
/// later that the client asked for exactly this.
public struct SignedRequest: Sendable, Hashable, Codable {
    /// The client's key id.
    public var client: String
    /// Unique per client: a request is accepted once.
    public var nonce: UInt64
    /// What the client asks for, as canonical JSON.
    public var body: Data
    /// ML-DSA-65 over `digest`.
    public var signature: Data

    public init(client: String, nonce: UInt64, body: Data, signature: Data) {
        self.client = client
        self.nonce = nonce
        self.body = body
        self.signature = signature
    }

    /// Signs `body` as `key`'s request.
    public init(signing body: Data, nonce: UInt64, with key: LedgerSigningKey) throws(LedgerError) {
        self.init(client: key.id, nonce: nonce, body: body, signature: Data())
        signature = try key.sign(digest)
    }

    /// SHA-256 of the request's canonical bytes: what the client signs.
    public var digest: Data {
        var writer = CanonicalWriter(domain: "qrrm-request/1")
        writer.field(client)
        writer.integer(nonce)
        writer.field(body)
        return Data(SHA256.hash(data: writer.bytes))
    }
}

/// One entry of the hash-chained log.
///
/// `hash` is SHA-256 over the entry's canonical bytes, which include `previousHash`; the author signs
/// `hash` with ML-DSA-65. Changing any field, the order, or a signature is therefore found by
/// `LedgerVerifier`.
public struct LedgerEntry: Sendable, Hashable {
    /// 0 for the genesis entry, then one more per entry, without gaps.
    public var sequence: Int64
    /// The previous entry's hash; 32 zero bytes for the genesis entry.
    public var previousHash: Data
    /// The author's wall clock when it wrote the entry.
    public var timestamp: Timestamp
    /// The contract the entry belongs to: "ledger" for keys, "allocation", …
    public var contract: String
    /// What happened, in the contract's words: "key.register", "allocation.confirm", …
    public var kind: String
    /// The contract's event, as canonical JSON.
    public var payload: Data
    /// The key id of the realm (or authority) that wrote the entry.
    public var author: String
    /// The client request the entry acts on, when there is one.
    public var request: SignedRequest?
    /// SHA-256 of the canonical bytes.
    public var hash: Data
    /// The author's ML-DSA-65 signature over `hash`.
    public var signature: Data

    /// The hash of no entry: the genesis entry's `previousHash`.
    public static let zeroHash = Data(count: 32)

    /// An entry with its hash computed and not yet signed.
    public init(sequence: Int64, previousHash: Data, timestamp: Timestamp, contract: String, kind: String,
                payload: Data, author: String, request: SignedRequest?) {
        self.init(sequence: sequence, previousHash: previousHash, timestamp: timestamp, contract: contract, kind: kind,
                  payload: payload, author: author, request: request, hash: Data(), signature: Data())
        hash = computedHash()
    }

    /// An entry as stored: hash and signature as read, to be checked by `LedgerVerifier`.
    public init(sequence: Int64, previousHash: Data, timestamp: Timestamp, contract: String, kind: String,
                payload: Data, author: String, request: SignedRequest?, hash: Data, signature: Data) {
        self.sequence = sequence
        self.previousHash = previousHash
        self.timestamp = timestamp
        self.contract = contract
        self.kind = kind
        self.payload = payload
        self.author = author
        self.request = request
        self.hash = hash
        self.signature = signature
    }

    /// SHA-256 over the canonical bytes of every field but `hash` and `signature`.
    public func computedHash() -> Data {
        var writer = CanonicalWriter(domain: "qrrm-ledger-entry/1")
        writer.integer(sequence)
        writer.field(previousHash)
        writer.integer(timestamp.nanosecondsSinceEpoch)
        writer.field(contract)
        writer.field(kind)
        writer.field(payload)
        writer.field(author)
        if let request {
            writer.integer(UInt8(1))
            writer.field(request.client)
            writer.integer(request.nonce)
            writer.field(request.body)
            writer.field(request.signature)
        } else {
            writer.integer(UInt8(0))
        }
        return Data(SHA256.hash(data: writer.bytes))
    }

    /// Decodes the payload as `T`, naming the entry when it does not fit.
    public func decodePayload<T: Decodable>(_ type: T.Type) throws(LedgerError) -> T {
        do { return try JSONDecoder().decode(T.self, from: payload) } catch {
            throw .invalidEntry(sequence: sequence, reason: "its \(kind) payload is not a valid \(T.self): \(error)")
        }
    }
}

/// Canonical JSON: sorted keys, no whitespace, so the same value always gives the same bytes.
public func canonicalJSON(_ value: some Encodable) -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    // Encoding our own Codable values cannot fail short of a programmer error (a non-finite Double).
    do { return try encoder.encode(value) } catch { preconditionFailure("canonical JSON of \(type(of: value)): \(error)") }
}
