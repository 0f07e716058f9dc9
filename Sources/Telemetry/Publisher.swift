import Synchronization
import SwiftProtobuf
import ZeroMQ

/// What a node's telemetry publisher binds and how it sends.
public struct TelemetryPublisherConfiguration: Sendable {
    /// The node's id: the first segment of its topics and the header's publisher id.
    public var nodeID: String
    /// The PUB endpoint, e.g. `tcp://*:5600` or `tcp://127.0.0.1:*`.
    public var endpoint: String
    /// The snapshot endpoint (ROUTER; clients use REQ), e.g. `tcp://*:5601`.
    public var snapshotEndpoint: String
    /// CURVE with an allow-list, or plaintext when the station says so. No default.
    public var security: TelemetryServerSecurity
    /// `ZMQ_SNDHWM` of the PUB socket, per subscriber: beyond it libzmq drops (never blocks).
    public var sendHighWaterMark: Int32 = 10_000
    /// Samples per SampleBatch message; 1 sends one Sample message per sample.
    public var batchSize: Int = 64
    /// A partly filled batch is sent once its oldest sample has waited this long.
    public var maximumBatchDelay: Duration = .milliseconds(5)
    /// How often a Heartbeat goes out on `<node>/_node/heartbeat`.
    public var heartbeatInterval: Duration = .seconds(1)
    /// Slots in each producer's ring; a full ring drops (and counts) new samples.
    public var producerRingCapacity: Int = 16_384
    /// What the node announces on `<node>/_node/announcement` and in snapshots; its channel
    /// list is filled from the declared channels.
    public var announcement = WireNodeAnnouncement()

    public init(nodeID: String, endpoint: String, snapshotEndpoint: String, security: TelemetryServerSecurity) {
        self.nodeID = nodeID
        self.endpoint = endpoint
        self.snapshotEndpoint = snapshotEndpoint
        self.security = security
    }
}

/// A declared channel: what a producer names when it records a sample.
public struct TelemetryChannel: Sendable, Hashable {
    let index: Int
    let owner: ObjectIdentifier
    public let topic: TelemetryTopic
}

/// Counters of a running publisher.
public struct PublisherStatistics: Sendable, Equatable {
    /// Bus messages handed to the PUB socket (`zmq_send`), of every kind.
    public var messagesSent: UInt64
    /// Samples sent, single or in batches.
    public var samplesSent: UInt64
    /// Samples refused because a producer's ring was full.
    public var samplesDropped: UInt64
    /// Snapshot requests answered.
    public var snapshotsServed: UInt64
}

/// One record in a producer's ring: 33 bytes, so pushing and popping a sample moves little.
enum ProducerRecord {
    /// A sample of a declared channel: fixed size, no reference, no allocation.
    case sample(channel: Int, value: Double, hardwareTimeNs: Int64, hostTimeNs: Int64)
    /// Any other message (alarm, interlock event, result, loop timing), boxed: a WirePayload
    /// inline would make every record, samples included, hundreds of bytes long.
    case message(QueuedMessage)
}

/// A non-sample message waiting in a producer's ring.
final class QueuedMessage: Sendable {
    let topic: String
    let payload: WirePayload

    init(topic: String, payload: WirePayload) {
        self.topic = topic
        self.payload = payload
    }
}

/// The producing end of one lock-free ring into the publisher thread.
///
/// `~Copyable` with `mutating` producing methods, so exactly one owner produces into its ring at
/// a time: static exclusivity refuses two simultaneous borrows. Recording a sample
/// takes no lock, performs no I/O and allocates nothing: safe in the real-time step. When the
/// ring is full the sample is dropped and counted; the producer never waits.
public struct TelemetryProducer: ~Copyable, Sendable {
    let ring: SPSCRing<ProducerRecord>
    let owner: ObjectIdentifier
    let nodeID: String
    /// The host clock this producer stamps samples with.
    var clock = HostClock()

    deinit { ring.isClosed.store(true, ordering: .releasing) }

    /// Records one sample of `channel`, stamped with the host's CLOCK_REALTIME now (through
    /// ``HostClock``: the time-stamp counter, re-read against `clock_gettime` every millisecond).
    /// Returns false when the ring was full and the sample was dropped.
    @inline(__always) @discardableResult
    public mutating func record(_ channel: TelemetryChannel, _ value: Double, hardwareTimeNs: Int64 = 0) -> Bool {
        record(channel, value, hardwareTimeNs: hardwareTimeNs, hostTimeNs: clock.nanoseconds())
    }

    /// Records one sample of `channel` with both of its timestamps.
    @inline(__always) @discardableResult
    public mutating func record(_ channel: TelemetryChannel, _ value: Double, hardwareTimeNs: Int64, hostTimeNs: Int64) -> Bool {
        precondition(channel.owner == owner, "channel \(channel.topic) was declared on another publisher")
        return ring.push(.sample(channel: channel.index, value: value, hardwareTimeNs: hardwareTimeNs, hostTimeNs: hostTimeNs))
    }

    /// Queues any other message (an alarm, an interlock event, a result, loop timing) on
    /// `topic`, which must belong to this node. The payload is already built, so this is for
    /// the control thread, not the real-time step. Returns false when the ring was full.
    @discardableResult
    public mutating func publish(_ payload: WirePayload, on topic: TelemetryTopic) throws(TelemetryError) -> Bool {
        guard topic.node == nodeID else {
            throw .invalidTopic(topic.description, reason: "belongs to node \"\(topic.node)\", not to this publisher's node \"\(nodeID)\"")
        }
        return ring.push(.message(QueuedMessage(topic: topic.description, payload: payload)))
    }

    /// Records this producer dropped because its ring was full.
    public var dropped: UInt64 { ring.dropped.load(ordering: .relaxed) }
}

/// A node's telemetry publisher: one thread that drains its producers' rings, batches
/// samples, stamps headers and sends `[topic][header][payload]` on a PUB socket, sends
/// heartbeats, and answers late joiners on the snapshot endpoint.
///
/// The publisher owns its ZeroMQ context (and, with CURVE, that context's ZAP handler).
public final class TelemetryPublisher: Sendable {
    /// The node's id.
    public let nodeID: String
    /// The PUB endpoint actually bound (wildcards resolved).
    public let endpoint: String
    /// The snapshot endpoint actually bound.
    public let snapshotEndpoint: String
    /// This run's random instance number, sent in every header: subscribers see a restart when it changes.
    public let instance: UInt64

    private let context: ZMQContext
    private let authenticator: ZAPAuthenticator?
    private let shared: PublisherShared
    private let thread: PublisherThread
    private let ringCapacity: Int
    private let stopped = Atomic<Bool>(false)

    /// Binds both endpoints and starts the publisher thread.
    public init(_ configuration: TelemetryPublisherConfiguration) throws(TelemetryError) {
        guard configuration.batchSize >= 1 && configuration.batchSize <= 65_536 else {
            throw .invalidConfiguration("batchSize \(configuration.batchSize) is not within 1…65536")
        }
        try Self.checkRingCapacity(configuration.producerRingCapacity, name: "producerRingCapacity")
        guard configuration.heartbeatInterval > .zero else {
            throw .invalidConfiguration("heartbeatInterval must be positive, got \(configuration.heartbeatInterval)")
        }
        guard configuration.sendHighWaterMark >= 0 else {
            throw .invalidConfiguration("sendHighWaterMark must not be negative, got \(configuration.sendHighWaterMark)")
        }
        // The node's own topics must parse, which checks the node id.
        _ = try TelemetryTopic.node(configuration.nodeID, "heartbeat")
        nodeID = configuration.nodeID
        ringCapacity = configuration.producerRingCapacity
        instance = UInt64.random(in: 1...UInt64.max)
        let context = try zmq("creating the telemetry context") { () throws(ZMQError) in try ZMQContext() }
        self.context = context

        var authenticator: ZAPAuthenticator?
        let publisher: ZMQSocket, snapshot: ZMQSocket
        do {
            if case .curve(_, let allowed) = configuration.security {
                authenticator = try zmq("starting the CURVE allow-list (ZAP handler)") { () throws(ZMQError) in
                    try ZAPAuthenticator(context: context, allowedClientKeys: allowed, domain: telemetryZAPDomain)
                }
            }
            publisher = try zmq("opening the telemetry PUB socket") { () throws(ZMQError) in try context.socket(.pub) }
            snapshot = try zmq("opening the snapshot ROUTER socket") { () throws(ZMQError) in try context.socket(.router) }
            if case .curve(let keys, _) = configuration.security {
                try zmq("making the telemetry endpoints CURVE servers") { () throws(ZMQError) in
                    try publisher.makeCurveServer(secretKey: keys.secretKey, domain: telemetryZAPDomain)
                    try snapshot.makeCurveServer(secretKey: keys.secretKey, domain: telemetryZAPDomain)
                }
            }
            try zmq("setting ZMQ_SNDHWM \(configuration.sendHighWaterMark) on the telemetry PUB socket") { () throws(ZMQError) in
                try publisher.set(.sendHighWaterMark, configuration.sendHighWaterMark)
            }
            try zmq("setting ZMQ_MAXMSGSIZE on the snapshot ROUTER socket") { () throws(ZMQError) in
                try snapshot.set(.maxMessageSize, TelemetrySubscriber.maximumFrameSize)
            }
            let endpoint = try zmq("binding the telemetry endpoint \(configuration.endpoint)") { () throws(ZMQError) in
                try publisher.bind(configuration.endpoint)
            }
            let snapshotEndpoint = try zmq("binding the snapshot endpoint \(configuration.snapshotEndpoint)") { () throws(ZMQError) in
                try snapshot.bind(configuration.snapshotEndpoint)
            }
            self.endpoint = endpoint
            self.snapshotEndpoint = snapshotEndpoint
        } catch {
            authenticator?.stop()
            throw error
        }
        self.authenticator = authenticator
        let shared = PublisherShared(announcement: configuration.announcement)
        self.shared = shared
        let loop = PublisherLoop(
            configuration: configuration, instance: self.instance, shared: shared,
            publisher: publisher, snapshot: snapshot)
        do {
            thread = try PublisherThread { loop.run() }
        } catch {
            authenticator?.stop()
            throw error
        }
    }

    deinit { stop() }

    /// Declares a channel. Its descriptor goes out on its topic before its first sample and is
    /// kept for the snapshot. The topic must be `<this node>/<instrument>/<channel>`.
    public func declare(_ descriptor: WireChannelDescriptor) throws(TelemetryError) -> TelemetryChannel {
        let topic = try TelemetryTopic(descriptor.topic)
        guard topic.node == nodeID else {
            throw .invalidTopic(descriptor.topic, reason: "belongs to node \"\(topic.node)\", not to this publisher's node \"\(nodeID)\"")
        }
        guard topic.instrument != "_node" else {
            throw .invalidTopic(descriptor.topic, reason: "\"_node\" is reserved for the node's own announcement and heartbeat")
        }
        let index = try shared.registry.withLock { registry throws(TelemetryError) -> Int in
            guard registry.topics.insert(descriptor.topic).inserted else { throw .duplicateChannel(topic: descriptor.topic) }
            registry.channels.append(descriptor)
            return registry.channels.count - 1
        }
        shared.generation.add(1, ordering: .releasing)
        return TelemetryChannel(index: index, owner: ObjectIdentifier(shared), topic: topic)
    }

    /// Throws ``TelemetryError/invalidConfiguration(_:)`` unless `capacity` is within 1…16777216.
    private static func checkRingCapacity(_ capacity: Int, name: String) throws(TelemetryError) {
        guard capacity >= 1 && capacity <= 1 << 24 else {
            throw .invalidConfiguration("\(name) \(capacity) is not within 1…16777216")
        }
    }

    /// A new producer with its own ring of the configured ``TelemetryPublisherConfiguration/producerRingCapacity``,
    /// for one thread (the real-time loop, a driver's poller).
    public func makeProducer() -> TelemetryProducer {
        makeProducer(validatedCapacity: ringCapacity)
    }

    /// A new producer with a ring of at least `ringCapacity` slots (1…16777216, else
    /// ``TelemetryError/invalidConfiguration(_:)``).
    public func makeProducer(ringCapacity: Int) throws(TelemetryError) -> TelemetryProducer {
        try Self.checkRingCapacity(ringCapacity, name: "ringCapacity")
        return makeProducer(validatedCapacity: ringCapacity)
    }

    private func makeProducer(validatedCapacity: Int) -> TelemetryProducer {
        let ring = SPSCRing<ProducerRecord>(minimumCapacity: validatedCapacity)
        shared.registry.withLock { $0.rings.append(ring) }
        shared.generation.add(1, ordering: .releasing)
        return TelemetryProducer(ring: ring, owner: ObjectIdentifier(shared), nodeID: nodeID)
    }

    /// Replaces the node announcement and publishes it.
    public func announce(_ announcement: WireNodeAnnouncement) {
        shared.registry.withLock { $0.announcement = announcement }
        shared.generation.add(1, ordering: .releasing)
    }

    /// The publisher's counters so far.
    public var statistics: PublisherStatistics {
        let ringDrops = shared.registry.withLock { registry in
            registry.rings.reduce(registry.droppedByClosedRings) { $0 + $1.dropped.load(ordering: .relaxed) }
        }
        return PublisherStatistics(
            messagesSent: shared.messagesSent.load(ordering: .relaxed),
            samplesSent: shared.samplesSent.load(ordering: .relaxed),
            samplesDropped: ringDrops,
            snapshotsServed: shared.snapshotsServed.load(ordering: .relaxed))
    }

    /// The libzmq error that stopped the publisher thread early, if one did.
    public var failure: ZMQError? { shared.failure.withLock { $0 } }

    /// Sends what the rings still hold, stops the thread, closes the sockets and the ZAP
    /// handler. Later calls do nothing.
    public func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        shared.stopRequested.store(true, ordering: .releasing)
        thread.join()
        authenticator?.stop()
    }
}

/// What the API side and the publisher thread share.
final class PublisherShared: Sendable {
    struct Registry {
        var channels: [WireChannelDescriptor] = []
        var topics: Set<String> = []
        var rings: [SPSCRing<ProducerRecord>] = []
        var droppedByClosedRings: UInt64 = 0
        var announcement: WireNodeAnnouncement
    }

    let registry: Mutex<Registry>
    /// Bumped on every change to the registry; the thread re-reads it when this moves.
    let generation = Atomic<Int>(0)
    let stopRequested = Atomic<Bool>(false)
    let messagesSent = Atomic<UInt64>(0)
    let samplesSent = Atomic<UInt64>(0)
    let snapshotsServed = Atomic<UInt64>(0)
    let failure = Mutex<ZMQError?>(nil)

    init(announcement: WireNodeAnnouncement) {
        registry = Mutex(Registry(announcement: announcement))
    }
}
