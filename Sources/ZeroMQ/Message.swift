import CZeroMQ

/// One ZeroMQ frame (`zmq_msg_t`) with single ownership: it is closed exactly once.
///
/// The type is `~Copyable`, so a message can be moved but never duplicated: no Swift copy can
/// close it a second time, and `deinit` (`zmq_msg_close`) means it cannot leak. Sending it
/// (``ZMQSocket/send(_:more:wait:)-(ZMQMessage,_,_)``) consumes it.
///
/// libzmq stores small frames inside the `zmq_msg_t` itself, so its bytes are only reachable
/// while the message stays put: the accessors are `mutating` to keep them on its real storage.
public struct ZMQMessage: ~Copyable {
    @usableFromInline var raw: zmq_msg_t

    /// An empty message, ready to receive into (`zmq_msg_init`).
    public init() {
        var message = zmq_msg_t()
        zmq_msg_init(&message)
        raw = message
    }

    /// A message holding a copy of `bytes` (`zmq_msg_init_size` and a copy).
    public init(copying bytes: UnsafeRawBufferPointer) throws(ZMQError) {
        var message = zmq_msg_t()
        try zmqCall("zmq_msg_init_size(\(bytes.count))") { zmq_msg_init_size(&message, bytes.count) }
        if let source = bytes.baseAddress, bytes.count > 0 {
            zmq_msg_data(&message).copyMemory(from: source, byteCount: bytes.count)
        }
        raw = message
    }

    /// A message holding a copy of `bytes`.
    public init(copying bytes: [UInt8]) throws(ZMQError) {
        var message = zmq_msg_t()
        try zmqCall("zmq_msg_init_size(\(bytes.count))") { zmq_msg_init_size(&message, bytes.count) }
        bytes.withUnsafeBytes { source in
            if let base = source.baseAddress, source.count > 0 {
                zmq_msg_data(&message).copyMemory(from: base, byteCount: source.count)
            }
        }
        raw = message
    }

    /// A zero-copy message over `buffer` (`zmq_msg_init_data`): libzmq sends straight from it
    /// and calls `release` exactly once, possibly on its I/O thread, when it no longer needs it.
    /// The buffer must not change until then. If this throws, `release` has already run.
    public init(
        noCopy buffer: UnsafeMutableRawBufferPointer,
        release: @escaping @Sendable (UnsafeMutableRawBufferPointer) -> Void
    ) throws(ZMQError) {
        let box = Unmanaged.passRetained(ReleaseBox(buffer: buffer, release: release)).toOpaque()
        var message = zmq_msg_t()
        do {
            try zmqCall("zmq_msg_init_data(\(buffer.count) bytes)") {
                zmq_msg_init_data(&message, buffer.baseAddress, buffer.count, releaseZeroCopyBuffer, box)
            }
        } catch {
            releaseZeroCopyBuffer(buffer.baseAddress, box)
            throw error
        }
        raw = message
    }

    /// A zero-copy message that takes ownership of `buffer` and deallocates it when libzmq is done.
    public init(adopting buffer: UnsafeMutableRawBufferPointer) throws(ZMQError) {
        try self.init(noCopy: buffer, release: { $0.deallocate() })
    }

    deinit {
        // `deinit` sees self as immutable; the bitwise copy is this message's last owner.
        var last = raw
        zmq_msg_close(&last)
    }

    /// The frame's size in bytes (`zmq_msg_size`).
    @inlinable
    public var count: Int {
        mutating get { zmq_msg_size(&raw) }
    }

    /// Whether another frame of the same message follows this one (`zmq_msg_more`).
    @inlinable
    public var hasMore: Bool {
        mutating get { zmq_msg_more(&raw) == 1 }
    }

    /// Calls `body` with the frame's bytes in place (`zmq_msg_data`), without copying.
    /// Inlinable, so a caller's generic parameters are specialised: a hot receive loop looks up no type metadata.
    @inlinable
    public mutating func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        let size = zmq_msg_size(&raw)
        return try body(UnsafeRawBufferPointer(start: zmq_msg_data(&raw), count: size))
    }

    /// A copy of the frame's bytes.
    public var bytes: [UInt8] {
        mutating get { withUnsafeBytes { Array($0) } }
    }

    /// A metadata property of the connection the frame came in on (`zmq_msg_gets`), e.g. `User-Id`
    /// (the user id a ZAP handler gave the peer) or `Peer-Address`; nil when the connection has none.
    public mutating func property(_ name: String) -> String? {
        guard let value = zmq_msg_gets(&raw, name) else { return nil }
        return String(cString: value)
    }

    /// The frame as UTF-8 text; invalid sequences are replaced with U+FFFD.
    public var string: String {
        mutating get { withUnsafeBytes { String(decoding: $0, as: UTF8.self) } }
    }
}

/// Carries a zero-copy buffer and its release closure through libzmq's `hint` pointer.
private final class ReleaseBox {
    let buffer: UnsafeMutableRawBufferPointer
    let release: @Sendable (UnsafeMutableRawBufferPointer) -> Void

    init(buffer: UnsafeMutableRawBufferPointer, release: @escaping @Sendable (UnsafeMutableRawBufferPointer) -> Void) {
        self.buffer = buffer
        self.release = release
    }
}

/// The `zmq_free_fn` libzmq calls once for a zero-copy message; `hint` is a retained ``ReleaseBox``.
private func releaseZeroCopyBuffer(_ data: UnsafeMutableRawPointer?, _ hint: UnsafeMutableRawPointer?) {
    guard let hint else { return }
    let box = Unmanaged<ReleaseBox>.fromOpaque(hint).takeRetainedValue()
    box.release(box.buffer)
}
