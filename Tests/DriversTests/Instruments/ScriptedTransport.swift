import HAL
import Synchronization

/// What a scripted instrument expects to receive and answers, step by step, and what it was sent.
final class Script: Sendable {
    private struct State {
        var steps: [(expect: String, reply: String?)]
        var sent: [String] = []
    }

    private let state: Mutex<State>

    /// Each step: the exact bytes expected (as text, terminator included) and the reply bytes, if any.
    init(_ steps: [(String, String?)]) {
        state = Mutex(State(steps: steps.map { (expect: $0.0, reply: $0.1) }))
    }

    /// Everything written, one entry per write.
    var sent: [String] { state.withLock { $0.sent } }
    /// Steps not reached.
    var remaining: Int { state.withLock { $0.steps.count } }

    /// Records a write; the reply when it is the next expected message, nothing otherwise.
    func take(_ text: String) -> String? {
        state.withLock { state in
            state.sent.append(text)
            guard let next = state.steps.first, next.expect == text else { return nil }
            state.steps.removeFirst()
            return next.reply
        }
    }
}

/// An in-memory transport that answers from a ``Script``; a read with nothing to give times out at once.
final class ScriptedTransport: ByteTransport {
    let resource = ResourceName(.loopback(id: "scripted"))
    private let script: Script
    private var pending: [UInt8] = []

    init(_ script: Script) {
        self.script = script
    }

    func write(_ bytes: UnsafeRawBufferPointer, timeout: Duration) throws(TransportError) {
        if let reply = script.take(String(decoding: bytes, as: UTF8.self)) { pending += Array(reply.utf8) }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, timeout: Duration) throws(TransportError) -> Int {
        guard !pending.isEmpty else { throw TransportError(resource: resource, operation: "read", kind: .timeout) }
        let count = min(buffer.count, pending.count)
        for index in 0..<count { buffer[index] = pending[index] }
        pending.removeFirst(count)
        return count
    }

    func discardInput() throws(TransportError) {
        pending.removeAll()
    }

    func close() {}
}

extension InstrumentError.Kind {
    var isInvalidArgument: Bool { if case .invalidArgument = self { true } else { false } }
    var isUnexpectedReply: Bool { if case .unexpectedReply = self { true } else { false } }
    var isRefusal: Bool { if case .refused = self { true } else { false } }
    var isTimeout: Bool { if case .transport(let error) = self { error.kind == .timeout } else { false } }
}
