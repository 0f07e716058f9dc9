import Glibc
import HAL
import Testing

@testable import Drivers

@Suite("Opening transports and GPIO lines by resource name")
struct OpenTransportTests {
    @Test("A TCPIP SOCKET resource gives a TCP transport that has not connected yet")
    func tcp() throws {
        let resource = try ResourceName(parsing: "TCPIP0::127.0.0.1::7777::SOCKET")
        let transport = try openTransport(resource)
        let tcp = try #require(transport as? TCPTransport)
        #expect(tcp.host == "127.0.0.1" && tcp.port == 7777)
        #expect(tcp.resource == resource)
        #expect(!tcp.isConnected && tcp.recentConnectAttempts.isEmpty)
    }

    @Test("A missing serial device is connectFailed naming it")
    func missingSerial() throws {
        let resource = try ResourceName(parsing: "ASRL/dev/ttyQR-none::INSTR")
        let error = #expect(throws: TransportError.self) { try openTransport(resource) }
        #expect(error?.resource == resource)
        #expect(error?.errno == ENOENT)
    }

    @Test("A USBTMC resource without that device attached is connectFailed naming the ids and what was found")
    func missingUSBDevice() throws {
        let resource = try ResourceName(parsing: "USB0::0x0957::0x2807::QR-NO-SUCH-SERIAL::INSTR")
        let error = #expect(throws: TransportError.self) { try openTransport(resource) }
        guard case .connectFailed(let code, let message) = error?.kind else {
            Issue.record("expected connectFailed, got \(String(describing: error))")
            return
        }
        // With a USB bus: no such device (ENODEV) and what is attached; without one, why libusb could not look.
        #expect(code != EPROTONOSUPPORT && code != 0)
        #expect(message.contains("0x0957:0x2807"), "\(message)")
        #expect(message.contains("QR-NO-SUCH-SERIAL"), "\(message)")
        if code == ENODEV {
            #expect(message.contains("attached"), "\(message)")
        }
        #expect(error?.description.hasPrefix(resource.description) == true)
    }

    @Test("Loopback and GPIO resources are refused with where to open them", arguments: [
        ("LOOPBACK::ls372", "emulator"),
        ("GPIO::gpiochip0::17", "GPIODigitalLine"),
    ])
    func elsewhere(name: String, hint: String) throws {
        let resource = try ResourceName(parsing: name)
        let error = #expect(throws: TransportError.self) { try openTransport(resource) }
        guard case .connectFailed(let code, let message) = error?.kind else {
            Issue.record("expected connectFailed, got \(String(describing: error))")
            return
        }
        #expect(code == EPROTONOSUPPORT)
        #expect(message.contains(hint))
        #expect(error?.description.hasPrefix(resource.description) == true)
    }

    @Test("A GPIO line on a machine without that chip fails naming the chip and the resource",
          arguments: [GPIODigitalLine.Direction.input, .output(initiallyActive: false)])
    func missingChip(direction: GPIODigitalLine.Direction) throws {
        let resource = try ResourceName(parsing: "GPIO::gpiochip0::17")
        let error = #expect(throws: InstrumentError.self) { try GPIODigitalLine(resource, direction: direction, activeLow: true) }
        #expect(error?.instrument == "GPIO line GPIO::gpiochip0::17")
        guard case .transport(let transport) = error?.kind, case .connectFailed(let code, let message) = transport.kind else {
            Issue.record("expected a connect failure, got \(String(describing: error))")
            return
        }
        #expect(code == ENOENT)
        #expect(message.contains("gpiochip0"))
        #expect(transport.resource == resource)
        #expect(error?.description.contains("gpiochip0") == true)
    }

    @Test("A resource that is not a GPIO line is an invalid argument for GPIODigitalLine")
    func notGPIO() throws {
        let resource = try ResourceName(parsing: "TCPIP0::127.0.0.1::7777::SOCKET")
        let error = #expect(throws: InstrumentError.self) { try GPIODigitalLine(resource, direction: .input) }
        guard case .invalidArgument(let reason) = error?.kind else {
            Issue.record("expected invalidArgument, got \(String(describing: error))")
            return
        }
        #expect(reason.contains("GPIO::<chip>::<line offset>"))
    }
}
