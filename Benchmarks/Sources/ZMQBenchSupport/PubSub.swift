// The PUB→SUB measurement shared by `zmq-compare` and the ordo-one benchmarks, written against
// our ZeroMQ module exactly as Anchors/zmq_pubsub.c is written against raw libzmq: the same
// sockets, options, sync handshake, frames and clock. Keep the two in step.
import ZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What every run sends: a topic frame and a payload frame.
public enum BenchMessage {
    public static let topic = "node1/fridge/mxc"
    public static let subscription = "node1/"
    public static let payloadSize = 64
    /// The inproc endpoint of the subscriber's "subscribed" confirmation (one per context).
    static let syncEndpoint = "inproc://zmq-bench-sync"
}

/// Fixed, preallocated frames: the hot path hands libzmq pointers into these and allocates nothing.
public final class Frames: @unchecked Sendable {
    public let topic: UnsafeRawBufferPointer
    public let payload: UnsafeRawBufferPointer
    /// An empty payload frame: marks a sync probe.
    public let probe: UnsafeRawBufferPointer
    /// A 1-byte payload frame: marks the end of a stream (and the subscriber's acknowledgements).
    public let endMarker: UnsafeRawBufferPointer

    public init(payloadSize: Int = BenchMessage.payloadSize) {
        let topicBytes = Array(BenchMessage.topic.utf8)
        let topic = UnsafeMutableRawBufferPointer.allocate(byteCount: topicBytes.count, alignment: 16)
        topic.copyBytes(from: topicBytes)
        let payload = UnsafeMutableRawBufferPointer.allocate(byteCount: payloadSize, alignment: 16)
        for i in 0..<payloadSize { payload[i] = UInt8(truncatingIfNeeded: i) }
        self.topic = UnsafeRawBufferPointer(topic)
        self.payload = UnsafeRawBufferPointer(payload)
        self.probe = UnsafeRawBufferPointer(rebasing: self.payload[0..<0])
        self.endMarker = UnsafeRawBufferPointer(rebasing: self.payload[0..<1])
    }

    deinit {
        topic.deallocate()
        payload.deallocate()
    }
}

/// Monotonic seconds (`CLOCK_MONOTONIC`), the clock the C anchor uses.
@inline(__always)
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// CPU seconds of the whole process, all threads (`getrusage(RUSAGE_SELF)`), and its minor page
/// faults so far: what the C anchor reads too.
public func processCPU() -> (seconds: Double, minorFaults: Int) {
    var usage = rusage()
    #if canImport(Glibc)
    _ = getrusage(RUSAGE_SELF.rawValue, &usage)
    #else
    _ = getrusage(RUSAGE_SELF, &usage)
    #endif
    let seconds = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
        + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6
    return (seconds, Int(usage.ru_minflt))
}

public struct BenchFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// One timed stream's figures, as seen by the subscriber.
public struct ThroughputResult: Sendable {
    /// Messages the subscriber received: all that were sent unless a high-water mark dropped some.
    public var messages: Int
    /// Wall-clock seconds from the first real message received to the last.
    public var seconds: Double
    /// CPU seconds of the whole process over the same window.
    public var cpuSeconds: Double
    /// Minor page faults of the whole process over the same window.
    public var minorFaults: Int
    public var messagesPerSecond: Double { Double(messages) / seconds }
    public var cpuNanosecondsPerMessage: Double { cpuSeconds * 1e9 / Double(messages) }
}

// MARK: - The one-shot run (zmq-compare)

/// PUB→SUB over `tcp://127.0.0.1:*`: sync, then `messages` two-frame messages and an end marker,
/// timed at the subscriber from its first real message to the end marker, which arrives right
/// after the last one. `highWaterMark` is set as SNDHWM on PUB and RCVHWM on SUB (0: unlimited,
/// so nothing is dropped; with a limit PUB drops at it, and the result counts what arrived).
public func runPubSubThroughput(messages: Int, highWaterMark: Int32 = 0) throws -> ThroughputResult {
    precondition(messages >= 2)
    let context = try ZMQContext()
    let frames = Frames()

    let pub = try context.socket(.pub)
    try pub.set(.sendHighWaterMark, highWaterMark)
    let endpoint = try pub.bind("tcp://127.0.0.1:*")
    let control = try context.socket(.pair)
    try control.bind(BenchMessage.syncEndpoint)

    let receiver = try BenchThread { () -> Result<ThroughputResult, any Error> in
        Result { try receiveTimedStream(context: context, endpoint: endpoint, highWaterMark: highWaterMark) }
    }

    do {
        try syncSubscriber(pub: pub, control: control, frames: frames)

        // The measured stream.
        let topic = frames.topic, payload = frames.payload
        for _ in 0..<messages {
            try pub.send(topic, more: true)
            try pub.send(payload)
        }

        try sendEndMarker(pub: pub, control: control, frames: frames)
    } catch {
        // Unblock the subscriber (its calls end with ETERM) before waiting for it.
        context.shutdown()
        _ = receiver.join()
        throw error
    }
    return try receiver.join().get()
}

/// Probes every millisecond until the subscriber confirms over the PAIR that it receives them.
func syncSubscriber(pub: ZMQSocket, control: ZMQSocket, frames: Frames) throws {
    var reply = ZMQMessage()
    let deadline = monotonicSeconds() + syncTimeout
    while monotonicSeconds() < deadline {
        try pub.send(frames.topic, more: true)
        try pub.send(frames.probe)
        if try control.receive(into: &reply, wait: .timeout(.milliseconds(1))) { return }
    }
    throw BenchFailure("the subscriber did not confirm its subscription within \(Int(syncTimeout)) s")
}

/// Sends the end marker (a 1-byte payload) every 100 ms until the subscriber confirms it: a
/// high-water mark may drop one.
func sendEndMarker(pub: ZMQSocket, control: ZMQSocket, frames: Frames) throws {
    var reply = ZMQMessage()
    let deadline = monotonicSeconds() + syncTimeout
    while monotonicSeconds() < deadline {
        try pub.send(frames.topic, more: true)
        try pub.send(frames.endMarker)
        if try control.receive(into: &reply, wait: .timeout(.milliseconds(100))) { return }
    }
    throw BenchFailure("the subscriber did not confirm the end marker within \(Int(syncTimeout)) s")
}

/// How long the publisher waits for the subscriber's confirmation or a batch acknowledgement.
let syncTimeout = 30.0

/// Receives one two-frame message into the reused `frame`; returns the payload's size.
@inline(__always)
func receiveMessage(_ sub: ZMQSocket, _ frame: inout ZMQMessage) throws -> Int {
    _ = try sub.receive(into: &frame)  // topic
    _ = try sub.receive(into: &frame)  // payload
    return frame.count
}

/// Opens the SUB and the confirming PAIR on the calling thread (the subscriber's own).
func openSubscriber(context: ZMQContext, endpoint: String, highWaterMark: Int32) throws -> (sub: ZMQSocket, signal: ZMQSocket) {
    let sub = try context.socket(.sub)
    try sub.set(.receiveHighWaterMark, highWaterMark)
    try sub.subscribe(BenchMessage.subscription)
    try sub.connect(endpoint)
    let signal = try context.socket(.pair)
    try signal.connect(BenchMessage.syncEndpoint)
    return (sub, signal)
}

/// Confirms the first probe, then skips probes still in flight; returns the first real payload's size.
func confirmSubscription(sub: ZMQSocket, signal: ZMQSocket, frame: inout ZMQMessage) throws -> Int {
    guard try receiveMessage(sub, &frame) == 0 else { throw BenchFailure("expected a probe first") }
    try signal.send("R")
    var size: Int
    repeat { size = try receiveMessage(sub, &frame) } while size == 0
    return size
}

/// The subscriber thread of a one-shot run: times from the first real message to the end marker.
func receiveTimedStream(context: ZMQContext, endpoint: String, highWaterMark: Int32) throws -> ThroughputResult {
    let (sub, signal) = try openSubscriber(context: context, endpoint: endpoint, highWaterMark: highWaterMark)
    var frame = ZMQMessage()
    var size = try confirmSubscription(sub: sub, signal: signal, frame: &frame)
    guard size == BenchMessage.payloadSize else { throw BenchFailure("unexpected payload size \(size)") }
    let cpuStart = processCPU()
    let start = monotonicSeconds()
    var received = 1
    size = try receiveMessage(sub, &frame)
    while size == BenchMessage.payloadSize {
        received += 1
        size = try receiveMessage(sub, &frame)
    }
    guard size == 1 else { throw BenchFailure("unexpected payload size \(size)") }
    let seconds = monotonicSeconds() - start
    let cpuEnd = processCPU()
    try signal.send("E")
    return ThroughputResult(messages: received, seconds: seconds, cpuSeconds: cpuEnd.seconds - cpuStart.seconds,
                            minorFaults: cpuEnd.minorFaults - cpuStart.minorFaults)
}

// MARK: - The long-lived pipeline (ordo-one benchmarks)

/// A PUB→SUB pipeline over TCP loopback that stays up across benchmark iterations.
///
/// ``sendBatch()`` sends one batch of `batchSize` messages, then waits until the subscriber has
/// received the batch before it, so at most two batches are in flight: each iteration measures
/// steady streaming, end to end, without a drain per iteration. The subscriber acknowledges each
/// batch over an inproc PAIR with a one-byte frame (which libzmq keeps inline: no allocation).
public final class PubSubPipeline {
    public let batchSize: Int
    let context: ZMQContext
    let frames: Frames
    let pub: ZMQSocket
    let control: ZMQSocket
    let receiver: BenchThread<Result<Int, any Error>>
    var ack = ZMQMessage()
    var batchesInFlight = 0
    var closed = false

    public init(batchSize: Int, highWaterMark: Int32 = 0) throws {
        self.batchSize = batchSize
        let context = try ZMQContext()
        let frames = Frames()
        self.context = context
        self.frames = frames
        pub = try context.socket(.pub)
        try pub.set(.sendHighWaterMark, highWaterMark)
        let endpoint = try pub.bind("tcp://127.0.0.1:*")
        control = try context.socket(.pair)
        try control.bind(BenchMessage.syncEndpoint)
        receiver = try BenchThread {
            Result {
                try receiveBatches(context: context, endpoint: endpoint, frames: frames,
                                   batchSize: batchSize, highWaterMark: highWaterMark)
            }
        }
        do {
            try syncSubscriber(pub: pub, control: control, frames: frames)
        } catch {
            shutDown()
            throw error
        }
    }

    /// Shuts the context down so the subscriber's blocking calls end, and waits for it.
    func shutDown() {
        closed = true
        context.shutdown()
        _ = receiver.join()
    }

    /// Sends `batchSize` messages, then waits for the subscriber to have received the previous batch.
    @inline(__always)
    public func sendBatch() throws {
        let topic = frames.topic, payload = frames.payload
        for _ in 0..<batchSize {
            try pub.send(topic, more: true)
            try pub.send(payload)
        }
        batchesInFlight += 1
        if batchesInFlight == 2 { try awaitAck() }
    }

    /// Waits for one batch acknowledgement (at most ``syncTimeout``, so a dead subscriber fails the run).
    func awaitAck() throws {
        do {
            guard try control.receive(into: &ack, wait: .timeout(.seconds(syncTimeout))) else {
                throw BenchFailure("no batch acknowledgement from the subscriber within \(Int(syncTimeout)) s")
            }
        } catch {
            shutDown()
            throw error
        }
        batchesInFlight -= 1
    }

    /// Waits for every batch, stops the subscriber and returns how many messages it received.
    @discardableResult
    public func close() throws -> Int {
        guard !closed else { return 0 }
        while batchesInFlight > 0 { try awaitAck() }
        closed = true
        try pub.send(frames.topic, more: true)
        try pub.send(frames.endMarker)
        return try receiver.join().get()
    }

    deinit { _ = try? close() }
}

/// The subscriber thread of a pipeline: acknowledges every `batchSize` messages until the stop marker.
func receiveBatches(context: ZMQContext, endpoint: String, frames: Frames, batchSize: Int, highWaterMark: Int32) throws -> Int {
    let (sub, signal) = try openSubscriber(context: context, endpoint: endpoint, highWaterMark: highWaterMark)
    var frame = ZMQMessage()
    var size = try confirmSubscription(sub: sub, signal: signal, frame: &frame)
    let ackFrame = frames.endMarker
    var received = 0
    while size == BenchMessage.payloadSize {
        received += 1
        if received % batchSize == 0 { try signal.send(ackFrame) }
        size = try receiveMessage(sub, &frame)
    }
    guard size == 1 else { throw BenchFailure("unexpected payload size \(size)") }
    return received
}
