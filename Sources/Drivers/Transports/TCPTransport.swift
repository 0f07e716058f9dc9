import Glibc
import HAL

/// A raw TCP socket to an instrument (`TCPIP0::host::port::SOCKET`), over Glibc sockets.
///
/// **Connecting is lazy.** The first operation resolves the host (getaddrinfo) and connects (a non-blocking
/// connect, waited for with poll up to ``Options/connectTimeout``); call ``connect()`` to connect at once.
/// Sockets have TCP_NODELAY, so short SCPI commands are not held back by Nagle's algorithm, and writes
/// use MSG_NOSIGNAL, so a closed peer gives `.disconnected` instead of SIGPIPE.
///
/// **Reconnecting.** After the peer closes the connection (`.disconnected`) the next operation reconnects
/// at once. After a failed connect, the next attempt is allowed only when the backoff delay has passed:
/// ``Options/initialBackoff``, doubled after every further failure up to ``Options/maximumBackoff``.
/// An operation inside that window fails at once with `.connectFailed`, naming the last failure and the time
/// until the next attempt, rather than blocking its caller (as gRPC's channels fail fast in backoff).
/// A successful connect resets the backoff. ``recentConnectAttempts`` records the schedule.
///
/// Name resolution is not bounded by the connect timeout (getaddrinfo takes none); stations that must
/// never wait on DNS name their instruments by IP address.
///
/// Not `Sendable`: one session owns one transport.
public final class TCPTransport: ByteTransport {
    /// Connect timeout and reconnect backoff.
    public struct Options: Sendable, Hashable {
        /// How long one connect may take, all resolved addresses together.
        public var connectTimeout: Duration
        /// The wait after the first failed connect before the next attempt.
        public var initialBackoff: Duration
        /// The longest wait between attempts; the wait doubles after each failure up to this.
        public var maximumBackoff: Duration

        /// Programmer errors trap: a non-positive connect timeout, a negative backoff, or a maximum below
        /// the initial backoff.
        public init(
            connectTimeout: Duration = .seconds(5), initialBackoff: Duration = .milliseconds(50),
            maximumBackoff: Duration = .seconds(2)
        ) {
            precondition(connectTimeout > .zero, "the connect timeout must be positive")
            precondition(initialBackoff >= .zero, "the initial backoff cannot be negative")
            precondition(maximumBackoff >= initialBackoff, "the maximum backoff must be at least the initial one")
            self.connectTimeout = connectTimeout
            self.initialBackoff = initialBackoff
            self.maximumBackoff = maximumBackoff
        }

        /// The wait before the next attempt after `failures` consecutive failed connects (at least 1).
        public func backoff(afterFailures failures: Int) -> Duration {
            precondition(failures >= 1, "backoff applies after at least one failure")
            var delay = initialBackoff
            for _ in 1..<min(failures, 64) where delay < maximumBackoff {
                delay = delay * 2
            }
            return min(delay, maximumBackoff)
        }
    }

    /// One connect attempt: how long the backoff made it wait and how it ended.
    public struct ConnectAttempt: Sendable, Hashable {
        /// The backoff delay enforced before this attempt (zero for a first connect or a reconnect after a
        /// working connection closed).
        public let backoff: Duration
        /// The errno of the failure, or nil when the attempt connected.
        public let failureErrno: Int32?
    }

    /// How many connect attempts ``recentConnectAttempts`` keeps.
    public static let recordedAttemptLimit = 64

    public let resource: ResourceName
    public let host: String
    public let port: UInt16
    public let options: Options

    /// The latest connect attempts, oldest first (at most ``recordedAttemptLimit``).
    public private(set) var recentConnectAttempts: [ConnectAttempt] = []

    private enum State {
        /// Not connected. `failures` consecutive connects have failed; the next is allowed from `retryAt`.
        case disconnected(failures: Int, retryAt: ContinuousClock.Instant?, lastFailure: TransportError?)
        case connected(descriptor: Int32)
        case closed
    }

    private var state: State = .disconnected(failures: 0, retryAt: nil, lastFailure: nil)

    /// A transport to `host`:`port`; nothing is resolved or connected until the first operation.
    public init(host: String, port: UInt16, board: Int = 0, options: Options = Options()) {
        self.host = host
        self.port = port
        self.options = options
        resource = ResourceName(.tcpSocket(board: board, host: host, port: port))
    }

    deinit {
        if case .connected(let descriptor) = state { closeDescriptor(descriptor) }
    }

    /// Whether a connection is open now (it may still turn out closed by the peer on the next read).
    public var isConnected: Bool {
        if case .connected = state { true } else { false }
    }

    /// Connects now if not connected: getaddrinfo, then socket/connect/poll for each address in turn.
    public func connect() throws(TransportError) {
        _ = try connectedDescriptor()
    }

    /// Sends all of `bytes` with send(2) and MSG_NOSIGNAL, polling for POLLOUT while the socket buffer is
    /// full. If the timeout passes after part of the bytes went out, the connection is dropped (the
    /// instrument has half a command), and the next operation reconnects.
    public func write(_ bytes: UnsafeRawBufferPointer, timeout: Duration) throws(TransportError) {
        let deadline = Deadline(after: timeout)
        let descriptor = try connectedDescriptor()
        let operation = "write \(bytes.count) bytes"
        var sent = 0
        while sent < bytes.count {
            let result = systemCall("send") {
                send(descriptor, bytes.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
            }
            switch result {
            case .success(let count):
                sent += count
            case .failure(let failure) where failure.errno == EAGAIN || failure.errno == EWOULDBLOCK:
                let ready = try poll(descriptor, for: Int16(POLLOUT), until: deadline, resource, operation)
                if !ready.isReady {
                    if sent > 0 { dropConnection() }
                    throw TransportError(resource: resource, operation: operation, kind: .timeout)
                }
            case .failure(let failure):
                throw dropConnection(after: failure, operation)
            }
        }
    }

    /// Waits with poll for POLLIN up to `timeout`, then reads what is there with recv(2). A read of zero
    /// bytes means the peer closed the connection: `.disconnected`, and the next operation reconnects.
    public func read(into buffer: UnsafeMutableRawBufferPointer, timeout: Duration) throws(TransportError) -> Int {
        precondition(buffer.count > 0, "read needs room for at least one byte")
        let deadline = Deadline(after: timeout)
        let descriptor = try connectedDescriptor()
        let operation = "read"
        while true {
            let ready = try poll(descriptor, for: Int16(POLLIN), until: deadline, resource, operation)
            guard ready.isReady else {
                throw TransportError(resource: resource, operation: operation, kind: .timeout)
            }
            switch systemCall("recv", { recv(descriptor, buffer.baseAddress, buffer.count, 0) }) {
            case .success(0):
                dropConnection()
                throw TransportError(resource: resource, operation: operation, kind: .disconnected)
            case .success(let count):
                return count
            case .failure(let failure) where failure.errno == EAGAIN || failure.errno == EWOULDBLOCK:
                continue
            case .failure(let failure):
                throw dropConnection(after: failure, operation)
            }
        }
    }

    /// Reads and drops what has arrived (recv with MSG_DONTWAIT until EAGAIN), at most
    /// ``discardLimit`` bytes so that a device streaming without pause cannot hold the caller. Does not
    /// connect; if it finds that the peer closed the connection, the next operation reconnects.
    public func discardInput() throws(TransportError) {
        guard case .connected(let descriptor) = state else { return }
        enum Drained {
            case caughtUp
            case peerClosed
            case failed(SystemCallFailure)
        }
        let drained = withUnsafeTemporaryAllocation(byteCount: 16_384, alignment: 1) { scratch -> Drained in
            var discarded = 0
            while discarded < Self.discardLimit {
                switch systemCall("recv", { recv(descriptor, scratch.baseAddress, scratch.count, Int32(MSG_DONTWAIT)) }) {
                case .success(0): return .peerClosed
                case .success(let count): discarded += count
                case .failure(let failure) where failure.errno == EAGAIN || failure.errno == EWOULDBLOCK: return .caughtUp
                case .failure(let failure): return .failed(failure)
                }
            }
            return .caughtUp
        }
        switch drained {
        case .caughtUp: return
        case .peerClosed: dropConnection()
        case .failed(let failure): throw dropConnection(after: failure, "discard input")
        }
    }

    /// The most ``discardInput()`` drops in one call.
    public static let discardLimit = 1 << 20

    /// Closes the socket; later operations throw `.closed`.
    public func close() {
        if case .connected(let descriptor) = state { closeDescriptor(descriptor) }
        state = .closed
    }

    // MARK: Connecting

    /// The open socket, connecting first if needed and the backoff allows it.
    private func connectedDescriptor() throws(TransportError) -> Int32 {
        switch state {
        case .closed:
            throw TransportError(resource: resource, operation: "use the connection", kind: .closed)
        case .connected(let descriptor):
            return descriptor
        case .disconnected(let failures, let retryAt, let lastFailure):
            let now = ContinuousClock.now
            if let retryAt, let lastFailure, now < retryAt {
                throw TransportError(
                    resource: resource, operation: connectOperation,
                    kind: .connectFailed(
                        errno: lastFailure.errno ?? 0,
                        message: "waiting \(milliseconds(retryAt - now)) before the next attempt (reconnect "
                            + "backoff) after: \(lastFailure.reason)"))
            }
            let backoff = failures == 0 ? Duration.zero : options.backoff(afterFailures: failures)
            do {
                let descriptor = try openConnection()
                record(ConnectAttempt(backoff: backoff, failureErrno: nil))
                state = .connected(descriptor: descriptor)
                return descriptor
            } catch {
                record(ConnectAttempt(backoff: backoff, failureErrno: error.errno ?? 0))
                let wait = options.backoff(afterFailures: failures + 1)
                state = .disconnected(failures: failures + 1, retryAt: .now + wait, lastFailure: error)
                throw error
            }
        }
    }

    private var connectOperation: String { "connect to \(host) port \(port)" }

    private func record(_ attempt: ConnectAttempt) {
        if recentConnectAttempts.count == Self.recordedAttemptLimit { recentConnectAttempts.removeFirst() }
        recentConnectAttempts.append(attempt)
    }

    /// Resolves the host and tries its addresses in order within one connect timeout.
    private func openConnection() throws(TransportError) -> Int32 {
        let deadline = Deadline(after: options.connectTimeout)
        let addresses = try resolve()
        defer { freeaddrinfo(addresses) }
        var lastError = TransportError(
            resource: resource, operation: connectOperation,
            kind: .connectFailed(errno: 0, message: "getaddrinfo returned no address"))
        var entry: UnsafeMutablePointer<addrinfo>? = addresses
        while let address = entry?.pointee {
            entry = address.ai_next
            do {
                return try connect(to: address, until: deadline)
            } catch {
                lastError = error
                if deadline.remaining == .zero { break }
            }
        }
        throw lastError
    }

    /// getaddrinfo for a TCP stream to host:port; the caller frees the list with freeaddrinfo.
    private func resolve() throws(TransportError) -> UnsafeMutablePointer<addrinfo> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_protocol = Int32(IPPROTO_TCP)
        hints.ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        while true {
            let status = getaddrinfo(host, String(port), &hints, &list)
            if status == 0, let list { return list }
            if status == EAI_SYSTEM && errno == EINTR { continue }
            let code = status == EAI_SYSTEM ? errno : 0
            let text = status == EAI_SYSTEM ? errorText(code) : String(cString: gai_strerror(status))
            throw TransportError(
                resource: resource, operation: "resolve host \"\(host)\"",
                kind: .connectFailed(errno: code, message: "getaddrinfo: \(text)"))
        }
    }

    /// socket(2) non-blocking, TCP_NODELAY, connect(2), then poll for POLLOUT and read SO_ERROR.
    private func connect(to address: addrinfo, until deadline: Deadline) throws(TransportError) -> Int32 {
        let operation = connectOperation
        let socketType = Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue)
        let descriptor: Int32
        switch systemCall("socket", { socket(address.ai_family, socketType, address.ai_protocol) }) {
        case .success(let value): descriptor = value
        case .failure(let failure): throw failure.connectError(resource, operation)
        }
        var keep = false
        defer { if !keep { closeDescriptor(descriptor) } }

        var one: Int32 = 1
        _ = try systemCall("setsockopt(TCP_NODELAY)", resource, operation) {
            setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        // A non-blocking connect returns EINPROGRESS; after EINTR the connect also goes on in the
        // background, so both are waited for with poll rather than by calling connect again.
        switch systemCall("connect", { Glibc.connect(descriptor, address.ai_addr, address.ai_addrlen) }) {
        case .success:
            break
        case .failure(let failure) where failure.errno == EINPROGRESS || failure.errno == EINTR:
            let ready = try poll(descriptor, for: Int16(POLLOUT), until: deadline, resource, operation)
            guard ready.isReady else {
                throw TransportError(
                    resource: resource, operation: operation,
                    kind: .connectFailed(
                        errno: ETIMEDOUT, message: "no answer within the connect timeout of \(options.connectTimeout)"))
            }
            var code: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            _ = try systemCall("getsockopt(SO_ERROR)", resource, operation) {
                getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &code, &length)
            }
            if code != 0 {
                throw SystemCallFailure(errno: code, function: "connect").connectError(resource, operation)
            }
        case .failure(let failure):
            throw failure.connectError(resource, operation)
        }
        keep = true
        return descriptor
    }

    // MARK: Dropping a connection

    /// Closes the socket after the peer went away; the next operation reconnects at once.
    private func dropConnection() {
        if case .connected(let descriptor) = state { closeDescriptor(descriptor) }
        state = .disconnected(failures: 0, retryAt: nil, lastFailure: nil)
    }

    /// Drops the connection after a failed send or recv and returns the error to throw: `.disconnected`
    /// for a reset or broken connection, `.system` otherwise.
    private func dropConnection(after failure: SystemCallFailure, _ operation: String) -> TransportError {
        dropConnection()
        switch failure.errno {
        case ECONNRESET, EPIPE, ENOTCONN, ECONNABORTED, ETIMEDOUT, EHOSTUNREACH, ENETUNREACH:
            return TransportError(resource: resource, operation: operation, kind: .disconnected)
        default:
            return failure.transportError(resource, operation)
        }
    }
}

extension TransportError {
    /// The errno a connect or system failure carries.
    var errno: Int32? {
        switch kind {
        case .connectFailed(let code, _), .system(let code, _): code
        case .timeout, .disconnected, .closed: nil
        }
    }

    /// What went wrong, without the resource and operation.
    var reason: String {
        switch kind {
        case .timeout: "timed out"
        case .disconnected: "the peer closed the connection"
        case .connectFailed(_, let message), .system(_, let message): message
        case .closed: "the transport is closed"
        }
    }
}

/// "37 ms", for messages.
func milliseconds(_ duration: Duration) -> String {
    let (seconds, attoseconds) = duration.components
    return "\(seconds * 1000 + attoseconds / 1_000_000_000_000_000) ms"
}
