import Glibc
import HAL

/// How ``openTransport(_:options:)`` sets up each kind of transport.
public struct TransportOptions: Sendable, Hashable {
    /// For `TCPIP::host::port::SOCKET`.
    public var tcp: TCPTransport.Options
    /// For `ASRL…::INSTR`.
    public var serial: SerialSettings

    public init(tcp: TCPTransport.Options = TCPTransport.Options(), serial: SerialSettings = SerialSettings()) {
        self.tcp = tcp
        self.serial = serial
    }
}

/// The byte transport for `resource`: a ``TCPTransport`` for `TCPIP…::SOCKET` (connected lazily, on its
/// first operation) or a ``SerialTransport`` for `ASRL…::INSTR` (opened and configured now).
///
/// The emulator's `LOOPBACK::` transports are made by the emulator, GPIO lines are not byte streams (open
/// them with ``GPIODigitalLine``), and USBTMC (`USB…::INSTR`) has no transport yet: for those this throws
/// `.connectFailed` with EPROTONOSUPPORT and a sentence saying so.
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
        elsewhere = "USBTMC is not supported yet; reach the instrument through its LAN port as TCPIP::host::port::SOCKET"
    case .loopback:
        elsewhere = "loopback transports are made by the emulator in this process, not by openTransport"
    case .gpio:
        elsewhere = "a GPIO line is not a byte stream; open it with GPIODigitalLine"
    }
    throw TransportError(
        resource: resource, operation: "open", kind: .connectFailed(errno: EPROTONOSUPPORT, message: elsewhere))
}
