import Glibc
import HAL

/// How ``openTransport(_:options:)`` sets up each kind of transport.
public struct TransportOptions: Sendable, Hashable {
    /// For `TCPIP::host::port::SOCKET`.
    public var tcp: TCPTransport.Options
    /// For `ASRL…::INSTR`.
    public var serial: SerialSettings
    /// For `USB…::INSTR`.
    public var usbtmc: USBTMCTransport.Options

    public init(
        tcp: TCPTransport.Options = TCPTransport.Options(), serial: SerialSettings = SerialSettings(),
        usbtmc: USBTMCTransport.Options = USBTMCTransport.Options()
    ) {
        self.tcp = tcp
        self.serial = serial
        self.usbtmc = usbtmc
    }
}

/// The byte transport for `resource`: a ``TCPTransport`` for `TCPIP…::SOCKET` (connected lazily, on its
/// first operation), a ``SerialTransport`` for `ASRL…::INSTR` or a ``USBTMCTransport`` for `USB…::INSTR`
/// (both opened now).
///
/// The emulator's `LOOPBACK::` transports are made by the emulator and GPIO lines are not byte streams (open
/// them with ``GPIODigitalLine``): for those this throws `.connectFailed` with EPROTONOSUPPORT and a sentence
/// saying so.
public func openTransport(
    _ resource: ResourceName, options: TransportOptions = TransportOptions()
) throws(TransportError) -> sending any ByteTransport {
    let elsewhere: String
    switch resource.address {
    case .tcpSocket(let board, let host, let port):
        return TCPTransport(host: host, port: port, board: board, options: options.tcp)
    case .serial(let board, let device):
        return try SerialTransport(device: device, board: board, settings: options.serial)
    case .usb:
        return try USBTMCTransport(resource, options: options.usbtmc)
    case .loopback:
        elsewhere = "loopback transports are made by the emulator in this process, not by openTransport"
    case .gpio:
        elsewhere = "a GPIO line is not a byte stream; open it with GPIODigitalLine"
    }
    throw TransportError(
        resource: resource, operation: "open", kind: .connectFailed(errno: EPROTONOSUPPORT, message: elsewhere))
}
