import Dispatch
import Glibc
import HAL
import Synchronization
import Testing

@testable import Drivers

/// A session to a fresh ``SimulatedInstrument``.
func simulatedSession(
    timeout: Duration = .seconds(10), maxReplyLength: Int = 1 << 20
) throws -> (SimulatedInstrument, SCPISession) {
    let instrument = try SimulatedInstrument()
    let options = TCPTransport.Options(initialBackoff: .milliseconds(1), maximumBackoff: .milliseconds(8))
    let transport = TCPTransport(host: "127.0.0.1", port: instrument.port, options: options)
    let session = SCPISession(
        transport: transport, instrument: "SIM100 at \(transport.resource)",
        settings: SCPISettings(timeout: timeout, maxReplyLength: maxReplyLength))
    return (instrument, session)
}

/// The transport error inside an instrument error, if that is what it is.
func transportKind(_ error: InstrumentError?) -> TransportError.Kind? {
    if case .transport(let transport) = error?.kind { transport.kind } else { nil }
}

@Suite("SCPI session against a simulated instrument", .timeLimit(.minutes(1)))
struct SCPISessionTests {
    @Test("A query returns the reply without its terminator")
    func query() throws {
        let (_, session) = try simulatedSession()
        #expect(try session.query("ECHO? 42") == "42")
        #expect(try session.query("ECHO? +293.873E+00") == "+293.873E+00")
        try session.write("SET 7")
        #expect(try session.query("GET?") == "7")
    }

    @Test("*IDN? parses into an identity; *RST, *CLS and *OPC? reach the instrument")
    func commonCommands() throws {
        let (instrument, session) = try simulatedSession()
        #expect(try session.identify() == InstrumentIdentity(manufacturer: "QR", model: "SIM100", serialNumber: "SN42", firmware: "1.0"))
        try session.reset()
        try session.clearStatus()
        try session.waitForOperationComplete()
        #expect(instrument.script.state.withLock { $0.received } == ["*IDN?", "*RST", "*CLS", "*OPC?"])
    }

    @Test("A malformed *IDN? reply is .unexpectedReply naming the command and the reply", arguments: [
        "QR,SIM100", "QR,SIM100,SN42,1.0,extra", ",SIM100,SN42,1.0", "",
    ])
    func malformedIdentity(reply: String) throws {
        let (instrument, session) = try simulatedSession()
        instrument.script.state.withLock { $0.identity = reply }
        let error = #expect(throws: InstrumentError.self) { try session.identify() }
        #expect(error?.command == "*IDN?")
        #expect(error?.instrument == session.instrument)
        guard case .unexpectedReply(let got, _) = error?.kind else {
            Issue.record("expected unexpectedReply, got \(String(describing: error))")
            return
        }
        #expect(got == reply)
    }

    @Test("A compound query sends one message and splits the ';'-joined replies")
    func compound() throws {
        let (instrument, session) = try simulatedSession()
        #expect(try session.query(["ECHO? a", "SET 5", "GET?", "*IDN?"]) == ["a", "5", "QR,SIM100,SN42,1.0"])
        #expect(instrument.script.state.withLock { $0.received } == ["ECHO? a", "SET 5", "GET?", "*IDN?"])
        let error = #expect(throws: InstrumentError.self) { try session.query(["SILENT?", "ECHO? b"]) }
        #expect(error?.command == "SILENT?;ECHO? b")
        guard case .unexpectedReply(_, let expected) = error?.kind else {
            Issue.record("expected unexpectedReply, got \(String(describing: error))")
            return
        }
        #expect(expected == "2 fields separated by \";\", got 1")
    }

    @Test("Definite and indefinite blocks come back whole", arguments: [0, 1, 10, 100_000])
    func blocks(size: Int) throws {
        let (_, session) = try simulatedSession()
        #expect(try session.queryBinaryBlock("BLOCK? \(size)") == InstrumentScript.pattern(size))
        #expect(try session.queryBinaryBlock("BLOCK0?") == Array("hello, world".utf8))
        #expect(try session.query("ECHO? after") == "after")
    }

    @Test("A block written with writeBinaryBlock arrives byte for byte", arguments: [0, 3, 70_000])
    func writeBlock(size: Int) throws {
        let (_, session) = try simulatedSession()
        let data = InstrumentScript.pattern(size)
        try session.writeBinaryBlock(header: "DATA:ARB ", bytes: data)
        #expect(try session.queryBinaryBlock("DATA:ARB?") == data)
    }

    @Test("A block whose length field lies is .unexpectedReply; the session then recovers")
    func lyingBlock() throws {
        let (_, session) = try simulatedSession()
        let error = #expect(throws: InstrumentError.self) { try session.queryBinaryBlock("LIE?") }
        #expect(error?.command == "LIE?")
        guard case .unexpectedReply(let reply, let expected) = error?.kind else {
            Issue.record("expected unexpectedReply, got \(String(describing: error))")
            return
        }
        #expect(reply.hasPrefix("#13hel"))
        #expect(expected.contains("terminator right after the 3 data bytes"))
        #expect(try session.query("ECHO? fine") == "fine")
    }

    @Test("A block cut short times out, naming the command; the session then recovers")
    func truncatedBlock() throws {
        let (_, session) = try simulatedSession(timeout: .milliseconds(100))
        let error = #expect(throws: InstrumentError.self) { try session.queryBinaryBlock("TRUNC?") }
        #expect(error?.command == "TRUNC?")
        #expect(transportKind(error) == .timeout)
        #expect(try session.query("ECHO? fine") == "fine")
    }

    @Test("A reply that is not a block is refused")
    func notABlock() throws {
        let (_, session) = try simulatedSession()
        let error = #expect(throws: InstrumentError.self) { try session.queryBinaryBlock("ECHO? plain") }
        #expect(error?.kind == .unexpectedReply(reply: "plain\\n", expected: "a binary block starting with \"#\""))
    }

    @Test("The error queue drains until code 0, messages unquoted")
    func drainsErrors() throws {
        let (instrument, session) = try simulatedSession()
        instrument.script.state.withLock {
            $0.errorQueue = ["-113,\"Undefined header\"", "-222,\"Data out of range; clipped, to 5\""]
        }
        #expect(try session.drainErrors() == [
            InstrumentQueueError(code: -113, message: "Undefined header"),
            InstrumentQueueError(code: -222, message: "Data out of range; clipped, to 5"),
        ])
        #expect(try session.drainErrors().isEmpty)
    }

    @Test("An error queue that never empties throws after the limit instead of looping")
    func brokenErrorQueue() throws {
        let (instrument, session) = try simulatedSession()
        instrument.script.state.withLock { $0.stuckError = "-350,\"Queue overflow\"" }
        let error = #expect(throws: InstrumentError.self) { try session.drainErrors(limit: 5) }
        #expect(error?.command == "SYST:ERR?")
        #expect(instrument.script.state.withLock { $0.received.count } == 5)
        #expect(error?.description.contains("within 5 replies") == true)
    }

    @Test("A reply longer than the limit is refused without holding it; the session then recovers")
    func replyTooLong() throws {
        let (_, session) = try simulatedSession(maxReplyLength: 1024)
        #expect(try session.query("HUGE? 1024").utf8.count == 1024)
        let error = #expect(throws: InstrumentError.self) { try session.query("HUGE? 4096") }
        #expect(error?.command == "HUGE? 4096")
        guard case .unexpectedReply(let reply, let expected) = error?.kind else {
            Issue.record("expected unexpectedReply, got \(String(describing: error))")
            return
        }
        #expect(reply.hasSuffix("bytes)"))
        #expect(expected == "a reply of at most 1024 bytes ending in \\n")
        #expect(try session.query("ECHO? fine") == "fine")
        #expect(SCPISettings().maxReplyLength == 1 << 20)
    }

    @Test("A timeout names the command, and a late reply is not taken for the next command's")
    func lateReply() throws {
        let (instrument, session) = try simulatedSession(timeout: .milliseconds(100))
        let error = #expect(throws: InstrumentError.self) { try session.query("SLOW?") }
        #expect(error?.command == "SLOW?")
        #expect(error?.instrument == session.instrument)
        #expect(transportKind(error) == .timeout)
        instrument.script.releaseLateReply()
        #expect(instrument.script.lateReplySent.wait(timeout: .now() + 10.0) == .success)
        #expect(try session.query("ECHO? fresh", timeout: .seconds(10)) == "fresh")
    }

    @Test("Pipelined commands and several lines in one read keep their order inside exclusive access")
    func buffering() throws {
        let (_, session) = try simulatedSession()
        let replies = try session.withExclusiveAccess { (connection) throws(InstrumentError) -> [String] in
            let first = try connection.query("TWO?")
            let second = try connection.readReply(to: "TWO?")
            try connection.write("ECHO? a")
            try connection.write("ECHO? b")
            return [first, second, try connection.readReply(to: "ECHO? a"), try connection.readReply(to: "ECHO? b")]
        }
        #expect(replies == ["first", "second", "a", "b"])
    }

    @Test("A line left over from the previous exclusive access is dropped as stale")
    func staleLineDropped() throws {
        let (_, session) = try simulatedSession()
        #expect(try session.query("TWO?") == "first")
        #expect(try session.query("ECHO? next") == "next")
    }

    @Test("The peer hanging up is .disconnected; the next query reconnects")
    func reconnects() throws {
        let (instrument, session) = try simulatedSession()
        #expect(try session.query("ECHO? one") == "one")
        let error = #expect(throws: InstrumentError.self) { try session.query("BYE?") }
        #expect(transportKind(error) == .disconnected)
        #expect(try session.query("ECHO? two") == "two")
        #expect(instrument.server.connectionCount == 2)
    }

    @Test("A command with a line feed or the terminator inside, or none at all, is refused before sending",
          arguments: ["SET 1\nSET 2", "", "SET 1\n"])
    func invalidCommands(command: String) throws {
        let (instrument, session) = try simulatedSession()
        let error = #expect(throws: InstrumentError.self) { try session.write(command) }
        guard case .invalidArgument = error?.kind else {
            Issue.record("expected invalidArgument, got \(String(describing: error))")
            return
        }
        #expect(try session.query("ECHO? ok") == "ok")
        #expect(instrument.script.state.withLock { $0.received } == ["ECHO? ok"])
    }

    @Test("After close a query throws .closed")
    func closed() throws {
        let (_, session) = try simulatedSession()
        #expect(try session.query("ECHO? x") == "x")
        session.close()
        let error = #expect(throws: InstrumentError.self) { try session.query("ECHO? y") }
        #expect(transportKind(error) == .closed)
    }

    @Test("Eight threads querying at once each get their own replies")
    func concurrentUse() throws {
        let (_, session) = try simulatedSession()
        let mismatches = Mutex<[String]>([])
        let finished = runOnThreads(8) { thread in
            for index in 0..<200 {
                let tag = "t\(thread)-\(index)"
                do {
                    let reply: String
                    if index % 3 == 0 {
                        reply = try session.query(["ECHO? \(tag)", "ECHO? \(tag)"]).joined(separator: "+")
                        if reply != "\(tag)+\(tag)" { mismatches.withLock { $0.append("\(tag) got \(reply)") } }
                    } else {
                        reply = try session.query("ECHO? \(tag)")
                        if reply != tag { mismatches.withLock { $0.append("\(tag) got \(reply)") } }
                    }
                } catch {
                    mismatches.withLock { $0.append("\(tag) threw \(error)") }
                }
            }
        }
        #expect(finished)
        #expect(mismatches.withLock { $0 } == [])
    }

    @Test("Which commands of a compound are queries")
    func queryDetection() {
        #expect(SCPIConnection.isQuery("KRDG? 1"))
        #expect(SCPIConnection.isQuery("*IDN?"))
        #expect(!SCPIConnection.isQuery("SETP 0,0.1"))
        #expect(!SCPIConnection.isQuery("OUTP1 ON"))
        #expect(!SCPIConnection.isQuery("INNAME 1,\"what?\""))
    }
}
