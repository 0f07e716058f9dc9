import CZeroMQ

/// Readiness flags for polling (`ZMQ_POLLIN`, `ZMQ_POLLOUT`, `ZMQ_POLLERR`).
public struct PollEvents: OptionSet, Sendable, Hashable {
    public let rawValue: Int16
    public init(rawValue: Int16) { self.rawValue = rawValue }

    /// A message can be received (`ZMQ_POLLIN`), or a file descriptor is readable.
    public static let readable = PollEvents(rawValue: Int16(ZMQ_POLLIN))
    /// A message can be sent without blocking (`ZMQ_POLLOUT`).
    public static let writable = PollEvents(rawValue: Int16(ZMQ_POLLOUT))
    /// An error condition on a file descriptor (`ZMQ_POLLERR`).
    public static let error = PollEvents(rawValue: Int16(ZMQ_POLLERR))
}

/// Waits on several sockets and plain file descriptors at once (`zmq_poll`).
///
/// Items are registered once; ``poll(timeout:)`` then reuses the same item array, so polling
/// allocates nothing. Plain descriptors let a GPIO edge-event fd share the loop with sockets.
public struct ZMQPoller {
    private var items: [zmq_pollitem_t] = []
    private var sockets: [ZMQSocket?] = []

    public init() {}

    /// Adds `socket`, waiting for `events`; returns its index for ``events(at:)``.
    @discardableResult
    public mutating func add(_ socket: ZMQSocket, events: PollEvents = .readable) -> Int {
        items.append(zmq_pollitem_t(socket: socket.handle, fd: 0, events: events.rawValue, revents: 0))
        sockets.append(socket)
        return items.count - 1
    }

    /// Adds a plain file descriptor (a pipe, a GPIO event fd, …); returns its index.
    @discardableResult
    public mutating func add(fileDescriptor: Int32, events: PollEvents = .readable) -> Int {
        items.append(zmq_pollitem_t(socket: nil, fd: fileDescriptor, events: events.rawValue, revents: 0))
        sockets.append(nil)
        return items.count - 1
    }

    /// Waits until an item is ready or `timeout` passes (nil waits forever; `.zero` only checks).
    /// Returns how many items are ready.
    @discardableResult
    public mutating func poll(timeout: Duration?) throws(ZMQError) -> Int {
        let ms = timeout.map(milliseconds) ?? -1
        let count = items.count
        return Int(try zmqCall("zmq_poll(\(count) items)") {
            items.withUnsafeMutableBufferPointer { zmq_poll($0.baseAddress, Int32(count), ms) }
        })
    }

    /// The events the last ``poll(timeout:)`` reported for the item at `index`.
    public func events(at index: Int) -> PollEvents {
        PollEvents(rawValue: items[index].revents)
    }

    /// The number of registered items.
    public var count: Int { items.count }
}
