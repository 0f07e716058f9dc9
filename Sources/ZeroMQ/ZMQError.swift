import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed libzmq call: the zmq errno, its `zmq_strerror` text, and what we were doing.
public struct ZMQError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The errno value libzmq reported (`zmq_errno()`), e.g. `EAGAIN`, `ETERM`, `EADDRINUSE`.
    public var code: Int32
    /// The call and its arguments, e.g. `zmq_bind(tcp://127.0.0.1:5555)`.
    public var operation: String

    public init(code: Int32, operation: String) {
        self.code = code
        self.operation = operation
    }

    /// `zmq_strerror(code)`.
    public var message: String { String(cString: zmq_strerror(code)) }

    public var description: String { "\(operation) failed: \(message) (zmq errno \(code))" }

    /// The context was terminated or shut down (`ETERM`): blocking calls end with this at shutdown.
    public var isContextTerminated: Bool { code == ETERM }

    /// The call could not complete without blocking, or its timeout ran out (`EAGAIN`).
    public var isWouldBlock: Bool { code == EAGAIN }

    /// The socket is in the wrong state for this call (`EFSM`), e.g. a REQ sending twice.
    public var isWrongState: Bool { code == EFSM }

    /// A ROUTER with ROUTER_MANDATORY set was asked to route to an unknown peer (`EHOSTUNREACH`).
    public var isHostUnreachable: Bool { code == EHOSTUNREACH }
}

/// Runs one libzmq call, retrying on `EINTR`, and turns `-1` into a ``ZMQError``.
/// Every libzmq call in this module goes through here or through ``zmqCheck(_:_:)``.
@inline(__always)
@discardableResult
func zmqCall(_ operation: @autoclosure () -> String, _ body: () -> Int32) throws(ZMQError) -> Int32 {
    while true {
        let rc = body()
        if rc >= 0 { return rc }
        let err = zmq_errno()
        if err == EINTR { continue }
        throw ZMQError(code: err, operation: operation())
    }
}

/// Like ``zmqCall(_:_:)`` for calls that return a pointer, NULL meaning failure.
@inline(__always)
func zmqCheck<T>(_ operation: @autoclosure () -> String, _ body: () -> T?) throws(ZMQError) -> T {
    while true {
        if let value = body() { return value }
        let err = zmq_errno()
        if err == EINTR { continue }
        throw ZMQError(code: err, operation: operation())
    }
}
