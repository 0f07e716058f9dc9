import Dispatch
import Synchronization

/// A tiny SCPI instrument behind a ``TestServer``, for the session tests. Program messages end in "\n"; a
/// message may hold several commands joined by ";", whose replies go back joined by ";" in one line.
///
/// Commands: `*IDN?`, `*RST`, `*CLS`, `*OPC?`, `SYST:ERR?` (pops ``errorQueue``, then `+0,"No error"`),
/// `ECHO? <text>`, `SET <v>` / `GET?`, `DATA:ARB #<block>` / `DATA:ARB?`, `BLOCK? <n>` (n pattern bytes as
/// a definite block), `BLOCK0?` (an indefinite block), `LIE?` (a block whose length field says 3 but that
/// holds 5 bytes), `TRUNC?` (a block cut short), `HUGE? <n>` (n bytes of "A"), `SILENT?` (never replies),
/// `SLOW?` (replies "late" only after ``releaseLateReply()``, then signals ``lateReplySent``), `TWO?` (two
/// lines at once), `BYE?` (closes the connection without replying).
struct SimulatedInstrument {
    let script = InstrumentScript()
    let server: TestServer

    init() throws {
        server = try TestServer { [script] connection in script.serve(connection) }
    }

    var port: UInt16 { server.port }
}

/// What ``SimulatedInstrument`` does with each command, and what it has seen.
final class InstrumentScript: Sendable {
    struct State {
        var identity = "QR,SIM100,SN42,1.0"
        var errorQueue: [String] = []
        /// Every `SYST:ERR?` reply is this, when set: a broken instrument whose queue never empties.
        var stuckError: String?
        var stored = ""
        var block: [UInt8] = []
        var received: [String] = []
    }

    let state = Mutex(State())
    private let lateGate = DispatchSemaphore(value: 0)
    let lateReplySent = DispatchSemaphore(value: 0)

    /// Lets the pending `SLOW?` reply go.
    func releaseLateReply() {
        lateGate.signal()
    }

    /// The pattern `BLOCK? n` sends: every byte value in turn, so it includes "\n", "#" and NUL.
    static func pattern(_ count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7) }
    }

    func serve(_ connection: ServerConnection) {
        while let message = connection.readMessage() {
            if let block = Self.blockData(message, after: "DATA:ARB ") {
                state.withLock {
                    $0.block = block
                    $0.received.append("DATA:ARB")
                }
                continue
            }
            var replies: [String] = []
            let text = String(decoding: message, as: UTF8.self)
            for command in text.split(separator: ";", omittingEmptySubsequences: false).map(String.init) {
                state.withLock { $0.received.append(command) }
                switch respond(to: command, on: connection) {
                case .reply(let reply): replies.append(reply)
                case .nothing: break
                case .hangUp: return
                }
            }
            if !replies.isEmpty { connection.send(replies.joined(separator: ";") + "\n") }
        }
    }

    private enum Response {
        case reply(String)
        case nothing
        case hangUp
    }

    private func respond(to command: String, on connection: ServerConnection) -> Response {
        let parts = command.split(separator: " ", maxSplits: 1).map(String.init)
        let argument = parts.count > 1 ? parts[1] : ""
        switch parts.first ?? "" {
        case "*IDN?": return .reply(state.withLock { $0.identity })
        case "*OPC?": return .reply("1")
        case "*RST", "*CLS": return .nothing
        case "SYST:ERR?":
            return .reply(
                state.withLock { state in
                    state.stuckError ?? (state.errorQueue.isEmpty ? "+0,\"No error\"" : state.errorQueue.removeFirst())
                })
        case "ECHO?": return .reply(argument)
        case "SET":
            state.withLock { $0.stored = argument }
            return .nothing
        case "GET?": return .reply(state.withLock { $0.stored })
        case "DATA:ARB?":
            let block = state.withLock { $0.block }
            connection.send(Array("#\(String(block.count).count)\(block.count)".utf8) + block + [0x0A])
            return .nothing
        case "BLOCK?":
            let data = Self.pattern(Int(argument) ?? 0)
            connection.send(Array("#\(String(data.count).count)\(data.count)".utf8) + data + [0x0A])
            return .nothing
        case "BLOCK0?":
            connection.send("#0hello, world\n")
            return .nothing
        case "LIE?":
            connection.send("#13hello\n")
            return .nothing
        case "TRUNC?":
            connection.send("#15he")
            return .nothing
        case "HUGE?":
            connection.send([UInt8](repeating: UInt8(ascii: "A"), count: Int(argument) ?? 0) + [0x0A])
            return .nothing
        case "SILENT?":
            return .nothing
        case "SLOW?":
            guard lateGate.wait(timeout: .now() + 10) == .success else { return .nothing }
            connection.send("late\n")
            lateReplySent.signal()
            return .nothing
        case "TWO?":
            connection.send("first\nsecond\n")
            return .nothing
        case "BYE?":
            return .hangUp
        default:
            return .reply("unknown command \(command)")
        }
    }

    /// The data of `message` if it is `prefix` followed by a definite block.
    private static func blockData(_ message: [UInt8], after prefix: String) -> [UInt8]? {
        let head = Array(prefix.utf8)
        guard message.starts(with: head + [UInt8(ascii: "#")]), message.count > head.count + 1 else { return nil }
        let digits = Int(message[head.count + 1]) - Int(UInt8(ascii: "0"))
        let start = head.count + 2 + digits
        guard (1...9).contains(digits), message.count >= start else { return nil }
        return Array(message[start...])
    }
}
