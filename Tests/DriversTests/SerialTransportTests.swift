import Glibc
import HAL
import Testing

@testable import Drivers

@Suite("Serial transport on pseudo-terminals", .timeLimit(.minutes(1)))
struct SerialTransportTests {
    /// Settings a pseudo-terminal keeps (it always reports 8 data bits without parity).
    static let ptySettings: [SerialSettings] = [
        SerialSettings(),
        SerialSettings(baudRate: 19200, stopBits: .two, flowControl: .rtsCts),
        SerialSettings(baudRate: 57600, flowControl: .xonXoff),
        SerialSettings(baudRate: 115_200, stopBits: .two),
    ]

    @Test("The slave's termios read back as asked, in raw mode", arguments: ptySettings)
    func settingsReadBack(settings: SerialSettings) throws {
        let pty = try PseudoTerminal()
        let transport = try SerialTransport(device: pty.slavePath, settings: settings)
        var attributes = try pty.slaveAttributes()
        let speed = settings.speed!
        #expect(cfgetospeed(&attributes) == speed)
        #expect(cfgetispeed(&attributes) == speed)
        #expect(attributes.c_cflag & tcflag_t(CSIZE) == tcflag_t(CS8))
        #expect(attributes.c_cflag & tcflag_t(PARENB) == 0)
        #expect((attributes.c_cflag & tcflag_t(CSTOPB) != 0) == (settings.stopBits == .two))
        #expect((attributes.c_cflag & CRTSCTS != 0) == (settings.flowControl == .rtsCts))
        let software = tcflag_t(IXON | IXOFF)
        #expect((attributes.c_iflag & software == software) == (settings.flowControl == .xonXoff))
        #expect(attributes.c_lflag & tcflag_t(ICANON | ECHO | ISIG | IEXTEN) == 0)
        #expect(attributes.c_oflag & tcflag_t(OPOST) == 0)
        #expect(attributes.c_cflag & tcflag_t(CLOCAL | CREAD) == tcflag_t(CLOCAL | CREAD))
        #expect(SerialSettings(reading: attributes) == settings)
        #expect(transport.resource.description == "ASRL\(pty.slavePath)::INSTR")
    }

    @Test("Bytes cross the line both ways, unchanged by line discipline", arguments: ptySettings)
    func dataBothWays(settings: SerialSettings) throws {
        let pty = try PseudoTerminal()
        let transport = try SerialTransport(device: pty.slavePath, settings: settings)
        try transport.write(Array("*IDN?\r\n".utf8), timeout: .seconds(5))
        #expect(try pty.receive(7) == Array("*IDN?\r\n".utf8))
        try pty.send("LSCI,MODEL372,1234,1.0\r\n")
        #expect(try read(24, from: transport) == Array("LSCI,MODEL372,1234,1.0\r\n".utf8))
    }

    @Test("7 data bits and parity map to CS7, PARENB and PARODD, and read back", arguments: [
        SerialSettings(baudRate: 9600, dataBits: .seven, parity: .odd, stopBits: .one),
        SerialSettings(baudRate: 300, dataBits: .seven, parity: .even, stopBits: .two, flowControl: .xonXoff),
        SerialSettings(baudRate: 4_000_000, dataBits: .seven, parity: .none, flowControl: .rtsCts),
        SerialSettings(baudRate: 2400, dataBits: .eight, parity: .even),
    ])
    func framingFlags(settings: SerialSettings) {
        var attributes = termios()
        settings.apply(to: &attributes)
        #expect(cfsetospeed(&attributes, settings.speed!) == 0)
        let cflag = attributes.c_cflag
        #expect(cflag & tcflag_t(CSIZE) == tcflag_t(settings.dataBits == .seven ? CS7 : CS8))
        #expect((cflag & tcflag_t(PARENB) != 0) == (settings.parity != .none))
        #expect((cflag & tcflag_t(PARODD) != 0) == (settings.parity == .odd))
        #expect(SerialSettings(reading: attributes) == settings)
    }

    @Test("A setting the device does not keep throws, naming the device and what it reports")
    func deviceRefusesFraming() throws {
        let pty = try PseudoTerminal()
        let asked = SerialSettings(baudRate: 9600, dataBits: .seven, parity: .even)
        let error = #expect(throws: TransportError.self) { try SerialTransport(device: pty.slavePath, settings: asked) }
        guard case .connectFailed(let code, let message) = error?.kind else {
            Issue.record("expected connectFailed, got \(String(describing: error))")
            return
        }
        #expect(code == EINVAL)
        #expect(message.contains("9600 8N1"))
        #expect(error?.description.contains(pty.slavePath) == true)
        #expect(error?.description.contains("7E1") == true)
    }

    @Test("An unsupported baud rate throws before the device is opened", arguments: [12345, 0, -9600, 14400])
    func unsupportedBaud(rate: Int) throws {
        let pty = try PseudoTerminal()
        let error = #expect(throws: TransportError.self) {
            try SerialTransport(device: pty.slavePath, settings: SerialSettings(baudRate: rate))
        }
        #expect(error?.kind == .connectFailed(
            errno: EINVAL,
            message: "\(rate) baud is not a supported rate; use one of "
                + SerialSettings.supportedBaudRates.map(String.init).joined(separator: ", ")))
        #expect(error?.description.contains(pty.slavePath) == true)
        #expect([9600, 19200, 57600, 115_200].allSatisfy(SerialSettings.supportedBaudRates.contains))
    }

    @Test("A device that does not exist fails with ENOENT, naming it")
    func missingDevice() {
        let error = #expect(throws: TransportError.self) { try SerialTransport(device: "/dev/ttyQR-nonexistent") }
        #expect(error?.errno == ENOENT)
        #expect(error?.description.contains("/dev/ttyQR-nonexistent") == true)
    }

    @Test("A read with nothing to read times out")
    func readTimeout() throws {
        let pty = try PseudoTerminal()
        let transport = try SerialTransport(device: pty.slavePath)
        let error = #expect(throws: TransportError.self) { try read(1, from: transport, timeout: .milliseconds(50)) }
        #expect(error?.kind == .timeout)
        #expect(error?.resource == transport.resource)
    }

    @Test("discardInput drops what arrived unread")
    func discardsInput() throws {
        let pty = try PseudoTerminal()
        let transport = try SerialTransport(device: pty.slavePath)
        try pty.send("stale")
        try pty.waitUntilSlaveReadable()
        try transport.discardInput()
        try pty.send("fresh\n")
        #expect(try read(6, from: transport) == Array("fresh\n".utf8))
    }

    @Test("Hanging up the far side is .disconnected")
    func hangUp() throws {
        let pty = try PseudoTerminal()
        let transport = try SerialTransport(device: pty.slavePath)
        pty.closeMaster()
        let error = #expect(throws: TransportError.self) { try read(1, from: transport, timeout: .seconds(5)) }
        #expect(error?.kind == .disconnected)
    }

    @Test("After close every operation throws .closed")
    func closed() throws {
        let pty = try PseudoTerminal()
        let transport = try SerialTransport(device: pty.slavePath)
        transport.close()
        let error = #expect(throws: TransportError.self) { try transport.write(Array("x".utf8), timeout: .seconds(1)) }
        #expect(error?.kind == .closed)
        #expect(throws: TransportError.self) { try transport.discardInput() }
    }

    @Test("An SCPI session runs over the serial line just as over TCP, dropping a stale reply first")
    func scpiOverSerial() throws {
        let pty = try PseudoTerminal()
        let resource = try ResourceName(parsing: "ASRL\(pty.slavePath)::INSTR")
        let transport = try openTransport(resource, options: TransportOptions(serial: SerialSettings(baudRate: 57600)))
        #expect(transport is SerialTransport)
        let session = SCPISession(
            transport: transport, instrument: "Lake Shore 372 at \(resource)", writeTerminator: "\r\n",
            readTerminator: "\r\n", timeout: .seconds(10))
        try pty.send("LSCI,MODEL372,STALE,0.0\r\n")
        try pty.waitUntilSlaveReadable()

        let identify = Background { () throws(InstrumentError) in try session.identify() }
        #expect(try pty.receive(7) == Array("*IDN?\r\n".utf8))
        try pty.send("LSCI,MODEL372,LSA9876,1.4\r\n")
        let identity = try #require(identify.result()).get()
        #expect(identity == InstrumentIdentity(manufacturer: "LSCI", model: "MODEL372", serialNumber: "LSA9876", firmware: "1.4"))
    }
}
