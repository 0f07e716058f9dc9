import Foundation
import Telemetry
import ZeroMQ

/// Republishes a recording on a PUB socket, frame for frame (the original topics, headers and
/// payloads: subscribers see the original publishers, sequences and any loss the recording
/// had), at the recorded pace divided by `speed`, or as fast as possible.
public final class TelemetryReplayer {
    /// The endpoint actually bound.
    public let endpoint: String
    private let context: ZMQContext
    private let socket: ZMQSocket
    private let authenticator: ZAPAuthenticator?

    /// Binds `endpoint` with the given security (CURVE with an allow-list, or plaintext when named).
    public init(endpoint: String, security: TelemetryServerSecurity, sendHighWaterMark: Int32 = 100_000) throws(TelemetryError) {
        do {
            context = try ZMQContext()
            var authenticator: ZAPAuthenticator?
            if case .curve(_, let allowed) = security {
                authenticator = try ZAPAuthenticator(context: context, allowedClientKeys: allowed)
            }
            self.authenticator = authenticator
            socket = try context.socket(.pub)
            if case .curve(let keys, _) = security { try socket.makeCurveServer(secretKey: keys.secretKey) }
            try socket.set(.sendHighWaterMark, sendHighWaterMark)
            self.endpoint = try socket.bind(endpoint)
        } catch {
            throw .zmq(error, while: "binding the replay endpoint \(endpoint)")
        }
    }

    deinit { authenticator?.stop() }

    /// The latest a message is sent after the first, in ns (about 285 years): recorded clocks
    /// are file data, so their differences divided by the speed are clamped to 0…this.
    static let maximumOffsetNs = 9e18

    /// Sends every message of `recording` under `prefixes` (all when empty); `speed` 2 plays
    /// twice as fast as recorded, nil as fast as possible. Returns how many were sent.
    /// A `speed` that is not finite and positive throws ``TelemetryError/invalidConfiguration(_:)``.
    @discardableResult
    public func replay(_ recording: TelemetryRecording, prefixes: [String] = [], speed: Double?) throws -> Int {
        if let speed, !(speed.isFinite && speed > 0) {
            throw TelemetryError.invalidConfiguration("replay speed must be finite and positive, got \(speed)")
        }
        var sent = 0
        var after: Int64 = 0
        var origin: (recorded: Int64, replayed: ContinuousClock.Instant)?
        while true {
            let page = try recording.messages(after: after, prefixes: prefixes)
            guard let last = page.last else { return sent }
            after = last.id
            for message in page {
                if let speed {
                    let start = origin ?? (message.receivedMonotonicNs, ContinuousClock.now)
                    origin = start
                    let offset = (Double(message.receivedMonotonicNs) - Double(start.recorded)) / speed
                    let due = start.replayed + .nanoseconds(Int64(min(max(offset, 0), Self.maximumOffsetNs)))
                    let wait = due - .now
                    if wait > .zero { Thread.sleep(forTimeInterval: Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18) }
                }
                do {
                    try socket.send(multipart: [Array(message.topic.utf8), message.header, message.payload])
                } catch {
                    throw TelemetryError.zmq(error, while: "replaying message \(message.id) on \(message.topic)")
                }
                sent += 1
            }
        }
    }
}
