import CPlatformShims

#if canImport(Glibc)
import Glibc
#endif

/// A real-time call the kernel refused: the call, its arguments and the errno.
public struct RealtimeError: Error, Sendable, Equatable, CustomStringConvertible {
    public let call: String
    public let errno: Int32

    public init(call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    public var description: String { "\(call) failed: \(String(cString: strerror(errno))) (errno \(errno))" }

    /// The kernel refused for lack of privilege (EPERM, EACCES): the loop can carry on without it.
    public var isPermissionDenied: Bool { errno == EPERM || errno == EACCES }
}

/// The host loop's real-time set-up: scheduling, memory locking, CPU affinity, PM QoS and absolute
/// sleeps. Each call wraps one `CPlatformShims` function and turns its errno into a ``RealtimeError``.
public enum Realtime {
    /// Gives the calling thread SCHED_FIFO at `priority` (1–99), via `sched_setscheduler`.
    public static func setFIFOPriority(_ priority: Int32) throws(RealtimeError) {
        try check("sched_setscheduler(SCHED_FIFO, \(priority))", qr_set_fifo_priority(priority))
    }

    /// The calling thread's scheduling policy (`SCHED_OTHER` 0, `SCHED_FIFO` 1, `SCHED_RR` 2) and
    /// priority, via `sched_getscheduler` and `sched_getparam`.
    public static func currentScheduling() throws(RealtimeError) -> (policy: Int32, priority: Int32) {
        var policy: Int32 = 0, priority: Int32 = 0
        try check("sched_getscheduler", qr_current_scheduling(&policy, &priority))
        return (policy, priority)
    }

    /// Locks current and future pages in RAM: `mlockall(MCL_CURRENT | MCL_FUTURE)`.
    public static func lockMemory() throws(RealtimeError) {
        try check("mlockall(MCL_CURRENT | MCL_FUTURE)", qr_lock_all_memory())
    }

    /// Undoes ``lockMemory()``: `munlockall()`.
    public static func unlockMemory() throws(RealtimeError) {
        try check("munlockall", qr_unlock_all_memory())
    }

    /// Pins the calling thread to one CPU: `pthread_setaffinity_np` with `CPU_SET`.
    public static func pinCurrentThread(toCPU cpu: Int32) throws(RealtimeError) {
        try check("pthread_setaffinity_np(cpu \(cpu))", qr_pin_current_thread_to_cpu(cpu))
    }

    /// Asks the kernel to keep CPU wake-up latency at or below `microseconds` through
    /// `/dev/cpu_dma_latency`; the request holds while the returned object lives.
    public static func requestCPUDMALatency(microseconds: Int32) throws(RealtimeError) -> CPUDMALatencyRequest {
        let fd = qr_request_cpu_dma_latency(microseconds)
        guard fd >= 0 else { throw RealtimeError(call: "write /dev/cpu_dma_latency (\(microseconds) µs)", errno: -fd) }
        return CPUDMALatencyRequest(fileDescriptor: fd)
    }

    /// Sleeps until an absolute `CLOCK_MONOTONIC` time: `clock_nanosleep(TIMER_ABSTIME)`, resumed after signals.
    public static func sleep(untilMonotonicNanoseconds deadline: Int64) throws(RealtimeError) {
        try check("clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, \(deadline) ns)", qr_sleep_until_monotonic_ns(deadline))
    }

    /// `CLOCK_MONOTONIC` in nanoseconds (`clock_gettime`), without allocation.
    public static var monotonicNanoseconds: Int64 { qr_monotonic_ns() }

    private static func check(_ call: @autoclosure () -> String, _ errno: Int32) throws(RealtimeError) {
        if errno != 0 { throw RealtimeError(call: call(), errno: errno) }
    }
}

/// An open `/dev/cpu_dma_latency` request; closing the descriptor (in `deinit`) releases it.
public final class CPUDMALatencyRequest {
    private let fileDescriptor: Int32

    init(fileDescriptor: Int32) {
        self.fileDescriptor = fileDescriptor
    }

    deinit { close(fileDescriptor) }
}
