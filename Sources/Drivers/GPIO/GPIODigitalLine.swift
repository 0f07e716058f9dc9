import GPIO
import HAL

/// One GPIO line (`GPIO::gpiochip0::17`) as a trigger output or an interlock input, held through the GPIO
/// module (GPIOChip, then GPIOChip.requestLine). The line is released when this object goes away.
///
/// Errors name the resource: a chip that cannot be opened or a line that cannot be requested becomes
/// `.transport(.connectFailed)`, a failed read or write `.transport(.system)`, and a request libgpiod
/// refuses before calling the kernel (open-drain on an input, say) `.invalidArgument`.
/// Not `Sendable`: libgpiod v1 is not thread-safe.
public final class GPIODigitalLine: DigitalLine {
    public enum Direction: Sendable, Hashable {
        /// An input, such as an interlock.
        case input
        /// An output, such as a trigger, driven to `initiallyActive` when requested.
        case output(initiallyActive: Bool)
    }

    public let resource: ResourceName
    public let direction: Direction
    private let request: GPIOLineRequest

    /// Opens the chip named in `resource` and requests its line (gpiod_chip_open_by_name, then
    /// gpiod_line_request). With `activeLow`, active means the low level. `consumer` is the holder's name
    /// that gpioinfo shows.
    public init(
        _ resource: ResourceName, direction: Direction, activeLow: Bool = false, consumer: String = "qrrm"
    ) throws(InstrumentError) {
        guard case .gpio(let chipName, let offset) = resource.address else {
            throw InstrumentError(
                instrument: "GPIO line \(resource)", command: nil,
                kind: .invalidArgument("\(resource) is not a GPIO line; expected GPIO::<chip>::<line offset>"))
        }
        let kind: GPIORequestOptions.Kind
        let initialValue: Bool
        switch direction {
        case .input:
            (kind, initialValue) = (.input, false)
        case .output(let initiallyActive):
            (kind, initialValue) = (.output, initiallyActive)
        }
        let options = GPIORequestOptions(kind, consumer: consumer, activeLow: activeLow)
        do {
            let chip = try GPIOChip(opening: .name(chipName))
            request = try chip.requestLine(offset, options, initialValue: initialValue)
        } catch {
            throw Self.instrumentError(error, resource, operation: "open", opening: true)
        }
        self.resource = resource
        self.direction = direction
    }

    /// The line's logical level after active-low inversion (gpiod_line_get_value).
    public func isActive() throws(InstrumentError) -> Bool {
        do {
            return try request.value()
        } catch {
            throw Self.instrumentError(error, resource, operation: "read the level", opening: false)
        }
    }

    /// Drives an output line active or inactive (gpiod_line_set_value); an input throws `.invalidArgument`.
    public func setActive(_ active: Bool) throws(InstrumentError) {
        do {
            try request.setValue(active)
        } catch {
            throw Self.instrumentError(
                error, resource,
                operation: active ? "drive the line active" : "drive the line inactive", opening: false)
        }
    }

    /// A GPIOError as an InstrumentError naming `resource`, keeping GPIOError's sentence; a failed C call
    /// while opening is `.connectFailed`, later `.system`.
    static func instrumentError(
        _ error: GPIOError, _ resource: ResourceName, operation: String, opening: Bool
    ) -> InstrumentError {
        let instrument = "GPIO line \(resource)"
        guard let code = error.errno else {
            return InstrumentError(instrument: instrument, command: nil, kind: .invalidArgument(error.description))
        }
        let kind: TransportError.Kind =
            opening
            ? .connectFailed(errno: code, message: error.description)
            : .system(errno: code, message: error.description)
        return InstrumentError(
            instrument: instrument, command: nil,
            kind: .transport(TransportError(resource: resource, operation: operation, kind: kind)))
    }
}
