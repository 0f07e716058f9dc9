import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The standard ZeroMQ socket types.
public enum SocketType: Sendable, CaseIterable, CustomStringConvertible {
    case pub, sub, xpub, xsub, push, pull, req, rep, dealer, router, pair

    var rawValue: Int32 {
        switch self {
        case .pub: ZMQ_PUB
        case .sub: ZMQ_SUB
        case .xpub: ZMQ_XPUB
        case .xsub: ZMQ_XSUB
        case .push: ZMQ_PUSH
        case .pull: ZMQ_PULL
        case .req: ZMQ_REQ
        case .rep: ZMQ_REP
        case .dealer: ZMQ_DEALER
        case .router: ZMQ_ROUTER
        case .pair: ZMQ_PAIR
        }
    }

    public var description: String {
        switch self {
        case .pub: "PUB"
        case .sub: "SUB"
        case .xpub: "XPUB"
        case .xsub: "XSUB"
        case .push: "PUSH"
        case .pull: "PULL"
        case .req: "REQ"
        case .rep: "REP"
        case .dealer: "DEALER"
        case .router: "ROUTER"
        case .pair: "PAIR"
        }
    }
}

/// How long a send or receive may wait.
public enum Wait: Sendable, Equatable {
    /// Block until the call can complete (or the context shuts down: `ETERM`).
    case forever
    /// Do not block (`ZMQ_DONTWAIT`).
    case dontWait
    /// Wait at most this long (`zmq_poll` on the socket, then a non-blocking call).
    case timeout(Duration)
}

/// One ZeroMQ socket (`zmq_socket`), closed with `zmq_close` when released.
///
/// libzmq sockets are not thread safe, so this type is not `Sendable`. A socket may move to
/// another thread as a `sending` value (libzmq allows migration with a full memory barrier,
/// which a thread hand-off provides); it may not be shared.
public final class ZMQSocket {
    public let type: SocketType
    let handle: UnsafeMutableRawPointer
    /// Keeps the context alive until this socket is closed.
    let context: ZMQContext

    /// The linger period a new socket gets: pending messages may delay `close` by at most this.
    /// libzmq's own default (wait forever) can hang a shutting-down node; set `.linger` to change it.
    public static let defaultLinger: Duration = .seconds(1)

    init(context: ZMQContext, type: SocketType) throws(ZMQError) {
        self.context = context
        self.type = type
        handle = try zmqCheck("zmq_socket(\(type))", { zmq_socket(context.handle, type.rawValue) })
        do {
            try set(.linger, ZMQSocket.defaultLinger)
        } catch {
            zmq_close(handle)
            throw error
        }
    }

    deinit {
        zmq_close(handle)
    }

    // MARK: Endpoints

    /// Binds to `endpoint` (`zmq_bind`) and returns the endpoint actually bound
    /// (`ZMQ_LAST_ENDPOINT`), which resolves wildcards such as `tcp://127.0.0.1:*`.
    @discardableResult
    public func bind(_ endpoint: String) throws(ZMQError) -> String {
        try zmqCall("zmq_bind(\(type), \(endpoint))") { zmq_bind(handle, endpoint) }
        return try get(.lastEndpoint)
    }

    /// Connects to `endpoint` (`zmq_connect`); the connection itself is made in the background.
    public func connect(_ endpoint: String) throws(ZMQError) {
        try zmqCall("zmq_connect(\(type), \(endpoint))") { zmq_connect(handle, endpoint) }
    }

    /// Stops listening on `endpoint` (`zmq_unbind`), which must be the resolved endpoint.
    public func unbind(_ endpoint: String) throws(ZMQError) {
        try zmqCall("zmq_unbind(\(type), \(endpoint))") { zmq_unbind(handle, endpoint) }
    }

    /// Drops the connection to `endpoint` (`zmq_disconnect`).
    public func disconnect(_ endpoint: String) throws(ZMQError) {
        try zmqCall("zmq_disconnect(\(type), \(endpoint))") { zmq_disconnect(handle, endpoint) }
    }

    /// Subscribes a SUB socket to topics starting with `prefix` (`ZMQ_SUBSCRIBE`); "" is all.
    public func subscribe(_ prefix: String) throws(ZMQError) {
        try set(.subscribe, Array(prefix.utf8))
    }

    /// Subscribes to topics starting with the bytes of `prefix`, which need not be text.
    public func subscribe(_ prefix: [UInt8]) throws(ZMQError) {
        try set(.subscribe, prefix)
    }

    /// Removes one earlier subscription to `prefix` (`ZMQ_UNSUBSCRIBE`).
    public func unsubscribe(_ prefix: String) throws(ZMQError) {
        try set(.unsubscribe, Array(prefix.utf8))
    }

    /// Removes one earlier subscription to the bytes of `prefix`.
    public func unsubscribe(_ prefix: [UInt8]) throws(ZMQError) {
        try set(.unsubscribe, prefix)
    }

    // MARK: Waiting

    /// Converts a wait into `zmq_send`/`zmq_recv` flags, first polling for `event` under a timeout.
    /// Throws `EAGAIN` when the timeout runs out.
    @inline(__always)
    func flags(for wait: Wait, event: Int16, more: Bool, operation: @autoclosure () -> String) throws(ZMQError) -> Int32 {
        var flags: Int32 = more ? ZMQ_SNDMORE : 0
        switch wait {
        case .forever:
            break
        case .dontWait:
            flags |= ZMQ_DONTWAIT
        case .timeout(let limit):
            guard try poll(event, timeout: limit) else {
                throw ZMQError(code: EAGAIN, operation: operation())
            }
            flags |= ZMQ_DONTWAIT
        }
        return flags
    }

    /// Waits up to `timeout` for `event` (`ZMQ_POLLIN`/`ZMQ_POLLOUT`) on this socket alone (`zmq_poll`).
    func poll(_ event: Int16, timeout: Duration) throws(ZMQError) -> Bool {
        var item = zmq_pollitem_t(socket: handle, fd: 0, events: event, revents: 0)
        let rc = try zmqCall("zmq_poll(\(type))") { zmq_poll(&item, 1, milliseconds(timeout)) }
        return rc > 0
    }

    // MARK: Sending

    /// Sends one frame from `bytes` (`zmq_send`, which copies them); `more` marks a frame that
    /// another follows in the same message (`ZMQ_SNDMORE`).
    ///
    /// With `.dontWait` or `.timeout` a send that cannot proceed throws `EAGAIN`
    /// (``ZMQError/isWouldBlock``). A PUB socket never blocks: at its high-water mark it drops.
    @inline(__always)
    public func send(_ bytes: UnsafeRawBufferPointer, more: Bool = false, wait: Wait = .forever) throws(ZMQError) {
        let flags = try flags(for: wait, event: Int16(ZMQ_POLLOUT), more: more, operation: "zmq_send(\(type))")
        try zmqCall("zmq_send(\(type), \(bytes.count) bytes)") {
            zmq_send(handle, bytes.baseAddress, bytes.count, flags)
        }
    }

    /// Sends one frame from an array (`zmq_send`): not generic, so a caller in another module
    /// needs no specialization to send without overhead.
    public func send(_ bytes: [UInt8], more: Bool = false, wait: Wait = .forever) throws(ZMQError) {
        let flags = try flags(for: wait, event: Int16(ZMQ_POLLOUT), more: more, operation: "zmq_send(\(type))")
        try zmqCall("zmq_send(\(type), \(bytes.count) bytes)") {
            bytes.withUnsafeBytes { zmq_send(handle, $0.baseAddress, $0.count, flags) }
        }
    }

    /// Sends one frame from any contiguous byte collection (`ArraySlice`, `Data`, …).
    @inline(__always)
    public func send<Bytes: Collection<UInt8>>(_ frame: Bytes, more: Bool = false, wait: Wait = .forever) throws(ZMQError) {
        let sent: Result<Void, ZMQError>? = frame.withContiguousStorageIfAvailable { buffer in
            Result { () throws(ZMQError) in try send(UnsafeRawBufferPointer(buffer), more: more, wait: wait) }
        }
        if let sent {
            try sent.get()
        } else {
            try send(Array(frame), more: more, wait: wait)
        }
    }

    /// Sends a string as one UTF-8 frame.
    public func send(_ string: String, more: Bool = false, wait: Wait = .forever) throws(ZMQError) {
        try send(Array(string.utf8), more: more, wait: wait)
    }

    /// Sends a multipart message; libzmq delivers all its frames or none.
    /// Only the first frame waits as `wait` says: the rest are queued with it.
    public func send<Frames: Collection>(multipart frames: Frames, wait: Wait = .forever) throws(ZMQError)
    where Frames.Element: Collection<UInt8> {
        precondition(!frames.isEmpty, "a ZeroMQ message has at least one frame")
        var index = frames.startIndex
        var first = true
        while index != frames.endIndex {
            let next = frames.index(after: index)
            try send(frames[index], more: next != frames.endIndex, wait: first ? wait : .dontWait)
            first = false
            index = next
        }
    }

    /// Sends `message` (`zmq_msg_send`), which takes ownership of its content without copying:
    /// the path for large and zero-copy buffers. The message is consumed whether or not this succeeds.
    public func send(_ message: consuming ZMQMessage, more: Bool = false, wait: Wait = .forever) throws(ZMQError) {
        let flags = try flags(for: wait, event: Int16(ZMQ_POLLOUT), more: more, operation: "zmq_msg_send(\(type))")
        try zmqCall("zmq_msg_send(\(type))") { zmq_msg_send(&message.raw, handle, flags) }
    }

    // MARK: Receiving

    /// Receives the next frame into `message` (`zmq_msg_recv`), releasing what it held before.
    /// Reusing one message this way receives without allocating beyond libzmq's own buffers.
    /// Returns false when `wait` is `.dontWait` or `.timeout` and no frame arrived.
    @inline(__always)
    public func receive(into message: inout ZMQMessage, wait: Wait = .forever) throws(ZMQError) -> Bool {
        do {
            let flags = try flags(for: wait, event: Int16(ZMQ_POLLIN), more: false, operation: "zmq_msg_recv(\(type))")
            try zmqCall("zmq_msg_recv(\(type))") { zmq_msg_recv(&message.raw, handle, flags) }
            return true
        } catch where error.isWouldBlock && wait != .forever {
            return false
        }
    }

    /// Receives one frame as bytes, or nil when `wait` ran out first.
    public func receiveFrame(wait: Wait = .forever) throws(ZMQError) -> [UInt8]? {
        var message = ZMQMessage()
        guard try receive(into: &message, wait: wait) else { return nil }
        return message.bytes
    }

    /// Receives a whole multipart message, or nil when `wait` ran out before its first frame.
    /// libzmq delivers messages atomically, so the remaining frames are read without waiting.
    public func receiveMultipart(wait: Wait = .forever) throws(ZMQError) -> [[UInt8]]? {
        try receiveMultipartWithUser(wait: wait)?.frames
    }

    /// Receives a whole multipart message and the peer's authenticated identity, the ZAP `User-Id`
    /// property (`zmq_msg_gets`; a CURVE client's public key in Z85), nil on a plaintext socket.
    public func receiveMultipartWithUser(wait: Wait = .forever) throws(ZMQError) -> (frames: [[UInt8]], user: String?)? {
        var message = ZMQMessage()
        guard try receive(into: &message, wait: wait) else { return nil }
        var user = message.property("User-Id").flatMap { $0.isEmpty ? nil : $0 }
        var frames = [message.bytes]
        while message.hasMore {
            _ = try receive(into: &message, wait: .forever)
            if user == nil, let id = message.property("User-Id"), !id.isEmpty { user = id }
            frames.append(message.bytes)
        }
        return (frames, user)
    }
}

/// A timeout in whole milliseconds for libzmq, rounded up so a short positive wait is not zero.
func milliseconds(_ duration: Duration) -> Int {
    let (seconds, attoseconds) = duration.components
    if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return 0 }
    let ms = seconds.multipliedReportingOverflow(by: 1000)
    if ms.overflow { return Int(Int32.max) }
    let fraction = (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
    return Int(min(ms.partialValue + fraction, Int64(Int32.max)))
}
