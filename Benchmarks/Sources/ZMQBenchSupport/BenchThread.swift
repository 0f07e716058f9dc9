#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A joinable pthread that returns a value, as the C anchor's receiver is a pthread.
///
/// The body opens its own sockets, which then live on the new thread only.
public final class BenchThread<Value>: @unchecked Sendable {
    // `thread` is written once in init; `slot.value` by the thread before it ends and read by
    // `join` after `pthread_join`, which orders the two.
    private let slot: ResultSlot<Value>
    private let thread: pthread_t
    private var joined = false

    public init(_ body: @escaping @Sendable () -> Value) throws {
        let slot = ResultSlot<Value>()
        self.slot = slot
        self.thread = try startThread { slot.value = body() }
    }

    /// Waits for the body and returns what it returned (once).
    public func join() -> Value {
        precondition(!joined, "joined twice")
        joined = true
        pthread_join(thread, nil)
        return slot.value.take()!
    }
}

private final class ResultSlot<Value>: @unchecked Sendable {
    var value: Value?
}

private final class ThreadBody {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

private func startThread(_ body: @escaping () -> Void) throws -> pthread_t {
    let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    var thread = pthread_t()
    let rc = pthread_create(&thread, nil, { argument in
        Unmanaged<ThreadBody>.fromOpaque(argument!).takeRetainedValue().run()
        return nil
    }, box)
    if rc != 0 {
        Unmanaged<ThreadBody>.fromOpaque(box).release()
        throw BenchFailure("pthread_create failed: \(rc)")
    }
    return thread
}
