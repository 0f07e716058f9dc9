import Foundation
import Synchronization

/// A named thread that runs its body until asked to stop: the shape of the node's loop, I/O tasks, supervisor,
/// command endpoint and bus clients. The body polls ``isStopping``; ``stop()`` asks and waits for it to return.
public final class WorkerThread: Sendable {
    private let stopRequested = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    /// Starts `body` on a new thread named `name` (as `top` and `gdb` show it).
    public init(name: String, stackSize: Int? = nil, _ body: @escaping @Sendable (WorkerThread) -> Void) {
        let thread = Thread { [self] in
            body(self)
            finished.signal()
        }
        thread.name = name
        if let stackSize { thread.stackSize = stackSize }
        thread.start()
    }

    /// Whether ``stop()`` has been called.
    public var isStopping: Bool { stopRequested.load(ordering: .acquiring) }

    /// Asks the body to return and waits until it has; later calls return at once.
    public func stop() {
        guard !stopRequested.exchange(true, ordering: .acquiringAndReleasing) else { return }
        finished.wait()
    }
}
