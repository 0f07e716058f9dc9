import HAL
import Synchronization

@testable import Drivers
@testable import USB

/// An in-memory USBTMC device behind the transport's USB seam: the device side of USBTMC 1.0 over a pair of
/// bulk endpoints (bulk-OUT 0x02, bulk-IN 0x81, interface 0) and the control endpoint.
///
/// It checks every bulk-OUT header (bTag, bTagInverse, reserved bytes, TransferSize, 4-byte alignment and its
/// zero padding) and every class request's bmRequestType, wIndex and wLength, recording what the host got
/// wrong in ``violations`` and stalling, as a device does. It answers REQUEST_DEV_DEP_MSG_IN from the replies of
/// a small SCPI instrument (``USBTMCTestInstrument``), split into transfers of at most
/// ``Configuration/maxTransferSize`` message bytes (ending early at a TermChar when asked) and into
/// wMaxPacketSize packets, with a zero-length packet when a shorter-than-asked transfer ends on a packet
/// boundary. It implements the abort and clear requests with STATUS_PENDING polling, and injects ``Fault``s.
///
/// Timeouts are immediate: where a real device would stay silent, a bulk read throws LIBUSB_ERROR_TIMEOUT
/// at once, so the tests never wait.
struct USBTMCDeviceModel {
    static let bulkOut: UInt8 = 0x02
    static let bulkIn: UInt8 = 0x81
    static let interface: UInt8 = 0

    struct Configuration {
        var maxPacketSize = 64
        var supportsTermChar = true
        var isUSB488 = true
        /// The most message bytes the device puts in one bulk-IN transfer (it may send fewer than asked).
        var maxTransferSize = Int.max
        /// Whether bulk-IN transfers are padded to a multiple of 4 bytes.
        var padsBulkIn = true
        /// How many STATUS_PENDING (D0 = 0) each CHECK request answers before the final status.
        var pendingChecks = 0
        /// The status GET_CAPABILITIES answers.
        var capabilitiesStatus: UInt8 = 0x01
    }

    /// A misbehaviour the device shows once, at the first transfer it applies to.
    enum Fault: Hashable, CustomStringConvertible {
        /// The next DEV_DEP_MSG_IN has MsgID 1.
        case wrongMessageID
        /// The next DEV_DEP_MSG_IN has another bTag (with a matching inverse).
        case wrongTag
        /// The next DEV_DEP_MSG_IN's bTagInverse is not the inverse of its bTag.
        case wrongTagInverse
        /// The next bulk-IN transfer is 7 bytes of header only.
        case shortHeader
        /// The next DEV_DEP_MSG_IN announces one byte more than the host asked for.
        case transferSizeAboveRequest
        /// The next DEV_DEP_MSG_IN announces 100 bytes more than it carries.
        case transferSizeLies
        /// The next DEV_DEP_MSG_IN carries 8 bytes after its alignment bytes.
        case extraData
        /// The next bulk-IN transfer sends this many packets, then holds the rest until the host aborts.
        case stopsAfterPackets(Int)
        /// The next bulk-IN read stalls.
        case stallBulkIn
        /// The next bulk-OUT transfer stalls.
        case stallBulkOut
        /// The next bulk-OUT transfer takes one packet, then the device NAKs until the host aborts it.
        case bulkOutTimesOut
        /// The device is gone: every operation fails with LIBUSB_ERROR_NO_DEVICE.
        case unplugged

        var appliesToReply: Bool {
            switch self {
            case .wrongMessageID, .wrongTag, .wrongTagInverse, .shortHeader, .transferSizeAboveRequest,
                .transferSizeLies, .extraData, .stopsAfterPackets:
                true
            default:
                false
            }
        }

        var description: String {
            switch self {
            case .wrongMessageID: "wrong MsgID"
            case .wrongTag: "wrong bTag"
            case .wrongTagInverse: "wrong bTagInverse"
            case .shortHeader: "short header"
            case .transferSizeAboveRequest: "TransferSize above the request"
            case .transferSizeLies: "TransferSize larger than the data"
            case .extraData: "extra data"
            case .stopsAfterPackets(let count): "stops after \(count) packets"
            case .stallBulkIn: "bulk-IN stall"
            case .stallBulkOut: "bulk-OUT stall"
            case .bulkOutTimesOut: "bulk-OUT timeout"
            case .unplugged: "unplugged"
            }
        }
    }

    /// What the device saw and did, in order.
    enum Event: Equatable {
        /// A complete bulk-OUT transfer: its header fields and its length on the wire.
        case bulkOut(messageID: UInt8, tag: UInt8, transferSize: UInt32, attributes: UInt8, termChar: UInt8, length: Int)
        /// A bulk-IN transfer the device queued in answer to REQUEST_DEV_DEP_MSG_IN `tag`.
        case bulkIn(tag: UInt8, transferSize: Int, endOfMessage: Bool)
        /// A class request: bRequest, bmRequestType, wValue, wIndex, wLength.
        case control(request: UInt8, requestType: UInt8, value: UInt16, index: UInt16, length: Int)
        /// CLEAR_FEATURE(ENDPOINT_HALT) on an endpoint.
        case clearHalt(UInt8)
    }

    var configuration: Configuration
    /// Faults still to show, each at the first transfer it applies to.
    var faults: [Fault] = []
    var instrument = USBTMCTestInstrument()
    private(set) var events: [Event] = []
    /// What the host did that USBTMC does not allow; empty in every passing test.
    private(set) var violations: [String] = []
    /// Every bulk-OUT transfer as it arrived.
    private(set) var bulkOutTransfers: [[UInt8]] = []

    private var messageIn: [UInt8] = []
    /// Whole reply messages still to send; the first may be sent in part, up to `outputOffset`.
    private var output: [[UInt8]] = []
    private var outputOffset = 0
    private var pendingRequest: (tag: UInt8, size: Int, termChar: UInt8?)?
    /// Packets ready for the host.
    private var fifo: [[UInt8]] = []
    /// Packets of a transfer in progress that the device holds back (``Fault/stopsAfterPackets(_:)``).
    private var held: [[UInt8]] = []
    private var inTransferTag: UInt8?
    /// A bulk-OUT transfer the device is NAKing: its bTag and the bytes taken.
    private var stuckOut: (tag: UInt8, received: Int)?
    private var lateReply: [UInt8]?
    private var bulkOutHalted = false
    private var bulkInHalted = false
    private var pendingChecksLeft = 0

    init(_ configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    var endpoints: USBTMCEndpoints {
        USBTMCEndpoints(
            interface: Self.interface, alternateSetting: 0, isUSB488: configuration.isUSB488, bulkOut: Self.bulkOut,
            bulkIn: Self.bulkIn, bulkInMaxPacketSize: configuration.maxPacketSize, interruptIn: nil)
    }

    /// Whether nothing waits in the bulk-IN FIFO.
    var bulkInIsEmpty: Bool { fifo.isEmpty && held.isEmpty }

    /// The class requests seen, as bRequest values.
    var controlRequests: [UInt8] {
        events.compactMap { if case .control(let request, _, _, _, _) = $0 { request } else { nil } }
    }

    /// The bTags of REQUEST_DEV_DEP_MSG_IN transfers, in order.
    var requestTags: [UInt8] {
        events.compactMap {
            if case .bulkOut(2, let tag, _, _, _, _) = $0 { tag } else { nil }
        }
    }

    /// Forgets the events seen so far.
    mutating func clearEvents() {
        events.removeAll()
    }

    // MARK: The device's side of the USB operations

    mutating func bulkWrite(endpoint: UInt8, _ data: UnsafeRawBufferPointer, timeout: Duration) throws(USBError) -> Int {
        let bytes = Array(data)
        try checkPlugged()
        guard endpoint == Self.bulkOut else { throw stall("bulk write to \(hexByte(endpoint)), not bulk-OUT") }
        guard !bulkOutHalted else { throw pipe("bulk-OUT is halted") }
        if take(.stallBulkOut) {
            bulkOutHalted = true
            throw pipe("bulk-OUT stalled")
        }
        if take(.bulkOutTimesOut), bytes.count > 1 {
            stuckOut = (bytes[1], min(bytes.count, configuration.maxPacketSize))
            throw USBError(
                code: .timeout, operation: "libusb_bulk_transfer", context: "bulk-OUT NAKed",
                bytesTransferred: min(bytes.count, configuration.maxPacketSize))
        }
        bulkOutTransfers.append(bytes)
        try receive(bytes)
        return bytes.count
    }

    mutating func bulkRead(endpoint: UInt8, into buffer: UnsafeMutableRawBufferPointer, timeout: Duration) throws(USBError) -> Int {
        try checkPlugged()
        guard endpoint == Self.bulkIn else { throw stall("bulk read from \(hexByte(endpoint)), not bulk-IN") }
        guard !bulkInHalted else { throw pipe("bulk-IN is halted") }
        if take(.stallBulkIn) {
            bulkInHalted = true
            throw pipe("bulk-IN stalled")
        }
        if fifo.isEmpty && held.isEmpty, let request = pendingRequest, !output.isEmpty {
            pendingRequest = nil
            queueTransfer(answering: request)
        }
        var count = 0
        while let packet = fifo.first {
            guard packet.count <= buffer.count - count else {
                throw USBError(
                    code: .overflow, operation: "libusb_bulk_transfer", context: "a packet overflowed the buffer",
                    bytesTransferred: count)
            }
            for (offset, byte) in packet.enumerated() { buffer[count + offset] = byte }
            count += packet.count
            fifo.removeFirst()
            if packet.count < configuration.maxPacketSize || count == buffer.count {
                if fifo.isEmpty && held.isEmpty { inTransferTag = nil }
                return count
            }
        }
        // Nothing more comes (no reply, or a transfer held back or ending on a full packet): the host waits.
        throw USBError(code: .timeout, operation: "libusb_bulk_transfer", context: "bulk-IN silent", bytesTransferred: count)
    }

    mutating func controlTransfer(_ setup: USBControlSetup, receivingInto buffer: UnsafeMutableRawBufferPointer, timeout: Duration)
        throws(USBError) -> Int
    {
        try checkPlugged()
        events.append(
            .control(
                request: setup.request, requestType: setup.requestType, value: setup.value, index: setup.index,
                length: buffer.count))
        guard let request = USBTMC.Request(rawValue: setup.request) else { throw stall("unknown \(setup)") }
        let expectedIndex =
            switch request {
            case .initiateAbortBulkOut, .checkAbortBulkOutStatus: UInt16(Self.bulkOut)
            case .initiateAbortBulkIn, .checkAbortBulkInStatus: UInt16(Self.bulkIn)
            default: UInt16(Self.interface)
            }
        guard setup.requestType == (request.isToEndpoint ? 0xA2 : 0xA1), setup.index == expectedIndex,
            buffer.count == request.replyLength
        else {
            throw stall("malformed \(request): \(setup), wLength \(buffer.count)")
        }
        let reply = answer(request, value: setup.value)
        for (offset, byte) in reply.prefix(buffer.count).enumerated() { buffer[offset] = byte }
        return min(reply.count, buffer.count)
    }

    mutating func clearHalt(endpoint: UInt8) throws(USBError) {
        try checkPlugged()
        events.append(.clearHalt(endpoint))
        switch endpoint {
        case Self.bulkOut: bulkOutHalted = false
        case Self.bulkIn: bulkInHalted = false
        default: throw stall("clear halt on \(hexByte(endpoint))")
        }
    }

    // MARK: Bulk-OUT

    /// Checks a bulk-OUT transfer as USBTMC 1.0 Tables 1, 3 and 4 require and acts on it.
    private mutating func receive(_ bytes: [UInt8]) throws(USBError) {
        guard bytes.count >= USBTMC.headerSize, bytes.count % 4 == 0 else {
            throw halt("a bulk-OUT transfer of \(bytes.count) bytes (at least 12, a multiple of 4)")
        }
        let tag = bytes[1]
        let size = UInt32(bytes[4]) | UInt32(bytes[5]) << 8 | UInt32(bytes[6]) << 16 | UInt32(bytes[7]) << 24
        events.append(
            .bulkOut(
                messageID: bytes[0], tag: tag, transferSize: size, attributes: bytes[8], termChar: bytes[9],
                length: bytes.count))
        guard tag != 0, bytes[2] == ~tag, bytes[3] == 0, bytes[10] == 0, bytes[11] == 0 else {
            throw halt("bad bTag, bTagInverse or reserved bytes in \(bytes.prefix(12))")
        }
        switch bytes[0] {
        case 1:
            let end = USBTMC.headerSize + Int(size)
            guard size > 0, bytes[8] & ~0x01 == 0, bytes[9] == 0,
                bytes.count == USBTMC.roundUp(end, toMultipleOf: 4), bytes[end...].allSatisfy({ $0 == 0 })
            else {
                throw halt("a DEV_DEP_MSG_OUT of \(bytes.count) bytes with TransferSize \(size) and header \(bytes.prefix(12))")
            }
            messageIn += bytes[USBTMC.headerSize..<end]
            if bytes[8] & 0x01 != 0 {
                let message = messageIn
                messageIn.removeAll()
                switch instrument.handle(message) {
                case .now(let reply): output.append(reply)
                case .late(let reply): lateReply = reply
                case .none: break
                }
            }
        case 2:
            let termCharEnabled = bytes[8] & 0x02 != 0
            guard bytes.count == USBTMC.headerSize, size > 0, bytes[8] & ~0x02 == 0,
                termCharEnabled || bytes[9] == 0, !termCharEnabled || configuration.supportsTermChar
            else {
                throw halt("a REQUEST_DEV_DEP_MSG_IN \(bytes)")
            }
            if pendingRequest != nil || fifo.contains(where: { !$0.isEmpty }) || !held.isEmpty {
                violations.append("REQUEST_DEV_DEP_MSG_IN bTag \(tag) while an earlier transfer is still in progress")
            }
            pendingRequest = (tag, Int(size), termCharEnabled ? bytes[9] : nil)
        default:
            throw halt("MsgID \(bytes[0])")
        }
    }

    // MARK: Bulk-IN

    /// Builds the DEV_DEP_MSG_IN transfer answering `request` from the first pending reply and queues its packets.
    private mutating func queueTransfer(answering request: (tag: UInt8, size: Int, termChar: UInt8?)) {
        let message = output[0]
        var count = min(request.size, message.count - outputOffset, configuration.maxTransferSize)
        var endsWithTermChar = false
        if let termChar = request.termChar,
            let index = message[outputOffset..<outputOffset + count].firstIndex(of: termChar)
        {
            count = index - outputOffset + 1
            endsWithTermChar = true
        }
        let data = message[outputOffset..<outputOffset + count]
        outputOffset += count
        let endOfMessage = outputOffset == message.count
        if endOfMessage {
            output.removeFirst()
            outputOffset = 0
        }
        let tag = request.tag
        var transfer: [UInt8] = [2, tag, ~tag, 0] + littleEndian(UInt32(count))
        transfer += [(endOfMessage ? 0x01 : 0) | (endsWithTermChar ? 0x02 : 0), 0, 0, 0]
        transfer += data
        if configuration.padsBulkIn {
            transfer += [UInt8](repeating: 0, count: USBTMC.roundUp(transfer.count, toMultipleOf: 4) - transfer.count)
        }
        events.append(.bulkIn(tag: tag, transferSize: count, endOfMessage: endOfMessage))
        var holdAfter: Int?
        if let fault = faults.first(where: \.appliesToReply) {
            faults.remove(at: faults.firstIndex(of: fault)!)
            switch fault {
            case .wrongMessageID: transfer[0] = 1
            case .wrongTag:
                transfer[1] = tag == 255 ? 1 : tag + 1
                transfer[2] = ~transfer[1]
            case .wrongTagInverse: transfer[2] = tag
            case .shortHeader: transfer = Array(transfer.prefix(7))
            case .transferSizeAboveRequest: transfer.replaceSubrange(4..<8, with: littleEndian(UInt32(request.size + 1)))
            case .transferSizeLies: transfer.replaceSubrange(4..<8, with: littleEndian(UInt32(count + 100)))
            case .extraData: transfer += [UInt8](repeating: 0xEE, count: 8)
            case .stopsAfterPackets(let packets): holdAfter = packets
            default: break
            }
        }
        var packets = stride(from: 0, to: transfer.count, by: configuration.maxPacketSize).map {
            Array(transfer[$0..<min($0 + configuration.maxPacketSize, transfer.count)])
        }
        if transfer.count % configuration.maxPacketSize == 0 && count < request.size { packets.append([]) }
        if let holdAfter {
            held = Array(packets.dropFirst(holdAfter))
            packets = Array(packets.prefix(holdAfter))
        }
        fifo += packets
        inTransferTag = tag
    }

    // MARK: Class requests (USBTMC 1.0 §4.2.1)

    private mutating func answer(_ request: USBTMC.Request, value: UInt16) -> [UInt8] {
        let success: UInt8 = 0x01
        let pending: UInt8 = 0x02
        let failed: UInt8 = 0x80
        let notInProgress: UInt8 = 0x81
        let tag = UInt8(truncatingIfNeeded: value)
        switch request {
        case .initiateAbortBulkOut:
            pendingChecksLeft = configuration.pendingChecks
            guard let stuck = stuckOut else { return [failed, tag] }
            guard stuck.tag == tag else { return [notInProgress, stuck.tag] }
            stuckOut = nil
            // The host must clear the halt after the abort (§4.2.1.3).
            bulkOutHalted = true
            return [success, tag]
        case .checkAbortBulkOutStatus:
            if pendingChecksLeft > 0 {
                pendingChecksLeft -= 1
                return [pending, 0, 0, 0, 0, 0, 0, 0]
            }
            return [success, 0, 0, 0] + littleEndian(UInt32(configuration.maxPacketSize))
        case .initiateAbortBulkIn:
            pendingChecksLeft = configuration.pendingChecks
            let inProgress = pendingRequest?.tag ?? inTransferTag
            guard let inProgress else { return [failed, tag] }
            guard inProgress == tag else { return [notInProgress, inProgress] }
            pendingRequest = nil
            endHeldTransfer()
            if let late = lateReply {
                output.append(late)
                lateReply = nil
            }
            return [success, tag]
        case .checkAbortBulkInStatus:
            return checkStatus(bulkInData: !fifo.isEmpty) + [0, 0] + littleEndian(0)
        case .initiateClear:
            pendingChecksLeft = configuration.pendingChecks
            messageIn.removeAll()
            output.removeAll()
            outputOffset = 0
            pendingRequest = nil
            lateReply = nil
            stuckOut = nil
            endHeldTransfer()
            // The host must clear the bulk-OUT halt after the clear (§4.2.1.7).
            bulkOutHalted = true
            return [success]
        case .checkClearStatus:
            return checkStatus(bulkInData: !fifo.isEmpty)
        case .getCapabilities:
            let usb488: [UInt8] = configuration.isUSB488 ? [0x00, 0x01, 0x07, 0x0F] : [0, 0, 0, 0]
            return [configuration.capabilitiesStatus, 0, 0x00, 0x01, 0x00, configuration.supportsTermChar ? 0x01 : 0]
                + [UInt8](repeating: 0, count: 6) + usb488 + [UInt8](repeating: 0, count: 8)
        }
    }

    /// The status and D0 of a CHECK request: pending with D0 = 1 while the FIFO holds data, then pending with
    /// D0 = 0 ``Configuration/pendingChecks`` times, then success.
    private mutating func checkStatus(bulkInData: Bool) -> [UInt8] {
        if bulkInData { return [0x02, 0x01] }
        if pendingChecksLeft > 0 {
            pendingChecksLeft -= 1
            return [0x02, 0x00]
        }
        return [0x01, 0x00]
    }

    /// Releases the held packets of an aborted transfer to the FIFO, ended by a short packet.
    private mutating func endHeldTransfer() {
        guard !held.isEmpty else { return }
        let endsFull = held.last?.count == configuration.maxPacketSize
        fifo += held
        if endsFull { fifo.append([]) }
        held.removeAll()
    }

    // MARK: Helpers

    private mutating func take(_ fault: Fault) -> Bool {
        guard let index = faults.firstIndex(of: fault) else { return false }
        faults.remove(at: index)
        return true
    }

    private func checkPlugged() throws(USBError) {
        if faults.contains(.unplugged) {
            throw USBError(code: .noDevice, operation: "libusb_bulk_transfer", context: "the test device is unplugged")
        }
    }

    private func pipe(_ context: String) -> USBError {
        USBError(code: .pipe, operation: "libusb_bulk_transfer", context: context, bytesTransferred: 0)
    }

    /// Records a host mistake and stalls the request.
    private mutating func stall(_ violation: String) -> USBError {
        violations.append(violation)
        return pipe(violation)
    }

    /// Records a host mistake and halts bulk-OUT, as a device does on a bad header.
    private mutating func halt(_ violation: String) -> USBError {
        bulkOutHalted = true
        return stall(violation)
    }

    private func littleEndian(_ value: UInt32) -> [UInt8] {
        (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }
}

/// The device behind the seam; its ``USBTMCDeviceModel`` sits in a mutex so that the transport (which an
/// ``SCPISession`` takes as `sending`) and the test can both hold it.
final class USBTMCTestDevice: USBTMCDevicePort, Sendable {
    let model: Mutex<USBTMCDeviceModel>

    init(_ configuration: USBTMCDeviceModel.Configuration = .init(), faults: [USBTMCDeviceModel.Fault] = []) {
        var model = USBTMCDeviceModel(configuration)
        model.faults = faults
        self.model = Mutex(model)
    }

    var endpoints: USBTMCEndpoints { model.withLock { $0.endpoints } }
    var events: [USBTMCDeviceModel.Event] { model.withLock { $0.events } }
    var violations: [String] { model.withLock { $0.violations } }
    var bulkOutTransfers: [[UInt8]] { model.withLock { $0.bulkOutTransfers } }
    var controlRequests: [UInt8] { model.withLock { $0.controlRequests } }
    var requestTags: [UInt8] { model.withLock { $0.requestTags } }
    var bulkInIsEmpty: Bool { model.withLock { $0.bulkInIsEmpty } }
    var received: [String] { model.withLock { $0.instrument.received } }

    /// Makes the device show `fault` at the next transfer it applies to.
    func inject(_ fault: USBTMCDeviceModel.Fault) {
        model.withLock { $0.faults.append(fault) }
    }

    func clearEvents() {
        model.withLock { $0.clearEvents() }
    }

    func bulkWrite(endpoint: UInt8, _ data: UnsafeRawBufferPointer, timeout: Duration) throws(USBError) -> Int {
        try model.withLock { (model) throws(USBError) in try model.bulkWrite(endpoint: endpoint, data, timeout: timeout) }
    }

    func bulkRead(endpoint: UInt8, into buffer: UnsafeMutableRawBufferPointer, timeout: Duration) throws(USBError) -> Int {
        try model.withLock { (model) throws(USBError) in try model.bulkRead(endpoint: endpoint, into: buffer, timeout: timeout) }
    }

    func controlTransfer(_ setup: USBControlSetup, receivingInto buffer: UnsafeMutableRawBufferPointer, timeout: Duration)
        throws(USBError) -> Int
    {
        try model.withLock { (model) throws(USBError) in
            try model.controlTransfer(setup, receivingInto: buffer, timeout: timeout)
        }
    }

    func clearHalt(endpoint: UInt8) throws(USBError) {
        try model.withLock { (model) throws(USBError) in try model.clearHalt(endpoint: endpoint) }
    }
}

/// The SCPI side of ``USBTMCTestDevice``: one command per message, replies ending in "\n".
///
/// Commands: `*IDN?`, `ECHO? <text>`, `SET <v>` / `GET?`, `HUGE? <n>` (n letters), `BLOCK? <n>` (a definite block
/// of n pattern bytes, "\n" among them), `DATA:ARB #<block>` / `DATA:ARB?`, `BARE?` ("bare" without "\n"),
/// `SILENT?` (no reply), `SLOW?` ("late", once the host has given up waiting and aborted).
struct USBTMCTestInstrument {
    enum Response {
        case now([UInt8])
        case late([UInt8])
        case none
    }

    var identity = "QR,USB100,SN42,1.0"
    var stored = ""
    var block: [UInt8] = []
    /// Every message received, as text (binary blocks as `DATA:ARB`).
    private(set) var received: [String] = []

    /// The bytes `BLOCK? n` sends: every byte value in turn, so "\n" and "#" among them.
    static func pattern(_ count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7) }
    }

    /// `HUGE? n`: n letters A–Z over and over.
    static func letters(_ count: Int) -> String {
        String(decoding: (0..<count).map { UInt8(ascii: "A") + UInt8($0 % 26) }, as: UTF8.self)
    }

    mutating func handle(_ message: [UInt8]) -> Response {
        let header = Array("DATA:ARB #".utf8)
        if message.starts(with: header), let data = Self.definiteBlock(message[(header.count - 1)...]) {
            received.append("DATA:ARB")
            block = data
            return .none
        }
        var text = String(decoding: message, as: UTF8.self)
        if text.hasSuffix("\n") { text.removeLast() }
        received.append(text)
        let parts = text.split(separator: " ", maxSplits: 1)
        let argument = parts.count > 1 ? String(parts[1]) : ""
        func line(_ reply: String) -> Response { .now(Array((reply + "\n").utf8)) }
        switch parts.first.map(String.init) ?? "" {
        case "*IDN?": return line(identity)
        case "ECHO?": return line(argument)
        case "SET":
            stored = argument
            return .none
        case "GET?": return line(stored)
        case "HUGE?": return line(Self.letters(Int(argument) ?? 0))
        case "BLOCK?": return .now(Self.blockBytes(Self.pattern(Int(argument) ?? 0)))
        case "DATA:ARB?": return .now(Self.blockBytes(block))
        case "BARE?": return .now(Array("bare".utf8))
        case "SLOW?": return .late(Array("late\n".utf8))
        default: return .none
        }
    }

    /// `#<digits><length><data>\n`.
    private static func blockBytes(_ data: [UInt8]) -> [UInt8] {
        let length = String(data.count)
        return Array("#\(length.count)\(length)".utf8) + data + [0x0A]
    }

    /// The data of `#<n><length><data>` at the start of `bytes`, if it is whole.
    private static func definiteBlock(_ bytes: ArraySlice<UInt8>) -> [UInt8]? {
        let start = bytes.startIndex
        guard bytes.count >= 2, bytes[start] == UInt8(ascii: "#"), let digits = Int(String(UnicodeScalar(bytes[start + 1]))),
            digits > 0, bytes.count >= 2 + digits,
            let length = Int(String(decoding: bytes[(start + 2)..<(start + 2 + digits)], as: UTF8.self)),
            bytes.count >= 2 + digits + length
        else { return nil }
        let dataStart = start + 2 + digits
        return Array(bytes[dataStart..<(dataStart + length)])
    }
}
