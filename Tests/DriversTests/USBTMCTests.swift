import Glibc
import HAL
import Testing

@testable import Drivers
@testable import USB

typealias USBTMCFault = USBTMCDeviceModel.Fault

private let resourceName = "USB0::0x0957::0x2807::MY1234::INSTR"

/// Options whose waits are short; the in-memory device answers at once anyway.
private func quickOptions(
    maxTransferSize: Int = 1 << 20, readChunkSize: Int = 1 << 16, termChar: UInt8? = 0x0A,
    messageTerminator: [UInt8]? = [0x0A]
) -> USBTMCTransport.Options {
    USBTMCTransport.Options(
        maxTransferSize: maxTransferSize, readChunkSize: readChunkSize, termChar: termChar,
        messageTerminator: messageTerminator, controlTimeout: .seconds(1), statusPollInterval: .milliseconds(1),
        recoveryTimeout: .seconds(5))
}

/// A transport over a fresh in-memory device.
private func makeTransport(
    _ configuration: USBTMCDeviceModel.Configuration = .init(), options: USBTMCTransport.Options = quickOptions()
) throws -> (USBTMCTestDevice, USBTMCTransport) {
    let device = USBTMCTestDevice(configuration)
    let transport = try USBTMCTransport(
        port: device, endpoints: device.endpoints, resource: ResourceName(parsing: resourceName), options: options)
    return (device, transport)
}

/// An SCPI session over a transport over a fresh in-memory device.
private func makeSession(
    _ configuration: USBTMCDeviceModel.Configuration = .init(), options: USBTMCTransport.Options = quickOptions()
) throws -> (USBTMCTestDevice, SCPISession) {
    let (device, transport) = try makeTransport(configuration, options: options)
    let session = SCPISession(
        transport: transport, instrument: "USB100 at \(resourceName)", settings: SCPISettings(timeout: .seconds(5)))
    return (device, session)
}

/// The 12 bytes of `header`.
private func bytes(of header: USBTMCBulkOutHeader) -> [UInt8] {
    var bytes = [UInt8](repeating: 0xAA, count: 12)
    bytes.withUnsafeMutableBytes { header.write(to: $0) }
    return bytes
}

/// Reads from `transport` until `count` bytes or a "\n" have arrived.
private func readLine(_ transport: USBTMCTransport) throws -> String {
    var line: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 7)
    while line.last != 0x0A {
        let count = try buffer.withUnsafeMutableBytes { buffer throws(TransportError) in
            try transport.read(into: buffer, timeout: .seconds(1))
        }
        line += buffer[..<count]
    }
    return String(decoding: line, as: UTF8.self)
}

private let clearSequence: [UInt8] = [USBTMC.Request.initiateClear.rawValue, USBTMC.Request.checkClearStatus.rawValue]

@Suite("USBTMC wire format")
struct USBTMCWireFormatTests {
    @Test("DEV_DEP_MSG_OUT headers are byte-exact (USBTMC 1.0 Tables 1 and 3)", arguments: [
        (UInt8(1), UInt32(5), true, [0x01, 0x01, 0xFE, 0x00, 0x05, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00] as [UInt8]),
        (0xFF, 0x0102_0304, false, [0x01, 0xFF, 0x00, 0x00, 0x04, 0x03, 0x02, 0x01, 0x00, 0x00, 0x00, 0x00]),
        (0x80, 0x0001_0000, true, [0x01, 0x80, 0x7F, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00]),
    ])
    func devDepMsgOut(tag: UInt8, size: UInt32, endOfMessage: Bool, expected: [UInt8]) {
        #expect(bytes(of: .devDepMsgOut(tag: tag, size: size, endOfMessage: endOfMessage)) == expected)
    }

    @Test("REQUEST_DEV_DEP_MSG_IN headers are byte-exact, with TermChar only when asked (Table 4)", arguments: [
        (UInt8(2), UInt32(0x0010_0000), UInt8?.some(0x0A),
            [0x02, 0x02, 0xFD, 0x00, 0x00, 0x00, 0x10, 0x00, 0x02, 0x0A, 0x00, 0x00] as [UInt8]),
        (0x7F, 0x34, nil, [0x02, 0x7F, 0x80, 0x00, 0x34, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]),
    ])
    func requestDevDepMsgIn(tag: UInt8, size: UInt32, termChar: UInt8?, expected: [UInt8]) {
        #expect(bytes(of: .requestDevDepMsgIn(tag: tag, size: size, termChar: termChar)) == expected)
    }

    @Test("bTag runs 1 through 255 and wraps to 1, never 0")
    func tagCycle() {
        #expect(USBTMC.tag(after: 0) == 1)
        #expect(USBTMC.tag(after: 1) == 2)
        #expect(USBTMC.tag(after: 254) == 255)
        #expect(USBTMC.tag(after: 255) == 1)
    }

    @Test("A DEV_DEP_MSG_IN header gives TransferSize, EOM and the TermChar flag (Table 9)")
    func devDepMsgIn() throws {
        let header: [UInt8] = [0x02, 0x07, 0xF8, 0x00, 0x05, 0x01, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00]
        let parsed = try header.withUnsafeBytes { bytes throws(USBTMCViolation) in
            try USBTMCDevDepMsgInHeader(parsing: bytes, answering: 7, requested: 0x105)
        }
        #expect(parsed.tag == 7 && parsed.transferSize == 0x105 && parsed.endOfMessage && parsed.endsWithTermChar)
        let partial: [UInt8] = [0x02, 0x07, 0xF8, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]
        let more = try partial.withUnsafeBytes { bytes throws(USBTMCViolation) in
            try USBTMCDevDepMsgInHeader(parsing: bytes, answering: 7, requested: 5)
        }
        #expect(!more.endOfMessage && !more.endsWithTermChar && more.transferSize == 5)
    }

    @Test("Malformed DEV_DEP_MSG_IN headers are refused, saying what is wrong", arguments: [
        ([0x02, 0x07, 0xF8, 0x00, 0x05, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00] as [UInt8], "shorter than its 12-byte header"),
        ([], "0 bytes long"),
        ([0x01, 0x07, 0xF8, 0x00, 0x05, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00], "MsgID 1, expected 2"),
        ([0x7F, 0x07, 0xF8, 0x00, 0x05, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00], "MsgID 127"),
        ([0x02, 0x08, 0xF7, 0x00, 0x05, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00], "bTag 8, expected 7"),
        ([0x02, 0x07, 0x07, 0x00, 0x05, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00], "bTagInverse 0x07, expected 0xf8"),
        ([0x02, 0x07, 0xF8, 0x00, 0x00, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00], "TransferSize 256, more than the 255"),
        ([0x02, 0x07, 0xF8, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x00, 0x00, 0x00], "TransferSize 4294967295"),
    ])
    func malformedReplyHeader(header: [UInt8], phrase: String) {
        let error = #expect(throws: USBTMCViolation.self) {
            try header.withUnsafeBytes { bytes throws(USBTMCViolation) in
                try USBTMCDevDepMsgInHeader(parsing: bytes, answering: 7, requested: 255)
            }
        }
        #expect(error?.message.contains(phrase) == true, "\(String(describing: error))")
    }

    @Test("GET_CAPABILITIES replies parse, with the USB488 fields only for a USB488 interface")
    func capabilities() throws {
        let reply: [UInt8] = [0x01, 0x00, 0x00, 0x01, 0x04, 0x01] + [UInt8](repeating: 0, count: 6)
            + [0x10, 0x01, 0x06, 0x0A] + [UInt8](repeating: 0, count: 8)
        let usb488 = try USBTMCCapabilities(parsing: reply[...], usb488: true)
        #expect(usb488.version == 0x0100 && usb488.acceptsIndicatorPulse && !usb488.isTalkOnly && !usb488.isListenOnly)
        #expect(usb488.supportsTermChar)
        let subclass = try #require(usb488.usb488)
        #expect(subclass.version == 0x0110 && subclass.isUSB4882 && subclass.acceptsRemoteLocal && !subclass.acceptsTrigger)
        #expect(subclass.understandsSCPI && !subclass.serviceRequest && subclass.remoteLocal && !subclass.deviceTrigger)
        let plain = try USBTMCCapabilities(parsing: reply[...], usb488: false)
        #expect(plain.usb488 == nil && plain.supportsTermChar)
        let short = try USBTMCCapabilities(parsing: [0x01, 0x00, 0x00, 0x01, 0x03, 0x00], usb488: true)
        #expect(short.usb488 == nil && !short.supportsTermChar && short.isTalkOnly && short.isListenOnly)
    }

    @Test("Malformed GET_CAPABILITIES replies are refused", arguments: [
        ([0x80, 0x00, 0x00, 0x01, 0x00, 0x01] as [UInt8], "STATUS_FAILED (0x80)"),
        ([0x01, 0x00, 0x00, 0x01, 0x00], "5 bytes long"),
        ([], "0 bytes long"),
        ([0x42, 0x00, 0x00, 0x01, 0x00, 0x00], "an undefined status (0x42)"),
    ])
    func malformedCapabilities(reply: [UInt8], phrase: String) {
        let error = #expect(throws: USBTMCViolation.self) { try USBTMCCapabilities(parsing: reply[...], usb488: true) }
        #expect(error?.message.contains(phrase) == true, "\(String(describing: error))")
    }

    @Test("Control replies must have the request's length; D0 says the bulk-IN FIFO holds data")
    func controlReplies() throws {
        let check = try USBTMCControlReply(parsing: [0x02, 0x01, 0, 0, 0, 0, 0, 0], to: .checkAbortBulkInStatus)
        #expect(check.status == .pending && check.bulkInHasData)
        let clear = try USBTMCControlReply(parsing: [0x01], to: .initiateClear)
        #expect(clear.status == .success && !clear.bulkInHasData)
        let error = #expect(throws: USBTMCViolation.self) {
            try USBTMCControlReply(parsing: [0x01, 0x05], to: .checkAbortBulkOutStatus)
        }
        #expect(error?.message == "the CHECK_ABORT_BULK_OUT_STATUS reply was 2 bytes long, expected 8")
    }

    @Test("Status codes read as the spec names them (Table 16)")
    func statusNames() {
        #expect(USBTMC.Status(rawValue: 0x81).description == "STATUS_TRANSFER_NOT_IN_PROGRESS (0x81)")
        #expect(USBTMC.Status(rawValue: 0x83).description == "STATUS_SPLIT_IN_PROGRESS (0x83)")
        #expect(USBTMC.Status.splitNotInProgress.rawValue == 0x82 && USBTMC.Status.pending.rawValue == 0x02)
    }
}

@Suite("Finding the USBTMC interface among a device's interfaces")
struct USBTMCInterfaceTests {
    typealias Setting = USBTMCEndpoints.Setting

    static let hid = Setting(
        interface: 0, alternateSetting: 0, interfaceClass: 0x03, interfaceSubclass: 0, interfaceProtocol: 0,
        endpoints: [.init(address: 0x83, transferType: .interrupt, maxPacketSize: 8)])
    static let usbtmc = Setting(
        interface: 1, alternateSetting: 0, interfaceClass: 0xFE, interfaceSubclass: 0x03, interfaceProtocol: 1,
        endpoints: [
            .init(address: 0x02, transferType: .bulk, maxPacketSize: 512),
            .init(address: 0x86, transferType: .bulk, maxPacketSize: 512),
            .init(address: 0x87, transferType: .interrupt, maxPacketSize: 2),
        ])

    @Test("The first USBTMC interface is chosen, with its bulk and interrupt endpoints")
    func found() throws {
        let endpoints = try USBTMCEndpoints(in: [Self.hid, Self.usbtmc], interface: nil)
        #expect(
            endpoints == USBTMCEndpoints(
                interface: 1, alternateSetting: 0, isUSB488: true, bulkOut: 0x02, bulkIn: 0x86,
                bulkInMaxPacketSize: 512, interruptIn: 0x87))
        #expect(try USBTMCEndpoints(in: [Self.hid, Self.usbtmc], interface: 1) == endpoints)
    }

    @Test("A missing or non-USBTMC interface is refused, listing what the device has", arguments: [
        ([USBTMCInterfaceTests.hid], nil, "none of its interfaces is USBTMC (class 0xfe, subclass 0x03); it has interface 0 (class 0x03, subclass 0x00)"),
        ([USBTMCInterfaceTests.hid, USBTMCInterfaceTests.usbtmc], 0, "interface 0 is not USBTMC"),
        ([USBTMCInterfaceTests.hid, USBTMCInterfaceTests.usbtmc], 5, "interface 5 is not USBTMC"),
        ([], nil, "it has no interfaces"),
    ] as [([Setting], Int?, String)])
    func notFound(settings: [Setting], interface: Int?, phrase: String) {
        let error = #expect(throws: USBTMCViolation.self) { try USBTMCEndpoints(in: settings, interface: interface) }
        #expect(error?.message.contains(phrase) == true, "\(String(describing: error))")
    }

    @Test("A USBTMC interface without both bulk endpoints is refused")
    func missingBulkIn() {
        let broken = Setting(
            interface: 0, alternateSetting: 0, interfaceClass: 0xFE, interfaceSubclass: 0x03, interfaceProtocol: 0,
            endpoints: [.init(address: 0x01, transferType: .bulk, maxPacketSize: 64)])
        let error = #expect(throws: USBTMCViolation.self) { try USBTMCEndpoints(in: [broken], interface: nil) }
        #expect(error?.message == "USBTMC interface 0 lacks a bulk-OUT or bulk-IN endpoint")
    }
}

@Suite("USBTMC transport against an in-memory device", .timeLimit(.minutes(1)))
struct USBTMCTransportTests {
    // MARK: Writing

    @Test("A write is one DEV_DEP_MSG_OUT, header, data and zero padding exactly as the device receives it")
    func writeBytes() throws {
        let (device, transport) = try makeTransport()
        try transport.write(Array("*IDN?\n".utf8), timeout: .seconds(1))
        #expect(
            device.bulkOutTransfers == [
                [0x01, 0x01, 0xFE, 0x00, 0x06, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00]
                    + Array("*IDN?\n".utf8) + [0x00, 0x00]
            ])
        #expect(device.received == ["*IDN?"])
        #expect(device.violations.isEmpty)
    }

    @Test("Every bulk-OUT transfer is padded to a multiple of 4 bytes", arguments: [1, 2, 3, 4, 5, 6, 7, 8, 1001])
    func alignment(length: Int) throws {
        let (device, transport) = try makeTransport()
        let command = "ECHO? " + String(repeating: "x", count: length)
        try transport.write(Array((command + "\n").utf8), timeout: .seconds(1))
        let sent = try #require(device.bulkOutTransfers.first)
        #expect(sent.count == (12 + command.utf8.count + 1 + 3) / 4 * 4)
        #expect(sent[(12 + command.utf8.count + 1)...].allSatisfy { $0 == 0 })
        #expect(device.violations.isEmpty)
        #expect(try readLine(transport) == String(repeating: "x", count: length) + "\n")
    }

    @Test("A message longer than the transfer size goes in several transfers, EOM on the last only")
    func splitWrite() throws {
        let (device, transport) = try makeTransport(options: quickOptions(maxTransferSize: 16))
        let command = "ECHO? " + String(repeating: "y", count: 33)
        try transport.write(Array((command + "\n").utf8), timeout: .seconds(1))
        let headers = device.events.compactMap { event -> [UInt32]? in
            guard case .bulkOut(1, let tag, let size, let attributes, _, let length) = event else { return nil }
            return [UInt32(tag), size, UInt32(attributes), UInt32(length)]
        }
        #expect(headers == [[1, 16, 0, 28], [2, 16, 0, 28], [3, 8, 1, 20]])
        #expect(device.received == [command])
        #expect(device.violations.isEmpty)
    }

    @Test("Nothing is sent for an empty write (TransferSize must be above 0)")
    func emptyWrite() throws {
        let (device, transport) = try makeTransport()
        try transport.write([], timeout: .seconds(1))
        #expect(device.bulkOutTransfers.isEmpty)
    }

    @Test("bTag counts 1 through 255 over writes and requests, then wraps to 1")
    func tagWrapAround() throws {
        let (device, transport) = try makeTransport()
        for index in 0..<150 {
            try transport.write(Array("ECHO? \(index)\n".utf8), timeout: .seconds(1))
            #expect(try readLine(transport) == "\(index)\n")
        }
        let tags = device.events.compactMap { event -> UInt8? in
            if case .bulkOut(_, let tag, _, _, _, _) = event { tag } else { nil }
        }
        #expect(tags.count == 300)
        #expect(tags == (0..<300).map { UInt8($0 % 255 + 1) })
        #expect(device.violations.isEmpty)
    }

    // MARK: Reading

    @Test("An SCPI session works over USBTMC: identify, write, query")
    func session() throws {
        let (device, session) = try makeSession()
        #expect(try session.identify() == InstrumentIdentity(manufacturer: "QR", model: "USB100", serialNumber: "SN42", firmware: "1.0"))
        try session.write("SET 42")
        #expect(try session.query("GET?") == "42")
        #expect(try session.query("ECHO? hello") == "hello")
        #expect(device.received == ["*IDN?", "SET 42", "GET?", "ECHO? hello"])
        #expect(device.violations.isEmpty)
        // The first exchange cleared what an earlier program might have left; the later ones did not.
        #expect(device.controlRequests == [USBTMC.Request.getCapabilities.rawValue] + clearSequence)
    }

    @Test("REQUEST_DEV_DEP_MSG_IN asks for TermChar only when the device supports it and options name one",
          arguments: [(true, UInt8?.some(0x0A), UInt8(0x02), UInt8(0x0A)), (false, 0x0A, 0, 0), (true, nil, 0, 0)])
    func termCharRequest(supported: Bool, termChar: UInt8?, attributes: UInt8, sent: UInt8) throws {
        var configuration = USBTMCDeviceModel.Configuration()
        configuration.supportsTermChar = supported
        let (device, transport) = try makeTransport(configuration, options: quickOptions(termChar: termChar))
        try transport.write(Array("*IDN?\n".utf8), timeout: .seconds(1))
        #expect(try readLine(transport) == "QR,USB100,SN42,1.0\n")
        let request = device.events.first { if case .bulkOut(2, _, _, _, _, _) = $0 { true } else { false } }
        guard case .bulkOut(_, _, let size, let attributesSeen, let termCharSeen, let length) = request else {
            Issue.record("no REQUEST_DEV_DEP_MSG_IN in \(device.events)")
            return
        }
        #expect(attributesSeen == attributes && termCharSeen == sent && length == 12)
        // 12 + TransferSize fills whole 64-byte packets.
        #expect((12 + Int(size)) % 64 == 0 && Int(size) >= 1 << 20)
    }

    @Test("A long reply spans many packets, chunks and transfers and comes back whole")
    func longReply() throws {
        var configuration = USBTMCDeviceModel.Configuration()
        configuration.maxTransferSize = 4000
        let (device, session) = try makeSession(configuration, options: quickOptions(readChunkSize: 256))
        let reply = try session.query("HUGE? 100000")
        #expect(reply == USBTMCTestInstrument.letters(100_000))
        let transfers = device.events.compactMap { event -> (Int, Bool)? in
            if case .bulkIn(_, let size, let end) = event { (size, end) } else { nil }
        }
        #expect(transfers.count == 26)
        #expect(transfers.dropLast().allSatisfy { $0 == (4000, false) })
        #expect(transfers.last.map { $0 == (1, true) } == true)
        #expect(device.violations.isEmpty)
    }

    @Test("Binary blocks come back whole, also when TermChar ends transfers at every newline in the data",
          arguments: [0, 1, 10, 5000])
    func binaryBlock(size: Int) throws {
        let (device, session) = try makeSession(options: quickOptions(readChunkSize: 128))
        #expect(try session.queryBinaryBlock("BLOCK? \(size)") == USBTMCTestInstrument.pattern(size))
        let data = USBTMCTestInstrument.pattern(size).reversed().map { $0 }
        try session.writeBinaryBlock(header: "DATA:ARB ", bytes: data)
        #expect(try session.queryBinaryBlock("DATA:ARB?") == data)
        #expect(device.violations.isEmpty)
        if size == 5000 {
            let partial = device.events.filter { if case .bulkIn(_, _, false) = $0 { true } else { false } }
            #expect(partial.count > 10)
        }
    }

    @Test("A message that ends (EOM) without the terminator gets it appended, unless the options say not to")
    func endOfMessage() throws {
        let (_, session) = try makeSession()
        #expect(try session.query("BARE?") == "bare")
        #expect(try session.query("ECHO? next") == "next")

        let (_, raw) = try makeTransport(options: quickOptions(messageTerminator: nil))
        try raw.write(Array("BARE?\n".utf8), timeout: .seconds(1))
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = try buffer.withUnsafeMutableBytes { buffer throws(TransportError) in
            try raw.read(into: buffer, timeout: .seconds(1))
        }
        #expect(Array(buffer[..<count]) == Array("bare".utf8))
    }

    @Test("Reads return at most the buffer's size and keep the rest for the next read")
    func partialReads() throws {
        let (_, transport) = try makeTransport()
        try transport.write(Array("ECHO? abcdefghijklmnopqrstuvwxyz\n".utf8), timeout: .seconds(1))
        #expect(try readLine(transport) == "abcdefghijklmnopqrstuvwxyz\n")
    }

    @Test("Unpadded replies are accepted")
    func unpaddedReply() throws {
        var configuration = USBTMCDeviceModel.Configuration()
        configuration.padsBulkIn = false
        let (device, session) = try makeSession(configuration)
        for text in ["a", "ab", "abc", "abcd"] {
            #expect(try session.query("ECHO? \(text)") == text)
        }
        #expect(device.violations.isEmpty)
    }

    @Test("A zero-length packet after a transfer that ended on a packet boundary is skipped")
    func zeroLengthPacket() throws {
        // 12 header bytes + 115 characters + "\n" = 128 bytes: two full packets, then a zero-length packet.
        let (device, session) = try makeSession(options: quickOptions(readChunkSize: 64))
        let text = String(repeating: "z", count: 115)
        #expect(try session.query("ECHO? \(text)") == text)
        #expect(!device.bulkInIsEmpty)
        #expect(try session.query("ECHO? after") == "after")
        #expect(device.violations.isEmpty)
    }

    // MARK: Faults

    @Test("A reply that breaks the protocol throws EPROTO naming the fault, clears the device, and the next command works",
          arguments: [
              (USBTMCFault.wrongMessageID, "MsgID 1, expected 2"),
              (.wrongTag, "bTag 5, expected 4 (the request's)"),
              (.wrongTagInverse, "bTagInverse 0x04, expected 0xfb"),
              (.shortHeader, "7 bytes long, shorter than its 12-byte header"),
              (.transferSizeAboveRequest, "more than the"),
              (.transferSizeLies, "announced TransferSize 103 but the transfer ended after 16 bytes, header included"),
              (.extraData, "carried 9 bytes after its TransferSize of 3"),
          ])
    func garbledReply(fault: USBTMCFault, phrase: String) throws {
        let (device, session) = try makeSession()
        #expect(try session.query("ECHO? ok") == "ok")
        device.clearEvents()
        device.inject(fault)
        let error = #expect(throws: InstrumentError.self) { try session.query("ECHO? hi") }
        guard case .transport(let transport) = error?.kind, case .system(let code, let message) = transport.kind else {
            Issue.record("expected a .system transport error, got \(String(describing: error))")
            return
        }
        #expect(code == EPROTO)
        #expect(message.contains(phrase), "\(message)")
        #expect(message.hasSuffix("the device was cleared (INITIATE_CLEAR)"))
        #expect(transport.description.hasPrefix(resourceName))
        #expect(device.controlRequests == clearSequence)
        #expect(device.events.last == .clearHalt(USBTMCDeviceModel.bulkOut))
        #expect(try session.query("ECHO? again") == "again")
        #expect(device.violations.isEmpty)
    }

    @Test("A device that never answers times out; the bulk-IN transfer is aborted with its bTag and the next command works")
    func silentDevice() throws {
        var configuration = USBTMCDeviceModel.Configuration()
        configuration.pendingChecks = 2
        let (device, session) = try makeSession(configuration)
        #expect(try session.query("ECHO? ok") == "ok")
        device.clearEvents()
        let error = #expect(throws: InstrumentError.self) { try session.query("SILENT?") }
        #expect(transportKind(error) == .timeout)
        let tag = try #require(device.requestTags.last)
        let abort = USBTMC.Request.initiateAbortBulkIn.rawValue
        let check = USBTMC.Request.checkAbortBulkInStatus.rawValue
        #expect(
            device.events.filter { if case .control = $0 { true } else { false } } == [
                .control(request: abort, requestType: 0xA2, value: UInt16(tag), index: 0x81, length: 2),
                .control(request: check, requestType: 0xA2, value: 0, index: 0x81, length: 8),
                .control(request: check, requestType: 0xA2, value: 0, index: 0x81, length: 8),
                .control(request: check, requestType: 0xA2, value: 0, index: 0x81, length: 8),
            ])
        #expect(try session.query("ECHO? again") == "again")
        #expect(device.violations.isEmpty)
    }

    @Test("A transfer that stops half-way times out; the abort reads out the rest, and the next command works")
    func stoppedTransfer() throws {
        let (device, session) = try makeSession(options: quickOptions(readChunkSize: 64))
        device.inject(.stopsAfterPackets(2))
        let error = #expect(throws: InstrumentError.self) { try session.query("HUGE? 1000") }
        #expect(transportKind(error) == .timeout)
        #expect(device.bulkInIsEmpty)
        #expect(device.controlRequests.suffix(2) == [3, 4])
        #expect(try session.query("ECHO? again") == "again")
        #expect(device.violations.isEmpty)
    }

    @Test("A late reply after a timeout is there for the next read, and discarded before the next command")
    func lateReply() throws {
        let (_, raw) = try makeTransport()
        try raw.write(Array("SLOW?\n".utf8), timeout: .seconds(1))
        var buffer = [UInt8](repeating: 0, count: 16)
        let error = #expect(throws: TransportError.self) {
            try buffer.withUnsafeMutableBytes { buffer throws(TransportError) in
                try raw.read(into: buffer, timeout: .seconds(1))
            }
        }
        #expect(error?.kind == .timeout)
        #expect(try readLine(raw) == "late\n")

        let (device, session) = try makeSession()
        #expect(throws: InstrumentError.self) { try session.query("SLOW?") }
        device.clearEvents()
        #expect(try session.query("ECHO? fresh") == "fresh")
        #expect(device.controlRequests == clearSequence)
    }

    @Test("A bulk-OUT transfer that times out is aborted with its bTag, the halt cleared, and the next command works")
    func bulkOutTimeout() throws {
        var configuration = USBTMCDeviceModel.Configuration()
        configuration.pendingChecks = 3
        let (device, session) = try makeSession(configuration)
        #expect(try session.query("ECHO? ok") == "ok")
        let tag = try #require(device.requestTags.last) + 1
        device.clearEvents()
        device.inject(.bulkOutTimesOut)
        let error = #expect(throws: InstrumentError.self) { try session.write("SET 1") }
        #expect(transportKind(error) == .timeout)
        let abort = USBTMC.Request.initiateAbortBulkOut.rawValue
        let check = USBTMC.Request.checkAbortBulkOutStatus.rawValue
        let checkEvent = USBTMCDeviceModel.Event.control(request: check, requestType: 0xA2, value: 0, index: 0x02, length: 8)
        #expect(
            device.events == [.control(request: abort, requestType: 0xA2, value: UInt16(tag), index: 0x02, length: 2)]
                + [USBTMCDeviceModel.Event](repeating: checkEvent, count: 4) + [.clearHalt(0x02)])
        try session.write("SET 2")
        #expect(try session.query("GET?") == "2")
        #expect(device.violations.isEmpty)
    }

    @Test("A stalled endpoint has its halt cleared and the device cleared; the error says it stalled",
          arguments: [(USBTMCFault.stallBulkOut, UInt8(0x02), "bulk-OUT"), (.stallBulkIn, 0x81, "bulk-IN")])
    func stall(fault: USBTMCFault, endpoint: UInt8, direction: String) throws {
        let (device, session) = try makeSession()
        #expect(try session.query("ECHO? ok") == "ok")
        device.clearEvents()
        device.inject(fault)
        let error = #expect(throws: InstrumentError.self) { try session.query("ECHO? hi") }
        guard case .transport(let transport) = error?.kind, case .system(let code, let message) = transport.kind else {
            Issue.record("expected a .system transport error, got \(String(describing: error))")
            return
        }
        #expect(code == EPIPE)
        #expect(message.contains("the \(direction) transfer bTag"))
        #expect(message.contains("stalled on endpoint \(hexByte(endpoint)) (LIBUSB_ERROR_PIPE)"))
        #expect(device.events.contains(.clearHalt(endpoint)))
        #expect(device.controlRequests == clearSequence)
        #expect(try session.query("ECHO? again") == "again")
        #expect(device.violations.isEmpty)
    }

    @Test("Discarding input in the middle of a message clears the device; with nothing pending it sends nothing")
    func discardPartialMessage() throws {
        var configuration = USBTMCDeviceModel.Configuration()
        configuration.maxTransferSize = 64
        let (device, raw) = try makeTransport(configuration)
        try raw.discardInput()
        #expect(device.controlRequests.suffix(2) == clearSequence)
        try raw.write(Array("ECHO? x\n".utf8), timeout: .seconds(1))
        #expect(try readLine(raw) == "x\n")
        device.clearEvents()
        try raw.discardInput()
        #expect(device.events.isEmpty)

        try raw.write(Array("HUGE? 1000\n".utf8), timeout: .seconds(1))
        var buffer = [UInt8](repeating: 0, count: 10)
        _ = try buffer.withUnsafeMutableBytes { buffer throws(TransportError) in
            try raw.read(into: buffer, timeout: .seconds(1))
        }
        device.clearEvents()
        try raw.discardInput()
        #expect(device.controlRequests == clearSequence)
        try raw.write(Array("ECHO? y\n".utf8), timeout: .seconds(1))
        #expect(try readLine(raw) == "y\n")
        #expect(device.violations.isEmpty)
    }

    @Test("After close every operation throws .closed")
    func closed() throws {
        let (_, raw) = try makeTransport()
        raw.close()
        var buffer = [UInt8](repeating: 0, count: 4)
        let errors: [TransportError?] = [
            #expect(throws: TransportError.self) { try raw.write([0x41], timeout: .seconds(1)) },
            #expect(throws: TransportError.self) {
                try buffer.withUnsafeMutableBytes { buffer throws(TransportError) in
                    try raw.read(into: buffer, timeout: .seconds(1))
                }
            },
            #expect(throws: TransportError.self) { try raw.discardInput() },
        ]
        #expect(errors.map { $0?.kind } == [.closed, .closed, .closed])
    }

    @Test("An unplugged device is .disconnected")
    func unplugged() throws {
        let (device, raw) = try makeTransport()
        device.inject(.unplugged)
        let error = #expect(throws: TransportError.self) { try raw.write([0x41], timeout: .seconds(1)) }
        #expect(error?.kind == .disconnected)
    }

    @Test("A device whose GET_CAPABILITIES fails cannot be opened")
    func capabilitiesFailure() throws {
        var configuration = USBTMCDeviceModel.Configuration()
        configuration.capabilitiesStatus = 0x80
        let error = #expect(throws: TransportError.self) { try makeTransport(configuration) }
        guard case .connectFailed(let code, let message) = error?.kind else {
            Issue.record("expected connectFailed, got \(String(describing: error))")
            return
        }
        #expect(code == EPROTO)
        #expect(message == "GET_CAPABILITIES answered STATUS_FAILED (0x80), expected STATUS_SUCCESS (0x01)")
    }

    @Test("libusb codes map to the closest errno", arguments: [
        (USBError.Code.pipe, EPIPE), (.access, EACCES), (.busy, EBUSY), (.overflow, EOVERFLOW), (.other, EIO),
    ])
    func errnoMapping(code: USBError.Code, expected: Int32) throws {
        let error = USBTMCTransport.transportError(
            try ResourceName(parsing: resourceName), "read",
            USBError(code: code, operation: "libusb_bulk_transfer", context: "test"))
        #expect(error.errno == expected)
        #expect(error.reason.contains("libusb_bulk_transfer"))
    }
}
