// ordo-one benchmarks of our ZeroMQ module (run with `swift package benchmark`, see ../../run.sh).
//
// 1. "PUB→SUB tcp loopback": two-frame messages ("node1/fridge/mxc" + 64 B) streamed over
//    tcp://127.0.0.1 to a subscriber thread; one iteration = 1000 messages (scalingFactor .kilo),
//    end to end (see PubSubPipeline). mallocCountTotal counts the whole process: our send and
//    receive calls, the subscriber thread and libzmq's I/O thread.
// 2. "Send path": PUB with no subscriber, so libzmq takes each message and drops it at once. This
//    isolates the cost of handing two frames to libzmq, through our API and through raw zmq_send
//    from C (CZMQRawSend), in the same harness. zmq_send copies a frame into a zmq_msg_t; libzmq
//    keeps frames of up to 33 bytes inline (VSM) and mallocs a buffer for larger ones. So with a
//    64-byte payload libzmq itself mallocs once per message, and with a 16-byte payload not at all:
//    whatever our API adds shows as the difference to the C row, or directly in the 16-byte row.
import Benchmark
import CZMQRawSend
import ZMQBenchSupport
import ZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

let metrics: [BenchmarkMetric] = [.throughput, .wallClock, .mallocCountTotal]

/// State that setup hands to a benchmark body; the runner calls setup, body and teardown in turn.
final class Holder<Value>: @unchecked Sendable {
    var value: Value?
}

/// A PUB socket with no subscriber, bound to an ephemeral loopback port, and its frames.
final class LonelyPublisher {
    let context: ZMQContext
    let pub: ZMQSocket
    let topic: UnsafeRawBufferPointer
    let payload: UnsafeRawBufferPointer
    private let frames: Frames

    init(payloadSize: Int) throws {
        context = try ZMQContext()
        pub = try context.socket(.pub)
        try pub.set(.sendHighWaterMark, 0)
        try pub.bind("tcp://127.0.0.1:*")
        frames = Frames(payloadSize: payloadSize)
        topic = frames.topic
        payload = frames.payload
    }
}

/// The same, through raw libzmq in C.
final class RawPublisher {
    let handle: OpaquePointer
    let frames: Frames

    init(payloadSize: Int) throws {
        guard let handle = czmq_raw_publisher_open(0) else { throw BenchFailure("czmq_raw_publisher_open failed") }
        self.handle = handle
        frames = Frames(payloadSize: payloadSize)
    }

    deinit { czmq_raw_publisher_close(handle) }
}

let pipeline = Holder<PubSubPipeline>()
let swiftPublisher64 = Holder<LonelyPublisher>()
let swiftPublisher16 = Holder<LonelyPublisher>()
let rawPublisher64 = Holder<RawPublisher>()
let rawPublisher16 = Holder<RawPublisher>()

func swiftSendPath(_ holder: Holder<LonelyPublisher>, _ benchmark: Benchmark) throws {
    let publisher = holder.value!
    let pub = publisher.pub, topic = publisher.topic, payload = publisher.payload
    for _ in benchmark.scaledIterations {
        try pub.send(topic, more: true)
        try pub.send(payload)
    }
}

func rawSendPath(_ holder: Holder<RawPublisher>, _ benchmark: Benchmark) throws {
    let publisher = holder.value!
    let topic = publisher.frames.topic, payload = publisher.frames.payload
    let rc = czmq_raw_publisher_send(publisher.handle, topic.baseAddress, topic.count,
                                     payload.baseAddress, payload.count, benchmark.scaledIterations.count)
    guard rc == 0 else { throw BenchFailure("zmq_send failed: errno \(errno)") }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: metrics,
        warmupIterations: 10,
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 5_000)

    Benchmark(
        "PUB→SUB tcp loopback, topic + 64 B",
        closure: { benchmark in try pipeline.value!.sendBatch() },
        setup: { pipeline.value = try PubSubPipeline(batchSize: BenchmarkScalingFactor.kilo.rawValue) },
        teardown: {
            try pipeline.value?.close()
            pipeline.value = nil
        })

    Benchmark(
        "Send path, PUB no subscriber, topic + 64 B, ZMQSocket.send",
        closure: { benchmark in try swiftSendPath(swiftPublisher64, benchmark) },
        setup: { swiftPublisher64.value = try LonelyPublisher(payloadSize: 64) },
        teardown: { swiftPublisher64.value = nil })

    Benchmark(
        "Send path, PUB no subscriber, topic + 64 B, raw zmq_send (C)",
        closure: { benchmark in try rawSendPath(rawPublisher64, benchmark) },
        setup: { rawPublisher64.value = try RawPublisher(payloadSize: 64) },
        teardown: { rawPublisher64.value = nil })

    Benchmark(
        "Send path, PUB no subscriber, topic + 16 B, ZMQSocket.send",
        closure: { benchmark in try swiftSendPath(swiftPublisher16, benchmark) },
        setup: { swiftPublisher16.value = try LonelyPublisher(payloadSize: 16) },
        teardown: { swiftPublisher16.value = nil })

    Benchmark(
        "Send path, PUB no subscriber, topic + 16 B, raw zmq_send (C)",
        closure: { benchmark in try rawSendPath(rawPublisher16, benchmark) },
        setup: { rawPublisher16.value = try RawPublisher(payloadSize: 16) },
        teardown: { rawPublisher16.value = nil })
}
