import CCycleCounter
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

    /// The clock `ContinuousClock` reads, in ns (`CLOCK_BOOTTIME` on Linux, `CLOCK_MONOTONIC_RAW`
    /// on Darwin): it keeps counting while the machine sleeps.
    @inline(__always)
    static func continuousNanoseconds() -> Int64 {
        #if os(Linux)
        read(CLOCK_BOOTTIME)
        #else
        read(CLOCK_MONOTONIC_RAW)
        #endif
    }

    @inline(__always)
    private static func read(_ clock: clockid_t) -> Int64 {
        var time = timespec()
        clock_gettime(clock, &time)
        return Int64(time.tv_sec) &* 1_000_000_000 &+ Int64(time.tv_nsec)
    }
}

/// `CLOCK_REALTIME` in ns for one producing thread, read from the CPU's time-stamp counter
/// (`rdtsc`, 10 ns here) instead of `clock_gettime` (24 ns) on every sample: the same idea as
/// the TSC clocks of low-latency loggers.
///
/// Every millisecond of ticks it reads `clock_gettime` again and restarts from there, so a
/// reading is never more than a millisecond of rate error away from `CLOCK_REALTIME`, and a
/// step of the system clock (NTP, an operator) shows within a millisecond. The tick rate is
/// measured against `CLOCK_MONOTONIC` (which NTP slews as it slews `CLOCK_REALTIME`): first over
/// 10 ms, then over 100 ms to 1 s; a reading is then within a few µs of `clock_gettime`, typically
/// within 0.2 µs. Used only where the kernel's clocksource is `tsc`, which means the kernel
/// found the counter constant-rate and synchronised across CPUs; elsewhere, and until the rate
/// is known, every reading is `clock_gettime`. Not shared: one per thread that reads it (each
/// producer, the publisher thread).
struct HostClock {
    /// Whether this machine's time-stamp counter is good enough (the kernel keeps time with it).
    static let counterIsClocksource: Bool = {
        guard qr_cycle_counter_exists() != 0,
              let file = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r") else { return false }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 64)
        guard fgets(&line, Int32(line.count), file) != nil else { return false }
        return String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) == "tsc\n"
    }()

    private let usesCounter: Bool
    /// The last `clock_gettime` readings, in ticks, CLOCK_REALTIME ns and CLOCK_MONOTONIC ns.
    private var baseTicks: UInt64 = 0
    private var baseNs: Int64 = 0
    private var baseMonotonicNs: Int64 = 0
    /// The last monotonic reading handed out.
    private var lastMonotonicNs: Int64 = .min
    /// Ticks after `baseTicks` for which readings extrapolate; 0 until the rate is known.
    private var spanTicks: UInt64 = 0
    private var nsPerTick = 0.0
    /// Where the rate measurement starts: ticks and CLOCK_MONOTONIC ns.
    private var rateTicks: UInt64 = 0
    private var rateNs: Int64 = 0

    init(usingCounter: Bool = HostClock.counterIsClocksource) { usesCounter = usingCounter }

    /// Whether readings now come from the counter rather than from `clock_gettime`.
    var isExtrapolating: Bool { usesCounter && spanTicks > 0 }

    /// CLOCK_REALTIME now, in ns since the Unix epoch.
    @inline(__always)
    mutating func nanoseconds() -> Int64 { readings().wall }

    /// CLOCK_REALTIME and CLOCK_MONOTONIC now, in ns, from one reading of the counter. The
    /// monotonic reading never goes below the one before (a restart may correct by a few ns).
    @inline(__always)
    mutating func readings() -> (wall: Int64, monotonic: Int64) {
        guard usesCounter else { return (TelemetryClock.wallNanoseconds(), TelemetryClock.monotonicNanoseconds()) }
        let elapsed = qr_cycle_counter() &- baseTicks
        if elapsed < spanTicks {
            let step = Int64(Double(elapsed) * nsPerTick)
            lastMonotonicNs = max(lastMonotonicNs, baseMonotonicNs &+ step)
            return (baseNs &+ step, lastMonotonicNs)
        }
        restart()
        lastMonotonicNs = max(lastMonotonicNs, baseMonotonicNs)
        return (baseNs, lastMonotonicNs)
    }

    /// Reads both clocks, brackets them with ticks, and starts a new span from them.
    @inline(never)
    private mutating func restart() {
        var wall: Int64 = 0, monotonic: Int64 = 0, ticks: UInt64 = 0
        // A pair read within 10,000 ticks (2–5 µs; it takes about 200) is good; otherwise the thread
        // was preempted between the readings: try again, and after three tries extrapolate no more.
        for attempt in 0..<3 {
            let before = qr_cycle_counter()
            wall = TelemetryClock.wallNanoseconds()
            monotonic = TelemetryClock.monotonicNanoseconds()
            let after = qr_cycle_counter()
            ticks = before &+ (after &- before) / 2
            if after &- before < 10_000 { break }
            if attempt == 2 {
                (spanTicks, rateTicks, baseNs, baseMonotonicNs) = (0, 0, wall, monotonic)
                return
            }
        }
        baseTicks = ticks
        baseNs = wall
        baseMonotonicNs = monotonic
        let measured = monotonic &- rateNs
        if rateTicks == 0 || ticks <= rateTicks || measured <= 0 {
            rateTicks = ticks; rateNs = monotonic
        } else if measured >= 10_000_000 && (spanTicks == 0 || measured >= 100_000_000) {
            // A first rate after 10 ms, then from baselines of 100 ms to 1 s. A rate no counter
            // has (under 0.05 or over 20 ns a tick) means the counter is not usable: no spans.
            let rate = Double(measured) / Double(ticks &- rateTicks)
            nsPerTick = rate
            spanTicks = (0.05...20).contains(rate) ? UInt64(1_000_000 / rate) : 0
            if measured >= 1_000_000_000 { rateTicks = ticks; rateNs = monotonic }
        }
    }
}
