// telemetry-compare: samples per second end to end (record → publisher thread → encode → PUB →
// TCP loopback → SUB → typed decode) through the Telemetry module, against raw libzmq sending
// the same frames pre-encoded (Anchors/telemetry_raw.c), interleaved rounds in one invocation;
// single-sample messages and batches of 64. With Anchors/malloc_count.so LD_PRELOADed it
// also counts the producer thread's allocations per sample.
//
// Usage: telemetry-compare [--anchor PATH] [--rounds N] [--samples N] [--batch-sizes 1,64]
import CompareSupport
import Foundation
import Synchronization
import Telemetry
import ZeroMQ

struct Failure: Error, CustomStringConvertible { let description: String }

var rounds = 5
var samplesPerRun = 1_000_000
var batchSizes = [1, 64]
var anchorPath = FileManager.default.currentDirectoryPath + "/.build/anchors/telemetry_raw"
var flags = CommandLineFlags(tool: "telemetry-compare")
while let flag = flags.next() {
    switch flag {
    case "--rounds": rounds = flags.count(flag)
    case "--samples": samplesPerRun = flags.count(flag)
    case "--anchor": anchorPath = flags.value(flag)
    case "--batch-sizes":
        let text = flags.value(flag)
        let sizes = text.split(separator: ",").compactMap { Int($0) }
        guard !sizes.isEmpty, sizes.count == text.split(separator: ",").count, sizes.allSatisfy({ $0 >= 1 }) else {
            flags.fail("bad value for --batch-sizes: \(text) (positive integers separated by commas)")
        }
        batchSizes = sizes
    default: flags.fail("unknown argument \(flag); usage: telemetry-compare [--anchor PATH] [--rounds N] [--samples N] [--batch-sizes 1,64]")
    }
}

/// The producer thread's allocation count, when malloc_count.so is preloaded.
typealias ThreadMallocs = @convention(c) () -> Int
let threadMallocs: ThreadMallocs? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "qrrm_thread_mallocs")
    .map { unsafeBitCast($0, to: ThreadMallocs.self) }

struct SwiftResult {
    var samplesPerSecond: Double
    var messagesPerSecond: Double
    var received: Int
    var producerAllocationsPerSample: Double?
}

/// One end-to-end run through TelemetryPublisher and TelemetrySubscriber.
func runSwift(samples: Int, batchSize: Int) throws -> SwiftResult {
    var configuration = TelemetryPublisherConfiguration(
        nodeID: "node1", endpoint: "tcp://127.0.0.1:*", snapshotEndpoint: "tcp://127.0.0.1:*", security: .plaintext)
    configuration.batchSize = batchSize
    configuration.sendHighWaterMark = 0  // unlimited, as the anchor: nothing is dropped
    configuration.heartbeatInterval = .milliseconds(10)
    configuration.maximumBatchDelay = .milliseconds(1)
    configuration.producerRingCapacity = 1 << 16
    let publisher = try TelemetryPublisher(configuration)
    defer { publisher.stop() }
    let subscriber = try TelemetrySubscriber(
        connectingTo: [publisher.endpoint], prefixes: ["node1/"], security: .plaintext, receiveHighWaterMark: 0,
        keepingFrames: false)
    while try subscriber.receive(wait: .timeout(.seconds(10)))?.topic != "node1/_node/heartbeat" {}
    let channel = try publisher.declare(WireChannelDescriptor.with { $0.topic = "node1/ls372/mxc"; $0.unit = "K" })

    let allocations = Atomic<Int>(-1)
    let producerThread = Thread {
        var producer = publisher.makeProducer()
        let before = threadMallocs?() ?? 0
        var i = 0
        while i < samples {
            // A full ring refuses at once. Back off instead of spinning on a shared core: in 0.5 ms
            // even 25 M samples/s drain a fifth of the ring, so it never runs dry.
            if producer.record(channel, Double(i), hardwareTimeNs: Int64(i)) { i += 1 } else { usleep(500) }
        }
        if let threadMallocs { allocations.store(threadMallocs() - before, ordering: .releasing) }
    }
    producerThread.start()

    var received = 0, messages = 0
    // Not an optional Instant: testing one costs value-witness calls a message.
    var started = false, start = ContinuousClock.now
    let giveUp = ContinuousClock.now + .seconds(120)
    while received < samples {
        // As the anchor's receiver, no clock read per message.
        if messages % 4096 == 0 && ContinuousClock.now >= giveUp {
            throw Failure(description: "only \(received) of \(samples) samples arrived")
        }
        guard let message = try subscriber.receive(wait: .forever), message.topic == "node1/ls372/mxc" else { continue }
        let count: Int
        if message.sample != nil {
            count = 1
        } else if let batch = message.batch {
            count = batch.values.count
        } else {
            continue
        }
        if !started { (started, start) = (true, .now) }
        received += count
        messages += 1
    }
    let elapsed = ContinuousClock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    let counted = allocations.load(ordering: .acquiring)
    return SwiftResult(
        samplesPerSecond: Double(received) / seconds, messagesPerSecond: Double(messages) / seconds, received: received,
        producerAllocationsPerSample: counted >= 0 ? Double(counted) / Double(samples) : nil)
}

/// One run of the C anchor: (messages/s, samples/s).
func runAnchor(_ path: String, messages: Int, samplesPerMessage: Int) throws -> (Double, Double) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = [String(messages), String(samplesPerMessage)]
    var environment = ProcessInfo.processInfo.environment
    environment["LD_PRELOAD"] = nil
    process.environment = environment
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    var fields: [String: Double] = [:]
    for pair in text.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
        let parts = pair.split(separator: "=")
        if parts.count == 2, let value = Double(parts[1]) { fields[String(parts[0])] = value }
    }
    guard process.terminationStatus == 0, let m = fields["msgs_per_sec"], let s = fields["samples_per_sec"] else {
        throw Failure(description: "anchor failed: \(text)")
    }
    return (m, s)
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

print("telemetry-compare: \(rounds) rounds, \(samplesPerRun) samples per run, PUB->SUB tcp://127.0.0.1, HWM unlimited")
print("allocation counting: \(threadMallocs == nil ? "off (LD_PRELOAD Anchors/malloc_count.so to turn it on)" : "producer thread, via malloc_count.so")")
for batchSize in batchSizes {
    print("")
    print("batch \(batchSize): round  swift samples/s  C samples/s  swift/C  swift msgs/s  producer allocs/sample")
    var swiftRates: [Double] = [], cRates: [Double] = [], ratios: [Double] = []
    for round in 1...rounds {
        do {
            let swift = try runSwift(samples: samplesPerRun, batchSize: batchSize)
            let (_, cSamples) = try runAnchor(anchorPath, messages: samplesPerRun / batchSize, samplesPerMessage: batchSize)
            swiftRates.append(swift.samplesPerSecond)
            cRates.append(cSamples)
            ratios.append(swift.samplesPerSecond / cSamples)
            let allocs = swift.producerAllocationsPerSample.map { String(format: "%.6f", $0) } ?? "-"
            print(String(format: "         %5d  %15.0f  %11.0f  %7.3f  %12.0f  %@", round, swift.samplesPerSecond, cSamples,
                         ratios.last!, swift.messagesPerSecond, allocs))
        } catch {
            print("round \(round) failed: \(error)")
            exit(1)
        }
    }
    print(String(format: "batch %d median: swift %.0f samples/s, C %.0f samples/s, ratio %.3f (min %.3f, max %.3f)",
                 batchSize, median(swiftRates), median(cRates), median(ratios), ratios.min()!, ratios.max()!))
}
