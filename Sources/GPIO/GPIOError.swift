import Glibc

/// Why a GPIO operation failed: what was being done (``operation``, naming the chip and line offsets) and
/// why (``reason``: a failed libgpiod/libc call with its errno, or a request rejected before any C call).
///
/// ``description`` is one sentence meant for a lab user, for example:
///
///     Could not open GPIO chip "gpiochip0" (/dev/gpiochip0): No such file or directory (errno 2, from
///     gpiod_chip_open_by_name). List the chips with `ls /dev/gpiochip*` or `gpiodetect`.
public struct GPIOError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was being done when the error happened.
    public enum Operation: Sendable, Hashable {
        case openChip(GPIOChip.Selector)
        /// Scanning /dev for gpiochip* entries (``GPIOChip/available()``).
        case listChips
        case readLineInfo(chip: String, offset: UInt32)
        case requestLines(chip: String, offsets: [UInt32], options: GPIORequestOptions)
        case readValues(chip: String, offsets: [UInt32])
        case setValues(chip: String, offsets: [UInt32])
        case waitForEvents(chip: String, offsets: [UInt32])
        case readEvents(chip: String, offset: UInt32)
        case getEventFileDescriptor(chip: String, offset: UInt32)
    }

    /// Why it failed.
    public enum Reason: Sendable, Hashable {
        /// A C call failed: errno, its strerror text, and the C function (e.g. `gpiod_chip_open`).
        case system(errno: Int32, message: String, function: String)
        /// A request named no lines.
        case noLines
        /// A request named more lines than libgpiod v1 takes at once (`GPIOD_LINE_BULK_MAX_LINES`, 64).
        case tooManyLines(count: Int, limit: Int)
        /// A request named these offsets more than once.
        case duplicateOffsets([UInt32])
        /// A request asked for open-drain and open-source together.
        case openDrainAndOpenSource
        /// Open-drain was asked for on an input or edge-event request; it applies only to outputs.
        case openDrainOnInput
        /// Open-source was asked for on an input or edge-event request; it applies only to outputs.
        case openSourceOnInput
        /// The number of initial values differs from the number of lines requested.
        case initialValueCount(given: Int, lines: Int)
        /// The number of values to set differs from the number of lines in the request.
        case valueCount(given: Int, lines: Int)
        /// Values were set on lines requested as inputs or for edge events.
        case notOutput
        /// Edge events were waited for or read on lines not requested for edge events.
        case notEdgeEvents
        /// The offset is not one of the lines held by this request.
        case offsetNotRequested(UInt32)
        /// The offset is not below the chip's line count.
        case offsetOutOfRange(lineCount: Int)
    }

    public let operation: Operation
    public let reason: Reason

    init(_ operation: Operation, _ reason: Reason) {
        self.operation = operation
        self.reason = reason
    }

    /// The errno of the failed C call, or nil when the request was rejected before calling C.
    public var errno: Int32? {
        if case .system(let code, _, _) = reason { code } else { nil }
    }

    public var description: String {
        "Could not \(operation.phrase): \(reason.phrase)\(hint.map { ". \($0)" } ?? "")."
    }

    /// Advice for the errors a lab user most often meets.
    private var hint: String? {
        switch (operation, errno) {
        case (.openChip, ENOENT):
            "List the chips with `ls /dev/gpiochip*` or `gpiodetect`"
        case (.openChip, EACCES), (.openChip, EPERM):
            "This user may not open the chip; GPIO chips are usually open to the 'gpio' group"
        case (.openChip, ENOTTY), (.openChip, ENODEV):
            "That file is not a GPIO chip"
        case (.requestLines, EBUSY):
            "Another program, or another request in this one, holds the line; `gpioinfo` shows its consumer"
        default:
            nil
        }
    }
}

extension GPIOError.Operation {
    fileprivate var phrase: String {
        switch self {
        case .openChip(.name(let name)):
            "open GPIO chip \"\(name)\" (/dev/\(name))"
        case .openChip(.path(let path)):
            "open GPIO chip \(path)"
        case .openChip(.label(let label)):
            "open the GPIO chip labelled \"\(label)\""
        case .openChip(.number(let number)):
            "open GPIO chip number \(number) (/dev/gpiochip\(number))"
        case .openChip(.lookup(let text)):
            "open GPIO chip \"\(text)\" (looked up as a chip number, label, name and path)"
        case .listChips:
            "list the GPIO chips in /dev"
        case .readLineInfo(let chip, let offset):
            "read the state of line \(offset) of \(chip)"
        case .requestLines(let chip, let offsets, let options):
            "request \(lines(offsets)) of \(chip) \(options.kind.phrase) for \"\(options.consumer)\""
        case .readValues(let chip, let offsets):
            "read \(lines(offsets)) of \(chip)"
        case .setValues(let chip, let offsets):
            "set \(lines(offsets)) of \(chip)"
        case .waitForEvents(let chip, let offsets):
            "wait for edge events on \(lines(offsets)) of \(chip)"
        case .readEvents(let chip, let offset):
            "read edge events from line \(offset) of \(chip)"
        case .getEventFileDescriptor(let chip, let offset):
            "get the event file descriptor of line \(offset) of \(chip)"
        }
    }
}

extension GPIORequestOptions.Kind {
    fileprivate var phrase: String {
        switch self {
        case .input: "as an input"
        case .output: "as an output"
        case .edgeEvents(.rising): "for rising-edge events"
        case .edgeEvents(.falling): "for falling-edge events"
        case .edgeEvents(.both): "for rising- and falling-edge events"
        }
    }
}

extension GPIOError.Reason {
    fileprivate var phrase: String {
        switch self {
        case .system(let code, let message, let function):
            "\(message) (errno \(code), from \(function))"
        case .noLines:
            "no line offsets were given"
        case .tooManyLines(let count, let limit):
            "\(count) lines were given, but libgpiod v1 takes at most \(limit) lines in one request"
        case .duplicateOffsets(let offsets):
            "\(lines(offsets)) \(offsets.count == 1 ? "is" : "are") listed more than once"
        case .openDrainAndOpenSource:
            "a line cannot be open-drain and open-source at the same time"
        case .openDrainOnInput:
            "open-drain applies only to outputs"
        case .openSourceOnInput:
            "open-source applies only to outputs"
        case .initialValueCount(let given, let lines):
            "\(given) initial values were given for \(lines) lines"
        case .valueCount(let given, let lines):
            "\(given) values were given for \(lines) lines"
        case .notOutput:
            "the lines were not requested as outputs"
        case .notEdgeEvents:
            "the lines were not requested for edge events"
        case .offsetNotRequested(let offset):
            "line \(offset) is not part of this request"
        case .offsetOutOfRange(let lineCount):
            lineCount == 0 ? "the chip has no lines" : "the chip's lines are numbered 0 to \(lineCount - 1)"
        }
    }
}

/// "line 4", "lines 4, 5, 6", or for long lists "70 lines (0, 1, 2, 3, 4, 5, 6, 7, …)".
private func lines(_ offsets: [UInt32]) -> String {
    let shown = 8
    let list = offsets.prefix(shown).map(String.init).joined(separator: ", ")
    switch offsets.count {
    case 0: return "no lines"
    case 1: return "line \(list)"
    case ...shown: return "lines \(list)"
    default: return "\(offsets.count) lines (\(list), …)"
    }
}
