import Glibc
import HAL
import USB

/// The USB operations USBTMC uses, as ``USBDeviceHandle`` provides them. The tests put an in-memory USBTMC
/// device behind this seam.
protocol USBTMCDevicePort: AnyObject {
    /// libusb_bulk_transfer to an OUT endpoint.
    @discardableResult
    func bulkWrite(endpoint: UInt8, _ data: UnsafeRawBufferPointer, timeout: Duration) throws(USBError) -> Int
    /// libusb_bulk_transfer from an IN endpoint: returns at a short packet or when `buffer` is full.
    func bulkRead(endpoint: UInt8, into buffer: UnsafeMutableRawBufferPointer, timeout: Duration) throws(USBError) -> Int
    /// libusb_control_transfer with a device-to-host data stage of up to `buffer.count` bytes.
    func controlTransfer(_ setup: USBControlSetup, receivingInto buffer: UnsafeMutableRawBufferPointer, timeout: Duration)
        throws(USBError) -> Int
    /// libusb_clear_halt: CLEAR_FEATURE(ENDPOINT_HALT), which also resets the data toggle.
    func clearHalt(endpoint: UInt8) throws(USBError)
}

extension USBDeviceHandle: USBTMCDevicePort {}

/// Where a USBTMC interface's pipes are (USBTMC 1.0 §5.6: one bulk-OUT, one bulk-IN, an optional interrupt-IN).
struct USBTMCEndpoints: Sendable, Hashable {
    let interface: UInt8
    let alternateSetting: UInt8
    /// bInterfaceProtocol 1: the interface follows USB488.
    let isUSB488: Bool
    let bulkOut: UInt8
    let bulkIn: UInt8
    /// wMaxPacketSize of the bulk-IN endpoint.
    let bulkInMaxPacketSize: Int
    /// The interrupt-IN endpoint a USB488 device uses for service requests, if it has one.
    let interruptIn: UInt8?

    /// wIndex of a class request: the endpoint an abort request is about, or the interface number.
    func index(for request: USBTMC.Request) -> UInt16 {
        switch request {
        case .initiateAbortBulkOut, .checkAbortBulkOutStatus: UInt16(bulkOut)
        case .initiateAbortBulkIn, .checkAbortBulkInStatus: UInt16(bulkIn)
        case .initiateClear, .checkClearStatus, .getCapabilities: UInt16(interface)
        }
    }
}

/// A USBTMC instrument (`USB0::0x0957::0x2807::MY1234::INSTR`) as a byte stream, over libusb.
///
/// **Writing.** Each `write` is one device-dependent message: one or more DEV_DEP_MSG_OUT transfers of at most
/// ``Options/maxTransferSize`` bytes, EOM set on the last, each padded to a multiple of 4 bytes.
///
/// **Reading.** USBTMC replies are messages the host asks for: when nothing is buffered, `read` sends
/// REQUEST_DEV_DEP_MSG_IN (with TermChar when the device supports it and ``Options/termChar`` is set) and
/// buffers the DEV_DEP_MSG_IN transfer that answers, read in chunks until its TransferSize is complete. A
/// message may span several such transfers; the device marks its last with EOM. Because the SCPI layer reads
/// until a terminator, a message that ends (EOM) without ``Options/messageTerminator`` gets it appended.
/// Every reply header is checked: MsgID, bTag and bTagInverse against the request, TransferSize against
/// what was asked and against what arrived.
///
/// **Failures**, recovered as USBTMC 1.0 prescribes so the next command works:
/// - a bulk transfer that times out is aborted (INITIATE_ABORT_BULK_OUT or _IN and their CHECK requests,
///   reading out the bulk-IN FIFO, clearing the bulk-OUT halt) and throws `.timeout`. The device may still
///   answer late: a later `read` returns that reply, and ``discardInput()`` drops it (INITIATE_CLEAR);
/// - a stalled endpoint (LIBUSB_ERROR_PIPE) has its halt cleared and the device cleared (INITIATE_CLEAR),
///   and throws `.system(EPIPE, …)` saying the transfer stalled;
/// - a reply that breaks the protocol clears the device and throws `.system(EPROTO, …)` saying what was wrong;
/// - an unplugged device throws `.disconnected`; other libusb failures `.system` with the closest errno.
///
/// Not `Sendable`: one session owns one transport.
public final class USBTMCTransport: ByteTransport {
    /// Transfer sizes, terminators and the timeouts of class requests.
    public struct Options: Sendable, Hashable {
        /// The most message bytes in one DEV_DEP_MSG_OUT transfer, and (rounded up so that header and data
        /// fill whole packets) the TransferSize asked for in each REQUEST_DEV_DEP_MSG_IN.
        public var maxTransferSize: Int
        /// The most bytes one bulk-IN read takes (rounded up to wMaxPacketSize); a longer transfer takes several.
        public var readChunkSize: Int
        /// The TermChar asked for in REQUEST_DEV_DEP_MSG_IN when GET_CAPABILITIES says the device supports it;
        /// nil never asks.
        public var termChar: UInt8?
        /// Appended to a device message that ends (EOM) without it, so a reader waiting for a terminator sees
        /// every message end; nil delivers messages unchanged.
        public var messageTerminator: [UInt8]?
        /// How long one class control request may take.
        public var controlTimeout: Duration
        /// The wait between CHECK_*_STATUS requests while the device answers STATUS_PENDING.
        public var statusPollInterval: Duration
        /// The longest an abort or clear sequence may take in all.
        public var recoveryTimeout: Duration

        /// Programmer errors trap: sizes below 1, an empty terminator, timeouts that are not positive.
        public init(
            maxTransferSize: Int = 1 << 20, readChunkSize: Int = 1 << 16, termChar: UInt8? = 0x0A,
            messageTerminator: [UInt8]? = [0x0A], controlTimeout: Duration = .seconds(1),
            statusPollInterval: Duration = .milliseconds(20), recoveryTimeout: Duration = .seconds(5)
        ) {
            precondition(
                maxTransferSize >= 1 && maxTransferSize <= Int(UInt32.max) - 4096,
                "the transfer size must be between 1 byte and about 4 GiB")
            precondition(readChunkSize >= 1, "the read chunk must hold at least one byte")
            precondition(messageTerminator?.isEmpty != true, "the message terminator cannot be empty")
            precondition(
                controlTimeout > .zero && statusPollInterval > .zero && recoveryTimeout > .zero,
                "timeouts and the poll interval must be positive")
            self.maxTransferSize = maxTransferSize
            self.readChunkSize = readChunkSize
            self.termChar = termChar
            self.messageTerminator = messageTerminator
            self.controlTimeout = controlTimeout
            self.statusPollInterval = statusPollInterval
            self.recoveryTimeout = recoveryTimeout
        }
    }

    public let resource: ResourceName
    public let options: Options
    /// What the interface said it can do (GET_CAPABILITIES), read when it was opened.
    public let capabilities: USBTMCCapabilities
    let endpoints: USBTMCEndpoints

    /// nil once closed.
    private var port: (any USBTMCDevicePort)?
    /// The bTag of the latest bulk-OUT transfer; 0 before the first.
    private var lastTag: UInt8 = 0
    /// The TransferSize of every REQUEST_DEV_DEP_MSG_IN.
    private let requestSize: Int
    /// Message bytes received; those before `inputStart` are read.
    private var input: [UInt8] = []
    private var inputStart = 0
    /// Whether the latest DEV_DEP_MSG_IN had EOM (nothing of a message is left on the device).
    private var messageComplete = true
    /// The last bytes of the message being received, to see whether it ends with the message terminator.
    private var messageTail: [UInt8] = []
    /// Whether the device may hold output nobody will read (a late reply, a partial message): the next
    /// `discardInput` clears the device. True at first, for whatever an earlier program left behind.
    private var needsClear = true
    /// Bulk-OUT transfers are built here; it grows to the largest transfer sent.
    private var outBuffer: [UInt8] = []
    /// Bulk-IN transfers are read here, a chunk at a time.
    private var inBuffer: [UInt8]

    /// How long reading out the bulk-IN FIFO during an abort or clear waits for each chunk (the Linux
    /// usbtmc driver waits 300 ms).
    private static let drainWait: Duration = .milliseconds(300)

    /// A transport over an interface that is already claimed; asks the device for its capabilities
    /// (GET_CAPABILITIES) and throws `.connectFailed` if that fails.
    init(
        port: any USBTMCDevicePort, endpoints: USBTMCEndpoints, resource: ResourceName, options: Options
    ) throws(TransportError) {
        self.port = port
        self.endpoints = endpoints
        self.resource = resource
        self.options = options
        let packet = max(endpoints.bulkInMaxPacketSize, 1)
        let transfer = USBTMC.roundUp(USBTMC.headerSize + options.maxTransferSize, toMultipleOf: packet)
        requestSize = transfer - USBTMC.headerSize
        let chunk = USBTMC.roundUp(max(options.readChunkSize, USBTMC.headerSize), toMultipleOf: packet)
        inBuffer = [UInt8](repeating: 0, count: min(chunk, transfer))
        let operation = "ask for its capabilities (GET_CAPABILITIES)"
        do throws(TransportError) {
            let reply = try Self.classRequest(
                .getCapabilities, port: port, endpoints: endpoints, resource: resource, timeout: options.controlTimeout,
                operation: operation)
            do throws(USBTMCViolation) {
                capabilities = try USBTMCCapabilities(parsing: reply, usb488: endpoints.isUSB488)
            } catch {
                throw Self.protocolError(resource, operation, error.message)
            }
        } catch {
            throw TransportError(
                resource: resource, operation: operation,
                kind: .connectFailed(errno: error.errno ?? EIO, message: error.reason))
        }
    }

    // MARK: ByteTransport

    /// Sends `bytes` as one message: DEV_DEP_MSG_OUT transfers, EOM on the last. Nothing is sent for no bytes.
    public func write(_ bytes: UnsafeRawBufferPointer, timeout: Duration) throws(TransportError) {
        let operation = "write \(bytes.count) bytes"
        let port = try openPort(operation)
        let deadline = Deadline(after: timeout)
        var offset = 0
        while offset < bytes.count {
            let count = min(bytes.count - offset, options.maxTransferSize)
            let header = USBTMCBulkOutHeader.devDepMsgOut(
                tag: nextTag(), size: UInt32(count), endOfMessage: offset + count == bytes.count)
            let length = USBTMC.roundUp(USBTMC.headerSize + count, toMultipleOf: 4)
            if outBuffer.count < length { outBuffer = [UInt8](repeating: 0, count: length) }
            outBuffer.withUnsafeMutableBytes { buffer in
                header.write(to: buffer)
                UnsafeMutableRawBufferPointer(rebasing: buffer[USBTMC.headerSize..<USBTMC.headerSize + count])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count]))
                for index in USBTMC.headerSize + count..<length { buffer[index] = 0 }
            }
            try sendBulkOut(length: length, tag: header.tag, port: port, until: deadline, operation: operation)
            offset += count
        }
    }

    /// Returns buffered message bytes; when there are none, asks the device for more (REQUEST_DEV_DEP_MSG_IN)
    /// and waits up to `timeout` for its DEV_DEP_MSG_IN transfers.
    public func read(into buffer: UnsafeMutableRawBufferPointer, timeout: Duration) throws(TransportError) -> Int {
        precondition(buffer.count > 0, "read needs room for at least one byte")
        let port = try openPort("read")
        let deadline = Deadline(after: timeout)
        var asked = false
        while inputStart == input.count {
            // A device may answer with empty transfers; asking again is bounded by the timeout.
            if asked && deadline.remaining == .zero {
                throw TransportError(resource: resource, operation: "read", kind: .timeout)
            }
            try receiveTransfer(port: port, until: deadline)
            asked = true
        }
        let count = min(buffer.count, input.count - inputStart)
        input.withUnsafeBytes { bytes in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[inputStart..<inputStart + count]))
        }
        inputStart += count
        if inputStart == input.count { dropInput() }
        return count
    }

    /// Drops buffered input. When the device may still hold output nobody will read (after a timeout, a
    /// failed recovery, or a message read only in part), clears it with INITIATE_CLEAR.
    public func discardInput() throws(TransportError) {
        let port = try openPort("discard input")
        dropInput()
        messageTail.removeAll(keepingCapacity: true)
        guard needsClear || !messageComplete else { return }
        try deviceClear(port: port)
    }

    /// Releases the interface (when the last reference to the device handle goes); later calls throw `.closed`.
    public func close() {
        port = nil
        dropInput()
    }

    // MARK: Bulk transfers

    /// Sends `outBuffer[..<length]`, bTag `tag`, to bulk-OUT; on failure recovers and throws.
    private func sendBulkOut(
        length: Int, tag: UInt8, port: any USBTMCDevicePort, until deadline: Deadline, operation: String
    ) throws(TransportError) {
        let bulkOut = endpoints.bulkOut
        let result = outBuffer.withUnsafeBytes { buffer in
            Result { () throws(USBError) in
                try port.bulkWrite(
                    endpoint: bulkOut, UnsafeRawBufferPointer(rebasing: buffer[..<length]), timeout: deadline.remaining)
            }
        }
        switch result {
        case .success(let sent) where sent == length:
            return
        case .success(let sent):
            throw recover(
                from: USBTMCViolation(message: "the bulk-OUT transfer bTag \(tag) sent \(sent) of \(length) bytes"),
                port: port, operation: operation)
        case .failure(let error):
            throw recover(from: error, endpoint: bulkOut, tag: tag, port: port, operation: operation)
        }
    }

    /// Asks for the next part of the device's message (REQUEST_DEV_DEP_MSG_IN) and appends the message bytes
    /// of the DEV_DEP_MSG_IN transfer that answers to `input`.
    private func receiveTransfer(port: any USBTMCDevicePort, until deadline: Deadline) throws(TransportError) {
        let operation = "read"
        let request = USBTMCBulkOutHeader.requestDevDepMsgIn(
            tag: nextTag(), size: UInt32(requestSize), termChar: capabilities.supportsTermChar ? options.termChar : nil)
        if outBuffer.count < USBTMC.headerSize { outBuffer = [UInt8](repeating: 0, count: USBTMC.headerSize) }
        outBuffer.withUnsafeMutableBytes { request.write(to: $0) }
        try sendBulkOut(length: USBTMC.headerSize, tag: request.tag, port: port, until: deadline, operation: operation)
        let start = input.count
        let header: USBTMCDevDepMsgInHeader
        do throws(BulkInFailure) {
            header = try receiveDevDepMsgIn(answering: request.tag, port: port, until: deadline)
        } catch {
            input.removeSubrange(start...)
            switch error {
            case .usb(let failure):
                throw recover(from: failure, endpoint: endpoints.bulkIn, tag: request.tag, port: port, operation: operation)
            case .violation(let violation):
                throw recover(from: violation, port: port, operation: operation)
            }
        }
        messageComplete = header.endOfMessage
        noteMessageBytes(from: start, endOfMessage: header.endOfMessage)
    }

    private enum BulkInFailure: Error {
        case usb(USBError)
        case violation(USBTMCViolation)
    }

    /// Reads one DEV_DEP_MSG_IN transfer answering bTag `tag`, a chunk at a time, appending its message bytes
    /// to `input`. The transfer is complete when header, TransferSize bytes and up to 3 alignment bytes have
    /// arrived, or a short packet ends it after the message bytes.
    private func receiveDevDepMsgIn(answering tag: UInt8, port: any USBTMCDevicePort, until deadline: Deadline)
        throws(BulkInFailure) -> USBTMCDevDepMsgInHeader
    {
        let packet = max(endpoints.bulkInMaxPacketSize, 1)
        var header: USBTMCDevDepMsgInHeader?
        var transferred = 0
        var skippedEmptyPacket = false
        while true {
            let want =
                if let header {
                    min(
                        inBuffer.count,
                        USBTMC.roundUp(Self.paddedEnd(of: header) - transferred, toMultipleOf: packet))
                } else {
                    inBuffer.count
                }
            let count = try bulkRead(want, port: port, timeout: deadline.remaining)
            let current: USBTMCDevDepMsgInHeader
            if let header {
                current = header
            } else if count == 0 && !skippedEmptyPacket {
                // A zero-length packet that ended the previous transfer on a packet boundary.
                skippedEmptyPacket = true
                continue
            } else {
                current = try parseHeader(count, answering: tag)
            }
            header = current
            let messageEnd = USBTMC.headerSize + current.transferSize
            let first = max(transferred, USBTMC.headerSize)
            let last = min(transferred + count, messageEnd)
            if first < last {
                input.append(contentsOf: inBuffer[(first - transferred)..<(last - transferred)])
            }
            transferred += count
            let paddedEnd = Self.paddedEnd(of: current)
            if transferred > paddedEnd {
                throw .violation(
                    USBTMCViolation(
                        message: "the DEV_DEP_MSG_IN reply to bTag \(tag) carried \(transferred - messageEnd) "
                            + "bytes after its TransferSize of \(current.transferSize) (at most 3 alignment bytes may follow)"))
            }
            let shortPacket = count < want
            if transferred == paddedEnd || (shortPacket && transferred >= messageEnd) { return current }
            if shortPacket {
                throw .violation(
                    USBTMCViolation(
                        message: "the DEV_DEP_MSG_IN reply to bTag \(tag) announced TransferSize "
                            + "\(current.transferSize) but the transfer ended after \(transferred) bytes, header included"))
            }
        }
    }

    /// Validates the header at the start of `inBuffer[..<count]`.
    private func parseHeader(_ count: Int, answering tag: UInt8) throws(BulkInFailure) -> USBTMCDevDepMsgInHeader {
        let requested = requestSize
        let result = inBuffer.withUnsafeBytes { bytes in
            Result { () throws(USBTMCViolation) in
                try USBTMCDevDepMsgInHeader(
                    parsing: UnsafeRawBufferPointer(rebasing: bytes[..<count]), answering: tag, requested: requested)
            }
        }
        switch result {
        case .success(let header): return header
        case .failure(let violation): throw .violation(violation)
        }
    }

    /// The header, TransferSize message bytes and the alignment to a multiple of 4.
    private static func paddedEnd(of header: USBTMCDevDepMsgInHeader) -> Int {
        USBTMC.roundUp(USBTMC.headerSize + header.transferSize, toMultipleOf: 4)
    }

    /// One bulk-IN read of up to `count` bytes into `inBuffer`.
    private func bulkRead(_ count: Int, port: any USBTMCDevicePort, timeout: Duration) throws(BulkInFailure) -> Int {
        let bulkIn = endpoints.bulkIn
        let result = inBuffer.withUnsafeMutableBytes { buffer in
            Result { () throws(USBError) in
                try port.bulkRead(
                    endpoint: bulkIn, into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<count]), timeout: timeout)
            }
        }
        switch result {
        case .success(let count): return count
        case .failure(let error): throw .usb(error)
        }
    }

    /// Tracks the end of the message being received and, at EOM, appends the message terminator if the
    /// message does not end with it.
    private func noteMessageBytes(from start: Int, endOfMessage: Bool) {
        guard let terminator = options.messageTerminator else { return }
        messageTail.append(contentsOf: input[start...].suffix(terminator.count))
        if messageTail.count > terminator.count { messageTail.removeFirst(messageTail.count - terminator.count) }
        guard endOfMessage else { return }
        if messageTail != terminator { input.append(contentsOf: terminator) }
        messageTail.removeAll(keepingCapacity: true)
    }

    // MARK: Recovery (USBTMC 1.0 §4.2.1)

    /// Recovers from a failed bulk transfer with bTag `tag` on `endpoint` and returns the error to throw: a
    /// timeout aborts the transfer, a stall clears the halt and the device.
    private func recover(
        from error: USBError, endpoint: UInt8, tag: UInt8, port: any USBTMCDevicePort, operation: String
    ) -> TransportError {
        let isOut = endpoint == endpoints.bulkOut
        let direction = isOut ? "bulk-OUT" : "bulk-IN"
        switch error.code {
        case .timeout:
            let failure = attempt { () throws(TransportError) in
                if isOut { try abortBulkOut(tag: tag, port: port) } else { try abortBulkIn(tag: tag, port: port) }
            }
            // The device may still answer, or hold the first part of an aborted message.
            needsClear = true
            let note = failure.map { "; aborting the \(direction) transfer then failed: \($0.reason)" } ?? ""
            return TransportError(resource: resource, operation: operation + note, kind: .timeout)
        case .pipe:
            let failure = attempt { () throws(TransportError) in
                try clearHalt(endpoint, port: port)
                try deviceClear(port: port)
            }
            let outcome =
                failure.map { "; recovering then failed: \($0.reason)" }
                ?? "; the halt was cleared and the device cleared (INITIATE_CLEAR)"
            return TransportError(
                resource: resource, operation: operation,
                kind: .system(
                    errno: EPIPE,
                    message: "the \(direction) transfer bTag \(tag) stalled on endpoint \(hexByte(endpoint)) "
                        + "(LIBUSB_ERROR_PIPE)" + outcome))
        default:
            return Self.transportError(resource, operation, error)
        }
    }

    /// Clears the device after it broke the protocol and returns the error to throw.
    private func recover(from violation: USBTMCViolation, port: any USBTMCDevicePort, operation: String)
        -> TransportError
    {
        let failure = attempt { () throws(TransportError) in try deviceClear(port: port) }
        let outcome =
            failure.map { "; clearing the device (INITIATE_CLEAR) then failed: \($0.reason)" }
            ?? "; the device was cleared (INITIATE_CLEAR)"
        return Self.protocolError(resource, operation, violation.message + outcome)
    }

    /// Runs a recovery step and returns its error, if any; a failed recovery leaves the device to be cleared
    /// by the next `discardInput`.
    private func attempt(_ step: () throws(TransportError) -> Void) -> TransportError? {
        do throws(TransportError) {
            try step()
            return nil
        } catch {
            needsClear = true
            return error
        }
    }

    /// INITIATE_ABORT_BULK_OUT for bTag `tag`, then CHECK_ABORT_BULK_OUT_STATUS until it is no longer
    /// STATUS_PENDING, then CLEAR_FEATURE(ENDPOINT_HALT) on bulk-OUT (§4.2.1.2, §4.2.1.3). STATUS_FAILED
    /// means no transfer was in progress: nothing to abort.
    private func abortBulkOut(tag: UInt8, port: any USBTMCDevicePort) throws(TransportError) {
        let operation = "abort bulk-OUT transfer bTag \(tag) (INITIATE_ABORT_BULK_OUT)"
        let deadline = Deadline(after: options.recoveryTimeout)
        let reply = try statusRequest(.initiateAbortBulkOut, value: UInt16(tag), port: port, operation: operation)
        switch reply.status {
        case .failed:
            return
        case .success:
            try pollStatus(.checkAbortBulkOutStatus, port: port, until: deadline, operation: operation)
            try clearHalt(endpoints.bulkOut, port: port)
        default:
            throw Self.protocolError(resource, operation, "the device answered \(reply.status)")
        }
    }

    /// INITIATE_ABORT_BULK_IN for bTag `tag`; on STATUS_SUCCESS reads bulk-IN until a short packet, then
    /// CHECK_ABORT_BULK_IN_STATUS until it is no longer STATUS_PENDING, reading bulk-IN again whenever
    /// bmAbortBulkIn.D0 asks (§4.2.1.4, §4.2.1.5). STATUS_FAILED means no transfer was in progress.
    private func abortBulkIn(tag: UInt8, port: any USBTMCDevicePort) throws(TransportError) {
        let operation = "abort bulk-IN transfer bTag \(tag) (INITIATE_ABORT_BULK_IN)"
        let deadline = Deadline(after: options.recoveryTimeout)
        let reply = try statusRequest(.initiateAbortBulkIn, value: UInt16(tag), port: port, operation: operation)
        switch reply.status {
        case .failed:
            return
        case .success:
            try drainBulkIn(port: port, until: deadline, operation: operation)
            try pollStatus(.checkAbortBulkInStatus, port: port, until: deadline, operation: operation)
        default:
            throw Self.protocolError(resource, operation, "the device answered \(reply.status)")
        }
    }

    /// Clears the device's input and output: INITIATE_CLEAR, then CHECK_CLEAR_STATUS until it is no longer
    /// STATUS_PENDING (reading bulk-IN whenever bmClear.D0 asks), then CLEAR_FEATURE(ENDPOINT_HALT) on
    /// bulk-OUT (§4.2.1.6, §4.2.1.7). Drops what was buffered.
    private func deviceClear(port: any USBTMCDevicePort) throws(TransportError) {
        let operation = "clear the device (INITIATE_CLEAR)"
        let deadline = Deadline(after: options.recoveryTimeout)
        dropInput()
        messageTail.removeAll(keepingCapacity: true)
        needsClear = true
        let reply = try statusRequest(.initiateClear, port: port, operation: operation)
        guard reply.status == .success else {
            throw Self.protocolError(resource, operation, "the device answered \(reply.status)")
        }
        try pollStatus(.checkClearStatus, port: port, until: deadline, operation: operation)
        try clearHalt(endpoints.bulkOut, port: port)
        needsClear = false
        messageComplete = true
    }

    /// Sends `check` until the device stops answering STATUS_PENDING, reading bulk-IN when the reply's D0 asks
    /// (CHECK_ABORT_BULK_IN_STATUS, CHECK_CLEAR_STATUS) and otherwise waiting ``Options/statusPollInterval``;
    /// throws unless the device ends with STATUS_SUCCESS before `deadline`.
    private func pollStatus(
        _ check: USBTMC.Request, port: any USBTMCDevicePort, until deadline: Deadline, operation: String
    ) throws(TransportError) {
        while true {
            let reply = try statusRequest(check, port: port, operation: operation)
            switch reply.status {
            case .success:
                return
            case .pending:
                guard deadline.remaining > .zero else {
                    throw Self.protocolError(
                        resource, operation,
                        "\(check) still answered STATUS_PENDING after \(milliseconds(options.recoveryTimeout))")
                }
                if check != .checkAbortBulkOutStatus && reply.bulkInHasData {
                    try drainBulkIn(port: port, until: deadline, operation: operation)
                } else {
                    pause(min(options.statusPollInterval, deadline.remaining))
                }
            default:
                throw Self.protocolError(resource, operation, "\(check) answered \(reply.status)")
            }
        }
    }

    /// Reads and drops bulk-IN data until a short packet ends it or nothing comes within ``drainWait``.
    private func drainBulkIn(port: any USBTMCDevicePort, until deadline: Deadline, operation: String)
        throws(TransportError)
    {
        while deadline.remaining > .zero {
            do throws(BulkInFailure) {
                let count = try bulkRead(inBuffer.count, port: port, timeout: min(deadline.remaining, Self.drainWait))
                if count < inBuffer.count { return }
            } catch {
                guard case .usb(let failure) = error, failure.code != .timeout else { return }
                throw Self.transportError(resource, operation, failure)
            }
        }
        throw TransportError(resource: resource, operation: operation + ": reading out bulk-IN", kind: .timeout)
    }

    /// libusb_clear_halt on `endpoint`.
    private func clearHalt(_ endpoint: UInt8, port: any USBTMCDevicePort) throws(TransportError) {
        do throws(USBError) {
            try port.clearHalt(endpoint: endpoint)
        } catch {
            throw Self.transportError(resource, "clear the halt on endpoint \(hexByte(endpoint))", error)
        }
    }

    // MARK: Class requests

    /// Sends a class request whose reply starts with USBTMC_status and returns the parsed reply.
    private func statusRequest(
        _ request: USBTMC.Request, value: UInt16 = 0, port: any USBTMCDevicePort, operation: String
    ) throws(TransportError) -> USBTMCControlReply {
        let reply = try Self.classRequest(
            request, value: value, port: port, endpoints: endpoints, resource: resource,
            timeout: options.controlTimeout, operation: operation)
        do throws(USBTMCViolation) {
            return try USBTMCControlReply(parsing: reply, to: request)
        } catch {
            throw Self.protocolError(resource, operation, error.message)
        }
    }

    /// Sends class request `request` (bmRequestType 0xA2 to an endpoint or 0xA1 to the interface, wLength the
    /// reply's length) and returns the reply's bytes.
    private static func classRequest(
        _ request: USBTMC.Request, value: UInt16 = 0, port: any USBTMCDevicePort, endpoints: USBTMCEndpoints,
        resource: ResourceName, timeout: Duration, operation: String
    ) throws(TransportError) -> ArraySlice<UInt8> {
        let setup = USBControlSetup(
            direction: .deviceToHost, type: .class, recipient: request.isToEndpoint ? .endpoint : .interface,
            request: request.rawValue, value: value, index: endpoints.index(for: request))
        var reply = [UInt8](repeating: 0, count: request.replyLength)
        let result = reply.withUnsafeMutableBytes { buffer in
            Result { () throws(USBError) in try port.controlTransfer(setup, receivingInto: buffer, timeout: timeout) }
        }
        switch result {
        case .success(let count): return reply[..<count]
        case .failure(let error): throw transportError(resource, "\(operation): \(request)", error)
        }
    }

    // MARK: Helpers

    private func openPort(_ operation: String) throws(TransportError) -> any USBTMCDevicePort {
        guard let port else { throw TransportError(resource: resource, operation: operation, kind: .closed) }
        return port
    }

    /// The next bTag: 1 through 255, then 1 again.
    private func nextTag() -> UInt8 {
        lastTag = USBTMC.tag(after: lastTag)
        return lastTag
    }

    private func dropInput() {
        input.removeAll(keepingCapacity: input.capacity <= 1 << 20)
        inputStart = 0
    }

    /// A libusb failure as a transport error: a timeout is `.timeout`, a vanished device `.disconnected`,
    /// anything else `.system` with the closest errno and libusb's sentence.
    static func transportError(_ resource: ResourceName, _ operation: String, _ error: USBError) -> TransportError {
        let kind: TransportError.Kind =
            switch error.code {
            case .timeout: .timeout
            case .noDevice: .disconnected
            default: .system(errno: error.code.errno, message: error.description)
            }
        return TransportError(resource: resource, operation: operation, kind: kind)
    }

    /// A device that broke the USBTMC protocol: `.system(EPROTO, …)`.
    private static func protocolError(_ resource: ResourceName, _ operation: String, _ message: String) -> TransportError {
        TransportError(resource: resource, operation: operation, kind: .system(errno: EPROTO, message: message))
    }
}

extension USBError.Code {
    /// The errno closest to this libusb code.
    var errno: Int32 {
        switch self {
        case .io, .other: EIO
        case .invalidParameter: EINVAL
        case .access: EACCES
        case .noDevice: ENODEV
        case .notFound: ENOENT
        case .busy: EBUSY
        case .timeout: ETIMEDOUT
        case .overflow: EOVERFLOW
        case .pipe: EPIPE
        case .interrupted: EINTR
        case .noMemory: ENOMEM
        case .notSupported: EOPNOTSUPP
        }
    }
}

/// Sleeps for `duration` (nanosleep, resumed after signals).
private func pause(_ duration: Duration) {
    let (seconds, attoseconds) = duration.components
    var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
    var remaining = timespec()
    while nanosleep(&request, &remaining) == -1 && errno == EINTR {
        request = remaining
    }
}
