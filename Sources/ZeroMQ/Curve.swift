import CZeroMQ
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A 32-byte CURVE key, written as 40 characters of Z85 in configuration files.
public struct CurveKey: Sendable, Hashable, CustomStringConvertible {
    /// The raw 32 bytes.
    public let bytes: [UInt8]

    init(validatedBytes bytes: [UInt8]) {
        precondition(bytes.count == 32, "a CURVE key has 32 bytes")
        self.bytes = bytes
    }

    /// A key from its 32 raw bytes.
    public init(bytes: [UInt8]) throws(ZMQError) {
        guard bytes.count == 32 else {
            throw ZMQError(code: EINVAL, operation: "CURVE key: expected 32 bytes, got \(bytes.count)")
        }
        self.bytes = bytes
    }

    /// A key from its 40-character Z85 text (`zmq_z85_decode`).
    public init(z85: String) throws(ZMQError) {
        let text = Array(z85.utf8)
        guard text.count == 40 else {
            throw ZMQError(code: EINVAL, operation: "CURVE key \"\(z85)\": expected 40 Z85 characters, got \(text.count)")
        }
        var decoded = [UInt8](repeating: 0, count: 32)
        let ok = z85.withCString { zmq_z85_decode(&decoded, $0) } != nil
        guard ok else {
            throw ZMQError(code: EINVAL, operation: "CURVE key \"\(z85)\": not valid Z85 text")
        }
        bytes = decoded
    }

    /// The 40-character Z85 text (`zmq_z85_encode`).
    public var z85: String {
        var text = [CChar](repeating: 0, count: 41)
        _ = zmq_z85_encode(&text, bytes, 32)
        return string(fromCString: text)
    }

    public var description: String { z85 }
}

/// A CURVE key pair. Printing it shows only the public key, so the secret stays out of logs.
public struct CurveKeyPair: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public let publicKey: CurveKey
    public let secretKey: CurveKey

    /// A new random key pair (`zmq_curve_keypair`). Throws `ENOTSUP` where libzmq lacks CURVE.
    public static func generate() throws(ZMQError) -> CurveKeyPair {
        var publicText = [CChar](repeating: 0, count: 41)
        var secretText = [CChar](repeating: 0, count: 41)
        try zmqCall("zmq_curve_keypair") { zmq_curve_keypair(&publicText, &secretText) }
        return CurveKeyPair(
            publicKey: try CurveKey(z85: string(fromCString: publicText)),
            secretKey: try CurveKey(z85: string(fromCString: secretText)))
    }

    /// The pair for an existing secret key, deriving its public key (`zmq_curve_public`).
    public init(secretKey: CurveKey) throws(ZMQError) {
        var publicText = [CChar](repeating: 0, count: 41)
        try zmqCall("zmq_curve_public") { zmq_curve_public(&publicText, secretKey.z85) }
        self.publicKey = try CurveKey(z85: string(fromCString: publicText))
        self.secretKey = secretKey
    }

    init(publicKey: CurveKey, secretKey: CurveKey) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    public var description: String { "CurveKeyPair(public: \(publicKey.z85), secret: <redacted>)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["publicKey": publicKey], displayStyle: .struct) }
}

extension ZMQSocket {
    /// Makes this socket a CURVE server (`ZMQ_CURVE_SERVER`, `ZMQ_CURVE_SECRETKEY`,
    /// `ZMQ_ZAP_DOMAIN`). Call before `bind`; run a ``ZAPAuthenticator`` to restrict clients.
    public func makeCurveServer(secretKey: CurveKey, domain: String = "global") throws(ZMQError) {
        try set(.zapDomain, domain)
        try set(.curveServer, true)
        try set(.curveSecretKey, secretKey)
    }

    /// Makes this socket a CURVE client of the server with `serverKey`, authenticating with
    /// `keys` (`ZMQ_CURVE_SERVERKEY`, `ZMQ_CURVE_PUBLICKEY`, `ZMQ_CURVE_SECRETKEY`). Call before `connect`.
    public func makeCurveClient(serverKey: CurveKey, keys: CurveKeyPair) throws(ZMQError) {
        try set(.curveServerKey, serverKey)
        try set(.curvePublicKey, keys.publicKey)
        try set(.curveSecretKey, keys.secretKey)
    }
}

/// A ZAP handler (ZeroMQ RFC 27) that admits only CURVE clients whose public key is listed.
///
/// It binds `inproc://zeromq.zap.01` in its context, one per context. libzmq admits every CURVE
/// client that knows the server key while no handler is bound, so the handler fails closed:
/// start it before the server socket binds, and stop it only after the sockets it guards are
/// closed. Releasing the authenticator does not stop it: the handler keeps answering until
/// ``stop()`` or until the context shuts down (`ZMQContext.shutdown`).
public final class ZAPAuthenticator: Sendable {
    private let policy: ZAPPolicy
    private let stopSignal: Mutex<ZMQSocket?>
    private let thread: JoinableThread

    /// Starts the handler. `domain` nil serves every ZAP domain; otherwise other domains are refused.
    public init(context: ZMQContext, allowedClientKeys: Set<CurveKey>, domain: String? = nil) throws(ZMQError) {
        let policy = ZAPPolicy(allowed: allowedClientKeys, domain: domain)
        self.policy = policy
        let handler = try context.socket(.rep)
        try handler.bind("inproc://zeromq.zap.01")
        let control = uniqueInprocAddress("zap-stop")
        let stopReceiver = try context.socket(.pair)
        try stopReceiver.bind(control)
        let stopSender = try context.socket(.pair)
        try stopSender.connect(control)
        stopSignal = Mutex(stopSender)
        thread = try JoinableThread {
            policy.serve(handler: handler, stop: stopReceiver)
        }
    }

    /// Admits `key` from now on.
    public func allow(_ key: CurveKey) { policy.allowList.withLock { _ = $0.insert(key) } }

    /// Refuses `key` from its next connection on.
    public func revoke(_ key: CurveKey) { policy.allowList.withLock { _ = $0.remove(key) } }

    /// How many handshakes were accepted and refused so far.
    public var decisions: (accepted: Int, refused: Int) { policy.counters.withLock { $0 } }

    /// The error that stopped the handler answering, if one did (`ETERM` at context shutdown is not
    /// one). The handler then stays bound without answering, so handshakes stall rather than pass.
    public var failure: ZMQError? { policy.failure.withLock { $0 } }

    /// Stops the handler thread and unbinds it; later calls do nothing.
    /// Close the server sockets first: once the handler is gone libzmq stops asking it.
    public func stop() {
        let sender = stopSignal.withLock { socket -> ZMQSocket? in
            defer { socket = nil }
            return socket
        }
        guard let sender else { return }
        _ = try? sender.send([UInt8](), wait: .timeout(.seconds(1)))
        thread.join()
    }
}

/// What the ZAP handler thread shares with its ``ZAPAuthenticator``: the allow-list and counts.
final class ZAPPolicy: Sendable {
    let allowList: Mutex<Set<CurveKey>>
    let counters = Mutex((accepted: 0, refused: 0))
    let failure = Mutex<ZMQError?>(nil)
    let domain: String?

    init(allowed: Set<CurveKey>, domain: String?) {
        allowList = Mutex(allowed)
        self.domain = domain
    }

    /// The handler loop: answers ZAP requests until `stop` is signalled or the context ends.
    func serve(handler: ZMQSocket, stop: ZMQSocket) {
        var poller = ZMQPoller()
        poller.add(handler)
        poller.add(stop)
        while true {
            do {
                try poller.poll(timeout: nil)
                if poller.events(at: 1).contains(.readable) { return }
                guard poller.events(at: 0).contains(.readable),
                      let request = try handler.receiveMultipart(wait: .dontWait) else { continue }
                try handler.send(multipart: reply(to: request))
            } catch {
                // ETERM: the context is shutting down.
                if error.isContextTerminated { return }
                // Anything else leaves REP in an unknown state. Fail closed: stay bound but stop
                // answering, so new clients wait in their handshake instead of being admitted,
                // until stop() or context shutdown.
                failure.withLock { $0 = error }
                _ = try? stop.receiveFrame(wait: .forever)
                return
            }
        }
    }

    /// Builds the ZAP reply for one request (RFC 27): version, request id, status, text, user id, metadata.
    func reply(to frames: [[UInt8]]) -> [[UInt8]] {
        let version = Array("1.0".utf8)
        guard frames.count >= 6, frames[0] == version else {
            counters.withLock { $0.refused += 1 }
            return [version, frames.count > 1 ? frames[1] : [], Array("500".utf8), Array("malformed ZAP request".utf8), [], []]
        }
        let requestID = frames[1]
        let requestDomain = String(decoding: frames[2], as: UTF8.self)
        let mechanism = String(decoding: frames[5], as: UTF8.self)
        func refuse(_ why: String) -> [[UInt8]] {
            counters.withLock { $0.refused += 1 }
            return [version, requestID, Array("400".utf8), Array(why.utf8), [], []]
        }
        if let domain, domain != requestDomain { return refuse("unknown ZAP domain") }
        guard mechanism == "CURVE", frames.count == 7, frames[6].count == 32 else {
            return refuse("only CURVE clients are admitted")
        }
        let key = CurveKey(validatedBytes: frames[6])
        guard allowList.withLock({ $0.contains(key) }) else { return refuse("client key not allowed") }
        counters.withLock { $0.accepted += 1 }
        return [version, requestID, Array("200".utf8), Array("OK".utf8), Array(key.z85.utf8), []]
    }
}

/// The text before the first NUL of a C character buffer.
func string(fromCString buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
