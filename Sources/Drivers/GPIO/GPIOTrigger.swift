import GPIO
import Glibc
import HAL

extension DigitalLine {
    /// The longest trigger pulse ``pulse(width:)`` drives: longer levels are states, not triggers.
    public static var maximumPulseWidth: Duration { .seconds(10) }

    /// Drives the line active for `width`, then inactive, and returns the width achieved (from the return
    /// of the first write to the return of the second, on CLOCK_MONOTONIC). The wait is an absolute
    /// clock_nanosleep(TIMER_ABSTIME), so a signal cannot stretch it. If the line cannot be driven inactive
    /// again, the error says so: the caller must treat the line as stuck active.
    @discardableResult
    public func pulse(width: Duration) throws(InstrumentError) -> Duration {
        guard width > .zero, width <= Self.maximumPulseWidth else {
            throw InstrumentError(
                instrument: "trigger line \(resource)", command: nil,
                kind: .invalidArgument("a trigger pulse lasts more than 0 and at most \(Self.maximumPulseWidth), got \(width)"))
        }
        try setActive(true)
        let start = monotonicNanoseconds()
        let (seconds, attoseconds) = width.components
        let end = start &+ UInt64(seconds) &* 1_000_000_000 &+ UInt64(attoseconds / 1_000_000_000)
        var deadline = timespec(tv_sec: Int(end / 1_000_000_000), tv_nsec: Int(end % 1_000_000_000))
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, nil) == EINTR {}
        try setActive(false)
        return .nanoseconds(Int64(monotonicNanoseconds() &- start))
    }
}

/// CLOCK_MONOTONIC in nanoseconds (clock_gettime), the clock the kernel stamps GPIO edges with.
func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// Where a ``GPIOTriggerInput`` gets its edges: a GPIO line requested for edge events, in production.
protocol EdgeEventSource: AnyObject {
    /// The next edge, or nil when `timeout` passes first.
    func waitForEvent(timeout: Duration?) throws(GPIOError) -> GPIOEdgeEvent?
}

extension GPIOLineRequest: EdgeEventSource {}

/// A GPIO line as a timestamped trigger input (`GPIO::gpiochip0::17`): the kernel stamps each edge as it
/// happens (gpiod_line_event_wait, gpiod_line_event_read), so the timestamp does not depend on how soon
/// this process looks. Not `Sendable`: libgpiod v1 is not thread-safe.
public final class GPIOTriggerInput: TriggerInput {
    public let resource: ResourceName
    private let source: any EdgeEventSource

    /// Requests the line for `edges` (gpiod_chip_open_by_name, then gpiod_line_request with
    /// GPIOD_LINE_REQUEST_EVENT_*). With `activeLow`, a rising edge is the fall to the low level.
    public init(
        _ resource: ResourceName, edges: GPIORequestOptions.Edges = .rising, activeLow: Bool = false,
        consumer: String = "qrrm"
    ) throws(InstrumentError) {
        guard case .gpio(let chipName, let offset) = resource.address else {
            throw InstrumentError(
                instrument: "trigger input \(resource)", command: nil,
                kind: .invalidArgument("\(resource) is not a GPIO line; expected GPIO::<chip>::<line offset>"))
        }
        do {
            let chip = try GPIOChip(opening: .name(chipName))
            source = try chip.requestLine(
                offset, GPIORequestOptions(.edgeEvents(edges), consumer: consumer, activeLow: activeLow), initialValue: false)
        } catch {
            throw GPIODigitalLine.instrumentError(error, resource, operation: "open", opening: true)
        }
        self.resource = resource
    }

    init(resource: ResourceName, source: any EdgeEventSource) {
        self.resource = resource
        self.source = source
    }

    /// The next edge with the kernel's timestamp; `.transport(.timeout)` naming the line when none arrives
    /// within `timeout`.
    public func waitForEdge(timeout: Duration) throws(InstrumentError) -> TriggerEdge {
        let event: GPIOEdgeEvent?
        do {
            event = try source.waitForEvent(timeout: max(timeout, .zero))
        } catch {
            throw GPIODigitalLine.instrumentError(error, resource, operation: "wait for a trigger edge", opening: false)
        }
        guard let event else {
            throw InstrumentError(
                instrument: "trigger input \(resource)", command: nil,
                kind: .transport(TransportError(resource: resource, operation: "wait \(timeout) for a trigger edge", kind: .timeout)))
        }
        return TriggerEdge(rising: event.edge == .rising, timestampNanoseconds: event.timestampNanoseconds)
    }
}
