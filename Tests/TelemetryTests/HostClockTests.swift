import Foundation
import Testing
@testable import Telemetry

@Suite("The producers' host clock")
struct HostClockTests {
    /// Reads `clock` between two readings of `clock_gettime(CLOCK_REALTIME)` for `duration`
    /// and returns the largest distance of a reading outside its bracket, in ns.
    private static func worstError(_ clock: inout HostClock, for duration: Duration) -> Int64 {
        var worst: Int64 = 0
        let end = ContinuousClock.now + duration
        while ContinuousClock.now < end {
            for _ in 0..<1_000 {
                let before = TelemetryClock.wallNanoseconds()
                let reading = clock.nanoseconds()
                let after = TelemetryClock.wallNanoseconds()
                worst = max(worst, before - reading, reading - after)
            }
        }
        return worst
    }

    @Test("from the time-stamp counter, readings stay within 10 µs of clock_gettime across many restarts",
          .enabled(if: HostClock.counterIsClocksource, "the kernel does not keep time with the TSC here"))
    func counter() {
        var clock = HostClock(usingCounter: true)
        _ = clock.nanoseconds()
        #expect(!clock.isExtrapolating, "extrapolating before any rate was measured")
        let calibrating = Self.worstError(&clock, for: .milliseconds(20))
        #expect(clock.isExtrapolating, "still reading clock_gettime on every call after 20 ms")
        let worst = Self.worstError(&clock, for: .milliseconds(150))
        #expect(calibrating <= 10_000 && worst <= 10_000, "off by \(calibrating) ns while calibrating, \(worst) ns after")
        #expect(clock.isExtrapolating)
    }

    @Test("monotonic readings come from the same counter reading, close to CLOCK_MONOTONIC, and never go back")
    func monotonic() {
        var clock = HostClock()
        var previous = Int64.min, worst: Int64 = 0
        let end = ContinuousClock.now + .milliseconds(150)
        while ContinuousClock.now < end {
            for _ in 0..<1_000 {
                let before = TelemetryClock.monotonicNanoseconds()
                let (_, monotonic) = clock.readings()
                let after = TelemetryClock.monotonicNanoseconds()
                #expect(monotonic >= previous, "went back from \(previous) to \(monotonic)")
                previous = monotonic
                worst = max(worst, before - monotonic, monotonic - after)
            }
        }
        #expect(worst <= 10_000, "off CLOCK_MONOTONIC by \(worst) ns")
    }

    @Test("without the counter every reading is clock_gettime's")
    func fallback() {
        var clock = HostClock(usingCounter: false)
        #expect(Self.worstError(&clock, for: .milliseconds(20)) <= 0)
        #expect(!clock.isExtrapolating)
    }
}
