#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ZeroMQ

/// The publisher's own POSIX thread (`pthread_create`/`pthread_join`).
///
/// The body is `sending`: the sockets it captures move to the new thread, which libzmq allows
/// (a thread hand-off is a full memory barrier); no other thread touches them afterwards.
final class PublisherThread: Sendable {
    private let thread: pthread_t

    init(_ body: sending @escaping () -> Void) throws(TelemetryError) {
        let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { argument in
            let body = Unmanaged<ThreadBody>.fromOpaque(argument!).takeRetainedValue()
            body.run()
            return nil
        }, box)
        if rc != 0 {
            Unmanaged<ThreadBody>.fromOpaque(box).release()
            throw .thread(errno: rc)
        }
        self.thread = thread
    }

    /// Waits for the body to return (`pthread_join`). Called once, by ``TelemetryPublisher/stop()``.
    func join() {
        pthread_join(thread, nil)
    }
}

private final class ThreadBody {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}
