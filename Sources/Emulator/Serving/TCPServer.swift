import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why serving an instrument failed.
public struct ServeError: Error, Sendable, Equatable, CustomStringConvertible {
    public let instrument: String
    public let host: String
    public let port: UInt16
    public let call: String
    public let errno: Int32

    public var description: String {
        "cannot serve instrument \"\(instrument)\" on \(host):\(port): \(call) failed: \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

/// Serves one instrument twin on a TCP port: one thread accepts, one thread per connection, each
/// polling with a short timeout so `stop()` ends them all promptly. Up to `maximumConnections` clients
/// may connect at once (more are closed as soon as they are accepted); each gets its own session
/// (framing and dialogue state) over the shared instrument. A client that stops reading its replies is
/// dropped once a send has made no progress for `sendTimeout`, so it can hold neither its thread nor
/// `stop()`.
final class TCPInstrumentServer: Sendable {
    static let maximumConnections = 32
    static let sendTimeout = timeval(tv_sec: 1, tv_usec: 0)

    let host: String
    /// The bound port (the one the system chose when 0 was asked for).
    let port: UInt16
    private let listener: Int32
    private let stopping = Atomic<Bool>(false)
    private let connections = Atomic<Int>(0)
    private let threads = DispatchGroup()

    /// Binds and starts accepting; `twin` and `faults` serve every connection.
    init(twin: any InstrumentTwin, faults: FaultInjector, host: String, port: UInt16) throws(ServeError) {
        func failure(_ call: String, _ code: Int32 = errno) -> ServeError {
            ServeError(instrument: twin.id, host: host, port: port, call: call, errno: code)
        }
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw failure("socket") }
        var yes: Int32 = 1
        guard setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            let code = errno
            close(fd)
            throw failure("setsockopt(SO_REUSEADDR)", code)
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            close(fd)
            throw failure("inet_pton (an IPv4 address such as 127.0.0.1 is expected)", EINVAL)
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            let code = errno
            close(fd)
            throw failure("bind", code)
        }
        guard listen(fd, 16) == 0 else {
            let code = errno
            close(fd)
            throw failure("listen", code)
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.host = host
        self.port = UInt16(bigEndian: actual.sin_port)
        listener = fd
        startThread { [self] in acceptLoop(twin: twin, faults: faults) }
    }

    private func startThread(_ body: @escaping @Sendable () -> Void) {
        threads.enter()
        let thread = Thread { [threads] in
            body()
            threads.leave()
        }
        thread.start()
    }

    /// Waits up to 100 ms for `fd` to become readable.
    private func readable(_ fd: Int32) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 100) > 0
    }

    private func acceptLoop(twin: any InstrumentTwin, faults: FaultInjector) {
        while !stopping.load(ordering: .acquiring) {
            guard readable(listener) else { continue }
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            guard connections.load(ordering: .acquiring) < Self.maximumConnections, configure(client) else {
                close(client)
                continue
            }
            connections.add(1, ordering: .acquiringAndReleasing)
            startThread { [self] in
                serve(client, twin: twin, faults: faults)
                connections.subtract(1, ordering: .acquiringAndReleasing)
            }
        }
        close(listener)
    }

    /// Sets a new connection's options: no Nagle delay; a blocking recv with a 100 ms timeout (one system
    /// call per request, as an instrument's own stack would make, yet `stop()` is seen within 100 ms);
    /// sends that give up after `sendTimeout`. False if any cannot be set (the connection is refused).
    private func configure(_ fd: Int32) -> Bool {
        var yes: Int32 = 1
        var receiveTimeout = timeval(tv_sec: 0, tv_usec: 100_000)
        var sendTimeout = Self.sendTimeout
        return setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &yes, socklen_t(MemoryLayout<Int32>.size)) == 0
            && setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &receiveTimeout, socklen_t(MemoryLayout<timeval>.size)) == 0
            && setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &sendTimeout, socklen_t(MemoryLayout<timeval>.size)) == 0
    }

    /// Sleeps for `delay` in slices of at most 100 ms; false if `stop()` was called meanwhile.
    private func pause(for delay: Duration) -> Bool {
        let clock = ContinuousClock()
        let end = clock.now.advanced(by: delay)
        while !stopping.load(ordering: .acquiring) {
            let left = clock.now.duration(to: end)
            guard left > .zero else { return true }
            Thread.sleep(forTimeInterval: min(left, .milliseconds(100)).seconds)
        }
        return false
    }

    private func serve(_ fd: Int32, twin: any InstrumentTwin, faults: FaultInjector) {
        let session = twin.makeSession()
        var buffer = [UInt8](repeating: 0, count: 4096)
        var replies = 0
        loop: while !stopping.load(ordering: .acquiring) {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) { continue }
            guard count > 0 else { break }
            let reply = session.receive(Array(buffer[0..<count]))
            guard !reply.isEmpty else { continue }
            replies += 1
            let delivery = faults.deliver(reply, replyNumber: replies)
            if delivery.disconnect { break }
            if delivery.delay > .zero, !pause(for: delivery.delay) { break }
            var sent = 0
            while sent < delivery.bytes.count {
                let n = delivery.bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n < 0 && errno == EINTR && !stopping.load(ordering: .acquiring) { continue }
                // An error, or no progress within `sendTimeout` (EAGAIN): the client is gone or not reading.
                guard n > 0 else { break loop }
                sent += n
            }
        }
        close(fd)
    }

    /// Stops accepting, closes every connection and waits for all threads to end.
    func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        threads.wait()
    }
}

#if canImport(Darwin)
private let MSG_NOSIGNAL: Int32 = 0
#endif
