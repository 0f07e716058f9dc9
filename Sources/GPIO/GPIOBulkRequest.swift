import CGPIOD

/// Up to 64 lines of one chip requested together (``GPIOChip/requestLines(_:_:initialValues:)``), held in a
/// `struct gpiod_line_bulk` and released with gpiod_line_release_bulk when the last reference goes away.
/// Keeps its chip open. Not `Sendable`: libgpiod v1 is not thread-safe.
public final class GPIOBulkRequest {
    public let chip: GPIOChip
    /// The requested offsets, in the order values are read and set.
    public let offsets: [UInt32]
    public let options: GPIORequestOptions
    private let lines: [OpaquePointer]
    private var bulk: gpiod_line_bulk

    init(chip: GPIOChip, offsets: [UInt32], options: GPIORequestOptions, initialValues: [Bool]?) throws(GPIOError) {
        let operation = GPIOError.Operation.requestLines(chip: chip.name, offsets: offsets, options: options)
        try options.validate(offsets: offsets, initialValues: initialValues, chip: chip.name)
        var lines: [OpaquePointer] = []
        for offset in offsets {
            lines.append(try chip.line(at: offset, for: operation))
        }
        var bulk = gpiod_line_bulk()
        gpiod_line_bulk_init(&bulk)
        for line in lines {
            gpiod_line_bulk_add(&bulk, line)
        }
        let defaults = (initialValues ?? Array(repeating: false, count: offsets.count)).map { Int32($0 ? 1 : 0) }
        // Request before initializing self: if this throws, deinit must not run, because its
        // gpiod_line_release_bulk would release lines that another request may hold.
        _ = try cCall("gpiod_line_request_bulk", operation) {
            options.withLibgpiodConfig { gpiod_line_request_bulk(&bulk, &$0, defaults) }
        }
        self.chip = chip
        self.offsets = offsets
        self.options = options
        self.lines = lines
        self.bulk = bulk
    }

    deinit {
        gpiod_line_release_bulk(&bulk)
    }

    /// The lines' logical values, true = active, in ``offsets`` order (gpiod_line_get_value_bulk).
    public func values() throws(GPIOError) -> [Bool] {
        var values = [Int32](repeating: 0, count: offsets.count)
        _ = try cCall("gpiod_line_get_value_bulk", .readValues(chip: chip.name, offsets: offsets)) {
            gpiod_line_get_value_bulk(&bulk, &values)
        }
        return values.map { $0 == 1 }
    }

    /// Drives the output lines to logical values, true = active, one per offset in ``offsets`` order, in
    /// one kernel call (gpiod_line_set_value_bulk).
    public func setValues(_ values: [Bool]) throws(GPIOError) {
        let operation = GPIOError.Operation.setValues(chip: chip.name, offsets: offsets)
        guard options.kind == .output else { throw GPIOError(operation, .notOutput) }
        guard values.count == offsets.count else {
            throw GPIOError(operation, .valueCount(given: values.count, lines: offsets.count))
        }
        let raw = values.map { Int32($0 ? 1 : 0) }
        _ = try cCall("gpiod_line_set_value_bulk", operation) { gpiod_line_set_value_bulk(&bulk, raw) }
    }

    /// Waits until edges are pending on some of the lines (gpiod_line_event_wait_bulk) and returns their
    /// offsets; read each one's edges with ``readEvents(offset:)``. Returns [] if `timeout` passes first;
    /// with a nil timeout it waits as long as it takes. A signal restarts the wait.
    public func waitForEvents(timeout: Duration?) throws(GPIOError) -> [UInt32] {
        let operation = GPIOError.Operation.waitForEvents(chip: chip.name, offsets: offsets)
        guard case .edgeEvents = options.kind else { throw GPIOError(operation, .notEdgeEvents) }
        var fired = gpiod_line_bulk()
        let ready = try cCall("gpiod_line_event_wait_bulk", operation) {
            withTimespec(timeout) { gpiod_line_event_wait_bulk(&bulk, $0, &fired) }
        }
        guard ready > 0 else { return [] }
        return (0..<gpiod_line_bulk_num_lines(&fired)).map { index in
            gpiod_line_offset(gpiod_line_bulk_get_line(&fired, index))
        }
    }

    /// Reads the pending edges of line `offset`, oldest first, up to 16 at a time
    /// (gpiod_line_event_read_multiple); blocks until there is at least one.
    public func readEvents(offset: UInt32) throws(GPIOError) -> [GPIOEdgeEvent] {
        let line = try eventLine(offset, for: .readEvents(chip: chip.name, offset: offset))
        return try readEdgeEvents(line: line, offset: offset, chip: chip.name)
    }

    /// The descriptor that polls readable when line `offset` has pending edges (gpiod_line_event_get_fd).
    /// It belongs to this request: do not close it, and stop polling it before the request goes away.
    public func eventFileDescriptor(offset: UInt32) throws(GPIOError) -> Int32 {
        let line = try eventLine(offset, for: .getEventFileDescriptor(chip: chip.name, offset: offset))
        return try GPIO.eventFileDescriptor(line: line, offset: offset, chip: chip.name)
    }

    /// The line object of `offset`, if this is an edge-event request holding it.
    private func eventLine(_ offset: UInt32, for operation: GPIOError.Operation) throws(GPIOError) -> OpaquePointer {
        guard case .edgeEvents = options.kind else { throw GPIOError(operation, .notEdgeEvents) }
        guard let index = offsets.firstIndex(of: offset) else {
            throw GPIOError(operation, .offsetNotRequested(offset))
        }
        return lines[index]
    }
}

@available(*, unavailable, message: "libgpiod v1 lines are not thread-safe")
extension GPIOBulkRequest: Sendable {}
