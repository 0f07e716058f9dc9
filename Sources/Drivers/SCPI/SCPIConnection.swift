import HAL

/// How a session frames and times its messages.
public struct SCPISettings: Sendable, Hashable {
    /// Appended to every command, e.g. "\r\n" for the Lake Shore 372, "\n" for the Keysight 33500B.
    public var writeTerminator: String
    /// Ends every reply.
    public var readTerminator: String
    /// How long a write, or a whole reply, may take.
    public var timeout: Duration
    /// The longest reply (or binary block) accepted, in bytes without the terminator; a longer one throws
    /// rather than filling memory.
    public var maxReplyLength: Int

    /// Programmer errors trap: an empty terminator, a timeout that is not positive, a limit below 1.
    public init(
        writeTerminator: String = "\n", readTerminator: String = "\n", timeout: Duration = .seconds(2),
        maxReplyLength: Int = 1 << 20
    ) {
        precondition(!writeTerminator.isEmpty && !readTerminator.isEmpty, "terminators cannot be empty")
        precondition(timeout > .zero, "the timeout must be positive")
        precondition(maxReplyLength >= 1, "the reply limit must be at least one byte")
        self.writeTerminator = writeTerminator
        self.readTerminator = readTerminator
        self.timeout = timeout
        self.maxReplyLength = maxReplyLength
    }
}

/// The connection inside an ``SCPISession``: its transport and read buffer. It exists only while the
/// session's lock is held — in ``SCPISession/withExclusiveAccess(_:)``, or for one call of the session's
/// own methods — so everything done through it is one uninterrupted exchange.
///
/// **Framing.** A command is sent with the write terminator. A reply is read up to the read terminator;
/// bytes after it stay buffered for the next reply, so pipelined commands (write, write, read, read) work.
///
/// **Resynchronizing.** Input nobody is waiting for is stale: a late reply after a timeout, the rest of a
/// garbled or over-long reply. So the first write of every exclusive access, and the first write after any
/// failed exchange, first drops the buffer and the transport's pending input (``ByteTransport/discardInput()``).
/// A reply later than the next command itself cannot be told apart on a plain byte stream; timeouts should
/// be long enough for that not to happen.
public struct SCPIConnection: ~Copyable {
    /// The instrument as errors name it, e.g. "Lake Shore 372 at TCPIP0::192.168.1.20::7777::SOCKET".
    public let instrument: String
    public let settings: SCPISettings
    let transport: any ByteTransport
    private let writeTerminator: [UInt8]
    private let readTerminator: [UInt8]
    /// Received bytes; those before `inputStart` are consumed.
    private var input: [UInt8] = []
    private var inputStart = 0
    /// No read terminator starts in `input[inputStart..<scannedUpTo]`.
    private var scannedUpTo = 0
    private var chunk = [UInt8](repeating: 0, count: 65_536)
    private var discardBeforeNextWrite = true

    init(transport: sending any ByteTransport, instrument: String, settings: SCPISettings) {
        self.transport = transport
        self.instrument = instrument
        self.settings = settings
        writeTerminator = Array(settings.writeTerminator.utf8)
        readTerminator = Array(settings.readTerminator.utf8)
    }

    public var resource: ResourceName { transport.resource }

    // MARK: Messages

    /// Sends `command` and its terminator; no reply is read.
    public mutating func write(_ command: String) throws(InstrumentError) {
        try check(command)
        try send(Array(command.utf8) + writeTerminator, for: command)
    }

    /// Sends `command` and returns its reply without the terminator. `timeout` overrides the session's.
    public mutating func query(_ command: String, timeout: Duration? = nil) throws(InstrumentError) -> String {
        let deadline = Deadline(after: timeout ?? settings.timeout)
        try write(command)
        return try readLine(for: command, until: deadline)
    }

    /// Sends `commands` as one compound message joined by ";" (e.g. `KRDG? 1;KRDG? 2`) and returns the
    /// reply of each query among them, in order. IEEE 488.2 joins the response messages of one program
    /// message with ";" and ends them with one terminator; a command is a query when its header (the text
    /// before the first space) ends with "?". At least one command must be a query.
    public mutating func query(_ commands: [String], timeout: Duration? = nil) throws(InstrumentError) -> [String] {
        let queries = commands.filter(Self.isQuery).count
        precondition(queries > 0, "a compound query needs at least one query among \(commands)")
        let compound = commands.joined(separator: ";")
        let reply = try query(compound, timeout: timeout)
        return try SCPIReply.fields(reply, count: queries, separator: ";", command: compound, instrument: instrument)
    }

    /// Reads the next reply without sending anything, for a command written earlier in this exclusive
    /// access or an instrument that reports by itself.
    public mutating func readReply(to command: String, timeout: Duration? = nil) throws(InstrumentError) -> String {
        try readLine(for: command, until: Deadline(after: timeout ?? settings.timeout))
    }

    /// Sends `command` and reads an arbitrary-block reply (`#<n><length><data>` or `#0<data>`), returning
    /// the data. A block longer than ``SCPISettings/maxReplyLength`` or whose length field does not match the
    /// data throws `.unexpectedReply`; one that stops arriving throws `.transport(.timeout)`.
    public mutating func queryBinaryBlock(_ command: String, timeout: Duration? = nil) throws(InstrumentError) -> [UInt8] {
        let deadline = Deadline(after: timeout ?? settings.timeout)
        try write(command)
        var searchFrom = inputStart
        while true {
            let scan: BinaryBlock.Scan
            do {
                scan = try BinaryBlock.scan(
                    input, from: inputStart, terminator: readTerminator, maxLength: settings.maxReplyLength,
                    searchFrom: searchFrom)
            } catch {
                let reply = SCPIReply.excerpt(input[inputStart...])
                dropInput()
                throw error.instrumentError(reply: reply, command: command, instrument: instrument)
            }
            if case .complete(let data, let end) = scan {
                let block = Array(input[data])
                consume(upTo: end)
                return block
            }
            searchFrom = max(inputStart, input.count - readTerminator.count + 1)
            try fill(for: command, until: deadline)
        }
    }

    /// Sends `header` followed by `bytes` as a definite-length block `#<n><length><data>` and the terminator,
    /// e.g. header `DATA:ARB:DAC myarb,` for the Keysight 33500B. At most 999,999,999 bytes (nine length digits).
    public mutating func writeBinaryBlock(header: String, bytes: [UInt8]) throws(InstrumentError) {
        try check(header)
        let length = String(bytes.count)
        guard length.count <= 9 else {
            throw InstrumentError(
                instrument: instrument, command: header,
                kind: .invalidArgument("a block holds at most 999999999 bytes, not \(bytes.count)"))
        }
        let message = Array(header.utf8) + Array("#\(length.count)\(length)".utf8) + bytes + writeTerminator
        try send(message, for: header)
    }

    // MARK: IEEE 488.2 common commands

    /// `*IDN?`: manufacturer, model, serial number and firmware.
    public mutating func identify() throws(InstrumentError) -> InstrumentIdentity {
        try SCPIReply.identity(query("*IDN?"), instrument: instrument)
    }

    /// `*RST`: the instrument's power-up settings.
    public mutating func reset() throws(InstrumentError) {
        try write("*RST")
    }

    /// `*CLS`: clears the status registers and the error queue.
    public mutating func clearStatus() throws(InstrumentError) {
        try write("*CLS")
    }

    /// `*OPC?`: waits until every pending operation has finished, when the instrument replies `1`.
    public mutating func waitForOperationComplete(timeout: Duration? = nil) throws(InstrumentError) {
        let reply = try query("*OPC?", timeout: timeout)
        guard try SCPIReply.integer(reply, command: "*OPC?", instrument: instrument) == 1 else {
            throw InstrumentError(
                instrument: instrument, command: "*OPC?", kind: .unexpectedReply(reply: reply, expected: "1"))
        }
    }

    /// Reads the error queue with `query` (`SYST:ERR?` by default) until the entry with code 0 and returns
    /// the entries before it, oldest first. An instrument that has not said 0 after `limit` entries is
    /// broken: that throws rather than looping on.
    public mutating func drainErrors(query command: String = "SYST:ERR?", limit: Int = 100) throws(InstrumentError) -> [InstrumentQueueError] {
        precondition(limit >= 1, "the limit must allow at least one entry")
        var entries: [InstrumentQueueError] = []
        var reply = ""
        for _ in 0..<limit {
            reply = try query(command)
            let entry = try SCPIReply.errorQueueEntry(reply, command: command, instrument: instrument)
            if entry.code == 0 { return entries }
            entries.append(entry)
        }
        throw InstrumentError(
            instrument: instrument, command: command,
            kind: .unexpectedReply(
                reply: SCPIReply.excerpt(Array(reply.utf8)[...]),
                expected: "the entry with code 0 within \(limit) replies (the error queue never emptied)"))
    }

    /// Closes the transport; later operations throw `.transport(.closed)` unless it reconnects by itself.
    public mutating func close() {
        dropInput()
        transport.close()
    }

    // MARK: Framing

    /// Marks the start of an exclusive access: the next write first drops stale input.
    mutating func beginExclusiveAccess() {
        discardBeforeNextWrite = true
    }

    static func isQuery(_ command: String) -> Bool {
        command.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false).first?.hasSuffix("?") ?? false
    }

    /// Refuses an empty command or one that contains a line feed or the write terminator: it would end the
    /// message early, and the instrument would take the rest as another command.
    private func check(_ command: String) throws(InstrumentError) {
        let reason: String? =
            if command.isEmpty {
                "the command is empty"
            } else if command.utf8.contains(0x0A) || Self.contains(command.utf8, run: writeTerminator) {
                "the command contains a line feed or the write terminator, which would split it"
            } else {
                nil
            }
        if let reason {
            throw InstrumentError(
                instrument: instrument, command: SCPIReply.excerpt(Array(command.utf8)[...]),
                kind: .invalidArgument(reason))
        }
    }

    /// Whether `bytes` holds `pattern` as a contiguous run: a plain scan, as commands are short
    /// (the generic `Collection.contains(_:)` of a collection costs more than the round trip's I/O).
    private static func contains(_ bytes: String.UTF8View, run pattern: [UInt8]) -> Bool {
        guard let first = pattern.first else { return false }
        var from = bytes.startIndex
        while let start = bytes[from...].firstIndex(of: first) {
            if bytes[start...].starts(with: pattern) { return true }
            from = bytes.index(after: start)
        }
        return false
    }

    private mutating func send(_ message: [UInt8], for command: String) throws(InstrumentError) {
        do {
            if discardBeforeNextWrite {
                dropInput()
                try transport.discardInput()
                discardBeforeNextWrite = false
            }
            try transport.write(message, timeout: settings.timeout)
        } catch {
            dropInput()
            throw InstrumentError(instrument: instrument, command: command, kind: .transport(error))
        }
    }

    /// The next reply, up to the read terminator, decoded as UTF-8 (invalid bytes become U+FFFD).
    private mutating func readLine(for command: String, until deadline: Deadline) throws(InstrumentError) -> String {
        while true {
            let terminatorStart = findTerminator()
            let length = (terminatorStart ?? input.count - readTerminator.count + 1) - inputStart
            guard length <= settings.maxReplyLength else {
                let reply = SCPIReply.excerpt(input[inputStart..<(terminatorStart ?? input.count)])
                dropInput()
                throw InstrumentError(
                    instrument: instrument, command: command,
                    kind: .unexpectedReply(
                        reply: reply,
                        expected: "a reply of at most \(settings.maxReplyLength) bytes ending in "
                            + SCPIReply.excerpt(readTerminator[...])))
            }
            if let terminatorStart {
                let line = String(decoding: input[inputStart..<terminatorStart], as: UTF8.self)
                consume(upTo: terminatorStart + readTerminator.count)
                return line
            }
            try fill(for: command, until: deadline)
        }
    }

    /// Where the next read terminator starts, searching only bytes not searched before.
    private mutating func findTerminator() -> Int? {
        var index = max(inputStart, scannedUpTo)
        while index + readTerminator.count <= input.count {
            if input[index] == readTerminator[0],
                input[index..<index + readTerminator.count].elementsEqual(readTerminator)
            {
                return index
            }
            index += 1
        }
        scannedUpTo = index
        return nil
    }

    /// Reads what the transport has (waiting until `deadline` for the first byte) into the buffer.
    private mutating func fill(for command: String, until deadline: Deadline) throws(InstrumentError) {
        let transport = self.transport
        let result = chunk.withUnsafeMutableBytes { buffer in
            Result { () throws(TransportError) in try transport.read(into: buffer, timeout: deadline.remaining) }
        }
        switch result {
        case .success(let count):
            input.append(contentsOf: chunk[..<count])
        case .failure(let error):
            dropInput()
            throw InstrumentError(instrument: instrument, command: command, kind: .transport(error))
        }
    }

    /// Marks the bytes before `end` consumed, compacting the buffer once it is empty or mostly consumed.
    private mutating func consume(upTo end: Int) {
        inputStart = end
        if inputStart == input.count {
            input.removeAll(keepingCapacity: input.capacity <= 1 << 20)
            inputStart = 0
            scannedUpTo = 0
        } else if inputStart >= 65_536 {
            input.removeSubrange(..<inputStart)
            scannedUpTo = max(0, scannedUpTo - inputStart)
            inputStart = 0
        }
    }

    /// Drops everything buffered; the next write also drops the transport's pending input.
    private mutating func dropInput() {
        input.removeAll(keepingCapacity: input.capacity <= 1 << 20)
        inputStart = 0
        scannedUpTo = 0
        discardBeforeNextWrite = true
    }
}
