import Dispatch
import Foundation
@testable import ZeroMQ

/// Resident set size of this process in bytes, from /proc/self/statm.
func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    return (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// Runs `body` on its own thread; `wait(timeout:)` is a hang guard, not a speed check.
final class Background<T: Sendable>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var result: T?
    private var thread: JoinableThread?

    init(_ body: @escaping @Sendable () -> T) throws {
        thread = try JoinableThread { [self] in
            result = body()
            done.signal()
        }
    }

    /// The body's result, or nil when it has not finished within `timeout`.
    func wait(timeout seconds: Double = 20) -> T? {
        guard done.wait(timeout: .now() + seconds) == .success else { return nil }
        thread?.join()
        return result
    }
}

/// Publishes `probe` on `publisher` until `subscriber` receives it: ZeroMQ's slow-joiner hand-shake.
func awaitSubscription(_ publisher: ZMQSocket, _ subscriber: ZMQSocket, probe: String) throws {
    for _ in 0..<500 {
        try publisher.send(probe)
        if let frame = try subscriber.receiveFrame(wait: .timeout(.milliseconds(10))) {
            precondition(String(decoding: frame, as: UTF8.self) == probe)
            return
        }
    }
    throw ZMQError(code: EAGAIN, operation: "subscription never arrived")
}
