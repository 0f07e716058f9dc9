import HAL
import Testing

@Suite("VISA-style resource names")
struct ResourceNameTests {
    @Test("Well-formed names parse to their addresses and print canonically", arguments: [
        ("TCPIP0::127.0.0.1::7777::SOCKET", ResourceName.Address.tcpSocket(board: 0, host: "127.0.0.1", port: 7777),
         "TCPIP0::127.0.0.1::7777::SOCKET"),
        ("tcpip::fridge.lab::33576::socket", .tcpSocket(board: 0, host: "fridge.lab", port: 33576),
         "TCPIP0::fridge.lab::33576::SOCKET"),
        ("TCPIP2::10.0.0.5::5025::SOCKET", .tcpSocket(board: 2, host: "10.0.0.5", port: 5025),
         "TCPIP2::10.0.0.5::5025::SOCKET"),
        ("ASRL/dev/ttyUSB0::INSTR", .serial(board: nil, device: "/dev/ttyUSB0"), "ASRL/dev/ttyUSB0::INSTR"),
        ("ASRL1::INSTR", .serial(board: 1, device: "/dev/ttyS0"), "ASRL1::INSTR"),
        ("USB0::0x0957::0x2807::MY1234::INSTR",
         .usb(board: 0, vendor: 0x0957, product: 0x2807, serial: "MY1234", interface: nil),
         "USB0::0x0957::0x2807::MY1234::INSTR"),
        ("USB::2391::10247::MY1234::0::INSTR",
         .usb(board: 0, vendor: 0x0957, product: 0x2807, serial: "MY1234", interface: 0),
         "USB0::0x0957::0x2807::MY1234::0::INSTR"),
        ("GPIO::gpiochip0::17", .gpio(chip: "gpiochip0", line: 17), "GPIO::gpiochip0::17"),
        ("  LOOPBACK::ls372-mxc ", .loopback(id: "ls372-mxc"), "LOOPBACK::ls372-mxc"),
        ("TCPIP0::127.0.0.1::7777::SOCKET\r\n", .tcpSocket(board: 0, host: "127.0.0.1", port: 7777),
         "TCPIP0::127.0.0.1::7777::SOCKET"),
    ])
    func parses(text: String, address: ResourceName.Address, canonical: String) throws {
        let name = try ResourceName(parsing: text)
        #expect(name.address == address)
        #expect(name.description == canonical)
        #expect(try ResourceName(parsing: canonical) == name)
    }

    @Test("Malformed names say what is wrong", arguments: [
        ("", "empty"),
        ("TCPIP0::127.0.0.1::7777", "expected TCPIP[board]::host::port::SOCKET"),
        ("TCPIP0::127.0.0.1::70000::SOCKET", "port 70000 is outside 1–65535"),
        ("TCPIP0::127.0.0.1::0::SOCKET", "port 0 is outside 1–65535"),
        ("TCPIP0::127.0.0.1::http::SOCKET", "port 'http' is not a number"),
        ("TCPIP0::10.0.0.5::inst0::INSTR", "VXI-11/HiSLIP"),
        ("TCPIPx::1.2.3.4::5025::SOCKET", "board number"),
        ("TCPIP0::::5025::SOCKET", "field 2 is empty"),
        ("ASRL::INSTR", "port number from 1"),
        ("ASRL0::INSTR", "port number from 1"),
        ("ASRL/dev/ttyUSB0", "expected ASRL<n>::INSTR"),
        ("USB0::0x0957::0x2807::INSTR", "expected USB[board]::vendor::product::serial"),
        ("USB0::0xZZZZ::0x2807::MY1::INSTR", "vendor id '0xZZZZ'"),
        ("USB0::0x0957::0x12345::MY1::INSTR", "product id '0x12345'"),
        ("USB0::0x0957::0x2807::MY1::300::INSTR", "interface '300'"),
        ("GPIO::gpiochip0", "expected GPIO::<chip>::<line offset>"),
        ("GPIO::gpiochip0::-1", "line offset '-1'"),
        ("LOOPBACK", "expected LOOPBACK::<instrument-id>"),
        ("GPIB0::12::INSTR", "unknown interface 'GPIB0'"),
        ("TCPIP0::host::5025::SOCKET::", "field 5 is empty"),
    ])
    func malformed(text: String, reason: String) {
        let error = #expect(throws: ResourceNameError.self) { try ResourceName(parsing: text) }
        #expect(error?.input == text)
        #expect(error?.reason.contains(reason) == true, "\(error?.reason ?? "no error")")
        #expect(error?.description.contains("\"\(text)\"") == true)
    }
}

@Suite("HAL value types")
struct HALValueTests {
    @Test("Reading status decodes the 372's RDGST bitmask")
    func readingStatus() {
        let status = ReadingStatus(rawValue: 16 + 64)
        #expect(status == [.resistanceOverRange, .temperatureOverRange])
        #expect(!TemperatureReading(channel: "1", temperature: nil, resistance: nil, status: status).isValid)
        #expect(TemperatureReading(channel: "1", temperature: nil, resistance: nil, status: []).isValid)
        #expect(ReadingStatus(rawValue: 255).contains(.currentSourceOverload))
    }

    @Test("Errors name the instrument, the command and what came back")
    func errorText() throws {
        let resource = try ResourceName(parsing: "TCPIP0::127.0.0.1::7777::SOCKET")
        let timeout = InstrumentError(
            instrument: "Lake Shore 372 at \(resource)", command: "KRDG? 6",
            kind: .transport(TransportError(resource: resource, operation: "read", kind: .timeout)))
        #expect(timeout.description == "Lake Shore 372 at TCPIP0::127.0.0.1::7777::SOCKET, command \"KRDG? 6\": TCPIP0::127.0.0.1::7777::SOCKET: read: timed out")
        let garbled = InstrumentError(
            instrument: "Lake Shore 372", command: "RDGST? 1", kind: .unexpectedReply(reply: "x", expected: "an integer bitmask"))
        #expect(garbled.description.contains("expected an integer bitmask, got \"x\""))
    }
}
