import SwiftProtobuf
import ZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One declared channel as the publisher thread keeps it: its topic frame, sequence, last
/// sample and the preallocated columns of the batch being filled.
final class ChannelState {
    /// Its index in the registry, as producers name it.
    let index: Int
    let topic: [UInt8]
    let descriptor: WireChannelDescriptor
    var sequence: UInt64 = 0
    var last: WireSample?
    let values: UnsafeMutablePointer<Double>
    let hardwareTimes: UnsafeMutablePointer<Int64>
    let hostTimes: UnsafeMutablePointer<Int64>
    var pending = 0
    /// CLOCK_MONOTONIC when the oldest pending sample was taken off its ring.
    var pendingSince: Int64 = 0

    init(index: Int, descriptor: WireChannelDescriptor, batchSize: Int) {
        self.index = index
        self.descriptor = descriptor
        topic = Array(descriptor.topic.utf8)
        values = .allocate(capacity: batchSize)
        hardwareTimes = .allocate(capacity: batchSize)
        hostTimes = .allocate(capacity: batchSize)
    }

    deinit {
        values.deallocate()
        hardwareTimes.deallocate()
        hostTimes.deallocate()
    }
}

/// The publisher thread's state. Only that thread touches it, and its sockets.
final class PublisherLoop {
    private let shared: PublisherShared
    private let publisher: ZMQSocket
    private let snapshot: ZMQSocket
    private let nodeID: String
    private let publisherID: UnsafeMutableRawBufferPointer
    private let instance: UInt64
    private let batchSize: Int
    private let maximumBatchDelayNs: Int64
    private let heartbeatIntervalNs: Int64
    private let headerScratch: UnsafeMutableRawBufferPointer
    private let payloadScratch: UnsafeMutableRawBufferPointer
    /// The clock of every header's `monotonic_ns` and `wall_ns`.
    private var clock = HostClock()
    /// Where a batch's delta columns are written before their lengths are known.
    private let deltaScratch: UnsafeMutablePointer<UInt8>
    private let heartbeatTopic: String
    private let announcementTopic: String

    private var rings: [SPSCRing<ProducerRecord>] = []
    private var channels: [ChannelState] = []
    private var channelIndex: [String: Int] = [:]
    private var eventSequences: [String: UInt64] = [:]
    private var seenGeneration = -1
    private var announcement = WireNodeAnnouncement()
    private var nextHeartbeat: Int64
    private let started: Int64
    private var poller = ZMQPoller()
    /// Consecutive passes that found every ring empty.
    private var idlePasses = 0
    /// While busy, the snapshot socket is polled (`zmq_poll`, a system call) only when
    /// CLOCK_MONOTONIC has passed this, at most every ``busySnapshotPollNs``.
    private var nextSnapshotPoll: Int64 = 0
    static let busySnapshotPollNs: Int64 = 200_000

    init(configuration: TelemetryPublisherConfiguration, instance: UInt64, shared: PublisherShared,
         publisher: ZMQSocket, snapshot: ZMQSocket) {
        self.shared = shared
        self.publisher = publisher
        self.snapshot = snapshot
        self.instance = instance
        nodeID = configuration.nodeID
        let id = Array(configuration.nodeID.utf8)
        publisherID = .allocate(byteCount: id.count, alignment: 8)
        publisherID.copyBytes(from: id)
        batchSize = configuration.batchSize
        maximumBatchDelayNs = nanoseconds(configuration.maximumBatchDelay)
        heartbeatIntervalNs = max(1, nanoseconds(configuration.heartbeatInterval))
        headerScratch = .allocate(byteCount: WireWriter.maximumHeaderSize(idBytes: id.count), alignment: 8)
        payloadScratch = .allocate(byteCount: WireWriter.maximumBatchSize(count: configuration.batchSize), alignment: 8)
        deltaScratch = .allocate(capacity: WireWriter.deltaScratchSize(count: configuration.batchSize))
        heartbeatTopic = "\(configuration.nodeID)/_node/heartbeat"
        announcementTopic = "\(configuration.nodeID)/_node/announcement"
        started = TelemetryClock.monotonicNanoseconds()
        nextHeartbeat = started
        poller.add(snapshot)
    }

    deinit {
        publisherID.deallocate()
        headerScratch.deallocate()
        payloadScratch.deallocate()
        deltaScratch.deallocate()
    }

    /// The thread's body: drain, batch, send, heartbeat, answer snapshots, until stopped.
    func run() {
        do {
            while true {
                let stopping = shared.stopRequested.load(ordering: .acquiring)
                if shared.generation.load(ordering: .acquiring) != seenGeneration { try refresh() }
                let drained = try drainRings()
                let now = TelemetryClock.monotonicNanoseconds()
                try flushBatches(now: now, all: stopping)
                if stopping { break }
                if now >= nextHeartbeat { try sendHeartbeat(now: now) }
                // Busy: look for snapshot requests every 200 µs. Idle: back off, first yielding
                // the core (sched_yield), then sleeping 50 µs (nanosleep), then waiting up to 1 ms
                // for a snapshot request (zmq_poll), so a steady stream is drained promptly and
                // a quiet node costs almost no CPU.
                idlePasses = drained == 0 ? idlePasses &+ 1 : 0
                switch idlePasses {
                case 0:
                    if now >= nextSnapshotPoll {
                        nextSnapshotPoll = now &+ Self.busySnapshotPollNs
                        try serveSnapshots(wait: .zero)
                    }
                case 1...200: sched_yield()
                case 201...220: try serveSnapshots(wait: .zero); usleep(50)
                default: try serveSnapshots(wait: .milliseconds(1))
                }
            }
        } catch {
            if !error.isContextTerminated { shared.failure.withLock { $0 = error } }
        }
    }

    // MARK: Registry

    /// Takes new rings and channels from the registry, sends new descriptors (descriptor
    /// first, then samples) and the announcement when it changed.
    private func refresh() throws(ZMQError) {
        seenGeneration = shared.generation.load(ordering: .acquiring)
        let (newRings, newChannels, announcement) = shared.registry.withLock { registry in
            (registry.rings, Array(registry.channels.dropFirst(channels.count)), registry.announcement)
        }
        rings = newRings
        for descriptor in newChannels {
            channelIndex[descriptor.topic] = channels.count
            let state = ChannelState(index: channels.count, descriptor: descriptor, batchSize: batchSize)
            channels.append(state)
            var payload = WirePayload()
            payload.descriptor = descriptor
            try send(payload, on: state)
        }
        var announced = announcement
        announced.nodeID = nodeID
        announced.channels = channels.map(\.descriptor)
        if announced != self.announcement || !newChannels.isEmpty {
            self.announcement = announced
            var payload = WirePayload()
            payload.announcement = announced
            try sendEvent(payload, topic: announcementTopic)
        }
    }

    /// Drains every ring (at most one ring's capacity each per pass, so one busy producer cannot
    /// starve the others) and forgets rings whose producer is gone. Returns the records taken.
    private func drainRings() throws(ZMQError) -> Int {
        var taken = 0
        var closedAny = false
        // The channel of the last sample, kept across records (unretained: `channels` keeps
        // every channel alive): a run of samples of one channel then costs no array lookup and
        // no reference counting per sample.
        var current: Unmanaged<ChannelState>?
        for ring in rings {
            let closed = ring.isClosed.load(ordering: .acquiring)
            var budget = ring.capacity
            while budget > 0, let record = ring.pop() {
                budget -= 1
                taken += 1
                try dispatch(record, current: &current)
            }
            if closed && ring.count == 0 { closedAny = true }
        }
        if closedAny {
            shared.registry.withLock { registry in
                registry.rings.removeAll { ring in
                    guard ring.isClosed.load(ordering: .acquiring) && ring.count == 0 else { return false }
                    registry.droppedByClosedRings += ring.dropped.load(ordering: .relaxed)
                    return true
                }
            }
            shared.generation.add(1, ordering: .releasing)
        }
        return taken
    }

    @inline(__always)
    private func dispatch(_ record: consuming ProducerRecord, current: inout Unmanaged<ChannelState>?) throws(ZMQError) {
        switch consume record {
        case .sample(let index, let value, let hardwareTimeNs, let hostTimeNs):
            if current.map({ $0._withUnsafeGuaranteedRef { $0.index } }) != index {
                // A channel declared after the last refresh is already in the registry.
                if index >= channels.count { try refresh() }
                current = Unmanaged.passUnretained(channels[index])
            }
            if batchSize == 1 {
                let channel = channels[index]
                channel.last = WireSample.with { $0.value = value; $0.hardwareTimeNs = hardwareTimeNs; $0.hostTimeNs = hostTimeNs }
                try sendSample(channel, value: value, hardwareTimeNs: hardwareTimeNs, hostTimeNs: hostTimeNs)
                return
            }
            let full = current!._withUnsafeGuaranteedRef { channel in
                if channel.pending == 0 { channel.pendingSince = TelemetryClock.monotonicNanoseconds() }
                channel.values[channel.pending] = value
                channel.hardwareTimes[channel.pending] = hardwareTimeNs
                channel.hostTimes[channel.pending] = hostTimeNs
                channel.pending += 1
                return channel.pending == batchSize
            }
            if full { try sendBatch(channels[index]) }
        case .message(let message):
            if let index = channelIndex[message.topic] {
                try send(message.payload, on: channels[index])
            } else {
                try sendEvent(message.payload, topic: message.topic)
            }
        }
    }

    // MARK: Sending

    /// Sends the batches that are full or have waited long enough (all of them when stopping).
    private func flushBatches(now: Int64, all: Bool) throws(ZMQError) {
        for channel in channels where channel.pending > 0 {
            if all || now &- channel.pendingSince >= maximumBatchDelayNs { try sendBatch(channel) }
        }
    }

    private func sendSample(_ channel: ChannelState, value: Double, hardwareTimeNs: Int64, hostTimeNs: Int64) throws(ZMQError) {
        var payload = WireWriter(payloadScratch)
        payload.sample(value: value, hardwareTimeNs: hardwareTimeNs, hostTimeNs: hostTimeNs)
        try sendFrames(topic: channel.topic, sequence: next(&channel.sequence), payload: payload.bytes)
        shared.samplesSent.add(1, ordering: .relaxed)
    }

    private func sendBatch(_ channel: ChannelState) throws(ZMQError) {
        let n = channel.pending
        channel.pending = 0
        channel.last = WireSample.with {
            $0.value = channel.values[n - 1]
            $0.hardwareTimeNs = channel.hardwareTimes[n - 1]
            $0.hostTimeNs = channel.hostTimes[n - 1]
        }
        var payload = WireWriter(payloadScratch)
        payload.batch(values: channel.values, hardwareTimeNs: channel.hardwareTimes, hostTimeNs: channel.hostTimes, count: n,
                      scratch: deltaScratch)
        try sendFrames(topic: channel.topic, sequence: next(&channel.sequence), payload: payload.bytes)
        shared.samplesSent.add(UInt64(n), ordering: .relaxed)
    }

    /// Sends a SwiftProtobuf-encoded payload on a channel's topic, in its sequence.
    private func send(_ payload: WirePayload, on channel: ChannelState) throws(ZMQError) {
        try sendFrames(topic: channel.topic, sequence: next(&channel.sequence), payload: encode(payload))
    }

    /// Sends a SwiftProtobuf-encoded payload on a topic that is not a declared channel.
    private func sendEvent(_ payload: WirePayload, topic: String) throws(ZMQError) {
        let sequence = next(&eventSequences[topic, default: 0])
        try sendFrames(topic: Array(topic.utf8), sequence: sequence, payload: encode(payload))
    }

    private func encode(_ payload: some SwiftProtobuf.Message) -> [UInt8] {
        // proto3 messages have no required fields, so serialization cannot fail.
        try! payload.serializedBytes()
    }

    @inline(__always)
    private func next(_ sequence: inout UInt64) -> UInt64 {
        sequence &+= 1
        return sequence
    }

    /// `[topic][header][payload]` on the PUB socket (`zmq_send` ×3, ZMQ_SNDMORE, ZMQ_DONTWAIT:
    /// at its high-water mark PUB drops instead of blocking).
    @inline(__always)
    private func sendFrames(topic: [UInt8], sequence: UInt64, payload: UnsafeRawBufferPointer) throws(ZMQError) {
        var header = WireWriter(headerScratch)
        let (wall, monotonic) = clock.readings()
        header.header(
            publisherID: UnsafeRawBufferPointer(publisherID), instance: instance, sequence: sequence,
            monotonicNs: monotonic, wallNs: wall)
        try publisher.send(topic, more: true, wait: .dontWait)
        try publisher.send(header.bytes, more: true, wait: .dontWait)
        try publisher.send(payload, more: false, wait: .dontWait)
        shared.messagesSent.add(1, ordering: .relaxed)
    }

    /// ``sendFrames(topic:sequence:payload:)`` with a payload SwiftProtobuf encoded.
    private func sendFrames(topic: [UInt8], sequence: UInt64, payload: [UInt8]) throws(ZMQError) {
        try payload.withUnsafeBytes { payload in
            Result { () throws(ZMQError) in try sendFrames(topic: topic, sequence: sequence, payload: payload) }
        }.get()
    }

    private func sendHeartbeat(now: Int64) throws(ZMQError) {
        nextHeartbeat = now &+ heartbeatIntervalNs
        let dropped = shared.registry.withLock { registry in
            registry.rings.reduce(registry.droppedByClosedRings) { $0 + $1.dropped.load(ordering: .relaxed) }
        }
        var payload = WirePayload()
        payload.heartbeat = WireHeartbeat.with {
            $0.uptimeNs = now &- started
            $0.intervalS = Double(heartbeatIntervalNs) / 1e9
            $0.messagesSent = shared.messagesSent.load(ordering: .relaxed)
            $0.samplesDropped = dropped
        }
        try sendEvent(payload, topic: heartbeatTopic)
    }

    // MARK: Snapshot

    /// Requests taken off the snapshot socket per pass, so a flood cannot starve the rings.
    static let snapshotRequestsPerPass = 16
    /// Frames in the largest request answered: the identity, a few envelope frames, the request.
    static let maximumSnapshotFrames = 8

    /// Answers up to ``snapshotRequestsPerPass`` waiting snapshot requests
    /// (ROUTER: `[identity…][empty][SnapshotRequest]`); requests of fewer than 2 or more than
    /// ``maximumSnapshotFrames`` frames are dropped unanswered.
    func serveSnapshots(wait: Duration) throws(ZMQError) {
        guard try poller.poll(timeout: wait) > 0 else { return }
        var flushed = false
        for _ in 0..<Self.snapshotRequestsPerPass {
            guard let frames = try snapshot.receiveMultipart(wait: .dontWait) else { return }
            // The envelope is everything up to the empty delimiter a REQ client adds
            // (a DEALER client may send none: then it is the identity frame alone).
            guard frames.count >= 2 && frames.count <= Self.maximumSnapshotFrames else { continue }
            let envelope = Array(frames.dropLast())
            var reply = WireSnapshot()
            reply.schemaVersion = telemetrySchemaVersion
            reply.publisherID = nodeID
            reply.publisherInstance = instance
            reply.wallNs = TelemetryClock.wallNanoseconds()
            do {
                let request = try WireSnapshotRequest(serializedBytes: frames[frames.count - 1])
                if !flushed {
                    try flushBatches(now: 0, all: true)
                    flushed = true
                }
                reply.announcement = announcement
                reply.channels = channels.filter { $0.descriptor.topic.hasPrefix(request.prefix) }.map { channel in
                    WireChannelState.with { state in
                        state.descriptor = channel.descriptor
                        if let last = channel.last { state.last = last }
                        state.sequence = channel.sequence
                    }
                }
            } catch let error as ZMQError {
                throw error
            } catch {
                reply.error = "the request is not a SnapshotRequest: \(error)"
            }
            // Counted before the reply goes out, so whoever holds the reply finds it counted (the
            // send synchronizes through libzmq's queues).
            shared.snapshotsServed.add(1, ordering: .relaxed)
            try snapshot.send(multipart: envelope + [encode(reply)], wait: .dontWait)
        }
    }
}

/// A duration in whole nanoseconds, clamped to Int64.
func nanoseconds(_ duration: Duration) -> Int64 {
    let (seconds, attoseconds) = duration.components
    let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
    if overflow { return seconds < 0 ? .min : .max }
    return scaled &+ attoseconds / 1_000_000_000
}
