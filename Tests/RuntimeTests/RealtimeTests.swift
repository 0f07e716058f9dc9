import Foundation
import Runtime
import Synchronization
import Testing

@Suite("Real-time set-up through typed errors")
struct RealtimeTests {
    /// Runs `body` on a throw-away thread: scheduling and affinity are per thread.
    private func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () -> T) -> T? {
        let result = Mutex<T?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread {
            let value = body()
            result.withLock { $0 = value }
            done.signal()
        }.start()
        guard done.wait(timeout: .now() + 10) == .success else { return nil }
        return result.withLock { $0 }
    }

    @Test("SCHED_FIFO is granted and reads back, or refused as a permission error")
    func fifo() {
        let outcome = onOwnThread { () -> String in
            do throws(RealtimeError) {
                try Realtime.setFIFOPriority(20)
                let now = try Realtime.currentScheduling()
                return now.policy == 1 && now.priority == 20 ? "granted" : "wrong \(now)"
            } catch {
                return error.isPermissionDenied ? "denied" : "\(error)"
            }
        }
        #expect(outcome == "granted" || outcome == "denied")
    }

    @Test("An impossible priority and CPU are typed errors that name the call")
    func invalidArguments() {
        let priority = #expect(throws: RealtimeError.self) { try Realtime.setFIFOPriority(1000) }
        #expect(priority?.errno == EINVAL)
        #expect(priority?.description.contains("sched_setscheduler(SCHED_FIFO, 1000)") == true)
        let cpu = #expect(throws: RealtimeError.self) { try Realtime.pinCurrentThread(toCPU: -1) }
        #expect(cpu?.errno == EINVAL)
        #expect(throws: RealtimeError.self) { try Realtime.sleep(untilMonotonicNanoseconds: -5) }
    }

    @Test("An absolute sleep does not return before its deadline")
    func sleepUntil() throws {
        let deadline = Realtime.monotonicNanoseconds + 2_000_000
        try Realtime.sleep(untilMonotonicNanoseconds: deadline)
        #expect(Realtime.monotonicNanoseconds >= deadline)
    }

    @Test("Memory locking and the PM QoS request succeed or report why not")
    func lockingAndLatency() {
        do throws(RealtimeError) {
            try Realtime.lockMemory()
            try Realtime.unlockMemory()
        } catch {
            #expect(error.isPermissionDenied || error.errno == ENOMEM, "\(error)")
        }
        do throws(RealtimeError) {
            _ = try Realtime.requestCPUDMALatency(microseconds: 10)
        } catch {
            #expect([ENOENT, EACCES, EPERM, EROFS].contains(error.errno), "\(error)")
        }
    }
}
