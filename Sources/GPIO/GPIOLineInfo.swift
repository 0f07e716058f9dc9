import CGPIOD

/// Whether a line is driven by this machine or read by it.
public enum GPIOLineDirection: Sendable, Hashable {
    case input
    case output

    /// Maps gpiod_line_direction's GPIOD_LINE_DIRECTION_* value.
    init(libgpiod value: Int32) {
        self = value == GPIOD_LINE_DIRECTION_OUTPUT ? .output : .input
    }
}

/// A line's internal pull resistor.
public enum GPIOBias: Sendable, Hashable {
    /// Left as it is: in line info, no bias is reported; in a request, none is asked for.
    case asIs
    /// Neither pull-up nor pull-down.
    case disabled
    case pullUp
    case pullDown

    /// Maps gpiod_line_bias's GPIOD_LINE_BIAS_* value.
    init(libgpiod value: Int32) {
        switch Int(value) {
        case GPIOD_LINE_BIAS_DISABLE: self = .disabled
        case GPIOD_LINE_BIAS_PULL_UP: self = .pullUp
        case GPIOD_LINE_BIAS_PULL_DOWN: self = .pullDown
        default: self = .asIs
        }
    }
}

/// A snapshot of one line's state as the kernel reports it (``GPIOChip/lineInfo(at:)``).
public struct GPIOLineInfo: Sendable, Hashable {
    /// The line's offset on its chip (gpiod_line_offset).
    public let offset: UInt32
    /// The line's name from the device tree or board file, or nil if it has none (gpiod_line_name).
    public let name: String?
    /// The name given by whoever holds the line, or nil (gpiod_line_consumer).
    public let consumer: String?
    /// gpiod_line_direction.
    public let direction: GPIOLineDirection
    /// Whether logical 1 is the low level (gpiod_line_active_state == GPIOD_LINE_ACTIVE_STATE_LOW).
    public let isActiveLow: Bool
    /// Whether the kernel or some process holds the line (gpiod_line_is_used).
    public let isUsed: Bool
    /// gpiod_line_is_open_drain.
    public let isOpenDrain: Bool
    /// gpiod_line_is_open_source.
    public let isOpenSource: Bool
    /// gpiod_line_bias.
    public let bias: GPIOBias

    /// Reads the gpiod_line_* getters of a chip-owned line.
    init(_ line: OpaquePointer) {
        offset = gpiod_line_offset(line)
        name = gpiod_line_name(line).map { String(cString: $0) }
        consumer = gpiod_line_consumer(line).map { String(cString: $0) }
        direction = GPIOLineDirection(libgpiod: gpiod_line_direction(line))
        isActiveLow = gpiod_line_active_state(line) == GPIOD_LINE_ACTIVE_STATE_LOW
        isUsed = gpiod_line_is_used(line)
        isOpenDrain = gpiod_line_is_open_drain(line)
        isOpenSource = gpiod_line_is_open_source(line)
        bias = GPIOBias(libgpiod: gpiod_line_bias(line))
    }
}
