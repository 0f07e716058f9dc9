import Quantities

/// A kind of quantum carrier a node offers. Coded as "qubit", "qudit", "photon-pair" or the given text.
public enum ParticleType: Hashable, Comparable, Codable, Sendable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    case qubit
    case qudit
    case photonPair
    case other(String)

    /// The type named by `text`; unknown names become `.other(text)`.
    public init(_ text: String) {
        switch text {
        case "qubit": self = .qubit
        case "qudit": self = .qudit
        case "photon-pair": self = .photonPair
        default: self = .other(text)
        }
    }

    public init(stringLiteral value: String) {
        self.init(value)
    }

    /// "qubit", "qudit", "photon-pair" or the other type's name.
    public var description: String {
        switch self {
        case .qubit: "qubit"
        case .qudit: "qudit"
        case .photonPair: "photon-pair"
        case .other(let name): name
        }
    }

    /// Orders by name.
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.description < rhs.description }

    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Coherence classes by the coherence time a resource holds: A ≥ 1 ms, B ≥ 100 µs, C ≥ 10 µs, D below.
public enum CoherenceClass: String, Codable, Comparable, Sendable, CaseIterable {
    case a = "A", b = "B", c = "C", d = "D"

    /// The class of a resource whose coherence time is `nanoseconds`.
    public init(coherenceNanoseconds nanoseconds: Int64) {
        self = Self.allCases.first { nanoseconds >= $0.minimumCoherenceNanoseconds } ?? .d
    }

    /// The shortest coherence time in the class.
    public var minimumCoherenceNanoseconds: Int64 {
        switch self {
        case .a: 1_000_000
        case .b: 100_000
        case .c: 10_000
        case .d: 0
        }
    }

    /// D < C < B < A.
    public static func < (lhs: Self, rhs: Self) -> Bool {
        lhs.minimumCoherenceNanoseconds < rhs.minimumCoherenceNanoseconds
    }
}

/// What a resource can do: advertised by its node, or measured from telemetry.
public struct ResourceProperties: Codable, Equatable, Sendable {
    /// Coherence time (T₂) in nanoseconds.
    public var coherenceTimeNanoseconds: Int64
    /// Gate or pair fidelity, 0…1.
    public var fidelity: Double
    /// Whether the resource can take part in entanglement distribution.
    public var entanglementReady: Bool

    public init(coherenceTimeNanoseconds: Int64, fidelity: Double, entanglementReady: Bool) {
        self.coherenceTimeNanoseconds = coherenceTimeNanoseconds
        self.fidelity = fidelity
        self.entanglementReady = entanglementReady
    }

    /// Properties with a coherence time given as a `Duration` (rounded up to the nanosecond).
    public init(coherenceTime: Duration, fidelity: Double, entanglementReady: Bool) {
        self.init(coherenceTimeNanoseconds: coherenceTime.nanosecondsRoundedUp ?? 0, fidelity: fidelity,
                  entanglementReady: entanglementReady)
    }

    /// The coherence class these properties put a resource in.
    public var coherenceClass: CoherenceClass { CoherenceClass(coherenceNanoseconds: coherenceTimeNanoseconds) }
}

/// Where a resource is in its life. `allocated` is never stored: `AllocationState.status(of:)` reports
/// it for an available or degraded resource that an allocation holds at the state's time.
public enum ResourceStatus: String, Codable, Sendable {
    /// Working as advertised.
    case available
    /// Held by an active allocation.
    case allocated
    /// Measured below its advertised coherence class; quoted by what it measures now.
    case degraded
    /// Its node is lost or no longer offers it; never quoted until announced again.
    case lost
    /// Taken out of service for good; its node must reset it.
    case retired
}

/// One quantum resource of a node: a qubit, qudit or photon-pair source.
public struct Resource: Codable, Equatable, Sendable {
    /// Unique name, e.g. "nodeA/q0".
    public let id: String
    /// The node that owns it.
    public let node: String
    /// The node's site, e.g. "Delft".
    public internal(set) var location: String
    public let type: ParticleType
    /// What the node announced.
    public internal(set) var advertised: ResourceProperties
    /// What telemetry measured last (the advertised properties until the first observation).
    public internal(set) var measured: ResourceProperties
    /// The class the announcement puts it in.
    public internal(set) var advertisedClass: CoherenceClass
    /// The class it is in now: never above the advertised one.
    public internal(set) var currentClass: CoherenceClass
    /// Its stored lifecycle status: available, degraded, lost or retired.
    public internal(set) var status: ResourceStatus
}

/// One resource in a node's announcement.
public struct AnnouncedResource: Codable, Equatable, Sendable {
    public var id: String
    public var type: ParticleType
    public var properties: ResourceProperties

    public init(id: String, type: ParticleType, properties: ResourceProperties) {
        self.id = id
        self.type = type
        self.properties = properties
    }
}

/// A node telling the realm what it offers. A later announcement replaces the earlier one: resources it
/// no longer lists are lost, listed ones come back to service unless retired.
public struct NodeAnnouncement: Codable, Equatable, Sendable {
    public var node: String
    public var location: String
    public var resources: [AnnouncedResource]

    public init(node: String, location: String, resources: [AnnouncedResource]) {
        self.node = node
        self.location = location
        self.resources = resources
    }
}

/// What the contract knows of a node.
public struct Node: Codable, Equatable, Sendable {
    public let id: String
    public internal(set) var location: String
    /// Its resources' ids, sorted.
    public internal(set) var resources: [String]
    /// Whether the node was declared lost and has not announced itself since.
    public internal(set) var isLost: Bool
    /// Last reported cooling and control power draw in watts.
    public internal(set) var powerWatts: Double
    /// Retired resources the node must still reset (sorted), safe disposal of their quantum state.
    public internal(set) var pendingResets: [String]
}
