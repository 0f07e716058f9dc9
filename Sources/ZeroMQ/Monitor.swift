import CZeroMQ
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which socket events a ``ZMQSocketMonitor`` reports (`ZMQ_EVENT_*`).
public struct MonitorEvents: OptionSet, Sendable, Hashable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let connected = MonitorEvents(rawValue: ZMQ_EVENT_CONNECTED)
    public static let connectDelayed = MonitorEvents(rawValue: ZMQ_EVENT_CONNECT_DELAYED)
    public static let connectRetried = MonitorEvents(rawValue: ZMQ_EVENT_CONNECT_RETRIED)
    public static let listening = MonitorEvents(rawValue: ZMQ_EVENT_LISTENING)
    public static let bindFailed = MonitorEvents(rawValue: ZMQ_EVENT_BIND_FAILED)
    public static let accepted = MonitorEvents(rawValue: ZMQ_EVENT_ACCEPTED)
    public static let acceptFailed = MonitorEvents(rawValue: ZMQ_EVENT_ACCEPT_FAILED)
    public static let closed = MonitorEvents(rawValue: ZMQ_EVENT_CLOSED)
    public static let closeFailed = MonitorEvents(rawValue: ZMQ_EVENT_CLOSE_FAILED)
    public static let disconnected = MonitorEvents(rawValue: ZMQ_EVENT_DISCONNECTED)
    public static let handshakeFailedNoDetail = MonitorEvents(rawValue: ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
    public static let handshakeSucceeded = MonitorEvents(rawValue: ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
    public static let handshakeFailedProtocol = MonitorEvents(rawValue: ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
    public static let handshakeFailedAuth = MonitorEvents(rawValue: ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)

    /// Every handshake failure: no detail, protocol error, or authentication refused.
    public static let handshakeFailed: MonitorEvents = [.handshakeFailedNoDetail, .handshakeFailedProtocol, .handshakeFailedAuth]
    /// Every event libzmq reports (`ZMQ_EVENT_ALL`).
    public static let all = MonitorEvents(rawValue: ZMQ_EVENT_ALL)
}

/// One event from a socket monitor.
public struct MonitorEvent: Sendable, Equatable, CustomStringConvertible {
    /// The single event flag that fired.
    public var event: MonitorEvents
    /// The event's value: a file descriptor, an errno, a reconnect interval, or for an
    /// authentication failure the ZAP status code (e.g. 400).
    public var value: UInt32
    /// The endpoint the event concerns, e.g. `tcp://127.0.0.1:5555`.
    public var endpoint: String

    public var description: String { "\(Self.name(of: event)) \(endpoint) (\(value))" }

    static func name(of event: MonitorEvents) -> String {
        switch event {
        case .connected: "connected"
        case .connectDelayed: "connect delayed"
        case .connectRetried: "connect retried"
        case .listening: "listening"
        case .bindFailed: "bind failed"
        case .accepted: "accepted"
        case .acceptFailed: "accept failed"
        case .closed: "closed"
        case .closeFailed: "close failed"
        case .disconnected: "disconnected"
        case .handshakeFailedNoDetail: "handshake failed"
        case .handshakeSucceeded: "handshake succeeded"
        case .handshakeFailedProtocol: "handshake failed (protocol)"
        case .handshakeFailedAuth: "handshake failed (authentication)"
        default: "event 0x\(String(event.rawValue, radix: 16))"
        }
    }

    /// Decodes libzmq's two monitor frames: a native-endian 16-bit event and 32-bit value, then the endpoint.
    static func decode(_ first: [UInt8], _ second: [UInt8]) throws(ZMQError) -> MonitorEvent {
        guard first.count == 6 else {
            throw ZMQError(code: EPROTO, operation: "socket monitor: expected a 6-byte event frame, got \(first.count) bytes")
        }
        let event = first.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 0, as: UInt16.self) }
        let value = first.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 2, as: UInt32.self) }
        return MonitorEvent(
            event: MonitorEvents(rawValue: Int32(event)), value: value,
            endpoint: String(decoding: second, as: UTF8.self))
    }
}

private let inprocSequence = Atomic<Int>(0)

/// A fresh `inproc://` address for the module's internal socket pairs.
func uniqueInprocAddress(_ purpose: String) -> String {
    "inproc://qrrm-\(purpose)-\(inprocSequence.wrappingAdd(1, ordering: .relaxed).newValue)"
}

/// Watches a socket's connection events (`zmq_socket_monitor` and a PAIR socket reading them).
///
/// The monitor keeps the watched socket alive and, like it, is not thread safe.
public final class ZMQSocketMonitor {
    private let socket: ZMQSocket
    private let reader: ZMQSocket

    /// Starts reporting `events` of `socket`.
    public init(_ socket: ZMQSocket, events: MonitorEvents = .all) throws(ZMQError) {
        let address = uniqueInprocAddress("monitor")
        try zmqCall("zmq_socket_monitor(\(socket.type), \(address))") {
            zmq_socket_monitor(socket.handle, address, events.rawValue)
        }
        self.socket = socket
        do {
            reader = try socket.context.socket(.pair)
            try reader.connect(address)
        } catch {
            zmq_socket_monitor(socket.handle, nil, 0)
            throw error
        }
    }

    /// The next event, or nil when `wait` runs out first.
    public func next(wait: Wait = .forever) throws(ZMQError) -> MonitorEvent? {
        guard let frames = try reader.receiveMultipart(wait: wait) else { return nil }
        guard frames.count == 2 else {
            throw ZMQError(code: EPROTO, operation: "socket monitor: expected 2 frames, got \(frames.count)")
        }
        return try MonitorEvent.decode(frames[0], frames[1])
    }

    /// Waits until an event among `events` arrives, skipping others, until `timeout` passes.
    /// A zero timeout only looks at the events already queued.
    public func waitFor(_ events: MonitorEvents, timeout: Duration) throws(ZMQError) -> MonitorEvent? {
        let deadline = ContinuousClock.now + timeout
        while true {
            let left = deadline - ContinuousClock.now
            guard let event = try next(wait: left > .zero ? .timeout(left) : .dontWait) else { return nil }
            if events.contains(event.event) { return event }
        }
    }

    deinit {
        zmq_socket_monitor(socket.handle, nil, 0)
    }
}
