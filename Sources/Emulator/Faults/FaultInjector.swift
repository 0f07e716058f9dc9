import Foundation
import Synchronization

/// Applies an instrument's reply faults — latency, dropped, garbled and truncated replies, disconnects —
/// drawn from a seeded generator so a run can be replayed. The profile can be changed at run time.
public final class FaultInjector: Sendable {
    /// What happens to one reply.
    public struct Delivery: Sendable, Equatable {
        /// The bytes to send (empty when the reply is dropped).
        public var bytes: [UInt8]
        /// How long to wait before sending them.
        public var delay: Duration
        /// Whether the instrument drops the connection instead of replying.
        public var disconnect: Bool
    }

    private struct State {
        var profile: FaultProfile
        var random: SeededGenerator
    }

    private let state: Mutex<State>

    public init(profile: FaultProfile, seed: UInt64) {
        state = Mutex(State(profile: profile, random: SeededGenerator(seed: seed)))
    }

    /// The faults in force.
    public var profile: FaultProfile {
        get { state.withLock { $0.profile } }
        set { state.withLock { $0.profile = newValue } }
    }

    /// Decides the fate of one reply, the `replyNumber`-th (from 1) on its connection: each connection
    /// counts its own replies, so `disconnectAfterReplies` drops every connection after that many.
    public func deliver(_ reply: [UInt8], replyNumber: Int) -> Delivery {
        state.withLock { state in
            let profile = state.profile
            if let limit = profile.disconnectAfterReplies, replyNumber > limit {
                return Delivery(bytes: [], delay: .zero, disconnect: true)
            }
            let delay: Duration
            switch profile.latency {
            case .none: delay = .zero
            case let .fixed(ms): delay = latency(milliseconds: ms)
            case let .uniform(low, high): delay = latency(milliseconds: low + (high - low) * state.random.unit())
            case let .exponential(mean): delay = latency(milliseconds: -mean * log1mUnit(&state.random))
            }
            if state.random.unit() < profile.dropProbability {
                return Delivery(bytes: [], delay: delay, disconnect: false)
            }
            var bytes = reply
            if state.random.unit() < profile.truncateProbability, bytes.count > 1 {
                bytes = Array(bytes.prefix(bytes.count / 2))
            }
            if state.random.unit() < profile.garbleProbability {
                let body = bytes.lastIndex { $0 != 0x0A && $0 != 0x0D }.map { $0 + 1 } ?? 0
                let count = max(1, body / 4)
                for _ in 0..<count where body > 0 {
                    let index = Int(state.random.next() % UInt64(body))
                    // Printable garbage that differs from the original byte.
                    var replacement = UInt8(0x21 + state.random.next() % 94)
                    if replacement == bytes[index] { replacement = replacement == 0x7E ? 0x21 : replacement + 1 }
                    bytes[index] = replacement
                }
            }
            return Delivery(bytes: bytes, delay: delay, disconnect: false)
        }
    }
}

/// A latency of `ms` milliseconds, clamped to 0…`FaultProfile.maximumLatencyMilliseconds` (a NaN is 0),
/// so the conversion to whole microseconds can never overflow.
private func latency(milliseconds ms: Double) -> Duration {
    guard ms > 0 else { return .zero }
    return .microseconds(Int64((min(ms, FaultProfile.maximumLatencyMilliseconds) * 1000).rounded()))
}

/// ln(1 − u) for u uniform in [0, 1): the exponential distribution's inverse CDF.
private func log1mUnit(_ random: inout SeededGenerator) -> Double {
    log1p(-random.unit())
}
