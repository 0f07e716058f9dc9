import CGPIOD
import Glibc

/// An open GPIO chip (`struct gpiod_chip`), closed with gpiod_chip_close when the last reference goes away.
///
/// Requests (``GPIOLineRequest``, ``GPIOBulkRequest``) keep their chip alive. libgpiod v1 objects are not
/// thread-safe, so a chip and its requests are not `Sendable`: use them from one thread or actor.
public final class GPIOChip {
    /// How to find the chip to open.
    public enum Selector: Sendable, Hashable {
        /// A device name such as "gpiochip0", opened as /dev/gpiochip0 (gpiod_chip_open_by_name).
        case name(String)
        /// A device path such as "/dev/gpiochip0" (gpiod_chip_open).
        case path(String)
        /// The chip's label such as "pinctrl-bcm2711" (gpiod_chip_open_by_label, which opens every chip
        /// in /dev to compare labels).
        case label(String)
        /// The number N of /dev/gpiochipN (gpiod_chip_open_by_number).
        case number(UInt32)
        /// Any of the above, as gpiod_chip_open_lookup tries them: digits as a number, otherwise a
        /// label, then a path if it starts with "/dev/", else a name.
        case lookup(String)
    }

    let handle: OpaquePointer

    /// The kernel's name for the chip, e.g. "gpiochip0" (gpiod_chip_name).
    public let name: String
    /// The chip's label, e.g. "pinctrl-bcm2711"; "unknown" when the kernel has none (gpiod_chip_label).
    public let label: String
    /// The number of lines; valid offsets are 0..<lineCount (gpiod_chip_num_lines).
    public let lineCount: Int

    /// Opens a chip with gpiod_chip_open, gpiod_chip_open_by_name, gpiod_chip_open_by_label,
    /// gpiod_chip_open_by_number or gpiod_chip_open_lookup, according to `selector`.
    public init(opening selector: Selector) throws(GPIOError) {
        let operation = GPIOError.Operation.openChip(selector)
        switch selector {
        case .name(let name):
            handle = try cCall("gpiod_chip_open_by_name", operation) { name.withCString(gpiod_chip_open_by_name) }
        case .path(let path):
            handle = try cCall("gpiod_chip_open", operation) { path.withCString(gpiod_chip_open) }
        case .label(let label):
            handle = try cCall("gpiod_chip_open_by_label", operation) { label.withCString(gpiod_chip_open_by_label) }
        case .number(let number):
            handle = try cCall("gpiod_chip_open_by_number", operation) { gpiod_chip_open_by_number(number) }
        case .lookup(let text):
            handle = try cCall("gpiod_chip_open_lookup", operation) { text.withCString(gpiod_chip_open_lookup) }
        }
        name = String(cString: gpiod_chip_name(handle))
        label = String(cString: gpiod_chip_label(handle))
        lineCount = Int(gpiod_chip_num_lines(handle))
    }

    deinit {
        gpiod_chip_close(handle)
    }

    /// The names of the GPIO chips on this machine ("gpiochip0", "gpiochip1", …), sorted by byte value as
    /// gpiodetect lists them; [] when there are none.
    ///
    /// This scans /dev with scandir for entries whose names start with "gpiochip" — the same filter
    /// libgpiod's gpiod_chip_iter_new uses — but does not open the chips, so one chip this user may not
    /// open does not hide the others. Open one with `GPIOChip(opening: .name(name))`.
    public static func available() throws(GPIOError) -> [String] {
        var entries: UnsafeMutablePointer<UnsafeMutablePointer<dirent>?>?
        let count = Int(try cCall("scandir", .listChips) { scandir("/dev", &entries, nil, nil) })
        defer {
            for index in 0..<count { free(entries?[index]) }
            free(entries)
        }
        return (0..<count).compactMap { index in entries?[index].map(fileName) }
            .filter { $0.hasPrefix("gpiochip") }
            .sorted()
    }

    /// The current state of the line at `offset` (gpiod_chip_get_line, which refreshes it with
    /// gpiod_line_update, then the gpiod_line_* getters).
    public func lineInfo(at offset: UInt32) throws(GPIOError) -> GPIOLineInfo {
        let line = try line(at: offset, for: .readLineInfo(chip: name, offset: offset))
        return GPIOLineInfo(line)
    }

    /// Requests one line (gpiod_line_request, the general form of gpiod_line_request_input/output and
    /// gpiod_line_request_*_events with flags). `initialValue` is the logical value an output starts at
    /// (true = active); inputs and edge-event requests ignore it. The line is released when the returned
    /// request goes away.
    public func requestLine(
        _ offset: UInt32, _ options: GPIORequestOptions, initialValue: Bool = false
    ) throws(GPIOError) -> GPIOLineRequest {
        try GPIOLineRequest(chip: self, offset: offset, options: options, initialValue: initialValue)
    }

    /// Requests up to 64 lines at once (gpiod_line_request_bulk). `initialValues`, one per offset, are the
    /// logical values outputs start at (nil: all inactive); inputs and edge-event requests ignore them.
    /// The lines are released together when the returned request goes away.
    public func requestLines(
        _ offsets: [UInt32], _ options: GPIORequestOptions, initialValues: [Bool]? = nil
    ) throws(GPIOError) -> GPIOBulkRequest {
        try GPIOBulkRequest(chip: self, offsets: offsets, options: options, initialValues: initialValues)
    }

    /// The chip-owned line object for `offset` (gpiod_chip_get_line); it lives as long as the chip.
    func line(at offset: UInt32, for operation: GPIOError.Operation) throws(GPIOError) -> OpaquePointer {
        guard offset < lineCount else { throw GPIOError(operation, .offsetOutOfRange(lineCount: lineCount)) }
        return try cCall("gpiod_chip_get_line", operation) { gpiod_chip_get_line(handle, offset) }
    }
}

@available(*, unavailable, message: "libgpiod v1 chips are not thread-safe")
extension GPIOChip: Sendable {}

/// The name of a directory entry (its d_name), read in place up to its NUL. scandir allocates each
/// entry only as long as its name needs, so copying the whole 256-byte d_name array would read past
/// the allocation.
private func fileName(_ entry: UnsafeMutablePointer<dirent>) -> String {
    let name = UnsafeRawPointer(entry) + MemoryLayout<dirent>.offset(of: \dirent.d_name)!
    return String(cString: name.assumingMemoryBound(to: CChar.self))
}
