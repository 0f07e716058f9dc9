#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Why the metrics endpoint could not be served.
public struct MetricsServerError: Error, Sendable, CustomStringConvertible {
    /// The POSIX call, with its arguments, e.g. `bind(127.0.0.1:9464)`.
    public var operation: String
    public var errno: Int32
    public var description: String { "metrics endpoint: \(operation) failed: \(String(cString: strerror(errno))) (errno \(errno))" }
}

/// A minimal HTTP/1.1 server for `GET /metrics` (Prometheus scrapes), on one thread of its
/// own: `socket`/`bind`/`listen`, then `poll` + `accept`, one request per connection.
/// Anything but `GET /metrics` gets 404. Each connection has one deadline for reading its
/// request and writing the reply (``requestTimeout``): a slow, trickling or silent client is
/// closed when it passes, so it holds the single thread no longer than that.
public final class MetricsServer: Sendable {
    /// The port actually bound (useful with port 0).
    public let port: UInt16
    /// How long one connection may take, from `accept` to the last byte of the reply.
    public let requestTimeout: Duration
    private let listener: Listener
    private let thread: Mutex<pthread_t?>

    /// Listens on `host`:`port` (an IPv4 address; port 0 picks a free one) and serves `body()`,
    /// giving each connection `requestTimeout` (positive) to send its request and take the reply.
    public init(
        host: String = "127.0.0.1", port: UInt16, requestTimeout: Duration = .seconds(1),
        body: @escaping @Sendable () -> String
    ) throws(MetricsServerError) {
        guard requestTimeout > .zero else {
            throw MetricsServerError(operation: "requestTimeout \(requestTimeout) (must be positive)", errno: EINVAL)
        }
        self.requestTimeout = requestTimeout
        let fd = try posix("socket(AF_INET, SOCK_STREAM)") { socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            close(fd)
            throw MetricsServerError(operation: "inet_pton(\(host))", errno: EINVAL)
        }
        do {
            try posix("bind(\(host):\(port))") {
                withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            }
            try posix("listen(\(host):\(port))") { listen(fd, 16) }
            var bound = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            try posix("getsockname") {
                withUnsafeMutablePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
            }
            self.port = UInt16(bigEndian: bound.sin_port)
        } catch {
            close(fd)
            throw error
        }
        let listener = Listener(fd: fd, requestTimeout: requestTimeout, body: body)
        self.listener = listener
        // The thread holds the listener, not the server, so releasing the server stops it.
        let context = Unmanaged.passRetained(listener).toOpaque()
        var handle = pthread_t()
        let rc = pthread_create(&handle, nil, { argument in
            Unmanaged<Listener>.fromOpaque(argument!).takeRetainedValue().serve()
            return nil
        }, context)
        if rc != 0 {
            Unmanaged<Listener>.fromOpaque(context).release()
            close(fd)
            throw MetricsServerError(operation: "pthread_create", errno: rc)
        }
        thread = Mutex(handle)
    }

    /// Stops serving and closes the listening socket; later calls do nothing.
    public func stop() {
        listener.stopping.store(true, ordering: .releasing)
        guard let handle = thread.withLock({ value -> pthread_t? in defer { value = nil }; return value }) else { return }
        pthread_join(handle, nil)
        close(listener.fd)
    }

    deinit { stop() }
}

/// The listening socket and the serving loop, owned by the server's thread.
private final class Listener: Sendable {
    let fd: Int32
    let stopping = Atomic<Bool>(false)
    let requestTimeout: Duration
    let body: @Sendable () -> String

    init(fd: Int32, requestTimeout: Duration, body: @escaping @Sendable () -> String) {
        self.fd = fd
        self.requestTimeout = requestTimeout
        self.body = body
    }

    /// `poll` (100 ms, to notice ``MetricsServer/stop()``), `accept`, answer, `close`.
    func serve() {
        while !stopping.load(ordering: .acquiring) {
            var item = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&item, 1, 100) > 0 else { continue }
            let client = accept(fd, nil, nil)
            guard client >= 0 else { continue }
            respond(on: client)
            close(client)
        }
    }

    /// Reads one request head (up to 8 KiB) and writes one response, non-blocking, waiting in
    /// `poll` for at most what is left of ``requestTimeout``; past it the connection is dropped.
    private func respond(on client: Int32) {
        let deadline = ContinuousClock.now + requestTimeout
        _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
        var request: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 2048)
        let end: [UInt8] = Array("\r\n\r\n".utf8)
        while request.count < 8192 && !containsHeadEnd(request, end) {
            guard wait(for: client, event: POLLIN, until: deadline) else { return }
            let n = chunk.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            if n > 0 { request += chunk[..<n] } else if n < 0 && (errno == EINTR || errno == EAGAIN) { continue } else { break }
        }
        let line = String(decoding: request.prefix { $0 != 0x0D && $0 != 0x0A }, as: UTF8.self)
        let parts = line.split(separator: " ")
        let response: String
        if parts.count >= 2, parts[0] == "GET", parts[1] == "/metrics" || parts[1].hasPrefix("/metrics?") {
            let text = body()
            response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: \(text.utf8.count)\r\nConnection: close\r\n\r\n" + text
        } else {
            let text = "only GET /metrics is served here\n"
            response = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: \(text.utf8.count)\r\nConnection: close\r\n\r\n" + text
        }
        var bytes = Array(response.utf8)[...]
        while !bytes.isEmpty {
            guard wait(for: client, event: POLLOUT, until: deadline) else { return }
            let n = bytes.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 { bytes = bytes.dropFirst(n) } else if n < 0 && (errno == EINTR || errno == EAGAIN) { continue } else { return }
        }
    }

    /// Waits in `poll` until `client` is ready for `event` (POLLIN or POLLOUT), or an error or
    /// hang-up needs handling; false once `deadline` has passed or ``MetricsServer/stop()`` was called.
    private func wait(for client: Int32, event: Int32, until deadline: ContinuousClock.Instant) -> Bool {
        while !stopping.load(ordering: .acquiring) {
            let left = deadline - .now
            guard left > .zero else { return false }
            let (seconds, attoseconds) = left.components
            // At most 100 ms per poll, so stop() is noticed; at least 1 ms, so a short wait is not a busy loop.
            let ms = Int32(min(100, max(1, seconds * 1000 + attoseconds / 1_000_000_000_000_000)))
            var item = pollfd(fd: client, events: Int16(event), revents: 0)
            let ready = poll(&item, 1, ms)
            if ready > 0 { return true }
            if ready < 0 && errno != EINTR { return false }
        }
        return false
    }

    private func containsHeadEnd(_ bytes: [UInt8], _ end: [UInt8]) -> Bool {
        bytes.count >= end.count && (0...(bytes.count - end.count)).contains { bytes[$0..<$0 + end.count].elementsEqual(end) }
    }
}

/// Runs one POSIX call, retrying on `EINTR`, and turns `-1` into a ``MetricsServerError``.
@discardableResult
private func posix(_ operation: @autoclosure () -> String, _ call: () -> Int32) throws(MetricsServerError) -> Int32 {
    while true {
        let rc = call()
        if rc >= 0 { return rc }
        if errno == EINTR { continue }
        throw MetricsServerError(operation: operation(), errno: errno)
    }
}
