import Foundation
import HAL
import Histogram
import Synchronization
import Telemetry

/// What the I/O tasks hand the loop, through one preallocated ring per task.
package enum LoopInput: Sendable {
    /// A channel's new value (NaN when its instrument did not answer).
    case sample(channel: Int, value: Double, hostTimeNs: Int64)
    /// The task reached instrument `index` at `monotonicNs`.
    case reached(instrument: Int, monotonicNs: Int64)
}

/// What the loop hands the supervisor.
package enum LoopEvent: Sendable {
    /// Interlock `index` tripped at `monotonicNs` in cycle `cycle`; its GPIO outputs were driven safe in that cycle.
    case tripped(interlock: Int, value: Double, monotonicNs: Int64, cycle: UInt64)
    /// An acknowledge re-armed interlock `index`, or was refused because its condition still holds.
    case acknowledged(interlock: Int, rearmed: Bool)
    /// Experiments became admitted or not.
    case admission(Bool)
    /// The wake-up latencies (ns) since the last report.
    case timing(Histogram<UInt64>, iterations: UInt64, misses: UInt64, worstNs: UInt64)
}

/// What the supervisor asks of the loop.
package enum LoopCommand: Sendable {
    case acknowledge(interlock: Int)
}

/// An interlock as the loop evaluates it: indices instead of names, thresholds in SI.
package struct CompiledInterlock: Sendable {
    package enum Check: Sendable {
        case above(channel: Int, threshold: Double)
        case below(channel: Int, threshold: Double)
        case line(index: Int, tripsHigh: Bool)
        case instrumentLost(instrument: Int, afterNs: Int64)
        case watchdog(timeoutNs: Int64)
    }

    package var check: Check
    /// The output lines (indices into the loop's outputs) this trip drives safe, with their safe levels.
    package var outputs: [(index: Int, safeHigh: Bool)]
}

/// How the real-time set-up went: what the kernel granted and what it refused, in words.
public struct RealtimeStatus: Sendable, Equatable {
    public var fifoPriority: Int32?
    public var memoryLocked: Bool
    public var cpu: Int32?
    /// Each refusal, e.g. "sched_setscheduler(SCHED_FIFO, 80) failed: Operation not permitted (errno 1)".
    public var refusals: [String]
}

/// The node's host loop: a dedicated thread that wakes at absolute deadlines
/// (`clock_nanosleep(TIMER_ABSTIME)` on CLOCK_MONOTONIC), drains the I/O tasks' rings, publishes their
/// samples, evaluates the interlocks (driving GPIO outputs safe in the same cycle), and gates experiments.
///
/// The step allocates nothing, takes no lock and does no blocking I/O: rings and arrays are sized at
/// start, the latency histogram is preallocated and traded with the supervisor through rings. Wake-up
/// latency goes into an HDR histogram (1 ns to 10 s, 3 digits); a cycle that wakes a period late or more
/// counts as a deadline miss, and cycles slept through are counted as missed too.
///
/// `@unchecked Sendable`: the mutable state below is touched only by the loop thread once it runs;
/// other threads meet it through the rings and atomics.
package final class ControlLoop: @unchecked Sendable {
    let setting: Station.LoopSetting
    let periodNs: Int64
    private let inputs: [SPSCRing<LoopInput>]
    package let events: SPSCRing<LoopEvent>
    package let commands: SPSCRing<LoopCommand>
    private let spareHistograms: SPSCRing<Histogram<UInt64>>
    private let interlocks: [CompiledInterlock]
    private let admission: (channel: Int, below: Double)?
    private let inputLines: [any DigitalLine]
    private let outputLines: [any DigitalLine]
    private let telemetryChannels: [TelemetryChannel]
    private var producer: TelemetryProducer?

    private var latest: [Double]
    private var lastReached: [Int64]
    private var lastInput: Int64 = 0
    private var tripped: [Bool]
    private var histogram: Histogram<UInt64>
    private var iterations: UInt64 = 0
    private var misses: UInt64 = 0
    private var worst: UInt64 = 0
    private var admitted = false
    private var cycle: UInt64 = 0

    /// Experiments may run: set by the loop each cycle.
    package let isAdmitted = Atomic<Bool>(false)
    /// The number of interlocks currently tripped.
    package let trippedCount = Atomic<Int>(0)
    package let cycles = Atomic<UInt64>(0)
    /// Counts the calling thread's allocations (a benchmark's LD_PRELOADed counter); read on the loop thread.
    package var allocationCounter: (@convention(c) () -> Int)?
    /// Allocations on the loop thread after its first second, and the cycles they span (set when it stops).
    package let steadyAllocations = Atomic<UInt64>(0)
    package let steadyCycles = Atomic<UInt64>(0)
    private let worker = Mutex<WorkerThread?>(nil)
    private let started = DispatchSemaphore(value: 0)
    private let realtime = Mutex(RealtimeStatus(fifoPriority: nil, memoryLocked: false, cpu: nil, refusals: []))

    /// A loop over `inputs` (one ring per I/O task), `channels` values (published on `telemetryChannels` when
    /// a producer is given), `instruments` instruments, the compiled interlocks and their lines.
    package init(
        setting: Station.LoopSetting, inputs: [SPSCRing<LoopInput>], channels: Int, instruments: Int,
        interlocks: [CompiledInterlock], admission: (channel: Int, below: Double)?,
        inputLines: [any DigitalLine], outputLines: [any DigitalLine],
        telemetryChannels: [TelemetryChannel], producer: consuming TelemetryProducer?
    ) {
        precondition(telemetryChannels.isEmpty || telemetryChannels.count == channels, "one telemetry channel per loop channel")
        self.setting = setting
        periodNs = Int64((1e9 / setting.rate).rounded())
        self.inputs = inputs
        events = SPSCRing(minimumCapacity: 1024)
        commands = SPSCRing(minimumCapacity: 64)
        spareHistograms = SPSCRing(minimumCapacity: 4)
        self.interlocks = interlocks
        self.admission = admission
        self.inputLines = inputLines
        self.outputLines = outputLines
        self.telemetryChannels = telemetryChannels
        self.producer = producer
        latest = Array(repeating: .nan, count: channels)
        lastReached = Array(repeating: 0, count: instruments)
        tripped = Array(repeating: false, count: interlocks.count)
        histogram = Self.makeHistogram()
        for _ in 0..<2 { _ = spareHistograms.push(Self.makeHistogram()) }
    }

    private static func makeHistogram() -> Histogram<UInt64> {
        Histogram(lowestDiscernibleValue: 1, highestTrackableValue: 10_000_000_000, numberOfSignificantValueDigits: .three)
    }

    /// What the kernel granted the loop thread (valid once ``start()`` returned).
    package var realtimeStatus: RealtimeStatus { realtime.withLock { $0 } }

    /// Starts the loop thread and waits until it has set itself up.
    package func start() {
        worker.withLock { $0 = WorkerThread(name: "qrrm-loop", stackSize: 1 << 20) { [self] in run($0) } }
        started.wait()
    }

    /// Stops the loop thread and waits for it.
    package func stop() { worker.withLock { $0 }?.stop() }

    private func setUpRealtime() {
        var status = RealtimeStatus(fifoPriority: nil, memoryLocked: false, cpu: nil, refusals: [])
        do {
            try Realtime.setFIFOPriority(setting.priority)
            status.fifoPriority = setting.priority
        } catch { status.refusals.append(error.description) }
        if setting.lockMemory {
            do {
                try Realtime.lockMemory()
                status.memoryLocked = true
            } catch { status.refusals.append(error.description) }
        }
        if let cpu = setting.cpu {
            do {
                try Realtime.pinCurrentThread(toCPU: cpu)
                status.cpu = cpu
            } catch { status.refusals.append(error.description) }
        }
        realtime.withLock { $0 = status }
    }

    private func run(_ thread: WorkerThread) {
        setUpRealtime()
        let start = Realtime.monotonicNanoseconds
        lastInput = start
        for index in lastReached.indices { lastReached[index] = start }
        started.signal()
        let reportEvery = UInt64(max(setting.rate, 1))
        var deadline = start + periodNs
        var allocationsAtWarm = 0
        while !thread.isStopping {
            if cycle == reportEvery, let counter = allocationCounter { allocationsAtWarm = counter() }
            try? Realtime.sleep(untilMonotonicNanoseconds: deadline)
            let woke = Realtime.monotonicNanoseconds
            let latency = UInt64(max(woke - deadline, 0))
            _ = histogram.record(min(latency, 10_000_000_000))
            worst = max(worst, latency)
            iterations += 1
            if latency >= UInt64(periodNs) { misses += 1 }
            step(now: woke)
            deadline += periodNs
            if deadline <= woke {
                let skipped = (woke - deadline) / periodNs + 1
                misses += UInt64(skipped)
                deadline += skipped * periodNs
            }
            if iterations % reportEvery == 0 { reportTiming() }
        }
        if cycle > reportEvery, let counter = allocationCounter {
            steadyAllocations.store(UInt64(max(counter() - allocationsAtWarm, 0)), ordering: .relaxed)
            steadyCycles.store(cycle - reportEvery, ordering: .relaxed)
        }
        reportTiming()
        if setting.lockMemory, realtimeStatus.memoryLocked { try? Realtime.unlockMemory() }
    }

    /// Hands the filled histogram to the supervisor when a spare one is back.
    private func reportTiming() {
        guard iterations > 0, var spare = spareHistograms.pop() else { return }
        swap(&spare, &histogram)
        if !events.push(.timing(spare, iterations: iterations, misses: misses, worstNs: worst)) { return }
        iterations = 0
        misses = 0
        worst = 0
    }

    /// The supervisor returns a histogram it has published (reset).
    package func returnHistogram(_ histogram: consuming Histogram<UInt64>) {
        _ = spareHistograms.push(histogram)
    }

    /// One cycle: drain, publish, check the interlocks, gate experiments.
    private func step(now: Int64) {
        cycle &+= 1
        cycles.store(cycle, ordering: .relaxed)
        for ring in inputs {
            while let input = ring.pop() {
                lastInput = now
                switch input {
                case let .sample(channel, value, hostTimeNs):
                    latest[channel] = value
                    if !telemetryChannels.isEmpty, !value.isNaN {
                        producer?.record(telemetryChannels[channel], value, hardwareTimeNs: 0, hostTimeNs: hostTimeNs)
                    }
                case let .reached(instrument, monotonicNs):
                    lastReached[instrument] = monotonicNs
                }
            }
        }
        while let command = commands.pop() {
            switch command {
            case let .acknowledge(index):
                let clear = tripped[index] && evaluate(interlocks[index], now: now) == nil
                if clear {
                    tripped[index] = false
                    trippedCount.subtract(1, ordering: .relaxed)
                }
                _ = events.push(.acknowledged(interlock: index, rearmed: clear))
            }
        }
        for index in interlocks.indices where !tripped[index] {
            guard let value = evaluate(interlocks[index], now: now) else { continue }
            tripped[index] = true
            trippedCount.add(1, ordering: .relaxed)
            for output in interlocks[index].outputs { try? outputLines[output.index].setActive(output.safeHigh) }
            _ = events.push(.tripped(interlock: index, value: value, monotonicNs: now, cycle: cycle))
        }
        var nowAdmitted = trippedCount.load(ordering: .relaxed) == 0
        if let admission {
            let value = latest[admission.channel]
            nowAdmitted = nowAdmitted && !value.isNaN && value < admission.below
        }
        if nowAdmitted != admitted {
            admitted = nowAdmitted
            isAdmitted.store(nowAdmitted, ordering: .releasing)
            _ = events.push(.admission(nowAdmitted))
        }
    }

    /// The value that trips `interlock` now, or nil when it holds.
    private func evaluate(_ interlock: CompiledInterlock, now: Int64) -> Double? {
        switch interlock.check {
        case let .above(channel, threshold):
            let value = latest[channel]
            return value > threshold ? value : nil
        case let .below(channel, threshold):
            let value = latest[channel]
            return value < threshold ? value : nil
        case let .line(index, tripsHigh):
            // A fault input that cannot be read counts as tripped.
            guard let active = try? inputLines[index].isActive() else { return .nan }
            return active == tripsHigh ? (active ? 1 : 0) : nil
        case let .instrumentLost(instrument, afterNs):
            let age = now - lastReached[instrument]
            return age > afterNs ? Double(age) * 1e-9 : nil
        case let .watchdog(timeoutNs):
            let age = now - lastInput
            return age > timeoutNs ? Double(age) * 1e-9 : nil
        }
    }
}
