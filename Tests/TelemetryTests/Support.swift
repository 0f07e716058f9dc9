@testable import Telemetry
import ZeroMQ

/// A plaintext publisher on loopback with short intervals, for tests.
func makePublisher(
    node: String = "node1", batchSize: Int = 64, security: TelemetryServerSecurity = .plaintext,
    configure: (inout TelemetryPublisherConfiguration) -> Void = { _ in }
) throws -> TelemetryPublisher {
    var configuration = TelemetryPublisherConfiguration(
        nodeID: node, endpoint: "tcp://127.0.0.1:*", snapshotEndpoint: "tcp://127.0.0.1:*", security: security)
    configuration.batchSize = batchSize
    configuration.heartbeatInterval = .milliseconds(50)
    configuration.maximumBatchDelay = .milliseconds(2)
    configure(&configuration)
    return try TelemetryPublisher(configuration)
}

/// A channel descriptor for `topic`.
func descriptor(_ topic: String, unit: String = "K") -> WireChannelDescriptor {
    WireChannelDescriptor.with {
        $0.topic = topic
        let parts = topic.split(separator: "/")
        $0.instrument = String(parts[1])
        $0.channel = String(parts[2])
        $0.unit = unit
        $0.limits = WireLimits.with { $0.minimum = 0; $0.maximum = 400 }
    }
}

/// Receives until `done` says so or `timeout` runs out; returns everything received.
func receive(
    _ subscriber: TelemetrySubscriber, timeout: Duration = .seconds(10),
    until done: ([TelemetryMessage]) -> Bool
) throws -> [TelemetryMessage] {
    let deadline = ContinuousClock.now + timeout
    var received: [TelemetryMessage] = []
    while !done(received) {
        let left = deadline - .now
        if left <= .zero { break }
        if let message = try subscriber.receive(wait: .timeout(min(left, .milliseconds(100)))) {
            received.append(message)
        }
    }
    return received
}

/// Waits until `subscriber` hears `node`'s heartbeat: the subscription is then in place.
func waitForHeartbeat(_ subscriber: TelemetrySubscriber, node: String = "node1") throws -> Bool {
    let seen = try receive(subscriber) { $0.contains { $0.topic == "\(node)/_node/heartbeat" } }
    return seen.contains { $0.topic == "\(node)/_node/heartbeat" }
}

/// The samples in `messages` on `topic`, single or batched, in order.
func samples(in messages: [TelemetryMessage], topic: String) -> [Double] {
    messages.filter { $0.topic == topic }.flatMap { message -> [Double] in
        switch message.payload.body {
        case .sample(let sample): [sample.value]
        case .batch(let batch): batch.values
        default: []
        }
    }
}

/// Hand-made bus frames, as a foreign or broken publisher would send them.
func frames(topic: String, publisher: String = "rogue", instance: UInt64 = 7, sequence: UInt64, payload: WirePayload,
            schemaVersion: UInt32 = telemetrySchemaVersion) throws -> [[UInt8]] {
    let header = WireFrameHeader.with {
        $0.schemaVersion = schemaVersion
        $0.publisherID = publisher
        $0.publisherInstance = instance
        $0.sequence = sequence
        $0.monotonicNs = 1
        $0.wallNs = 2
    }
    return [Array(topic.utf8), try header.serializedBytes(), try payload.serializedBytes()]
}

func samplePayload(_ value: Double) -> WirePayload {
    WirePayload.with { $0.sample = WireSample.with { $0.value = value; $0.hostTimeNs = 5 } }
}

/// A raw PUB socket a subscriber connects to, and a way to know the subscription arrived.
struct RawPublisher {
    let context: ZMQContext
    let socket: ZMQSocket
    let endpoint: String

    init() throws {
        context = try ZMQContext()
        socket = try context.socket(.pub)
        endpoint = try socket.bind("tcp://127.0.0.1:*")
    }

    func send(_ frames: [[UInt8]]) throws {
        try socket.send(multipart: frames)
    }

    /// Sends a probe message until the subscriber delivers one, so later frames are not lost
    /// to the slow-joiner window. Returns the probe's last sequence number.
    func handshake(_ subscriber: TelemetrySubscriber, topic: String = "probe/x/y") throws -> UInt64 {
        var sequence: UInt64 = 0
        while sequence < 200 {
            sequence += 1
            try send(frames(topic: topic, publisher: "probe", sequence: sequence, payload: samplePayload(0)))
            if try subscriber.receive(wait: .timeout(.milliseconds(20))) != nil { return sequence }
        }
        return sequence
    }
}

extension WireWriter {
    /// ``batch(values:hardwareTimeNs:hostTimeNs:count:scratch:)`` with scratch of its own.
    mutating func batch(values: [Double], hardwareTimeNs: [Int64], hostTimeNs: [Int64], count: Int) {
        let scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: WireWriter.deltaScratchSize(count: count))
        defer { scratch.deallocate() }
        batch(values: values, hardwareTimeNs: hardwareTimeNs, hostTimeNs: hostTimeNs, count: count, scratch: scratch)
    }
}
