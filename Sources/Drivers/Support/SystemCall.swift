import Glibc
import HAL

// Every libc call in this module goes through `systemCall` (the swift-system `valueOrErrno` pattern): the
// call is repeated while it fails with EINTR, and any other failure becomes a `SystemCallFailure` that
// carries errno and the C function's name. Callers that must look at errno (EAGAIN, EINPROGRESS) switch
// on the result; the rest turn it into a `TransportError` naming the resource and the operation.

/// A failed libc call: its errno and the function's name.
struct SystemCallFailure: Error {
    let errno: Int32
    let function: String

    /// "recv: Connection reset by peer", the text a lab user sees.
    var message: String { "\(function): \(errorText(errno))" }

    /// This failure as a `.system` transport error.
    func transportError(_ resource: ResourceName, _ operation: String) -> TransportError {
        TransportError(resource: resource, operation: operation, kind: .system(errno: errno, message: message))
    }

    /// This failure as a `.connectFailed` transport error.
    func connectError(_ resource: ResourceName, _ operation: String) -> TransportError {
        TransportError(resource: resource, operation: operation, kind: .connectFailed(errno: errno, message: message))
    }
}

/// Runs a libc call that returns -1 and sets errno on failure, repeating it while it fails with EINTR.
func systemCall<Value: FixedWidthInteger>(
    _ function: String, _ call: () -> Value
) -> Result<Value, SystemCallFailure> {
    while true {
        let value = call()
        if value != -1 { return .success(value) }
        let code = errno
        if code != EINTR { return .failure(SystemCallFailure(errno: code, function: function)) }
    }
}

/// Runs a libc call like `systemCall`, turning a failure into a `.system` transport error.
func systemCall<Value: FixedWidthInteger>(
    _ function: String, _ resource: ResourceName, _ operation: @autoclosure () -> String, _ call: () -> Value
) throws(TransportError) -> Value {
    switch systemCall(function, call) {
    case .success(let value): return value
    case .failure(let failure): throw failure.transportError(resource, operation())
    }
}

/// The C library's text for an errno value (strerror).
func errorText(_ code: Int32) -> String {
    String(cString: strerror(code))
}

/// A point on the monotonic clock by which an operation must finish.
struct Deadline {
    /// The longest timeout honoured; longer ones are shortened to it so that clock arithmetic cannot overflow.
    static let longestTimeout: Duration = .seconds(86_400 * 365)

    let instant: ContinuousClock.Instant

    /// The deadline `timeout` from now; a negative timeout is a programmer error.
    init(after timeout: Duration) {
        precondition(timeout >= .zero, "a timeout cannot be negative (got \(timeout))")
        instant = .now + min(timeout, Self.longestTimeout)
    }

    /// The time left, never negative.
    var remaining: Duration { max(.zero, instant - .now) }

    /// The time left in whole milliseconds rounded up, as poll(2) takes it.
    var pollMilliseconds: Int32 {
        let (seconds, attoseconds) = remaining.components
        let milliseconds = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: milliseconds)
    }
}

/// What poll(2) reported for one descriptor.
struct PollResult {
    let events: Int16

    var isReady: Bool { events != 0 }
    var hasHangUp: Bool { events & Int16(POLLHUP) != 0 }
}

/// Waits with poll(2) until `descriptor` has one of `events` or the deadline passes (then `isReady` is
/// false). A signal restarts the wait with the time left.
func poll(
    _ descriptor: Int32, for events: Int16, until deadline: Deadline,
    _ resource: ResourceName, _ operation: @autoclosure () -> String
) throws(TransportError) -> PollResult {
    var entry = pollfd(fd: descriptor, events: events, revents: 0)
    let ready = try systemCall("poll", resource, operation()) {
        entry.revents = 0
        return Glibc.poll(&entry, 1, deadline.pollMilliseconds)
    }
    return PollResult(events: ready == 0 ? 0 : entry.revents)
}

/// Closes a descriptor (close(2)). EINTR is not retried: on Linux the descriptor is released even then,
/// and a retry could close a descriptor another thread just opened.
func closeDescriptor(_ descriptor: Int32) {
    _ = Glibc.close(descriptor)
}
