/// A telemetry topic, `<node>/<instrument>/<channel>`: three non-empty segments of UTF-8 text
/// without spaces or control characters. Subscribers filter by prefix (`node1/`, `node1/ls372/`).
public struct TelemetryTopic: Sendable, Hashable, CustomStringConvertible {
    public let node: String
    public let instrument: String
    public let channel: String

    /// The topic's text, as sent in the first frame.
    public var description: String { "\(node)/\(instrument)/\(channel)" }

    /// Parses `text`; throws ``TelemetryError/invalidTopic(_:reason:)`` naming what is wrong.
    public init(_ text: String) throws(TelemetryError) {
        let segments = text.split(separator: "/", omittingEmptySubsequences: false)
        guard segments.count == 3 else {
            throw .invalidTopic(text, reason: "expected three segments <node>/<instrument>/<channel>, got \(segments.count)")
        }
        let names = ["node", "instrument", "channel"]
        for (segment, name) in zip(segments, names) {
            guard !segment.isEmpty else { throw .invalidTopic(text, reason: "the \(name) segment is empty") }
            if let bad = segment.unicodeScalars.first(where: { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F }) {
                throw .invalidTopic(text, reason: "the \(name) segment contains U+\(String(bad.value, radix: 16, uppercase: true))")
            }
        }
        node = String(segments[0])
        instrument = String(segments[1])
        channel = String(segments[2])
    }

    /// The node's own topics: `<node>/_node/<what>` (announcement, heartbeat).
    static func node(_ node: String, _ what: String) throws(TelemetryError) -> TelemetryTopic {
        try TelemetryTopic("\(node)/_node/\(what)")
    }
}
