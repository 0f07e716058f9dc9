#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Nanosecond clock readings (`clock_gettime`) that allocate nothing: safe in the real-time step.
enum TelemetryClock {
    /// `CLOCK_MONOTONIC` in ns.
    @inline(__always)
    static func monotonicNanoseconds() -> Int64 { read(CLOCK_MONOTONIC) }

    /// `CLOCK_REALTIME` in ns since the Unix epoch.
    @inline(__always)
    static func wallNanoseconds() -> Int64 { read(CLOCK_REALTIME) }

    @inline(__always)
    private static func read(_ clock: clockid_t) -> Int64 {
        var time = timespec()
        clock_gettime(clock, &time)
        return Int64(time.tv_sec) &* 1_000_000_000 &+ Int64(time.tv_nsec)
    }
}
