import CGPIOD

/// How to request lines: as inputs, outputs or edge-event inputs, for which consumer, with which flags.
///
/// Every combination can be written down; ``validate(offsets:initialValues:chip:)`` rejects the ones
/// libgpiod or the kernel would refuse, before any C call.
public struct GPIORequestOptions: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// Read the lines (GPIOD_LINE_REQUEST_DIRECTION_INPUT).
        case input
        /// Drive the lines (GPIOD_LINE_REQUEST_DIRECTION_OUTPUT).
        case output
        /// Read the lines and report their edges (GPIOD_LINE_REQUEST_EVENT_*).
        case edgeEvents(Edges)
    }

    /// Which edges an edge-event request reports.
    public enum Edges: Sendable, Hashable {
        case rising
        case falling
        case both
    }

    public var kind: Kind
    /// Who holds the lines, as `gpioinfo` shows it; the kernel keeps the first 31 bytes.
    public var consumer: String
    /// Logical 1 is the low level (GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW).
    public var isActiveLow: Bool
    /// Outputs only drive low and float when high (GPIOD_LINE_REQUEST_FLAG_OPEN_DRAIN).
    public var isOpenDrain: Bool
    /// Outputs only drive high and float when low (GPIOD_LINE_REQUEST_FLAG_OPEN_SOURCE).
    public var isOpenSource: Bool
    /// The pull resistor (GPIOD_LINE_REQUEST_FLAG_BIAS_*); needs Linux 5.5 or later unless `.asIs`.
    public var bias: GPIOBias

    public init(
        _ kind: Kind, consumer: String, activeLow: Bool = false, openDrain: Bool = false,
        openSource: Bool = false, bias: GPIOBias = .asIs
    ) {
        self.kind = kind
        self.consumer = consumer
        self.isActiveLow = activeLow
        self.isOpenDrain = openDrain
        self.isOpenSource = openSource
        self.bias = bias
    }

    /// Throws the ``GPIOError`` that requesting `offsets` with these options would end in, without calling
    /// libgpiod: no offsets, more than 64 (GPIOD_LINE_BULK_MAX_LINES), repeated offsets, open-drain together
    /// with open-source, open-drain or open-source on a request that is not an output, or an `initialValues`
    /// count that differs from the offsets count. `chip` only names the chip in the error.
    public func validate(offsets: [UInt32], initialValues: [Bool]?, chip: String) throws(GPIOError) {
        func reject(_ reason: GPIOError.Reason) -> GPIOError {
            GPIOError(.requestLines(chip: chip, offsets: offsets, options: self), reason)
        }
        let limit = Int(GPIOD_LINE_BULK_MAX_LINES)
        guard !offsets.isEmpty else { throw reject(.noLines) }
        guard offsets.count <= limit else { throw reject(.tooManyLines(count: offsets.count, limit: limit)) }
        var seen = Set<UInt32>()
        let repeated = offsets.filter { !seen.insert($0).inserted }
        guard repeated.isEmpty else { throw reject(.duplicateOffsets(Array(Set(repeated)).sorted())) }
        guard !(isOpenDrain && isOpenSource) else { throw reject(.openDrainAndOpenSource) }
        if kind != .output {
            guard !isOpenDrain else { throw reject(.openDrainOnInput) }
            guard !isOpenSource else { throw reject(.openSourceOnInput) }
        }
        if let initialValues, initialValues.count != offsets.count {
            throw reject(.initialValueCount(given: initialValues.count, lines: offsets.count))
        }
    }

    /// The `request_type` and `flags` of the `struct gpiod_line_request_config` these options become.
    var libgpiodConfig: LibgpiodRequestConfig {
        let requestType =
            switch kind {
            case .input: GPIOD_LINE_REQUEST_DIRECTION_INPUT
            case .output: GPIOD_LINE_REQUEST_DIRECTION_OUTPUT
            case .edgeEvents(.rising): GPIOD_LINE_REQUEST_EVENT_RISING_EDGE
            case .edgeEvents(.falling): GPIOD_LINE_REQUEST_EVENT_FALLING_EDGE
            case .edgeEvents(.both): GPIOD_LINE_REQUEST_EVENT_BOTH_EDGES
            }
        var flags = 0
        if isActiveLow { flags |= GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW }
        if isOpenDrain { flags |= GPIOD_LINE_REQUEST_FLAG_OPEN_DRAIN }
        if isOpenSource { flags |= GPIOD_LINE_REQUEST_FLAG_OPEN_SOURCE }
        switch bias {
        case .asIs: break
        case .disabled: flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_DISABLE
        case .pullUp: flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP
        case .pullDown: flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN
        }
        return LibgpiodRequestConfig(requestType: Int32(requestType), flags: Int32(flags))
    }

    /// Calls `body` with the `struct gpiod_line_request_config` for these options; the consumer string
    /// pointer is valid only during the call.
    func withLibgpiodConfig<Result>(_ body: (inout gpiod_line_request_config) -> Result) -> Result {
        let config = libgpiodConfig
        return consumer.withCString { consumer in
            var request = gpiod_line_request_config(
                consumer: consumer, request_type: config.requestType, flags: config.flags)
            return body(&request)
        }
    }
}

/// The numbers libgpiod takes for a request: a GPIOD_LINE_REQUEST_DIRECTION_* or
/// GPIOD_LINE_REQUEST_EVENT_* type and an OR of GPIOD_LINE_REQUEST_FLAG_* bits.
struct LibgpiodRequestConfig: Hashable {
    let requestType: Int32
    let flags: Int32
}
