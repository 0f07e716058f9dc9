import Testing
import ZeroMQ

// What both sides agree on: the published rounds, and how a subscriber's share of them is checked.

/// The messages of publishing round `round`, in order: the same table as `round_messages()` in
/// python/zmq_peer.py. Frame 1 is the round number in ASCII, so a late joiner's first message
/// says where it came in. The frames include 0x00/0xFF bytes and an empty frame.
func roundMessages(_ round: Int) -> [[[UInt8]]] {
    let number = Array(String(round).utf8)
    return [
        [Array("node1/fridge/mxc".utf8), number, [0x00, 0xFF, 0x00, 0x7F, 0x80, 0xFE]],
        [Array("node1/awg/ch1".utf8), number, Array("waveform".utf8), [0x01, 0x02, 0x03]],
        [Array("node2/fridge/mxc".utf8), number, [0x00]],
        [Array("node1/fridge".utf8), number, Array("no trailing slash".utf8)],
        [Array("node1/fridge/still".utf8), number, [], [0xFF, 0xFF, 0xFF, 0xFF]],
    ]
}

/// The last message of round `round` that a subscriber to `prefix` gets.
func lastMessage(ofRound round: Int, prefix: String) -> [[UInt8]] {
    roundMessages(round).last { $0[0].starts(with: Array(prefix.utf8)) }!
}

/// Publishes round `round` on `socket`.
func publishRound(_ socket: ZMQSocket, _ round: Int) throws {
    for message in roundMessages(round) {
        try socket.send(multipart: message)
    }
}

/// Checks that `received` is exactly what a subscriber to `prefix` should get: every message
/// of the rounds from the first one it saw through `lastRound` whose topic starts with `prefix`,
/// frame for frame and in order, and nothing else. (It may join part-way through its first round.)
func checkSubscription(
    _ received: [[[UInt8]]], prefix: String, lastRound: Int, sourceLocation: SourceLocation = #_sourceLocation
) {
    guard let first = received.first else {
        Issue.record("the subscriber to \"\(prefix)\" received nothing", sourceLocation: sourceLocation)
        return
    }
    guard first.count > 1, let firstRound = Int(String(decoding: first[1], as: UTF8.self)),
          (1...lastRound).contains(firstRound) else {
        Issue.record("the first message \(describe(first)) is not from rounds 1...\(lastRound)", sourceLocation: sourceLocation)
        return
    }
    let all = (firstRound...lastRound).flatMap(roundMessages).filter { $0[0].starts(with: Array(prefix.utf8)) }
    guard let start = all.firstIndex(of: first) else {
        Issue.record("the first message \(describe(first)) should not reach a subscriber to \"\(prefix)\"",
                     sourceLocation: sourceLocation)
        return
    }
    let expected = Array(all[start...])
    if let mismatch = zip(received, expected).enumerated().first(where: { $0.element.0 != $0.element.1 }) {
        Issue.record("""
            message \(mismatch.offset) of \(received.count) for "\(prefix)" is \(describe(mismatch.element.0)), \
            expected \(describe(mismatch.element.1))
            """, sourceLocation: sourceLocation)
    }
    #expect(received.count == expected.count,
            "rounds \(firstRound)...\(lastRound) hold \(expected.count) messages for \"\(prefix)\", \(received.count) arrived",
            sourceLocation: sourceLocation)
}

/// Receives messages until one equals `last` (which is included), failing after `timeout`.
func receive(_ socket: ZMQSocket, through last: [[UInt8]], timeout: Duration = .seconds(10)) throws -> [[[UInt8]]] {
    let deadline = ContinuousClock.now + timeout
    var messages: [[[UInt8]]] = []
    while messages.last != last {
        let left = deadline - ContinuousClock.now
        guard left > .zero, let message = try socket.receiveMultipart(wait: .timeout(left)) else {
            throw InteropFailure(description: """
                \(socket.type) did not receive \(describe(last)) within \(timeout); \(messages.count) other messages \
                arrived, the last \(messages.last.map(describe) ?? "none")
                """)
        }
        messages.append(message)
    }
    return messages
}
