import CPlatformShims
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The real-time shims against the kernel: they must either work or report the errno that says why.
@Suite("Real-time and libusb shims")
struct RealtimeShimTests {
    @Test("A deadline in the past returns at once; a near deadline is not returned early")
    func sleepUntil() {
        let now = qr_monotonic_ns()
        #expect(qr_sleep_until_monotonic_ns(now - 1_000_000) == 0)
        let deadline = qr_monotonic_ns() + 2_000_000
        #expect(qr_sleep_until_monotonic_ns(deadline) == 0)
        #expect(qr_monotonic_ns() >= deadline)
        #expect(qr_sleep_until_monotonic_ns(-1) == EINVAL)
    }

    @Test("The monotonic clock agrees with clock_gettime(CLOCK_MONOTONIC)")
    func monotonic() {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let reference = Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
        let ours = qr_monotonic_ns()
        #expect(ours >= reference)
        #expect(ours - reference < 5_000_000_000)
    }

    @Test("SCHED_FIFO is granted, or refused with EPERM, and the policy reads back")
    func fifo() {
        var policy: Int32 = -1, priority: Int32 = -1
        #expect(qr_current_scheduling(&policy, &priority) == 0)
        let before = (policy, priority)
        let rc = qr_set_fifo_priority(10)
        #expect(rc == 0 || rc == EPERM)
        #expect(qr_current_scheduling(&policy, &priority) == 0)
        if rc == 0 {
            #expect(policy == SCHED_FIFO)
            #expect(priority == 10)
            var param = sched_param(sched_priority: before.1)
            #expect(sched_setscheduler(0, before.0, &param) == 0)
        } else {
            #expect(policy == before.0)
        }
        #expect(qr_set_fifo_priority(1000) == EINVAL)
    }

    @Test("Pinning to CPU 0 works and an impossible CPU is EINVAL")
    func affinity() {
        // Affinity is per thread: pin a throw-away thread, not one the test runner reuses.
        let results = Mutex<[Int32]>([])
        let done = DispatchSemaphore(value: 0)
        Thread {
            let rcs = [qr_pin_current_thread_to_cpu(0), qr_pin_current_thread_to_cpu(-1),
                       qr_pin_current_thread_to_cpu(1 << 20)]
            results.withLock { $0 = rcs }
            done.signal()
        }.start()
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(results.withLock { $0 } == [0, EINVAL, EINVAL])
    }

    @Test("mlockall succeeds or reports EPERM/ENOMEM")
    func memoryLock() {
        let rc = qr_lock_all_memory()
        #expect(rc == 0 || rc == EPERM || rc == ENOMEM)
        if rc == 0 { #expect(qr_unlock_all_memory() == 0) }
    }

    @Test("The PM QoS request opens /dev/cpu_dma_latency or reports why it cannot")
    func dmaLatency() {
        let fd = qr_request_cpu_dma_latency(10)
        let exists = access("/dev/cpu_dma_latency", F_OK) == 0
        if fd >= 0 {
            #expect(exists)
            close(fd)
        } else {
            #expect([-ENOENT, -EACCES, -EPERM, -EROFS].contains(fd))
            #expect(exists == (fd != -ENOENT))
        }
    }

    @Test("libusb options set through the variadic shim")
    func libusbOptions() {
        var context: OpaquePointer?
        #expect(libusb_init(&context) == 0)
        defer { libusb_exit(context) }
        #expect(qr_libusb_set_log_level(context, Int32(LIBUSB_LOG_LEVEL_WARNING.rawValue)) == 0)
        #expect(qr_libusb_set_log_level(context, 99) == Int32(LIBUSB_ERROR_INVALID_PARAM.rawValue))
    }
}
