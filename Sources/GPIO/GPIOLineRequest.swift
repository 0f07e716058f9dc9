import CGPIOD

/// One requested line (``GPIOChip/requestLine(_:_:initialValue:)``), released with gpiod_line_release
/// when the last reference goes away. Keeps its chip open. Not `Sendable`: libgpiod v1 is not thread-safe.
public final class GPIOLineRequest {
    public let chip: GPIOChip
    public let offset: UInt32
    public let options: GPIORequestOptions
    let line: OpaquePointer

    init(chip: GPIOChip, offset: UInt32, options: GPIORequestOptions, initialValue: Bool) throws(GPIOError) {
        let operation = GPIOError.Operation.requestLines(chip: chip.name, offsets: [offset], options: options)
        try options.validate(offsets: [offset], initialValues: [initialValue], chip: chip.name)
        let line = try chip.line(at: offset, for: operation)
        // Request before initializing self: if this throws, deinit must not run, because its
        // gpiod_line_release would release the line when another request holds it.
        _ = try cCall("gpiod_line_request", operation) {
            options.withLibgpiodConfig { gpiod_line_request(line, &$0, initialValue ? 1 : 0) }
        }
        self.chip = chip
        self.offset = offset
        self.options = options
        self.line = line
    }

    deinit {
        gpiod_line_release(line)
    }

    /// The line's logical value, true = active (gpiod_line_get_value). Works for every kind of request.
    public func value() throws(GPIOError) -> Bool {
        let value = try cCall("gpiod_line_get_value", .readValues(chip: chip.name, offsets: [offset])) {
            gpiod_line_get_value(line)
        }
        return value == 1
    }

    /// Drives an output line to a logical value, true = active (gpiod_line_set_value).
    public func setValue(_ value: Bool) throws(GPIOError) {
        let operation = GPIOError.Operation.setValues(chip: chip.name, offsets: [offset])
        guard options.kind == .output else { throw GPIOError(operation, .notOutput) }
        _ = try cCall("gpiod_line_set_value", operation) { gpiod_line_set_value(line, value ? 1 : 0) }
    }

    /// Waits for an edge (gpiod_line_event_wait) and reads it (gpiod_line_event_read). Returns nil if
    /// `timeout` passes first; with a nil timeout it waits as long as it takes. A signal restarts the wait.
    public func waitForEvent(timeout: Duration?) throws(GPIOError) -> GPIOEdgeEvent? {
        let operation = GPIOError.Operation.waitForEvents(chip: chip.name, offsets: [offset])
        try requireEdgeEvents(operation)
        let ready = try cCall("gpiod_line_event_wait", operation) {
            withTimespec(timeout) { gpiod_line_event_wait(line, $0) }
        }
        return ready == 0 ? nil : try readEdgeEvent(line: line, offset: offset, chip: chip.name)
    }

    /// Reads the pending edges, oldest first, up to 16 at a time (gpiod_line_event_read_multiple); blocks
    /// until there is at least one. Use after ``eventFileDescriptor()`` polled readable.
    public func readEvents() throws(GPIOError) -> [GPIOEdgeEvent] {
        try requireEdgeEvents(.readEvents(chip: chip.name, offset: offset))
        return try readEdgeEvents(line: line, offset: offset, chip: chip.name)
    }

    /// The descriptor that polls readable when edges are pending (gpiod_line_event_get_fd), for an event
    /// loop. It belongs to this request: do not close it, and stop polling it before the request goes away.
    public func eventFileDescriptor() throws(GPIOError) -> Int32 {
        let operation = GPIOError.Operation.getEventFileDescriptor(chip: chip.name, offset: offset)
        try requireEdgeEvents(operation)
        return try GPIO.eventFileDescriptor(line: line, offset: offset, chip: chip.name)
    }

    private func requireEdgeEvents(_ operation: GPIOError.Operation) throws(GPIOError) {
        guard case .edgeEvents = options.kind else { throw GPIOError(operation, .notEdgeEvents) }
    }
}

@available(*, unavailable, message: "libgpiod v1 lines are not thread-safe")
extension GPIOLineRequest: Sendable {}
