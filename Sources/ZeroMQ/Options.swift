import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A typed socket option: `socket.set(.sendHighWaterMark, 1000)`, `try socket.get(.receiveMore)`.
/// Each one names the `ZMQ_` option it reads or writes with `zmq_getsockopt`/`zmq_setsockopt`.
public struct SocketOption<Value>: Sendable, CustomStringConvertible {
    let name: Int32
    let kind: Kind
    public let description: String

    enum Kind: Sendable {
        case int32, int64, bool, milliseconds, optionalMilliseconds, bytes, string, curveKey, pollEvents
    }

    init(_ name: Int32, _ kind: Kind, _ description: String) {
        self.name = name
        self.kind = kind
        self.description = description
    }
}

extension SocketOption where Value == Int32 {
    /// `ZMQ_SNDHWM`: messages queued per peer before PUB drops or others block (0 is no limit).
    public static var sendHighWaterMark: Self { .init(ZMQ_SNDHWM, .int32, "ZMQ_SNDHWM") }
    /// `ZMQ_RCVHWM`: messages queued per peer on the receiving side (0 is no limit).
    public static var receiveHighWaterMark: Self { .init(ZMQ_RCVHWM, .int32, "ZMQ_RCVHWM") }
    /// `ZMQ_TCP_KEEPALIVE_CNT`: unanswered probes before the connection is dropped (-1: OS default).
    public static var tcpKeepaliveCount: Self { .init(ZMQ_TCP_KEEPALIVE_CNT, .int32, "ZMQ_TCP_KEEPALIVE_CNT") }
    /// `ZMQ_TCP_KEEPALIVE_IDLE`: idle seconds before the first probe (-1: OS default).
    public static var tcpKeepaliveIdle: Self { .init(ZMQ_TCP_KEEPALIVE_IDLE, .int32, "ZMQ_TCP_KEEPALIVE_IDLE") }
    /// `ZMQ_TCP_KEEPALIVE_INTVL`: seconds between probes (-1: OS default).
    public static var tcpKeepaliveInterval: Self { .init(ZMQ_TCP_KEEPALIVE_INTVL, .int32, "ZMQ_TCP_KEEPALIVE_INTVL") }
}

extension SocketOption where Value == Int64 {
    /// `ZMQ_MAXMSGSIZE`: the largest inbound message accepted; a peer sending more is dropped (-1: no limit).
    public static var maxMessageSize: Self { .init(ZMQ_MAXMSGSIZE, .int64, "ZMQ_MAXMSGSIZE") }
}

extension SocketOption where Value == Bool {
    /// `ZMQ_TCP_KEEPALIVE`: use TCP keepalive probes on this socket's connections.
    public static var tcpKeepalive: Self { .init(ZMQ_TCP_KEEPALIVE, .bool, "ZMQ_TCP_KEEPALIVE") }
    /// `ZMQ_CONFLATE`: keep only the newest message (for last-value channels).
    public static var conflate: Self { .init(ZMQ_CONFLATE, .bool, "ZMQ_CONFLATE") }
    /// `ZMQ_XPUB_VERBOSE`: pass every subscription upstream, not only new ones.
    public static var xpubVerbose: Self { .init(ZMQ_XPUB_VERBOSE, .bool, "ZMQ_XPUB_VERBOSE") }
    /// `ZMQ_XPUB_NODROP`: at the high-water mark, fail with `EAGAIN` instead of dropping.
    public static var xpubNoDrop: Self { .init(ZMQ_XPUB_NODROP, .bool, "ZMQ_XPUB_NODROP") }
    /// `ZMQ_IMMEDIATE`: queue messages only on completed connections.
    public static var immediate: Self { .init(ZMQ_IMMEDIATE, .bool, "ZMQ_IMMEDIATE") }
    /// `ZMQ_ROUTER_MANDATORY` (write only): fail with `EHOSTUNREACH` for unknown peers instead of dropping.
    public static var routerMandatory: Self { .init(ZMQ_ROUTER_MANDATORY, .bool, "ZMQ_ROUTER_MANDATORY") }
    /// `ZMQ_CURVE_SERVER`: act as the CURVE server (needs ``curveSecretKey``).
    public static var curveServer: Self { .init(ZMQ_CURVE_SERVER, .bool, "ZMQ_CURVE_SERVER") }
    /// `ZMQ_IPV6`: allow IPv6 on TCP endpoints.
    public static var ipv6: Self { .init(ZMQ_IPV6, .bool, "ZMQ_IPV6") }
    /// `ZMQ_RCVMORE` (read only): the last frame received has more after it.
    public static var receiveMore: Self { .init(ZMQ_RCVMORE, .bool, "ZMQ_RCVMORE") }
}

extension SocketOption where Value == Duration {
    /// `ZMQ_HEARTBEAT_IVL`: send a ZMTP PING this often (zero disables heartbeats).
    public static var heartbeatInterval: Self { .init(ZMQ_HEARTBEAT_IVL, .milliseconds, "ZMQ_HEARTBEAT_IVL") }
    /// `ZMQ_HEARTBEAT_TTL`: how long the peer may wait for traffic before dropping us (0.1 s resolution).
    public static var heartbeatTTL: Self { .init(ZMQ_HEARTBEAT_TTL, .milliseconds, "ZMQ_HEARTBEAT_TTL") }
    /// `ZMQ_HEARTBEAT_TIMEOUT`: drop the connection when no traffic follows a PING for this long.
    public static var heartbeatTimeout: Self { .init(ZMQ_HEARTBEAT_TIMEOUT, .milliseconds, "ZMQ_HEARTBEAT_TIMEOUT") }
    /// `ZMQ_RECONNECT_IVL`: the first wait before reconnecting.
    public static var reconnectInterval: Self { .init(ZMQ_RECONNECT_IVL, .milliseconds, "ZMQ_RECONNECT_IVL") }
    /// `ZMQ_RECONNECT_IVL_MAX`: the longest back-off between reconnects (zero: no back-off).
    public static var reconnectIntervalMax: Self { .init(ZMQ_RECONNECT_IVL_MAX, .milliseconds, "ZMQ_RECONNECT_IVL_MAX") }
}

extension SocketOption where Value == Duration? {
    /// `ZMQ_LINGER`: how long `close` may wait to send pending messages (nil: forever).
    public static var linger: Self { .init(ZMQ_LINGER, .optionalMilliseconds, "ZMQ_LINGER") }
    /// `ZMQ_SNDTIMEO`: the timeout of a blocking send (nil: forever).
    public static var sendTimeout: Self { .init(ZMQ_SNDTIMEO, .optionalMilliseconds, "ZMQ_SNDTIMEO") }
    /// `ZMQ_RCVTIMEO`: the timeout of a blocking receive (nil: forever).
    public static var receiveTimeout: Self { .init(ZMQ_RCVTIMEO, .optionalMilliseconds, "ZMQ_RCVTIMEO") }
}

extension SocketOption where Value == [UInt8] {
    /// `ZMQ_SUBSCRIBE` (write only): receive topics that start with these bytes.
    public static var subscribe: Self { .init(ZMQ_SUBSCRIBE, .bytes, "ZMQ_SUBSCRIBE") }
    /// `ZMQ_UNSUBSCRIBE` (write only): remove one earlier subscription.
    public static var unsubscribe: Self { .init(ZMQ_UNSUBSCRIBE, .bytes, "ZMQ_UNSUBSCRIBE") }
    /// `ZMQ_ROUTING_ID`: this socket's identity as a ROUTER peer sees it (1–255 bytes).
    public static var routingID: Self { .init(ZMQ_ROUTING_ID, .bytes, "ZMQ_ROUTING_ID") }
}

extension SocketOption where Value == String {
    /// `ZMQ_LAST_ENDPOINT` (read only): the endpoint last bound, with wildcards resolved.
    public static var lastEndpoint: Self { .init(ZMQ_LAST_ENDPOINT, .string, "ZMQ_LAST_ENDPOINT") }
    /// `ZMQ_ZAP_DOMAIN`: the domain sent to the ZAP handler.
    public static var zapDomain: Self { .init(ZMQ_ZAP_DOMAIN, .string, "ZMQ_ZAP_DOMAIN") }
}

extension SocketOption where Value == CurveKey {
    /// `ZMQ_CURVE_PUBLICKEY`: this socket's long-term public key.
    public static var curvePublicKey: Self { .init(ZMQ_CURVE_PUBLICKEY, .curveKey, "ZMQ_CURVE_PUBLICKEY") }
    /// `ZMQ_CURVE_SECRETKEY`: this socket's long-term secret key.
    public static var curveSecretKey: Self { .init(ZMQ_CURVE_SECRETKEY, .curveKey, "ZMQ_CURVE_SECRETKEY") }
    /// `ZMQ_CURVE_SERVERKEY`: the server's public key, which makes this socket a CURVE client.
    public static var curveServerKey: Self { .init(ZMQ_CURVE_SERVERKEY, .curveKey, "ZMQ_CURVE_SERVERKEY") }
}

extension SocketOption where Value == PollEvents {
    /// `ZMQ_EVENTS` (read only): whether the socket can receive or send now without blocking.
    public static var events: Self { .init(ZMQ_EVENTS, .pollEvents, "ZMQ_EVENTS") }
}

extension ZMQSocket {
    /// Sets `option` to `value` (`zmq_setsockopt`).
    public func set<Value>(_ option: SocketOption<Value>, _ value: Value) throws(ZMQError) {
        let operation = "zmq_setsockopt(\(type), \(option))"
        // Each option's `kind` matches its `Value`: the static constructors above are the only ones.
        switch option.kind {
        case .int32:
            try setRaw(option.name, value as! Int32, operation)
        case .int64:
            try setRaw(option.name, value as! Int64, operation)
        case .bool:
            try setRaw(option.name, Int32((value as! Bool) ? 1 : 0), operation)
        case .milliseconds:
            try setRaw(option.name, Int32(milliseconds(value as! Duration)), operation)
        case .optionalMilliseconds:
            let ms = (value as! Duration?).map { Int32(milliseconds($0)) } ?? -1
            try setRaw(option.name, ms, operation)
        case .bytes:
            try setBytes(option.name, value as! [UInt8], operation)
        case .string:
            try setBytes(option.name, Array((value as! String).utf8), operation)
        case .curveKey:
            try setBytes(option.name, (value as! CurveKey).bytes, operation)
        case .pollEvents:
            throw ZMQError(code: EINVAL, operation: operation + " (read-only option)")
        }
    }

    /// Reads `option` (`zmq_getsockopt`).
    public func get<Value>(_ option: SocketOption<Value>) throws(ZMQError) -> Value {
        let operation = "zmq_getsockopt(\(type), \(option))"
        switch option.kind {
        case .int32:
            return try getRaw(option.name, Int32.self, operation) as! Value
        case .int64:
            return try getRaw(option.name, Int64.self, operation) as! Value
        case .bool:
            return (try getRaw(option.name, Int32.self, operation) != 0) as! Value
        case .milliseconds:
            return Duration.milliseconds(try getRaw(option.name, Int32.self, operation)) as! Value
        case .optionalMilliseconds:
            let ms = try getRaw(option.name, Int32.self, operation)
            return (ms < 0 ? nil : Duration.milliseconds(ms)) as! Value
        case .bytes:
            return try getBytes(option.name, capacity: 256, operation) as! Value
        case .string:
            var bytes = try getBytes(option.name, capacity: 1024, operation)
            if bytes.last == 0 { bytes.removeLast() }
            return String(decoding: bytes, as: UTF8.self) as! Value
        case .curveKey:
            return CurveKey(validatedBytes: try getBytes(option.name, capacity: 32, operation)) as! Value
        case .pollEvents:
            return PollEvents(rawValue: Int16(try getRaw(option.name, Int32.self, operation))) as! Value
        }
    }

    private func setRaw<T: FixedWidthInteger>(_ name: Int32, _ value: T, _ operation: String) throws(ZMQError) {
        var value = value
        try zmqCall(operation) { zmq_setsockopt(handle, name, &value, MemoryLayout<T>.size) }
    }

    private func setBytes(_ name: Int32, _ bytes: [UInt8], _ operation: String) throws(ZMQError) {
        try zmqCall(operation) {
            bytes.withUnsafeBytes { zmq_setsockopt(handle, name, $0.baseAddress, $0.count) }
        }
    }

    private func getRaw<T: FixedWidthInteger>(_ name: Int32, _: T.Type, _ operation: String) throws(ZMQError) -> T {
        var value: T = 0
        var size = MemoryLayout<T>.size
        try zmqCall(operation) { zmq_getsockopt(handle, name, &value, &size) }
        return value
    }

    private func getBytes(_ name: Int32, capacity: Int, _ operation: String) throws(ZMQError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: capacity)
        var size = capacity
        try zmqCall(operation) {
            bytes.withUnsafeMutableBytes { zmq_getsockopt(handle, name, $0.baseAddress, &size) }
        }
        return Array(bytes.prefix(size))
    }
}
