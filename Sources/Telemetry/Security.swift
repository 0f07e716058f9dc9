import ZeroMQ

/// How the telemetry and snapshot endpoints are secured. There is no default: a station must
/// choose, and plaintext is chosen only by naming it.
public enum TelemetryServerSecurity: Sendable, Equatable {
    /// CURVE encryption and authentication: only clients whose public key is in
    /// `allowedClients` are admitted (a ZAP handler, ZeroMQ RFC 27), on both endpoints.
    case curve(serverKeys: CurveKeyPair, allowedClients: Set<CurveKey>)
    /// No encryption and no authentication: only when the station says so explicitly.
    case plaintext
}

/// How a subscriber or snapshot client talks to a node.
public enum TelemetryClientSecurity: Sendable, Equatable {
    /// A CURVE client of the node whose public key is `serverKey`, authenticating with `clientKeys`.
    case curve(serverKey: CurveKey, clientKeys: CurveKeyPair)
    /// No encryption: only for a node configured with ``TelemetryServerSecurity/plaintext``.
    case plaintext

    /// Applies these settings to a socket before it connects (`ZMQ_CURVE_SERVERKEY`, …).
    func apply(to socket: ZMQSocket) throws(ZMQError) {
        if case .curve(let serverKey, let clientKeys) = self {
            try socket.makeCurveClient(serverKey: serverKey, keys: clientKeys)
        }
    }
}

/// The ZAP domain of the telemetry and snapshot endpoints.
let telemetryZAPDomain = "quantumrealm.telemetry"
