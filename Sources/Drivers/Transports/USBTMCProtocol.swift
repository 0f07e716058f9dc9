// The USBTMC 1.0 wire format (USB-IF, "Universal Serial Bus Test and Measurement Class Specification",
// revision 1.0, 2003) and the parts of USB488 1.0 the transport reads: bulk message headers (§3.2, §3.3),
// class control requests and their replies (§4.2.1), and GET_CAPABILITIES (§4.2.1.8; USB488 §4.2.2).
// Pure values and parsers, no I/O, so every byte is tested against the spec's tables.

/// The constants of USBTMC 1.0 and USB488 1.0.
enum USBTMC {
    /// Every bulk-OUT and bulk-IN transfer starts with a 12-byte header (Table 1).
    static let headerSize = 12

    /// bInterfaceClass and bInterfaceSubClass of a USBTMC interface (Table 43); bInterfaceProtocol 1 is USB488.
    static let interfaceClass: UInt8 = 0xFE
    static let interfaceSubclass: UInt8 = 0x03
    static let usb488Protocol: UInt8 = 0x01

    /// MsgID values (Table 2). DEV_DEP_MSG_IN, the device's reply, shares 2 with its request.
    enum MessageID: UInt8 {
        case devDepMsgOut = 1
        case requestDevDepMsgIn = 2
    }

    /// bRequest values of the USBTMC class requests (Table 15).
    enum Request: UInt8, CustomStringConvertible {
        case initiateAbortBulkOut = 1
        case checkAbortBulkOutStatus = 2
        case initiateAbortBulkIn = 3
        case checkAbortBulkInStatus = 4
        case initiateClear = 5
        case checkClearStatus = 6
        case getCapabilities = 7

        /// wLength of each request: how many bytes the device's reply holds (Tables 18–37).
        var replyLength: Int {
            switch self {
            case .initiateAbortBulkOut, .initiateAbortBulkIn: 2
            case .checkAbortBulkOutStatus, .checkAbortBulkInStatus: 8
            case .initiateClear: 1
            case .checkClearStatus: 2
            case .getCapabilities: 0x18
            }
        }

        /// Whether the request goes to an endpoint (bmRequestType 0xA2, wIndex the endpoint address) rather
        /// than to the interface (0xA1, wIndex the interface number).
        var isToEndpoint: Bool { rawValue <= Self.checkAbortBulkInStatus.rawValue }

        var description: String {
            switch self {
            case .initiateAbortBulkOut: "INITIATE_ABORT_BULK_OUT"
            case .checkAbortBulkOutStatus: "CHECK_ABORT_BULK_OUT_STATUS"
            case .initiateAbortBulkIn: "INITIATE_ABORT_BULK_IN"
            case .checkAbortBulkInStatus: "CHECK_ABORT_BULK_IN_STATUS"
            case .initiateClear: "INITIATE_CLEAR"
            case .checkClearStatus: "CHECK_CLEAR_STATUS"
            case .getCapabilities: "GET_CAPABILITIES"
            }
        }
    }

    /// USBTMC_status, the first byte of every class request's reply (Table 16).
    struct Status: RawRepresentable, Hashable, CustomStringConvertible {
        let rawValue: UInt8

        static let success = Status(rawValue: 0x01)
        static let pending = Status(rawValue: 0x02)
        static let failed = Status(rawValue: 0x80)
        static let transferNotInProgress = Status(rawValue: 0x81)
        static let splitNotInProgress = Status(rawValue: 0x82)
        static let splitInProgress = Status(rawValue: 0x83)

        var description: String {
            let name =
                switch self {
                case .success: "STATUS_SUCCESS"
                case .pending: "STATUS_PENDING"
                case .failed: "STATUS_FAILED"
                case .transferNotInProgress: "STATUS_TRANSFER_NOT_IN_PROGRESS"
                case .splitNotInProgress: "STATUS_SPLIT_NOT_IN_PROGRESS"
                case .splitInProgress: "STATUS_SPLIT_IN_PROGRESS"
                default: "an undefined status"
                }
            return "\(name) (\(hexByte(rawValue)))"
        }
    }

    /// The bTag after `tag`: 1 through 255, then 1 again; never 0 (§3.2, Table 1).
    static func tag(after tag: UInt8) -> UInt8 {
        tag == 255 ? 1 : tag + 1
    }

    /// `count` rounded up to a multiple of `unit`.
    static func roundUp(_ count: Int, toMultipleOf unit: Int) -> Int {
        (count + unit - 1) / unit * unit
    }
}

/// Something a USBTMC device sent that the spec does not allow, said as a sentence.
struct USBTMCViolation: Error, Equatable {
    let message: String
}

/// The 12-byte header of a bulk-OUT transfer (Tables 1, 3 and 4).
struct USBTMCBulkOutHeader: Equatable {
    let messageID: USBTMC.MessageID
    let tag: UInt8
    /// DEV_DEP_MSG_OUT: the message bytes in this transfer. REQUEST_DEV_DEP_MSG_IN: the most the device may send.
    let transferSize: UInt32
    /// bmTransferAttributes: D0 EOM (DEV_DEP_MSG_OUT); D1 TermCharEnabled (REQUEST_DEV_DEP_MSG_IN).
    let attributes: UInt8
    /// TermChar (REQUEST_DEV_DEP_MSG_IN with TermCharEnabled), otherwise 0.
    let termChar: UInt8

    /// DEV_DEP_MSG_OUT carrying `size` message bytes; `endOfMessage` sets EOM on the last transfer of a message.
    static func devDepMsgOut(tag: UInt8, size: UInt32, endOfMessage: Bool) -> Self {
        Self(messageID: .devDepMsgOut, tag: tag, transferSize: size, attributes: endOfMessage ? 0x01 : 0, termChar: 0)
    }

    /// REQUEST_DEV_DEP_MSG_IN for at most `size` bytes, ending the transfer early at `termChar` when given.
    static func requestDevDepMsgIn(tag: UInt8, size: UInt32, termChar: UInt8?) -> Self {
        Self(
            messageID: .requestDevDepMsgIn, tag: tag, transferSize: size, attributes: termChar == nil ? 0 : 0x02,
            termChar: termChar ?? 0)
    }

    /// Writes the 12 bytes: MsgID, bTag, bTagInverse, reserved 0, TransferSize little-endian,
    /// bmTransferAttributes, TermChar (or reserved 0), reserved 0, 0.
    func write(to buffer: UnsafeMutableRawBufferPointer) {
        precondition(buffer.count >= USBTMC.headerSize, "a USBTMC header needs 12 bytes")
        buffer[0] = messageID.rawValue
        buffer[1] = tag
        buffer[2] = ~tag
        buffer[3] = 0
        for byte in 0..<4 {
            buffer[4 + byte] = UInt8(truncatingIfNeeded: transferSize >> (8 * byte))
        }
        buffer[8] = attributes
        buffer[9] = termChar
        buffer[10] = 0
        buffer[11] = 0
    }
}

/// The 12-byte header of a DEV_DEP_MSG_IN bulk-IN transfer (Tables 1 and 9), validated against the request
/// it answers.
struct USBTMCDevDepMsgInHeader: Equatable {
    let tag: UInt8
    /// The message bytes in this transfer, without header and alignment bytes.
    let transferSize: Int
    /// bmTransferAttributes D0: the last byte of this transfer ends the device's message.
    let endOfMessage: Bool
    /// bmTransferAttributes D1: the transfer ended at the requested TermChar.
    let endsWithTermChar: Bool

    /// Parses the first 12 bytes of a bulk-IN transfer answering REQUEST_DEV_DEP_MSG_IN `tag` for at most
    /// `requested` bytes. Throws on fewer than 12 bytes, a MsgID other than DEV_DEP_MSG_IN, a bTag or
    /// bTagInverse that does not match the request, or a TransferSize above `requested`. Reserved bytes are
    /// not checked.
    init(parsing bytes: UnsafeRawBufferPointer, answering tag: UInt8, requested: Int) throws(USBTMCViolation) {
        guard bytes.count >= USBTMC.headerSize else {
            throw USBTMCViolation(
                message: "the DEV_DEP_MSG_IN reply to bTag \(tag) was \(bytes.count) bytes long, "
                    + "shorter than its 12-byte header")
        }
        guard bytes[0] == USBTMC.MessageID.requestDevDepMsgIn.rawValue else {
            throw USBTMCViolation(
                message: "the reply to REQUEST_DEV_DEP_MSG_IN bTag \(tag) has MsgID \(bytes[0]), "
                    + "expected 2 (DEV_DEP_MSG_IN)")
        }
        guard bytes[1] == tag else {
            throw USBTMCViolation(
                message: "the DEV_DEP_MSG_IN reply has bTag \(bytes[1]), expected \(tag) (the request's)")
        }
        guard bytes[2] == ~tag else {
            throw USBTMCViolation(
                message: "the DEV_DEP_MSG_IN reply to bTag \(tag) has bTagInverse \(hexByte(bytes[2])), "
                    + "expected \(hexByte(~tag))")
        }
        var size = 0
        for byte in 0..<4 {
            size |= Int(bytes[4 + byte]) << (8 * byte)
        }
        guard size <= requested else {
            throw USBTMCViolation(
                message: "the DEV_DEP_MSG_IN reply to bTag \(tag) announces TransferSize \(size), "
                    + "more than the \(requested) bytes requested")
        }
        self.tag = tag
        transferSize = size
        endOfMessage = bytes[8] & 0x01 != 0
        endsWithTermChar = bytes[8] & 0x02 != 0
    }
}

/// What a USBTMC interface says it can do: the GET_CAPABILITIES reply (USBTMC 1.0 Table 37, and for a
/// USB488 interface USB488 1.0 Table 8).
public struct USBTMCCapabilities: Sendable, Hashable {
    /// bcdUSBTMC, binary-coded decimal (0x0100 is 1.00).
    public let version: UInt16
    /// USBTMC interface capabilities D2: accepts INDICATOR_PULSE.
    public let acceptsIndicatorPulse: Bool
    /// D1: talk-only (sends, never receives).
    public let isTalkOnly: Bool
    /// D0: listen-only (receives, never sends).
    public let isListenOnly: Bool
    /// USBTMC device capabilities D0: ends a bulk-IN transfer at a TermChar when asked.
    public let supportsTermChar: Bool
    /// The USB488 fields, for an interface with bInterfaceProtocol 1; nil otherwise.
    public let usb488: USB488Capabilities?

    /// Parses a GET_CAPABILITIES reply. It must start with STATUS_SUCCESS and hold at least the six bytes
    /// up to the device capabilities; the USB488 fields (offsets 12–15) are read when `usb488` and present.
    init(parsing reply: ArraySlice<UInt8>, usb488: Bool) throws(USBTMCViolation) {
        let bytes = Array(reply)
        guard bytes.count >= 6 else {
            throw USBTMCViolation(
                message: "the GET_CAPABILITIES reply was \(bytes.count) bytes long, expected 24")
        }
        let status = USBTMC.Status(rawValue: bytes[0])
        guard status == .success else {
            throw USBTMCViolation(message: "GET_CAPABILITIES answered \(status), expected STATUS_SUCCESS (0x01)")
        }
        version = UInt16(bytes[2]) | UInt16(bytes[3]) << 8
        acceptsIndicatorPulse = bytes[4] & 0x04 != 0
        isTalkOnly = bytes[4] & 0x02 != 0
        isListenOnly = bytes[4] & 0x01 != 0
        supportsTermChar = bytes[5] & 0x01 != 0
        self.usb488 = usb488 && bytes.count >= 16 ? USB488Capabilities(bytes[12..<16]) : nil
    }
}

/// The USB488 subclass capabilities (USB488 1.0 Table 8, offsets 12–15).
public struct USB488Capabilities: Sendable, Hashable {
    /// bcdUSB488, binary-coded decimal.
    public let version: UInt16
    /// Interface capabilities D2: a USB488.2 interface.
    public let isUSB4882: Bool
    /// D1: accepts REN_CONTROL, GO_TO_LOCAL and LOCAL_LOCKOUT.
    public let acceptsRemoteLocal: Bool
    /// D0: accepts the TRIGGER message.
    public let acceptsTrigger: Bool
    /// Device capabilities D3: understands all mandatory SCPI commands.
    public let understandsSCPI: Bool
    /// D2: SR1 (service requests, over the interrupt-IN endpoint).
    public let serviceRequest: Bool
    /// D1: RL1 (remote/local).
    public let remoteLocal: Bool
    /// D0: DT1 (device trigger).
    public let deviceTrigger: Bool

    init(_ bytes: ArraySlice<UInt8>) {
        let start = bytes.startIndex
        version = UInt16(bytes[start]) | UInt16(bytes[start + 1]) << 8
        let interface = bytes[start + 2]
        let device = bytes[start + 3]
        isUSB4882 = interface & 0x04 != 0
        acceptsRemoteLocal = interface & 0x02 != 0
        acceptsTrigger = interface & 0x01 != 0
        understandsSCPI = device & 0x08 != 0
        serviceRequest = device & 0x04 != 0
        remoteLocal = device & 0x02 != 0
        deviceTrigger = device & 0x01 != 0
    }
}

/// The reply to a status-returning class request: USBTMC_status and the byte after it (bTag for the
/// INITIATE_ABORT requests, bmAbortBulkIn or bmClear for the CHECK requests).
struct USBTMCControlReply: Equatable {
    let status: USBTMC.Status
    /// The second byte, 0 when the reply has only one.
    let detail: UInt8

    /// D0 of bmAbortBulkIn or bmClear: the bulk-IN FIFO holds data the host must read first.
    var bulkInHasData: Bool { detail & 0x01 != 0 }

    /// Parses the reply to `request`, which must be `request.replyLength` bytes.
    init(parsing reply: ArraySlice<UInt8>, to request: USBTMC.Request) throws(USBTMCViolation) {
        guard reply.count == request.replyLength else {
            throw USBTMCViolation(
                message: "the \(request) reply was \(reply.count) bytes long, expected \(request.replyLength)")
        }
        status = USBTMC.Status(rawValue: reply[reply.startIndex])
        detail = reply.count > 1 ? reply[reply.startIndex + 1] : 0
    }
}

/// `value` as 0x%02x.
func hexByte(_ value: UInt8) -> String {
    let digits = String(value, radix: 16)
    return digits.count == 1 ? "0x0" + digits : "0x" + digits
}
