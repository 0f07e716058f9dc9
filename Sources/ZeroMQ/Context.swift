import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A libzmq context (`zmq_ctx_new`): the I/O threads and the inproc namespace its sockets share.
///
/// libzmq documents a context as thread safe, so this owner is `Sendable`; its sockets are not.
/// Each socket keeps its context alive, so `zmq_ctx_term` in `deinit` runs only after every
/// socket has been closed and never blocks on one of ours.
public final class ZMQContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    /// Creates a context with `ioThreads` I/O threads (`zmq_ctx_new`, `zmq_ctx_set(ZMQ_IO_THREADS)`).
    public init(ioThreads: Int32 = 1) throws(ZMQError) {
        handle = try zmqCheck("zmq_ctx_new()", { zmq_ctx_new() })
        if ioThreads != 1 {
            do {
                try zmqCall("zmq_ctx_set(ZMQ_IO_THREADS, \(ioThreads))") {
                    zmq_ctx_set(handle, ZMQ_IO_THREADS, ioThreads)
                }
            } catch {
                zmq_ctx_term(handle)
                throw error
            }
        }
    }

    /// Ends every blocking call on this context's sockets with `ETERM` (`zmq_ctx_shutdown`).
    /// Sockets must still be closed (released) before the context can terminate.
    public func shutdown() {
        zmq_ctx_shutdown(handle)
    }

    /// Opens a socket of `type` (`zmq_socket`).
    public func socket(_ type: SocketType) throws(ZMQError) -> ZMQSocket {
        try ZMQSocket(context: self, type: type)
    }

    deinit {
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }
}

/// libzmq's version, e.g. `4.3.4` (`zmq_version`).
public var zmqVersion: (major: Int32, minor: Int32, patch: Int32) {
    var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
    zmq_version(&major, &minor, &patch)
    return (major, minor, patch)
}

/// Whether libzmq was built with a capability such as `"curve"` or `"ipc"` (`zmq_has`).
public func zmqHas(_ capability: String) -> Bool {
    zmq_has(capability) == 1
}
