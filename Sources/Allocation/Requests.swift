import Quantities

/// A duration as the user wrote it ("500μs", "4h"), kept as text and parsed when a request is validated.
public struct DurationText: ExpressibleByStringLiteral, Codable, Hashable, Sendable, CustomStringConvertible {
    public let text: String

    public init(_ text: String) {
        self.text = text
    }

    public init(stringLiteral value: String) {
        self.init(value)
    }

    public var description: String { text }

    /// The duration in whole nanoseconds (rounded up); it must be positive.
    func nanoseconds(key: String) throws(AllocationError) -> Int64 {
        let duration: Duration
        do {
            duration = try Duration(parsing: text)
        } catch {
            throw .invalidProperty(key: key, value: text, reason: error.description)
        }
        guard let nanoseconds = duration.nanosecondsRoundedUp, nanoseconds > 0 else {
            throw .invalidProperty(key: key, value: text, reason: "it must be a positive time of at most 292 years")
        }
        return nanoseconds
    }

    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }
}

/// An instant as the user wrote it ("2023-08-15T14:30:00Z"), kept as text and parsed on validation.
public struct TimestampText: ExpressibleByStringLiteral, Codable, Hashable, Sendable, CustomStringConvertible {
    public let text: String

    public init(_ text: String) {
        self.text = text
    }

    /// The RFC 3339 text of `timestamp`.
    public init(_ timestamp: Timestamp) {
        self.text = timestamp.description
    }

    public init(stringLiteral value: String) {
        self.init(value)
    }

    public var description: String { text }

    func timestamp(key: String) throws(AllocationError) -> Timestamp {
        do {
            return try Timestamp(parsing: text)
        } catch {
            throw .invalidProperty(key: key, value: text, reason: error.description)
        }
    }

    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }
}

/// The minimums every resource of a request must meet.
public struct ResourceRequirements: Codable, Hashable, Sendable {
    public var minCoherenceTime: DurationText?
    public var minFidelity: Double?
    /// Whether every resource must be able to take part in entanglement distribution.
    public var entanglementReady: Bool

    public init(minCoherenceTime: DurationText? = nil, minFidelity: Double? = nil, entanglementReady: Bool = false) {
        self.minCoherenceTime = minCoherenceTime
        self.minFidelity = minFidelity
        self.entanglementReady = entanglementReady
    }
}

/// What an allocation is for. Open-access and education programs may carry quotas.
public enum Purpose: String, Codable, Comparable, Sendable, CaseIterable {
    case quantumMachineLearning = "quantum-machine-learning"
    case research
    case education
    case openAccess = "open-access"
    case commercial
    case sensing
    case communication

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A request's priority class. Critical requests may preempt preemptible low and normal allocations.
public enum Priority: String, Codable, Comparable, Sendable, CaseIterable {
    case low, normal, high, critical

    /// The class factor in the scheduling priority: 0.25, 0.5, 0.75 or 1.
    public var factor: Double {
        switch self {
        case .low: 0.25
        case .normal: 0.5
        case .high: 0.75
        case .critical: 1
        }
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.factor < rhs.factor }
}

/// How many resources of one type a request needs.
public struct ParticleCount: Codable, Hashable, Sendable {
    public var type: ParticleType
    public var count: Int

    public init(type: ParticleType, count: Int) {
        self.type = type
        self.count = count
    }
}

/// What a client asks for: `AllocationRequest(particleTypes: [.qubit: 50, .photonPair: 15],
/// properties: .init(minCoherenceTime: "500μs", minFidelity: 0.995), purpose: .research,
/// priority: .high, duration: "4h", reservationTime: "2023-08-15T14:30:00Z")`.
public struct AllocationRequest: Codable, Hashable, Sendable {
    /// The counts per type, sorted by type.
    public var particleTypes: [ParticleCount]
    public var properties: ResourceRequirements
    public var purpose: Purpose
    public var priority: Priority
    public var duration: DurationText
    /// The earliest start; nil means as soon as possible.
    public var reservationTime: TimestampText?
    /// Whether a critical request may preempt this allocation (only low and normal ones can be).
    public var preemptible: Bool

    public init(
        particleTypes: [ParticleType: Int], properties: ResourceRequirements = .init(), purpose: Purpose,
        priority: Priority = .normal, duration: DurationText, reservationTime: TimestampText? = nil,
        preemptible: Bool = false
    ) {
        self.particleTypes = particleTypes.keys.sorted().map { ParticleCount(type: $0, count: particleTypes[$0]!) }
        self.properties = properties
        self.purpose = purpose
        self.priority = priority
        self.duration = duration
        self.reservationTime = reservationTime
        self.preemptible = preemptible
    }

    /// The request with its texts parsed and every value checked.
    func validated() throws(AllocationError) -> ValidatedRequest {
        guard !particleTypes.isEmpty else {
            throw .invalidProperty(key: "particleTypes", value: "[]", reason: "a request needs at least one particle type")
        }
        var seen: [ParticleType] = []
        for entry in particleTypes {
            guard entry.count > 0 else {
                throw .invalidProperty(key: "particleTypes", value: "\(entry.type): \(entry.count)",
                                       reason: "each count must be at least 1")
            }
            guard !seen.contains(entry.type) else {
                throw .invalidProperty(key: "particleTypes", value: "\(entry.type)", reason: "the type is listed twice")
            }
            seen.append(entry.type)
        }
        let minCoherence = try properties.minCoherenceTime?.nanoseconds(key: "minCoherenceTime") ?? 0
        if let fidelity = properties.minFidelity, !(fidelity >= 0 && fidelity <= 1) {
            throw .invalidProperty(key: "minFidelity", value: "\(fidelity)", reason: "a fidelity lies between 0 and 1")
        }
        return ValidatedRequest(
            counts: particleTypes.sorted { $0.type < $1.type },
            minCoherenceNanoseconds: minCoherence,
            minFidelity: properties.minFidelity ?? 0,
            entanglementReady: properties.entanglementReady,
            durationNanoseconds: try duration.nanoseconds(key: "duration"),
            reservationTime: try reservationTime?.timestamp(key: "reservationTime"))
    }

    /// A canonical one-line text of the request, for content ids.
    var canonicalText: String {
        let counts = particleTypes.map { "\($0.type)=\($0.count)" }.joined(separator: ",")
        let minimums = "\(properties.minCoherenceTime?.text ?? "-")/\(properties.minFidelity.map { "\($0)" } ?? "-")"
            + "/\(properties.entanglementReady)"
        return [counts, minimums, purpose.rawValue, priority.rawValue, duration.text, reservationTime?.text ?? "asap",
                "\(preemptible)"].joined(separator: ";")
    }
}

/// A request whose texts are parsed and values checked.
struct ValidatedRequest {
    let counts: [ParticleCount]
    let minCoherenceNanoseconds: Int64
    let minFidelity: Double
    let entanglementReady: Bool
    let durationNanoseconds: Int64
    let reservationTime: Timestamp?

    /// Total number of resources asked for.
    var units: Int { counts.reduce(0) { $0 + $1.count } }

    /// Whether `properties` meet every minimum.
    func isMet(by properties: ResourceProperties) -> Bool {
        properties.coherenceTimeNanoseconds >= minCoherenceNanoseconds && properties.fidelity >= minFidelity
            && (!entanglementReady || properties.entanglementReady)
    }

    /// The minimums in words, for error messages.
    var minimumsDescription: String {
        var parts = ["coherence time ≥ \(minCoherenceNanoseconds) ns", "fidelity ≥ \(minFidelity)"]
        if entanglementReady { parts.append("entanglement-ready") }
        return parts.joined(separator: ", ")
    }
}
