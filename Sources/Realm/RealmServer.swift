import Foundation
import Logging
import Telemetry
import ZeroMQ

/// `qrrm realm serve`: the realm's ZeroMQ ROUTER endpoint, one JSON request and one JSON reply per
/// message (`RealmRequest`, `RealmReply`), CURVE-secured like the node's endpoints unless the
/// operator names plaintext. Requests are answered concurrently, each as its own task.
public final class RealmServer: Sendable {
    public static let maximumRequestBytes = 1 << 20
    public let endpoint: String
    private let context: ZMQContext
    private let authenticator: ZAPAuthenticator?
    private let loop: SocketLoop
    private static let domain = "quantumrealm.realm"

    public init(realm: Realm, endpoint: String, security: TelemetryServerSecurity,
                logger: Logger = Logger(label: "qrrm.realm")) throws(RealmError) {
        let socket: ZMQSocket
        do {
            context = try ZMQContext()
            socket = try context.socket(.router)
            if case let .curve(keys, allowed) = security {
                authenticator = try ZAPAuthenticator(context: context, allowedClientKeys: allowed, domain: Self.domain)
                try socket.makeCurveServer(secretKey: keys.secretKey, domain: Self.domain)
            } else {
                authenticator = nil
            }
            try socket.set(.maxMessageSize, Int64(Self.maximumRequestBytes))
            try socket.set(.linger, .milliseconds(200))
            self.endpoint = try socket.bind(endpoint)
        } catch {
            throw .transport(endpoint: endpoint, reason: "could not bind: \(error)")
        }
        let outbox = Outbox()
        loop = SocketLoop(name: "qrrm-realm", socket: socket) { frames, _ in
            guard frames.count >= 2 else { return }
            let envelope = Array(frames.dropLast())
            let body = frames.last!
            Task {
                let reply: RealmReply
                do {
                    let request = try JSONDecoder().decode(RealmRequest.self, from: Data(body))
                    reply = await realm.handle(request)
                } catch {
                    logger.debug("realm: malformed request: \(error)")
                    reply = RealmReply(id: "", ok: false, error: .init(code: .badRequest, message: "not a realm request: \(error)"))
                }
                outbox.loop?.send(envelope + [Array(canonicalReply(reply))])
            }
        }
        outbox.loop = loop
    }

    /// Stops serving; requests in flight are dropped.
    public func stop() {
        loop.stop()
        authenticator?.stop()
    }

    deinit { stop() }
}

/// Lets the receive handler reach the loop it runs on.
private final class Outbox: @unchecked Sendable {
    // Written once, before the first message can arrive on the new socket's thread.
    var loop: SocketLoop?
}

func canonicalReply(_ reply: RealmReply) -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return (try? encoder.encode(reply)) ?? Data("{\"ok\":false}".utf8)
}
