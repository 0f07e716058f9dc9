import Quantities

/// Where an allocation is in its life.
public enum AllocationStatus: String, Codable, Sendable {
    /// Confirmed; its window has not started.
    case scheduled
    /// Its window is running.
    case active
    /// Its window ran to the end.
    case completed
    /// Released before its end.
    case released
    /// Ended early by a critical allocation.
    case preempted
    /// Every resource it held was lost.
    case lost

    /// Whether the allocation still holds (or will hold) its resources.
    public var isLive: Bool { self == .scheduled || self == .active }
}

/// What a party may do with an allocation shared with it.
public enum Right: String, Codable, Comparable, Sendable, CaseIterable {
    /// Run work on its resources.
    case use
    /// Share it further.
    case manage
    /// Release it.
    case release

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The rights one party holds on a shared allocation.
public struct PartyRights: Codable, Equatable, Sendable {
    public var party: String
    /// Sorted, without repeats.
    public var rights: [Right]

    public init(party: String, rights: [Right]) {
        self.party = party
        self.rights = Array(Set(rights)).sorted()
    }
}

/// One resource of an allocation, metered: it is held over [from, until) and draws a share of its
/// node's power.
public struct ResourceMeter: Codable, Equatable, Sendable {
    public let resource: String
    public let node: String
    public let type: ParticleType
    @RFC3339Coded public var from: Timestamp
    /// The planned end, brought forward when the allocation ends early or the resource is lost.
    @RFC3339Coded public internal(set) var until: Timestamp
    /// Energy apportioned to this resource so far.
    public internal(set) var energyJoules: Double
    /// Whether the resource was lost while held.
    public internal(set) var lost: Bool

    /// Nanoseconds held up to `time`.
    public func heldNanoseconds(upTo time: Timestamp) -> Int64 {
        overlapNanoseconds(from, until, from, time)
    }
}

/// A confirmed allocation: who holds which resources, when, for what and at what price.
public struct Allocation: Codable, Equatable, Sendable {
    /// "alloc-<sequence>", from 1.
    public let id: String
    public let quote: String
    public let client: String
    public let purpose: Purpose
    public let priority: Priority
    public let preemptible: Bool
    /// Micro-credits charged.
    public let price: Int64
    @RFC3339Coded public var confirmedAt: Timestamp
    @RFC3339Coded public var start: Timestamp
    @RFC3339Coded public var end: Timestamp
    public internal(set) var status: AllocationStatus
    /// One meter per resource, in resource id order.
    public internal(set) var meters: [ResourceMeter]
    /// Parties it is shared with, in party order.
    public internal(set) var shares: [PartyRights]
    /// The allocation that preempted it.
    public internal(set) var preemptedBy: String?

    /// Its resources' ids, sorted.
    public var resources: [String] { meters.map(\.resource) }
    /// Its nodes' ids, sorted, without repeats.
    public var nodes: [String] { Array(Set(meters.map(\.node))).sorted() }
    /// Resources of it that were lost.
    public var lostResources: [String] { meters.filter(\.lost).map(\.resource) }

    /// Whether `party` may exercise `right`: the client may do anything, others what was shared with them.
    public func permits(_ party: String, _ right: Right) -> Bool {
        party == client || shares.first { $0.party == party }?.rights.contains(right) == true
    }
}
