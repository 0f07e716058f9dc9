import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A joinable POSIX thread (`pthread_create`/`pthread_join`) for the module's helper loops.
///
/// The body is `sending`: what it captures (a socket, say) moves to the new thread and is no
/// longer reachable from the caller, which is how libzmq allows sockets to migrate.
final class JoinableThread: @unchecked Sendable {
    // `thread` is written once in init and only read afterwards; `joined` makes join run once.
    private let thread: pthread_t
    private let joined = Atomic<Bool>(false)

    init(_ body: sending @escaping () -> Void) throws(ZMQError) {
        let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { argument in
            let body = Unmanaged<ThreadBody>.fromOpaque(argument!).takeRetainedValue()
            body.run()
            return nil
        }, box)
        if rc != 0 {
            Unmanaged<ThreadBody>.fromOpaque(box).release()
            throw ZMQError(code: rc, operation: "pthread_create")
        }
        self.thread = thread
    }

    /// Waits for the body to return (`pthread_join`); later calls return at once.
    func join() {
        guard !joined.exchange(true, ordering: .acquiringAndReleasing) else { return }
        pthread_join(thread, nil)
    }

    /// A thread nobody joined runs on detached (`pthread_detach`), releasing its resources when it ends.
    deinit {
        if !joined.load(ordering: .acquiring) { pthread_detach(thread) }
    }
}

private final class ThreadBody {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}
