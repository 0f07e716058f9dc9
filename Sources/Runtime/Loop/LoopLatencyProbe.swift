import Foundation
import Histogram
import Telemetry

/// Runs the control loop alone for a while, as a node runs it (a sampling task feeding one ring, two
/// interlocks, an admission limit, samples published on telemetry), and reports its wake-up latency:
/// the benchmark that compares it with `cyclictest` at the same period, policy and priority.
public enum LoopLatencyProbe {
    public struct Result: Sendable {
        /// Wake-up latency percentiles over the whole run, in ns.
        public var p50: UInt64, p99: UInt64, p999: UInt64, max: UInt64
        public var cycles: UInt64
        public var deadlineMisses: UInt64
        /// Allocations on the loop thread per cycle after its first second (nil without a counter).
        public var allocationsPerCycle: Double?
        public var realtime: RealtimeStatus
    }

    /// Runs the loop at `rate` Hz with SCHED_FIFO `priority` (when permitted) for `seconds`.
    /// `allocationCounter` counts the calling thread's allocations (an LD_PRELOADed malloc counter).
    public static func run(
        rate: Double, priority: Int32, cpu: Int32? = nil, lockMemory: Bool = true, seconds: Double,
        allocationCounter: (@convention(c) () -> Int)? = nil
    ) throws(StationStartError) -> Result {
        var configuration = TelemetryPublisherConfiguration(
            nodeID: "probe", endpoint: "tcp://127.0.0.1:*", snapshotEndpoint: "tcp://127.0.0.1:*", security: .plaintext)
        configuration.heartbeatInterval = .seconds(1)
        let publisher: TelemetryPublisher
        let channel: TelemetryChannel
        do {
            publisher = try TelemetryPublisher(configuration)
            var descriptor = WireChannelDescriptor()
            descriptor.topic = "probe/sensor/value"
            descriptor.unit = "K"
            channel = try publisher.declare(descriptor)
        } catch { throw StationStartError("probe telemetry: \(error)") }
        defer { publisher.stop() }

        let ring = SPSCRing<LoopInput>(minimumCapacity: 1024)
        let loop = ControlLoop(
            setting: Station.LoopSetting(rate: rate, priority: priority, cpu: cpu, lockMemory: lockMemory),
            inputs: [ring], channels: 1, instruments: 1,
            interlocks: [
                CompiledInterlock(check: .above(channel: 0, threshold: 1e9), outputs: []),
                CompiledInterlock(check: .watchdog(timeoutNs: 60_000_000_000), outputs: []),
            ],
            admission: (channel: 0, below: 1e9), inputLines: [], outputLines: [], telemetryChannels: [channel],
            producer: publisher.makeProducer())
        loop.allocationCounter = allocationCounter

        // The sampling task: one value per millisecond, as an I/O task hands them over.
        let feeding = Feeder(ring: ring)
        feeding.start()
        var total = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 10_000_000_000, numberOfSignificantValueDigits: .three)
        var misses: UInt64 = 0, cycles: UInt64 = 0
        func drain() {
            while let event = loop.events.pop() {
                guard case let .timing(histogram, iterations, missed, _) = event else { continue }
                var returned = histogram
                total.add(returned)
                misses += missed
                cycles += iterations
                returned.reset()
                loop.returnHistogram(returned)
            }
        }
        loop.start()
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            drain()
            Thread.sleep(forTimeInterval: 0.05)
        }
        loop.stop()
        drain()
        feeding.stop()
        let steady = loop.steadyCycles.load(ordering: .relaxed)
        return Result(
            p50: total.valueAtPercentile(50), p99: total.valueAtPercentile(99), p999: total.valueAtPercentile(99.9), max: total.max,
            cycles: cycles, deadlineMisses: misses,
            allocationsPerCycle: allocationCounter != nil && steady > 0 ? Double(loop.steadyAllocations.load(ordering: .relaxed)) / Double(steady) : nil,
            realtime: loop.realtimeStatus)
    }

    /// Pushes a sample every millisecond until stopped.
    private final class Feeder: @unchecked Sendable {
        let ring: SPSCRing<LoopInput>
        private let stopRequested = DispatchSemaphore(value: 0)
        private let finished = DispatchSemaphore(value: 0)

        init(ring: SPSCRing<LoopInput>) { self.ring = ring }

        func start() {
            Thread { [self] in
                var value = 0.01
                while stopRequested.wait(timeout: .now() + .milliseconds(1)) == .timedOut {
                    value += 1e-6
                    _ = ring.push(.sample(channel: 0, value: value, hostTimeNs: Int64(Date().timeIntervalSince1970 * 1e9)))
                    _ = ring.push(.reached(instrument: 0, monotonicNs: Realtime.monotonicNanoseconds))
                }
                finished.signal()
            }.start()
        }

        func stop() {
            stopRequested.signal()
            finished.wait()
        }
    }
}
