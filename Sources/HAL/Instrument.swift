/// Who an instrument says it is, from `*IDN?` or its own identification command.
public struct InstrumentIdentity: Sendable, Hashable, CustomStringConvertible {
    public var manufacturer: String
    public var model: String
    public var serialNumber: String
    public var firmware: String

    public init(manufacturer: String, model: String, serialNumber: String, firmware: String) {
        self.manufacturer = manufacturer
        self.model = model
        self.serialNumber = serialNumber
        self.firmware = firmware
    }

    public var description: String { "\(manufacturer) \(model) (serial \(serialNumber), firmware \(firmware))" }
}

/// One entry of an instrument's error queue, e.g. `-113,"Undefined header"`.
public struct InstrumentQueueError: Sendable, Hashable, CustomStringConvertible {
    public var code: Int
    public var message: String

    public init(code: Int, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code), \"\(message)\"" }
}

/// Every instrument: identity, reset and its error queue.
public protocol Instrument: AnyObject, Sendable {
    /// Where the instrument is.
    var resource: ResourceName { get }
    /// Asks the instrument who it is.
    func identify() throws(InstrumentError) -> InstrumentIdentity
    /// Returns the instrument to its power-up settings.
    func reset() throws(InstrumentError)
    /// Drains the instrument's error queue; empty when it has nothing to report.
    func errorQueue() throws(InstrumentError) -> [InstrumentQueueError]
}

/// A failed instrument operation, in the words a lab user needs: which instrument, which command,
/// what was expected and what came back.
public struct InstrumentError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The transport failed (timeout, disconnect, …).
        case transport(TransportError)
        /// A reply arrived but did not have the expected form.
        case unexpectedReply(reply: String, expected: String)
        /// The instrument refused the command (an error-queue entry, `NOT_FOUND`, a NAK, …).
        case refused(String)
        /// The caller asked for something the instrument cannot do (channel 17 of 16, say).
        case invalidArgument(String)
    }

    /// The instrument, e.g. `Lake Shore 372 at TCPIP0::127.0.0.1::7777::SOCKET`.
    public let instrument: String
    /// The command sent, when there was one.
    public let command: String?
    public let kind: Kind

    public init(instrument: String, command: String?, kind: Kind) {
        self.instrument = instrument
        self.command = command
        self.kind = kind
    }

    public var description: String {
        let prefix = command.map { "\(instrument), command \"\($0)\"" } ?? instrument
        switch kind {
        case let .transport(error): return "\(prefix): \(error)"
        case let .unexpectedReply(reply, expected): return "\(prefix): expected \(expected), got \"\(reply)\""
        case let .refused(reason): return "\(prefix): refused: \(reason)"
        case let .invalidArgument(reason): return "\(prefix): \(reason)"
        }
    }
}
