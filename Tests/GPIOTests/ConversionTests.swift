import CGPIOD
import Glibc
import Testing

@testable import GPIO

@Suite("Converting libgpiod values to Swift")
struct ConversionTests {
    @Test("GPIOD_LINE_DIRECTION_* map to line directions")
    func directions() {
        #expect(GPIOLineDirection(libgpiod: Int32(GPIOD_LINE_DIRECTION_INPUT)) == .input)
        #expect(GPIOLineDirection(libgpiod: Int32(GPIOD_LINE_DIRECTION_OUTPUT)) == .output)
    }

    @Test("GPIOD_LINE_BIAS_* map to biases")
    func biases() {
        #expect(GPIOBias(libgpiod: Int32(GPIOD_LINE_BIAS_AS_IS)) == .asIs)
        #expect(GPIOBias(libgpiod: Int32(GPIOD_LINE_BIAS_DISABLE)) == .disabled)
        #expect(GPIOBias(libgpiod: Int32(GPIOD_LINE_BIAS_PULL_UP)) == .pullUp)
        #expect(GPIOBias(libgpiod: Int32(GPIOD_LINE_BIAS_PULL_DOWN)) == .pullDown)
    }

    @Test("A gpiod_line_event becomes an edge with its timestamp in nanoseconds")
    func edgeEvents() {
        let rising = gpiod_line_event(
            ts: timespec(tv_sec: 12, tv_nsec: 345_678_901), event_type: Int32(GPIOD_LINE_EVENT_RISING_EDGE))
        let falling = gpiod_line_event(
            ts: timespec(tv_sec: 0, tv_nsec: 7), event_type: Int32(GPIOD_LINE_EVENT_FALLING_EDGE))
        let first = GPIOEdgeEvent(offset: 17, libgpiod: rising)
        let second = GPIOEdgeEvent(offset: 3, libgpiod: falling)
        #expect(first.offset == 17)
        #expect(first.edge == .rising)
        #expect(first.timestampNanoseconds == 12_345_678_901)
        #expect(second.offset == 3)
        #expect(second.edge == .falling)
        #expect(second.timestampNanoseconds == 7)
    }

    @Test("Timeouts become timespecs, negative ones zero")
    func timeouts() {
        let oneAndAHalf = timespec(clamping: .milliseconds(1_500))
        #expect(oneAndAHalf.tv_sec == 1 && oneAndAHalf.tv_nsec == 500_000_000)
        let tiny = timespec(clamping: .nanoseconds(1))
        #expect(tiny.tv_sec == 0 && tiny.tv_nsec == 1)
        let negative = timespec(clamping: .seconds(-3))
        #expect(negative.tv_sec == 0 && negative.tv_nsec == 0)
    }

    @Test("A nil timeout is passed to C as NULL, a duration as a pointer to its timespec")
    func timeoutPointers() {
        #expect(withTimespec(nil) { $0 == nil ? 1 : 0 } == 1)
        #expect(withTimespec(.seconds(2)) { $0.map { Int32($0.pointee.tv_sec) } ?? -1 } == 2)
    }
}
