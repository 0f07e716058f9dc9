import HAL
import Synchronization

/// A message-based session with one SCPI / IEEE 488.2 instrument over any ``ByteTransport``.
///
/// Safe to share between threads and tasks: a `Mutex` serializes access, so each call — and each
/// ``withExclusiveAccess(_:)`` block — is one uninterrupted exchange, and replies always go to the caller
/// whose command asked for them. Calls block their thread for at most about the timeout. The transport
/// moves into the session, which owns it from then on.
///
/// Every failure is an `InstrumentError` naming ``instrument`` and the command: `.transport(.timeout)`
/// when no (complete) reply arrived in time, `.unexpectedReply` for a reply of the wrong form or length.
public final class SCPISession: Sendable {
    /// The instrument as errors name it, e.g. "Lake Shore 372 at TCPIP0::192.168.1.20::7777::SOCKET".
    public let instrument: String
    public let resource: ResourceName
    public let settings: SCPISettings
    private let connection: Mutex<SCPIConnection>

    /// A session over `transport`, which it owns from now on.
    public init(transport: sending any ByteTransport, instrument: String, settings: SCPISettings = SCPISettings()) {
        self.instrument = instrument
        self.settings = settings
        resource = transport.resource
        connection = Mutex(SCPIConnection(transport: transport, instrument: instrument, settings: settings))
    }

    /// A session with the given terminators (e.g. "\r\n" for the Lake Shore 372), timeout and reply limit.
    public convenience init(
        transport: sending any ByteTransport, instrument: String, writeTerminator: String, readTerminator: String,
        timeout: Duration, maxReplyLength: Int = 1 << 20
    ) {
        self.init(
            transport: transport, instrument: instrument,
            settings: SCPISettings(
                writeTerminator: writeTerminator, readTerminator: readTerminator, timeout: timeout,
                maxReplyLength: maxReplyLength))
    }

    /// Runs `body` with the connection while holding the session's lock, for multi-step transactions (write,
    /// then several reads; a setting, then `*OPC?`) that no other caller may interleave with. Stale input is
    /// dropped before the block's first write.
    public func withExclusiveAccess<Result: Sendable, Failure: Error>(
        _ body: (inout SCPIConnection) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try connection.withLock { (connection: inout sending SCPIConnection) throws(Failure) -> Result in
            connection.beginExclusiveAccess()
            return try body(&connection)
        }
    }

    /// Sends `command`; no reply is read. See ``SCPIConnection/write(_:)``.
    public func write(_ command: String) throws(InstrumentError) {
        try withExclusiveAccess { (connection) throws(InstrumentError) in try connection.write(command) }
    }

    /// Sends `command` and returns its reply without the terminator. See ``SCPIConnection/query(_:timeout:)-(String,_)``.
    public func query(_ command: String, timeout: Duration? = nil) throws(InstrumentError) -> String {
        try withExclusiveAccess { (connection) throws(InstrumentError) in try connection.query(command, timeout: timeout) }
    }

    /// Sends a compound command joined by ";" and returns each query's reply. See
    /// ``SCPIConnection/query(_:timeout:)-([String],_)``.
    public func query(_ commands: [String], timeout: Duration? = nil) throws(InstrumentError) -> [String] {
        try withExclusiveAccess { (connection) throws(InstrumentError) in try connection.query(commands, timeout: timeout) }
    }

    /// Sends `command` and returns the data of its arbitrary-block reply.
    public func queryBinaryBlock(_ command: String, timeout: Duration? = nil) throws(InstrumentError) -> [UInt8] {
        try withExclusiveAccess { (connection) throws(InstrumentError) in
            try connection.queryBinaryBlock(command, timeout: timeout)
        }
    }

    /// Sends `header` and `bytes` as a definite-length block `#<n><length><data>`.
    public func writeBinaryBlock(header: String, bytes: [UInt8]) throws(InstrumentError) {
        try withExclusiveAccess { (connection) throws(InstrumentError) in
            try connection.writeBinaryBlock(header: header, bytes: bytes)
        }
    }

    /// `*IDN?`: manufacturer, model, serial number and firmware.
    public func identify() throws(InstrumentError) -> InstrumentIdentity {
        try withExclusiveAccess { (connection) throws(InstrumentError) in try connection.identify() }
    }

    /// `*RST`: the instrument's power-up settings.
    public func reset() throws(InstrumentError) {
        try withExclusiveAccess { (connection) throws(InstrumentError) in try connection.reset() }
    }

    /// `*CLS`: clears the status registers and the error queue.
    public func clearStatus() throws(InstrumentError) {
        try withExclusiveAccess { (connection) throws(InstrumentError) in try connection.clearStatus() }
    }

    /// `*OPC?`: waits until every pending operation has finished.
    public func waitForOperationComplete(timeout: Duration? = nil) throws(InstrumentError) {
        try withExclusiveAccess { (connection) throws(InstrumentError) in
            try connection.waitForOperationComplete(timeout: timeout)
        }
    }

    /// Reads the error queue until code 0, at most `limit` entries. See ``SCPIConnection/drainErrors(query:limit:)``.
    public func drainErrors(query command: String = "SYST:ERR?", limit: Int = 100) throws(InstrumentError) -> [InstrumentQueueError] {
        try withExclusiveAccess { (connection) throws(InstrumentError) in
            try connection.drainErrors(query: command, limit: limit)
        }
    }

    /// Closes the transport.
    public func close() {
        withExclusiveAccess { connection in connection.close() }
    }
}
