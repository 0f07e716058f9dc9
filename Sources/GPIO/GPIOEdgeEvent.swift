import CGPIOD
import Glibc

/// One edge the kernel saw on a line requested for edge events (`struct gpiod_line_event`).
public struct GPIOEdgeEvent: Sendable, Hashable {
    public enum Edge: Sendable, Hashable {
        case rising
        case falling
    }

    /// The line's offset on its chip.
    public let offset: UInt32
    public let edge: Edge
    /// When the kernel saw the edge, in nanoseconds. The kernel takes it from CLOCK_MONOTONIC since
    /// Linux 5.7 (CLOCK_REALTIME before), so compare timestamps with each other, not with wall time.
    public let timestampNanoseconds: UInt64

    /// An edge as recorded elsewhere (a replay, a log).
    public init(offset: UInt32, edge: Edge, timestampNanoseconds: UInt64) {
        self.offset = offset
        self.edge = edge
        self.timestampNanoseconds = timestampNanoseconds
    }

    /// Converts a gpiod_line_event read from line `offset`.
    init(offset: UInt32, libgpiod event: gpiod_line_event) {
        self.offset = offset
        edge = event.event_type == GPIOD_LINE_EVENT_RISING_EDGE ? .rising : .falling
        timestampNanoseconds = UInt64(event.ts.tv_sec) * 1_000_000_000 + UInt64(event.ts.tv_nsec)
    }
}

/// The most events gpiod_line_event_read_multiple returns at once (the kernel's per-line FIFO holds 16).
let maxEventsPerRead = 16

/// Blocks until `line` has pending events, then reads up to 16 (gpiod_line_event_read_multiple).
func readEdgeEvents(line: OpaquePointer, offset: UInt32, chip: String) throws(GPIOError) -> [GPIOEdgeEvent] {
    var events = [gpiod_line_event](repeating: gpiod_line_event(), count: maxEventsPerRead)
    let count = try cCall("gpiod_line_event_read_multiple", .readEvents(chip: chip, offset: offset)) {
        gpiod_line_event_read_multiple(line, &events, UInt32(maxEventsPerRead))
    }
    return events.prefix(Int(count)).map { GPIOEdgeEvent(offset: offset, libgpiod: $0) }
}

/// Reads one event from `line`, blocking until there is one (gpiod_line_event_read).
func readEdgeEvent(line: OpaquePointer, offset: UInt32, chip: String) throws(GPIOError) -> GPIOEdgeEvent {
    var event = gpiod_line_event()
    _ = try cCall("gpiod_line_event_read", .readEvents(chip: chip, offset: offset)) {
        gpiod_line_event_read(line, &event)
    }
    return GPIOEdgeEvent(offset: offset, libgpiod: event)
}

/// The descriptor that becomes readable when `line` has events (gpiod_line_event_get_fd).
func eventFileDescriptor(line: OpaquePointer, offset: UInt32, chip: String) throws(GPIOError) -> Int32 {
    try cCall("gpiod_line_event_get_fd", .getEventFileDescriptor(chip: chip, offset: offset)) {
        gpiod_line_event_get_fd(line)
    }
}

/// Calls `body` with a pointer to `timeout` as a timespec (negative durations count as zero), or with nil
/// to wait without a limit, as gpiod_line_event_wait and gpiod_line_event_wait_bulk take it.
func withTimespec(_ timeout: Duration?, _ body: (UnsafePointer<timespec>?) -> Int32) -> Int32 {
    guard let timeout else { return body(nil) }
    var limit = timespec(clamping: timeout)
    return body(&limit)
}

extension timespec {
    /// `duration` as a timespec, negative durations as zero and durations beyond `time_t` as its maximum.
    init(clamping duration: Duration) {
        let (seconds, attoseconds) = max(duration, .zero).components
        self.init(tv_sec: Int(clamping: seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
    }
}
