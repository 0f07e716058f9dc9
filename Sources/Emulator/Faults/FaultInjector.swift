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
        var replies = 0
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

    /// Decides the fate of one reply.
    public func deliver(_ reply: [UInt8]) -> Delivery {
        state.withLock { state in
            state.replies += 1
            let profile = state.profile
            if let limit = profile.disconnectAfterReplies, state.replies > limit {
                return Delivery(bytes: [], delay: .zero, disconnect: true)
            }
            let delay: Duration
            switch profile.latency {
            case .none: delay = .zero
            case let .fixed(ms): delay = .microseconds(Int64(ms * 1000))
            case let .uniform(low, high): delay = .microseconds(Int64((low + (high - low) * state.random.unit()) * 1000))
            case let .exponential(mean): delay = .microseconds(Int64(-mean * log1mUnit(&state.random) * 1000))
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

/// ln(1 − u) for u uniform in [0, 1): the exponential distribution's inverse CDF.
private func log1mUnit(_ random: inout SeededGenerator) -> Double {
    log1p(-random.unit())
}
