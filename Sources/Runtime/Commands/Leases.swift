import Foundation
import Synchronization

/// A reservation of named resources (qubits, instruments, channels) by one client, until it lapses.
public struct Lease: Sendable, Equatable, Codable {
    public var id: String
    /// The client holding it: its CURVE public key (Z85), or `anonymous` on a plaintext endpoint.
    public var owner: String
    public var resources: [String]
    /// When it lapses, in seconds since 1970.
    public var expires: Double
}

/// The node's leases: a resource is held by at most one lease; a lease that is not renewed lapses
/// and releases its resources (and ``onLapse`` hears of it, to stop what ran on them).
public final class LeaseBook: Sendable {
    public static let maximumTTL: Double = 24 * 3600
    private let leases = Mutex<[String: Lease]>([:])
    private let counter = Atomic<UInt64>(0)
    private let now: @Sendable () -> Double
    /// Called with each lease that lapsed, outside the book's lock.
    let onLapse: Mutex<(@Sendable (Lease) -> Void)?> = Mutex(nil)

    public init(clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        now = clock
    }

    /// Reserves `resources` for `owner` for `ttl` seconds, or fails naming the lease that holds one.
    public func reserve(_ resources: [String], owner: String, ttl: Double) throws(CommandFailure) -> Lease {
        try Self.check(ttl: ttl)
        guard !resources.isEmpty else { throw CommandFailure(.badRequest, "reserve needs at least one resource") }
        guard Set(resources).count == resources.count else { throw CommandFailure(.badRequest, "a resource is listed twice") }
        expire()
        return try leases.withLock { (leases) throws(CommandFailure) -> Lease in
            for resource in resources {
                if let holder = leases.values.first(where: { $0.resources.contains(resource) }) {
                    throw CommandFailure(.busy, "\(resource) is reserved by lease \(holder.id) until \(Self.format(holder.expires))")
                }
            }
            let id = "lease-\(counter.add(1, ordering: .relaxed).newValue)"
            let lease = Lease(id: id, owner: owner, resources: resources, expires: now() + ttl)
            leases[id] = lease
            return lease
        }
    }

    /// Extends a lease its owner holds by `ttl` seconds from now.
    public func renew(_ id: String, owner: String, ttl: Double) throws(CommandFailure) -> Lease {
        try Self.check(ttl: ttl)
        expire()
        return try leases.withLock { (leases) throws(CommandFailure) -> Lease in
            guard var lease = leases[id] else { throw CommandFailure(.noLease, "no lease \(id) (it may have lapsed)") }
            guard lease.owner == owner else { throw CommandFailure(.unauthorized, "lease \(id) belongs to another client") }
            lease.expires = now() + ttl
            leases[id] = lease
            return lease
        }
    }

    /// Releases a lease its owner holds.
    public func release(_ id: String, owner: String) throws(CommandFailure) {
        let released = try leases.withLock { (leases) throws(CommandFailure) -> Lease in
            guard let lease = leases[id] else { throw CommandFailure(.noLease, "no lease \(id) (it may have lapsed)") }
            guard lease.owner == owner else { throw CommandFailure(.unauthorized, "lease \(id) belongs to another client") }
            leases[id] = nil
            return lease
        }
        onLapse.withLock { $0 }?(released)
    }

    /// Ends every lease that holds `resource`, whoever owns it (``onLapse`` hears of each), and returns them:
    /// a resource taken out of service is held by no one.
    public func end(holding resource: String) -> [Lease] {
        let ended = leases.withLock { leases -> [Lease] in
            let holding = leases.values.filter { $0.resources.contains(resource) }.sorted { $0.id < $1.id }
            for lease in holding { leases[lease.id] = nil }
            return holding
        }
        for lease in ended { onLapse.withLock { $0 }?(lease) }
        return ended
    }

    /// The live lease `id` of `owner` that holds `resource`.
    public func check(_ id: String?, owner: String, holds resource: String) throws(CommandFailure) {
        expire()
        guard let id else { throw CommandFailure(.noLease, "\(resource) needs a lease; reserve it first") }
        let lease = leases.withLock { $0[id] }
        guard let lease else { throw CommandFailure(.noLease, "no lease \(id) (it may have lapsed)") }
        guard lease.owner == owner else { throw CommandFailure(.unauthorized, "lease \(id) belongs to another client") }
        guard lease.resources.contains(resource) else { throw CommandFailure(.noLease, "lease \(id) does not hold \(resource)") }
    }

    /// Every live lease.
    public var all: [Lease] {
        expire()
        return leases.withLock { Array($0.values) }.sorted { $0.id < $1.id }
    }

    /// Drops lapsed leases and reports them.
    public func expire() {
        let time = now()
        let lapsed = leases.withLock { leases -> [Lease] in
            let gone = leases.values.filter { $0.expires <= time }
            for lease in gone { leases[lease.id] = nil }
            return gone
        }
        guard !lapsed.isEmpty, let handler = onLapse.withLock({ $0 }) else { return }
        for lease in lapsed { handler(lease) }
    }

    static func check(ttl: Double) throws(CommandFailure) {
        guard ttl.isFinite, ttl > 0, ttl <= maximumTTL else {
            throw CommandFailure(.badRequest, "a time-to-live must be more than 0 s and at most 24 h, got \(ttl) s")
        }
    }

    static func format(_ time: Double) -> String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: time))
    }
}
