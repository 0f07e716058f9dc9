import Foundation
import Glibc
import Synchronization
import Testing

@testable import GPIO

@Suite("The C-call wrapper")
struct CCallTests {
    @Test("A failing call becomes a GPIOError with errno, its strerror text and the function")
    func failure() {
        let error = #expect(throws: GPIOError.self) {
            try cCall("close", .readValues(chip: "gpiochip3", offsets: [2])) { close(-1) }
        }
        #expect(error?.errno == EBADF)
        #expect(
            error?.reason == .system(errno: EBADF, message: String(cString: strerror(EBADF)), function: "close"))
        #expect(
            error?.description
                == "Could not read line 2 of gpiochip3: \(String(cString: strerror(EBADF))) (errno \(EBADF), from close).")
    }

    @Test("A succeeding call returns its result")
    func success() throws {
        #expect(try cCall("getpid", .listChips) { getpid() } == getpid())
    }

    @Test("A call interrupted by a signal (EINTR) is repeated")
    func retriesOnEINTR() throws {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in }
        sigemptyset(&action.sa_mask)
        var previous = sigaction()
        #expect(sigaction(SIGUSR1, &action, &previous) == 0)
        defer { sigaction(SIGUSR1, &previous, nil) }

        let signaller = Signaller()
        Thread.detachNewThread { signaller.run() }
        defer { signaller.finish() }  // runs before the handler is restored

        // Swift's worker threads block signals, so the wait uses pselect(2) with this thread's mask minus
        // SIGUSR1: the signal is delivered only during the wait, which it then ends with EINTR (the kernel
        // never restarts pselect).
        var waitMask = sigset_t()
        pthread_sigmask(SIG_BLOCK, nil, &waitMask)
        sigdelset(&waitMask, SIGUSR1)
        var calls = 0
        let result = try cCall("pselect", .listChips) {
            calls += 1
            var timeout = timespec(tv_sec: calls == 1 ? 10 : 0, tv_nsec: 0)
            signaller.target.withLock { $0 = calls == 1 ? pthread_self() : nil }
            return pselect(0, nil, nil, nil, &timeout, &waitMask)
        }
        #expect(result == 0)
        #expect(calls >= 2)
    }
}

/// A thread that sends SIGUSR1 to `target` every 20 ms until `finish()`.
private final class Signaller: Sendable {
    let target = Mutex<pthread_t?>(nil)
    private let stop = Atomic<Bool>(false)
    private let stopped = DispatchSemaphore(value: 0)

    func run() {
        while !stop.load(ordering: .acquiring) {
            // Signal under the lock, so that none arrives after the target is cleared.
            target.withLock { thread in
                if let thread { pthread_kill(thread, SIGUSR1) }
            }
            usleep(20_000)
        }
        stopped.signal()
    }

    /// Stops the thread and waits until it has sent its last signal.
    func finish() {
        stop.store(true, ordering: .releasing)
        stopped.wait()
    }
}
