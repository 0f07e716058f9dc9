/// A byte stream to one instrument: a TCP socket, a serial line, USBTMC, or the emulator's
/// in-process loopback. Drivers see only this, so the same driver runs against hardware or emulator.
///
/// A transport is used by one session at a time (the session serializes access); it is not `Sendable`.
public protocol ByteTransport: AnyObject {
    /// Where the bytes go.
    var resource: ResourceName { get }

    /// Writes all of `bytes`, or throws; a write that cannot finish within `timeout` throws `.timeout`.
    func write(_ bytes: UnsafeRawBufferPointer, timeout: Duration) throws(TransportError)

    /// Reads at least one and at most `buffer.count` bytes, waiting up to `timeout` for the first.
    func read(into buffer: UnsafeMutableRawBufferPointer, timeout: Duration) throws(TransportError) -> Int

    /// Discards input that arrived but was not read (a late reply after a timeout, say).
    func discardInput() throws(TransportError)

    /// Closes the connection; later calls throw `.closed` unless the transport reconnects by itself.
    func close()
}

/// A transport failure, naming the resource and what was being done.
public struct TransportError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Nothing arrived (or could be sent) within the timeout.
        case timeout
        /// The peer closed the connection.
        case disconnected
        /// The connection could not be made (refused, unreachable, no such device).
        case connectFailed(errno: Int32, message: String)
        /// An operating-system call failed.
        case system(errno: Int32, message: String)
        /// The transport was closed by its owner.
        case closed
    }

    public let resource: ResourceName
    public let operation: String
    public let kind: Kind

    public init(resource: ResourceName, operation: String, kind: Kind) {
        self.resource = resource
        self.operation = operation
        self.kind = kind
    }

    public var description: String {
        let what: String
        switch kind {
        case .timeout: what = "timed out"
        case .disconnected: what = "the peer closed the connection"
        case let .connectFailed(errno, message): what = "could not connect: \(message) (errno \(errno))"
        case let .system(errno, message): what = "\(message) (errno \(errno))"
        case .closed: what = "the transport is closed"
        }
        return "\(resource): \(operation): \(what)"
    }
}

extension ByteTransport {
    /// Writes all of `bytes`.
    public func write(_ bytes: [UInt8], timeout: Duration) throws(TransportError) {
        let result: Result<Void, TransportError> = bytes.withUnsafeBytes { buffer in
            Result { () throws(TransportError) in try write(buffer, timeout: timeout) }
        }
        try result.get()
    }
}
