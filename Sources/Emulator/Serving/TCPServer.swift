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
/// polling with a short timeout so `stop()` ends them all promptly. Several clients may connect; each
/// gets its own session (framing and dialogue state) over the shared instrument.
final class TCPInstrumentServer: Sendable {
    let host: String
    /// The bound port (the one the system chose when 0 was asked for).
    let port: UInt16
    private let listener: Int32
    private let stopping = Atomic<Bool>(false)
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
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
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
            var yes: Int32 = 1
            setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &yes, socklen_t(MemoryLayout<Int32>.size))
            startThread { [self] in serve(client, twin: twin, faults: faults) }
        }
        close(listener)
    }

    private func serve(_ fd: Int32, twin: any InstrumentTwin, faults: FaultInjector) {
        let session = twin.makeSession()
        var buffer = [UInt8](repeating: 0, count: 4096)
        // A blocking recv with a 100 ms SO_RCVTIMEO: one system call per request (as an instrument's
        // own stack would), yet `stop()` is still seen within 100 ms.
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        loop: while !stopping.load(ordering: .acquiring) {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) { continue }
            guard count > 0 else { break }
            let reply = session.receive(Array(buffer[0..<count]))
            guard !reply.isEmpty else { continue }
            let delivery = faults.deliver(reply)
            if delivery.disconnect { break }
            if delivery.delay > .zero { Thread.sleep(forTimeInterval: delivery.delay.seconds) }
            var sent = 0
            while sent < delivery.bytes.count {
                let n = delivery.bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n < 0 && errno == EINTR { continue }
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
