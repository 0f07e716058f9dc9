import CCycleCounter
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SwiftProtobuf
import ZeroMQ

/// How a message's sequence number relates to what came before it on its topic.
public enum Continuity: Sendable, Equatable {
    /// The first message seen from this publisher on this topic (a late joiner starts anywhere).
    case first
    /// The next sequence number: nothing was lost.
    case inOrder
    /// `missed` messages were lost before this one.
    case gap(missed: UInt64)
    /// The first message on this topic from a new instance of a publisher seen before: it restarted.
    case restart
    /// A sequence number at or below one already seen from the same instance, or one more than
    /// 2^32 ahead of it (two publishers with one id, a publisher bug, or a hostile peer); the
    /// message is still delivered, and the stream keeps its sequence.
    case regression(expected: UInt64)
}

/// One decoded bus message.
public final class TelemetryMessage: Sendable {
    /// The first frame: `<node>/<instrument>/<channel>`.
    public let topic: String
    public let header: WireFrameHeader
    public let continuity: Continuity
    /// The header and payload frames as received, for recording and replay; nil when the
    /// subscriber was made with `keepingFrames: false`.
    public let headerFrame: [UInt8]?
    public let payloadFrame: [UInt8]?
    /// The payload as decoded: a Sample or SampleBatch unwrapped (a message then holds 60 bytes
    /// of body rather than a 150-byte `WirePayload`), anything else as SwiftProtobuf read it.
    let body: PayloadBody

    /// The payload (a Sample or SampleBatch is wrapped in a `WirePayload` on each access).
    public var payload: WirePayload { body.payload }

    /// The sample, when the payload is a single Sample; nil otherwise (unlike `payload.sample`,
    /// which is an empty Sample then). Cheaper than going through ``payload``.
    public var sample: WireSample? {
        switch body {
        case .sample(let sample): sample
        case .batch: nil
        case .other(let payload): if case .sample(let sample)? = payload.body { sample } else { nil }
        }
    }

    /// The batch, when the payload is a SampleBatch; nil otherwise. A subscriber delivers it with
    /// its times absolute (delta columns summed).
    public var batch: WireSampleBatch? {
        switch body {
        case .sample: nil
        case .batch(let batch): batch
        case .other(let payload): if case .batch(let batch)? = payload.body { batch } else { nil }
        }
    }

    public convenience init(topic: String, header: WireFrameHeader, payload: WirePayload, continuity: Continuity,
                            headerFrame: [UInt8]?, payloadFrame: [UInt8]?) {
        self.init(topic: topic, header: header, body: PayloadBody(payload), continuity: continuity,
                  headerFrame: headerFrame, payloadFrame: payloadFrame)
    }

    /// A message whose header ``WireReader`` read, its publisher id already a string.
    init(topic: String, header fields: HeaderFields, publisherID: String, body: PayloadBody, continuity: Continuity,
         headerFrame: [UInt8]?, payloadFrame: [UInt8]?) {
        self.topic = topic
        header = WireFrameHeader(fields, publisherID: publisherID)
        self.body = body
        self.continuity = continuity
        self.headerFrame = headerFrame
        self.payloadFrame = payloadFrame
    }

    init(topic: String, header: WireFrameHeader, body: PayloadBody, continuity: Continuity,
         headerFrame: [UInt8]?, payloadFrame: [UInt8]?) {
        self.topic = topic
        self.header = header
        self.body = body
        self.continuity = continuity
        self.headerFrame = headerFrame
        self.payloadFrame = payloadFrame
    }
}

/// A publisher and one of its topics: the unit of loss counting.
public struct StreamKey: Sendable, Hashable, CustomStringConvertible {
    public let publisherID: String
    public let topic: String
    public var description: String { "\(publisherID) \(topic)" }
}

/// Counts for one publisher and topic.
public struct StreamStatistics: Sendable, Equatable {
    /// Messages received.
    public var messages: UInt64 = 0
    /// Samples received, single or in batches.
    public var samples: UInt64 = 0
    /// Messages lost: the sum of all sequence gaps.
    public var missed: UInt64 = 0
    /// How many gaps there were.
    public var gaps: UInt64 = 0
    /// Messages whose sequence went backwards.
    public var regressions: UInt64 = 0
    /// The highest sequence number seen from the current instance.
    public var lastSequence: UInt64 = 0
    /// The publisher instance the sequence belongs to.
    public var instance: UInt64 = 0

    /// A stream before its first message.
    public init() {}
}

/// What the subscriber knows about one publisher.
public struct PublisherTracking: Sendable, Equatable {
    /// The publisher's current instance number.
    public var instance: UInt64
    /// How often the instance changed: the publisher restarted.
    public var restarts: UInt64 = 0
    /// How often messages resumed after a silence longer than three heartbeat intervals
    /// (a dropped and re-made connection, or a stalled node).
    public var resumptions: UInt64 = 0
    /// The publisher's last heartbeat.
    public var lastHeartbeat: WireHeartbeat?
    /// When the last message from it arrived (this host's monotonic clock).
    public var lastHeard: ContinuousClock.Instant
}

/// Why a bus message was dropped instead of delivered.
public enum GarbageReason: String, Sendable, CaseIterable, CustomStringConvertible {
    case wrongFrameCount = "wrong-frame-count"
    case topicNotUTF8 = "topic-not-utf8"
    case undecodableHeader = "undecodable-header"
    case unsupportedSchemaVersion = "unsupported-schema-version"
    case undecodablePayload = "undecodable-payload"
    /// A payload with no body this schema version knows.
    case unknownPayloadKind = "unknown-payload-kind"
    /// A SampleBatch whose columns differ in length, or that gives a clock both as absolute times and as deltas.
    case inconsistentBatch = "inconsistent-batch"
    /// A topic that is not `<node>/<instrument>/<channel>` (see ``TelemetryTopic``).
    case invalidTopic = "invalid-topic"
    /// A Heartbeat whose interval is negative, not finite, or a day or longer.
    case invalidHeartbeat = "invalid-heartbeat"
    /// A new publisher–topic stream beyond ``TelemetrySubscriber/trackingLimit``.
    case tooManyStreams = "too-many-streams"
    public var description: String { rawValue }
}

/// What the SUB socket's monitor (`zmq_socket_monitor`) saw of one endpoint's connection.
public struct ConnectionTracking: Sendable, Equatable {
    /// Completed handshakes (`ZMQ_EVENT_HANDSHAKE_SUCCEEDED`), the first connection included.
    public var connects: UInt64 = 0
    /// Lost connections (`ZMQ_EVENT_DISCONNECTED`): the node stopped, crashed or the network broke.
    public var disconnects: UInt64 = 0
    /// Handshakes completed after a disconnect: libzmq reconnected.
    public var reconnects: UInt64 = 0
    /// Whether the connection is up now.
    public var isConnected = false

    public init(connects: UInt64 = 0, disconnects: UInt64 = 0, reconnects: UInt64 = 0, isConnected: Bool = false) {
        self.connects = connects
        self.disconnects = disconnects
        self.reconnects = reconnects
        self.isConnected = isConnected
    }
}

/// What a subscriber has seen so far.
public struct SubscriberStatistics: Sendable {
    public var streams: [StreamKey: StreamStatistics] = [:]
    public var publishers: [String: PublisherTracking] = [:]
    public var garbage: [GarbageReason: UInt64] = [:]
    /// Per endpoint (as the monitor names it, e.g. `tcp://127.0.0.1:5600`): connects,
    /// disconnects and reconnects, seen by the socket itself rather than by a silence.
    public var connections: [String: ConnectionTracking] = [:]

    /// Messages lost across all streams (saturating at `UInt64.max`).
    public var totalMissed: UInt64 { streams.values.reduce(0) { saturatingSum($0, $1.missed) } }
    /// Messages dropped as garbage (saturating at `UInt64.max`).
    public var totalGarbage: UInt64 { garbage.values.reduce(0, saturatingSum) }
}

/// `a + b`, or `.max` where that overflows (`a` and `b` not negative): counters fed by peers
/// never trap, and nor does a deadline a huge timeout away.
@inline(__always)
func saturatingSum<Count: FixedWidthInteger>(_ a: Count, _ b: Count) -> Count {
    let (sum, overflow) = a.addingReportingOverflow(b)
    return overflow ? .max : sum
}

/// A subscriber for the realm: connects to nodes' telemetry endpoints, filters topics by
/// prefix, decodes every message into its typed payload, counts lost messages per publisher and
/// topic, notices restarts and resumptions, and drops (and counts) anything malformed.
///
/// Like its socket it belongs to one thread at a time.
public final class TelemetrySubscriber {
    /// The most publisher–topic streams whose statistics are kept (and so the most publishers:
    /// each has a stream); messages that would add one more are garbage (``GarbageReason/tooManyStreams``).
    public static let trackingLimit = 4096
    /// The largest frame accepted (`ZMQ_MAXMSGSIZE`): a peer sending more is disconnected.
    /// 2 MiB holds the largest SampleBatch a publisher sends (65536 samples, 24 bytes each).
    public static let maximumFrameSize: Int64 = 2 << 20
    /// The security every connection of this subscriber uses, snapshot requests included.
    public let security: TelemetryClientSecurity
    private let context: ZMQContext
    private let socket: ZMQSocket
    private let keepingFrames: Bool
    /// The three frames (topic, header, payload) of the message being decoded, received into in
    /// place (`zmq_msg_recv`) and reused, so a message costs no byte arrays. Behind a pointer, so
    /// touching them costs no dynamic exclusivity check (only this object's thread does).
    private let frames: UnsafeMutablePointer<ZMQMessage>
    private var streams: [StreamKey: StreamSlot] = [:]
    private var publishers: [String: PublisherSlot] = [:]
    private var garbage: [GarbageReason: UInt64] = [:]
    private var connections: [String: ConnectionTracking] = [:]
    /// Reports the SUB socket's handshakes and disconnects; read when statistics are asked for,
    /// when a receive times out, and every ``monitorInterval`` messages.
    private let monitor: ZMQSocketMonitor
    private var messagesSinceMonitor = 0
    /// The last ``TelemetryClock/continuousNanoseconds()`` reading and the counter's ticks then
    /// (see `receivedAt()`).
    private var clockReading = TelemetryClock.continuousNanoseconds()
    /// One moment on `ContinuousClock` and in ``TelemetryClock/continuousNanoseconds()``, the same
    /// clock: turns the readings kept in nanoseconds into instants.
    private let clockBase = (instant: ContinuousClock.now, ns: TelemetryClock.continuousNanoseconds())
    private var clockTicks: UInt64 = 0
    static let monitorInterval = 1024
    /// The stream of the last message: the next one is usually on it, and then neither its
    /// topic is parsed nor a dictionary consulted.
    private(set) var lastStream: StreamSlot?

    /// What the subscriber has seen so far (connection events up to now included).
    public var statistics: SubscriberStatistics {
        readConnectionEvents()
        var statistics = SubscriberStatistics()
        statistics.garbage = garbage
        statistics.connections = connections
        statistics.streams.reserveCapacity(streams.count)
        for (key, slot) in streams { statistics.streams[key] = slot.statistics }
        for (id, slot) in publishers {
            if let tracking = slot.tracking(since: clockBase) { statistics.publishers[id] = tracking }
        }
        return statistics
    }

    /// Connects to `endpoints`, receiving topics that start with any of `prefixes`
    /// (`ZMQ_SUBSCRIBE`; "" is everything). `receiveHighWaterMark` (`ZMQ_RCVHWM`) bounds the
    /// queue of a slow reader; beyond it messages are lost and show up as gaps. With
    /// `keepingFrames` every message carries copies of its header and payload frames, as a
    /// recorder needs; a reader of decoded values turns it off and saves two arrays a message.
    public init(
        connectingTo endpoints: [String], prefixes: [String] = [""], security: TelemetryClientSecurity,
        receiveHighWaterMark: Int32 = 100_000, context: ZMQContext? = nil, keepingFrames: Bool = true
    ) throws(TelemetryError) {
        self.security = security
        self.keepingFrames = keepingFrames
        let context = try existingOrNew(context, for: "the subscriber")
        self.context = context
        let socket = try zmq("opening the telemetry SUB socket") { () throws(ZMQError) in try context.socket(.sub) }
        self.socket = socket
        try zmq("configuring the telemetry SUB socket") { () throws(ZMQError) in
            try security.apply(to: socket)
            try socket.set(.receiveHighWaterMark, receiveHighWaterMark)
            try socket.set(.maxMessageSize, Self.maximumFrameSize)
            try socket.set(.linger, .zero)
        }
        for prefix in prefixes {
            try zmq("subscribing to \"\(prefix)\"") { () throws(ZMQError) in try socket.subscribe(prefix) }
        }
        // Before connecting, so the first handshake is seen too.
        monitor = try zmq("monitoring the telemetry SUB socket") { () throws(ZMQError) in
            try ZMQSocketMonitor(socket, events: [.handshakeSucceeded, .disconnected])
        }
        for endpoint in endpoints {
            try zmq("connecting to the telemetry endpoint \(endpoint)") { () throws(ZMQError) in try socket.connect(endpoint) }
        }
        frames = .allocate(capacity: 3)
        for i in 0..<3 { (frames + i).initialize(to: ZMQMessage()) }
    }

    deinit {
        frames.deinitialize(count: 3)
        frames.deallocate()
    }

    /// The next well-formed message, or nil when none arrived within `wait`. Malformed
    /// messages are counted in ``SubscriberStatistics/garbage`` and skipped.
    public func receive(wait: Wait = .forever) throws(TelemetryError) -> TelemetryMessage? {
        // In CLOCK_MONOTONIC ns: an optional ContinuousClock.Instant costs value-witness calls a message.
        let deadline: Int64 = if case .timeout(let limit) = wait {
            saturatingSum(TelemetryClock.monotonicNanoseconds(), nanoseconds(max(.zero, limit)))
        } else { 0 }
        var current = wait
        while true {
            guard let frameCount = try zmq("receiving telemetry", { () throws(ZMQError) in try receiveFrames(wait: current) }) else {
                readConnectionEvents()
                return nil
            }
            messagesSinceMonitor &+= 1
            if messagesSinceMonitor >= Self.monitorInterval { readConnectionEvents() }
            let decoded = frames[0].withUnsafeBytes { topic in
                frames[1].withUnsafeBytes { header in
                    frames[2].withUnsafeBytes { payload in
                        decode(topic: topic, header: header, payload: payload, frameCount: frameCount)
                    }
                }
            }
            switch decoded {
            case .message(let message): return message
            case .garbage(let reason): garbage[reason] = saturatingSum(garbage[reason] ?? 0, 1)
            }
            if case .timeout = wait { current = .timeout(.nanoseconds(max(0, deadline &- TelemetryClock.monotonicNanoseconds()))) }
        }
    }

    /// Takes the monitor's queued events, without waiting, into ``SubscriberStatistics/connections``.
    /// A monitor that fails is left alone: connection tracking stops, messages keep flowing.
    private func readConnectionEvents() {
        messagesSinceMonitor = 0
        while let event = try? monitor.next(wait: .dontWait) {
            var connection = connections[event.endpoint] ?? ConnectionTracking()
            if event.event == .handshakeSucceeded {
                if connection.disconnects > 0 && !connection.isConnected {
                    connection.reconnects = saturatingSum(connection.reconnects, 1)
                }
                connection.connects = saturatingSum(connection.connects, 1)
                connection.isConnected = true
            } else if event.event == .disconnected {
                connection.disconnects = saturatingSum(connection.disconnects, 1)
                connection.isConnected = false
            }
            connections[event.endpoint] = connection
        }
    }

    /// Receives one whole message into the reused frames (`zmq_msg_recv`); returns its frame
    /// count, or nil when `wait` ran out first. Frames past the third all land in the third.
    private func receiveFrames(wait: Wait) throws(ZMQError) -> Int? {
        guard try socket.receive(into: &frames[0], wait: wait) else { return nil }
        // libzmq delivers a message's frames together, so the rest are there already.
        guard frames[0].hasMore else { return 1 }
        _ = try socket.receive(into: &frames[1], wait: .forever)
        guard frames[1].hasMore else { return 2 }
        _ = try socket.receive(into: &frames[2], wait: .forever)
        var count = 3
        while frames[2].hasMore {
            _ = try socket.receive(into: &frames[2], wait: .forever)
            count += 1
        }
        return count
    }

    /// A decoded message, or why the frames are garbage.
    enum Decoded {
        case message(TelemetryMessage)
        case garbage(GarbageReason)
    }

    /// Decodes one bus message held in byte arrays (as a test or a replay has it).
    func decode(_ frames: [[UInt8]]) -> Decoded {
        guard frames.count == 3 else { return .garbage(.wrongFrameCount) }
        return frames[0].withUnsafeBytes { topic in
            frames[1].withUnsafeBytes { header in
                frames[2].withUnsafeBytes { payload in decode(topic: topic, header: header, payload: payload, frameCount: 3) }
            }
        }
    }

    /// Decodes one bus message and updates the loss counts. The header and a Sample or
    /// SampleBatch payload are read by ``WireReader``; whatever it refuses goes to SwiftProtobuf,
    /// which decides between unusual-but-valid and garbage.
    func decode(topic topicBytes: UnsafeRawBufferPointer, header headerBytes: UnsafeRawBufferPointer,
                payload payloadBytes: UnsafeRawBufferPointer, frameCount: Int) -> Decoded {
        guard frameCount == 3 else { return .garbage(.wrongFrameCount) }
        let recent = lastStream
        let sameTopic = recent.map { equal($0.topicBytes, topicBytes) } ?? false
        if let recent, sameTopic, let message = decodeOnRecentStream(recent, header: headerBytes, payload: payloadBytes) {
            return .message(message)
        }
        let topic: String
        if let recent, sameTopic {
            topic = recent.key.topic
        } else {
            guard let text = String(validating: topicBytes, as: UTF8.self) else { return .garbage(.topicNotUTF8) }
            guard (try? TelemetryTopic(text)) != nil else { return .garbage(.invalidTopic) }
            topic = text
        }

        let header: WireFrameHeader
        let samePublisher: Bool
        if let fields = try? WireReader.header(headerBytes) {
            if let recent, equal(recent.publisherBytes, fields.publisherID) {
                samePublisher = true
                header = WireFrameHeader(fields, publisherID: recent.key.publisherID)
            } else {
                samePublisher = false
                header = WireFrameHeader(fields, publisherID: String(decoding: fields.publisherID, as: UTF8.self))
            }
        } else if let decoded = try? WireFrameHeader(serializedBytes: Array(headerBytes)) {
            header = decoded
            samePublisher = recent?.key.publisherID == decoded.publisherID
        } else {
            return .garbage(.undecodableHeader)
        }
        guard header.sequence > 0, !header.publisherID.isEmpty else { return .garbage(.undecodableHeader) }
        guard telemetryReadableSchemaVersions.contains(header.schemaVersion) else { return .garbage(.unsupportedSchemaVersion) }

        var body: PayloadBody
        if let read = try? WireReader.payload(payloadBytes) {
            body = read
        } else if let decoded = try? WirePayload(serializedBytes: Array(payloadBytes)) {
            body = PayloadBody(decoded)
        } else {
            return .garbage(.undecodablePayload)
        }
        var samples: UInt64 = 0
        var heartbeat: WireHeartbeat?
        switch body {
        case .sample:
            samples = 1
        case .batch(let received):
            guard let batch = Self.absoluteTimes(received) else { return .garbage(.inconsistentBatch) }
            samples = UInt64(batch.values.count)
            body = .batch(batch)
        case .other(var payload):
            switch payload.body {
            case nil:
                return .garbage(.unknownPayloadKind)
            case .sample:
                samples = 1
            case .batch(let received):
                guard let batch = Self.absoluteTimes(received) else { return .garbage(.inconsistentBatch) }
                samples = UInt64(batch.values.count)
                payload.body = .batch(batch)
                body = .other(payload)
            case .heartbeat(let received):
                // Bounded so that three intervals are a valid number of nanoseconds.
                guard received.intervalS.isFinite, received.intervalS >= 0, received.intervalS < 86_400 else {
                    return .garbage(.invalidHeartbeat)
                }
                heartbeat = received
            default:
                break
            }
        }

        let stream: StreamSlot
        if let recent, sameTopic && samePublisher {
            stream = recent
        } else {
            let key = StreamKey(publisherID: header.publisherID, topic: topic)
            if let existing = streams[key] {
                stream = existing
            } else {
                guard streams.count < Self.trackingLimit else { return .garbage(.tooManyStreams) }
                let publisher: PublisherSlot
                if let existing = publishers[key.publisherID] {
                    publisher = existing
                } else {
                    publisher = PublisherSlot()
                    publishers[key.publisherID] = publisher
                }
                stream = StreamSlot(key: key, publisher: publisher)
                streams[key] = stream
            }
            lastStream = stream
        }
        let continuity = track(stream, instance: header.publisherInstance, sequence: header.sequence,
                               heartbeat: heartbeat, samples: samples)
        return .message(TelemetryMessage(
            topic: topic, header: header, body: body, continuity: continuity,
            headerFrame: keepingFrames ? Array(headerBytes) : nil, payloadFrame: keepingFrames ? Array(payloadBytes) : nil))
    }

    /// The common case, without the general path's branches: a message on the last message's
    /// stream, in the publisher's own header layout, carrying a Sample or a consistent
    /// SampleBatch. Nil for anything else, which the general path then decodes or refuses.
    @inline(__always)
    func decodeOnRecentStream(_ recent: StreamSlot, header headerBytes: UnsafeRawBufferPointer,
                                      payload payloadBytes: UnsafeRawBufferPointer) -> TelemetryMessage? {
        guard let fields = WireReader.canonicalHeader(headerBytes), fields.sequence > 0,
              telemetryReadableSchemaVersions.contains(fields.schemaVersion), equal(recent.publisherBytes, fields.publisherID),
              let body = try? WireReader.payload(payloadBytes) else { return nil }
        let samples: UInt64
        switch body {
        case .sample:
            samples = 1
        case .batch(let batch):
            // WireReader sums delta columns into absolute ones: only the lengths are left to check.
            guard batch.values.count == batch.hardwareTimeNs.count, batch.values.count == batch.hostTimeNs.count else { return nil }
            samples = UInt64(batch.values.count)
        case .other:
            return nil
        }
        let continuity = track(recent, instance: fields.publisherInstance, sequence: fields.sequence, heartbeat: nil, samples: samples)
        return TelemetryMessage(
            topic: recent.key.topic, header: fields, publisherID: recent.key.publisherID, body: body,
            continuity: continuity, headerFrame: keepingFrames ? Array(headerBytes) : nil,
            payloadFrame: keepingFrames ? Array(payloadBytes) : nil)
    }

    /// The batch with absolute times in columns of one length, or nil when it has neither.
    private static func absoluteTimes(_ received: WireSampleBatch) -> WireSampleBatch? {
        guard let batch = received.withAbsoluteTimes(),
              batch.values.count == batch.hardwareTimeNs.count, batch.values.count == batch.hostTimeNs.count else { return nil }
        return batch
    }

    /// Now, in ``TelemetryClock/continuousNanoseconds()``, for ``PublisherTracking/lastHeard``: `clock_gettime`
    /// (24 ns) once about 0.3 ms of time-stamp-counter ticks have passed, the last reading
    /// otherwise (`rdtsc`, 10 ns). Silences count from three heartbeat intervals, so the coarser
    /// time is exact enough; without a usable counter every call reads the clock.
    @inline(__always)
    private func receivedAt() -> Int64 {
        let ticks = qr_cycle_counter()
        if !Self.counterIsUsable || ticks &- clockTicks > 1_000_000 {
            clockReading = TelemetryClock.continuousNanoseconds()
            clockTicks = ticks
        }
        return clockReading
    }

    private static let counterIsUsable = HostClock.counterIsClocksource

    /// The largest forward jump of a sequence counted as a gap; a larger one is a regression
    /// (no publisher loses four billion messages on one topic between two that arrive).
    static let maximumGap: UInt64 = 1 << 32

    /// Sequence bookkeeping for one well-formed message.
    private func track(_ slot: StreamSlot, instance: UInt64, sequence: UInt64, heartbeat: WireHeartbeat?,
                       samples: UInt64) -> Continuity {
        let now = receivedAt()
        let publisherSlot = slot.publisher
        if publisherSlot.instance == nil {
            publisherSlot.instance = instance
        } else if publisherSlot.instance != instance {
            publisherSlot.restarts = saturatingSum(publisherSlot.restarts, 1)
            publisherSlot.instance = instance
        } else if let silence = publisherSlot.silenceNs, now &- publisherSlot.lastHeardNs > silence {
            publisherSlot.resumptions = saturatingSum(publisherSlot.resumptions, 1)
        }
        publisherSlot.lastHeardNs = now
        if let heartbeat {
            publisherSlot.lastHeartbeat = heartbeat
            // decode() admits only intervals within 0..<86400 s, so this fits an Int64.
            publisherSlot.silenceNs = heartbeat.intervalS > 0 ? Int64(3e9 * heartbeat.intervalS) : nil
        }

        var stream = slot.statistics
        let continuity: Continuity
        if stream.messages == 0 {
            continuity = .first
        } else if stream.instance != instance {
            continuity = .restart
        } else if sequence == stream.lastSequence &+ 1 {
            continuity = .inOrder
        } else if sequence > stream.lastSequence, sequence - stream.lastSequence <= Self.maximumGap {
            let missed = sequence - stream.lastSequence - 1
            stream.missed = saturatingSum(stream.missed, missed)
            stream.gaps = saturatingSum(stream.gaps, 1)
            continuity = .gap(missed: missed)
        } else {
            stream.regressions = saturatingSum(stream.regressions, 1)
            continuity = .regression(expected: stream.lastSequence &+ 1)
        }
        if case .regression = continuity {} else {
            stream.lastSequence = sequence
            stream.instance = instance
        }
        stream.messages = saturatingSum(stream.messages, 1)
        stream.samples = saturatingSum(stream.samples, samples)
        slot.statistics = stream
        return continuity
    }

    /// Asks a node's snapshot endpoint for the descriptor and last value of every channel
    /// under `prefix` (REQ: one SnapshotRequest frame, one Snapshot frame back), with this
    /// subscriber's security. A client the node does not admit gets no reply: the call then
    /// throws ``TelemetryError/snapshotTimedOut(endpoint:after:)``.
    public func fetchSnapshot(from endpoint: String, prefix: String = "", timeout: Duration = .seconds(3)) throws(TelemetryError) -> WireSnapshot {
        try TelemetrySnapshotClient.fetch(from: endpoint, prefix: prefix, security: security, timeout: timeout, context: context)
    }
}

/// One publisher–topic stream: its counts, updated in place, its publisher, and its topic and
/// publisher id as they arrive on the wire, so that the next message on it is recognised by
/// comparing bytes (the subscriber keeps the last message's stream).
final class StreamSlot {
    let key: StreamKey
    let publisher: PublisherSlot
    let topicBytes: [UInt8]
    let publisherBytes: [UInt8]
    var statistics = StreamStatistics()

    init(key: StreamKey, publisher: PublisherSlot) {
        self.key = key
        self.publisher = publisher
        // The frames' bytes: both were checked to be UTF-8 before they became these strings.
        topicBytes = Array(key.topic.utf8)
        publisherBytes = Array(key.publisherID.utf8)
    }
}

/// One publisher's ``PublisherTracking``, field by field: the hot path touches two fields in
/// place instead of copying the whole record (its heartbeat included) in and out.
final class PublisherSlot {
    /// Nil until the publisher's first message.
    var instance: UInt64?
    var restarts: UInt64 = 0
    var resumptions: UInt64 = 0
    var lastHeartbeat: WireHeartbeat?
    /// When its last message arrived, in ``TelemetryClock/continuousNanoseconds()``.
    var lastHeardNs: Int64 = 0
    /// Three heartbeat intervals of its last heartbeat, in nanoseconds: a longer silence is a resumption.
    var silenceNs: Int64?

    /// Its tracking, with `lastHeard` placed on `ContinuousClock` by one moment read on both.
    func tracking(since base: (instant: ContinuousClock.Instant, ns: Int64)) -> PublisherTracking? {
        instance.map {
            PublisherTracking(instance: $0, restarts: restarts, resumptions: resumptions, lastHeartbeat: lastHeartbeat,
                              lastHeard: base.instant + .nanoseconds(lastHeardNs &- base.ns))
        }
    }
}

/// Whether `bytes` holds exactly `frame`'s bytes (`memcmp`).
@inline(__always)
private func equal(_ bytes: [UInt8], _ frame: UnsafeRawBufferPointer) -> Bool {
    guard bytes.count == frame.count else { return false }
    return bytes.withUnsafeBytes { mine in
        mine.count == 0 || memcmp(mine.baseAddress!, frame.baseAddress!, mine.count) == 0
    }
}

/// Requests a node's snapshot (REQ → the node's ROUTER).
public enum TelemetrySnapshotClient {
    /// One request–reply round trip; see ``TelemetrySubscriber/fetchSnapshot(from:prefix:timeout:)``.
    public static func fetch(
        from endpoint: String, prefix: String = "", security: TelemetryClientSecurity,
        timeout: Duration = .seconds(3), context: ZMQContext? = nil
    ) throws(TelemetryError) -> WireSnapshot {
        let context = try existingOrNew(context, for: "the snapshot client")
        let deadline = ContinuousClock.now + timeout
        let request = WireSnapshotRequest.with { $0.prefix = prefix }
        // proto3 messages have no required fields, so serialization cannot fail.
        let bytes: [UInt8] = try! request.serializedBytes()
        let reply: [UInt8]? = try zmq("requesting a snapshot from \(endpoint)") { () throws(ZMQError) -> [UInt8]? in
            let socket = try context.socket(.req)
            try security.apply(to: socket)
            try socket.set(.linger, .zero)
            try socket.connect(endpoint)
            do throws(ZMQError) {
                try socket.send(bytes, wait: .timeout(max(.zero, deadline - .now)))
            } catch where error.isWouldBlock {
                return nil
            }
            return try socket.receiveFrame(wait: .timeout(max(.zero, deadline - .now)))
        }
        guard let reply else { throw .snapshotTimedOut(endpoint: endpoint, after: timeout) }
        let snapshot: WireSnapshot
        do {
            snapshot = try WireSnapshot(serializedBytes: reply)
        } catch {
            throw .malformedSnapshot(endpoint: endpoint, reason: "the reply (\(reply.count) bytes) is not a Snapshot: \(error)")
        }
        guard snapshot.error.isEmpty else { throw .malformedSnapshot(endpoint: endpoint, reason: "the node refused the request: \(snapshot.error)") }
        guard telemetryReadableSchemaVersions.contains(snapshot.schemaVersion) else {
            throw .malformedSnapshot(endpoint: endpoint, reason: "schema version \(snapshot.schemaVersion), expected \(telemetryReadableSchemaVersions.lowerBound) to \(telemetryReadableSchemaVersions.upperBound)")
        }
        return snapshot
    }
}

/// `context`, or a new ZeroMQ context for `owner` (`zmq_ctx_new`).
private func existingOrNew(_ context: ZMQContext?, for owner: String) throws(TelemetryError) -> ZMQContext {
    if let context { return context }
    return try zmq("creating a ZeroMQ context for \(owner)") { () throws(ZMQError) in try ZMQContext() }
}
