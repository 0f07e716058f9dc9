import Glibc
import HAL

/// A serial line to an instrument (`ASRL/dev/ttyUSB0::INSTR`), over termios.
///
/// The device is opened at once with O_RDWR | O_NOCTTY | O_NONBLOCK (so the instrument never becomes this
/// process's controlling terminal and modem lines cannot block the open), set to raw mode with the asked
/// ``SerialSettings``, and read back with tcgetattr: a device that does not keep a setting (a baud rate its
/// UART lacks, or a pseudo-terminal, which always reports 8 data bits without parity) makes the open throw
/// `.connectFailed` naming the device and what it reported. Reads and writes wait with poll.
///
/// A serial line does not reconnect: if the device goes away (a USB adapter unplugged, the far side of a
/// pseudo-terminal closed), operations throw `.disconnected` until a new transport is opened.
/// Not `Sendable`: one session owns one transport.
public final class SerialTransport: ByteTransport {
    public let resource: ResourceName
    public let device: String
    public let settings: SerialSettings
    private var descriptor: Int32?

    /// Opens `device` (e.g. /dev/ttyUSB0) and configures it; `board` is the ASRL number when the resource
    /// was named `ASRL<n>::INSTR`.
    public init(device: String, board: Int? = nil, settings: SerialSettings = SerialSettings()) throws(TransportError) {
        let resource = ResourceName(.serial(board: board, device: device))
        let operation = "open \(device) at \(settings)"
        guard let speed = settings.speed else {
            let rates = SerialSettings.supportedBaudRates.map(String.init).joined(separator: ", ")
            throw TransportError(
                resource: resource, operation: operation,
                kind: .connectFailed(
                    errno: EINVAL, message: "\(settings.baudRate) baud is not a supported rate; use one of \(rates)"))
        }
        let flags = O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC
        let descriptor: Int32
        switch systemCall("open", { open(device, flags) }) {
        case .success(let value): descriptor = value
        case .failure(let failure): throw failure.connectError(resource, operation)
        }
        do {
            try Self.configure(descriptor, settings, speed, resource, operation)
        } catch {
            closeDescriptor(descriptor)
            throw error
        }
        self.resource = resource
        self.device = device
        self.settings = settings
        self.descriptor = descriptor
    }

    deinit {
        if let descriptor { closeDescriptor(descriptor) }
    }

    /// tcgetattr, raw mode with the settings, cfsetispeed/cfsetospeed, tcsetattr(TCSANOW), tcflush of what
    /// arrived before, then tcgetattr again to check that the device kept every setting.
    private static func configure(
        _ descriptor: Int32, _ settings: SerialSettings, _ speed: speed_t, _ resource: ResourceName,
        _ operation: String
    ) throws(TransportError) {
        var attributes = termios()
        _ = try systemCall("tcgetattr", resource, operation) { tcgetattr(descriptor, &attributes) }
        settings.apply(to: &attributes)
        _ = try systemCall("cfsetispeed", resource, operation) { cfsetispeed(&attributes, speed) }
        _ = try systemCall("cfsetospeed", resource, operation) { cfsetospeed(&attributes, speed) }
        _ = try systemCall("tcsetattr", resource, operation) { tcsetattr(descriptor, TCSANOW, &attributes) }
        _ = try systemCall("tcflush", resource, operation) { tcflush(descriptor, TCIOFLUSH) }
        var applied = termios()
        _ = try systemCall("tcgetattr", resource, operation) { tcgetattr(descriptor, &applied) }
        let kept = SerialSettings(reading: applied)
        guard kept == settings else {
            let reported = kept.map { "\($0)" } ?? "a framing this driver does not use"
            throw TransportError(
                resource: resource, operation: operation,
                kind: .connectFailed(
                    errno: EINVAL, message: "the device did not keep the settings; it reports \(reported)"))
        }
    }

    /// Writes all of `bytes` with write(2), polling for POLLOUT while the output queue is full (or flow
    /// control holds it).
    public func write(_ bytes: UnsafeRawBufferPointer, timeout: Duration) throws(TransportError) {
        let deadline = Deadline(after: timeout)
        let descriptor = try openDescriptor("write")
        let operation = "write \(bytes.count) bytes"
        var written = 0
        while written < bytes.count {
            switch systemCall("write", { Glibc.write(descriptor, bytes.baseAddress! + written, bytes.count - written) }) {
            case .success(let count):
                written += count
            case .failure(let failure) where failure.errno == EAGAIN:
                let ready = try poll(descriptor, for: Int16(POLLOUT), until: deadline, resource, operation)
                guard ready.isReady else {
                    throw TransportError(resource: resource, operation: operation, kind: .timeout)
                }
            case .failure(let failure):
                throw lineError(failure, operation)
            }
        }
    }

    /// Waits with poll for POLLIN up to `timeout`, then reads what is there with read(2).
    public func read(into buffer: UnsafeMutableRawBufferPointer, timeout: Duration) throws(TransportError) -> Int {
        precondition(buffer.count > 0, "read needs room for at least one byte")
        let deadline = Deadline(after: timeout)
        let operation = "read"
        let descriptor = try openDescriptor(operation)
        while true {
            let ready = try poll(descriptor, for: Int16(POLLIN), until: deadline, resource, operation)
            guard ready.isReady else {
                throw TransportError(resource: resource, operation: operation, kind: .timeout)
            }
            switch systemCall("read", { Glibc.read(descriptor, buffer.baseAddress, buffer.count) }) {
            case .success(0) where ready.hasHangUp:
                throw TransportError(resource: resource, operation: operation, kind: .disconnected)
            case .success(0):
                continue
            case .failure(let failure) where failure.errno == EAGAIN:
                continue
            case .success(let count):
                return count
            case .failure(let failure):
                throw lineError(failure, operation)
            }
        }
    }

    /// Drops what arrived but was not read (tcflush with TCIFLUSH).
    public func discardInput() throws(TransportError) {
        let descriptor = try openDescriptor("discard input")
        _ = try systemCall("tcflush", resource, "discard input") { tcflush(descriptor, TCIFLUSH) }
    }

    /// Closes the device; later operations throw `.closed`.
    public func close() {
        if let descriptor { closeDescriptor(descriptor) }
        descriptor = nil
    }

    private func openDescriptor(_ operation: String) throws(TransportError) -> Int32 {
        guard let descriptor else {
            throw TransportError(resource: resource, operation: operation, kind: .closed)
        }
        return descriptor
    }

    /// EIO and ENXIO mean the device went away (hang-up, adapter unplugged): `.disconnected`.
    private func lineError(_ failure: SystemCallFailure, _ operation: String) -> TransportError {
        if failure.errno == EIO || failure.errno == ENXIO || failure.errno == ENODEV {
            return TransportError(resource: resource, operation: operation, kind: .disconnected)
        }
        return failure.transportError(resource, operation)
    }
}
