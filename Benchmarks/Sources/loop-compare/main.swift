// loop-compare: the node's control-loop wake-up latency against cyclictest (Debian's rt-tests) at the same
// period, scheduling policy and priority, in interleaved rounds of one invocation, at 1 kHz and 10 kHz.
// Reports each side's p50/p99/max, the median p99 ratio (ours / cyclictest; the goal is ≤ 1.2) and, with
// Anchors/malloc_count.c preloaded, the loop thread's allocations per cycle after its first second (goal 0).
//
// Both ask for SCHED_FIFO at --priority with mlockall; where the kernel refuses it (no CAP_SYS_NICE), both
// run SCHED_OTHER, and the report says so.
//
// Usage: loop-compare [--cyclictest PATH] [--rounds N] [--seconds S] [--rates 1000,10000] [--priority P] [--no-mlock]
import CompareSupport
import Foundation
import Runtime

var cyclictest = "cyclictest", rounds = 3, seconds = 5.0, rates = [1000.0, 10000.0], priority: Int32 = 80, lockMemory = true
var flags = CommandLineFlags(tool: "loop-compare")
while let flag = flags.next() {
    switch flag {
    case "--cyclictest": cyclictest = flags.value(flag)
    case "--rounds": rounds = flags.count(flag)
    case "--seconds": seconds = flags.number(flag)
    case "--priority": priority = flags.number(flag)
    case "--no-mlock": lockMemory = false
    case "--rates":
        let text = flags.value(flag)
        let parsed = text.split(separator: ",").compactMap { Double($0) }
        guard !parsed.isEmpty, parsed.count == text.split(separator: ",").count, parsed.allSatisfy({ $0 >= 1 && $0 <= 100_000 }) else {
            flags.fail("bad value for --rates: \(text) (rates in Hz, 1 to 100000, separated by commas)")
        }
        rates = parsed
    default: flags.fail("unknown argument \(flag); usage: loop-compare [--cyclictest PATH] [--rounds N] [--seconds S] [--rates 1000,10000] [--priority P] [--no-mlock]")
    }
}
guard rounds >= 1, seconds >= 1, (1...99).contains(priority) else { flags.fail("--rounds ≥ 1, --seconds ≥ 1, --priority 1…99") }

typealias ThreadMallocs = @convention(c) () -> Int
let threadMallocs: ThreadMallocs? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "qrrm_thread_mallocs")
    .map { unsafeBitCast($0, to: ThreadMallocs.self) }

struct Latency { var p50: Double, p99: Double, max: Double }  // µs

/// Runs cyclictest for `seconds` at `rate` with `policy` and returns its percentiles from its 1 µs histogram.
@MainActor func runCyclictest(rate: Double, fifo: Bool) -> Latency {
    let interval = Int((1e6 / rate).rounded())
    let loops = Int(seconds * rate)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: cyclictest.hasPrefix("/") ? cyclictest : "/usr/bin/env")
    var arguments = ["-t1", "-q", "-i\(interval)", "-l\(loops)", "-h20000", fifo ? "-p\(priority)" : "-p0", "--policy=\(fifo ? "fifo" : "other")"]
    if lockMemory { arguments.insert("-m", at: 1) }
    if !cyclictest.hasPrefix("/") { arguments.insert(cyclictest, at: 0) }
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    do { try process.run() } catch { flags.fail("cannot run \(cyclictest): \(error) (apt-get install rt-tests)") }
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    var counts: [(Double, Int)] = [], maximum = 0.0, overflows = 0
    for line in output.split(separator: "\n") {
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        if line.hasPrefix("# Max Latencies:"), let last = fields.last, let value = Double(last) { maximum = value }
        if line.hasPrefix("# Histogram Overflows:"), let last = fields.last, let value = Int(last) { overflows = value }
        if !line.hasPrefix("#"), fields.count >= 2, let bucket = Double(fields[0]), let count = Int(fields[1]), count > 0 {
            counts.append((bucket, count))
        }
    }
    let total = counts.reduce(0) { $0 + $1.1 } + overflows
    guard total > 0 else { flags.fail("cyclictest printed no histogram:\n\(output)") }
    func percentile(_ p: Double) -> Double {
        var seen = 0
        for (bucket, count) in counts {
            seen += count
            if Double(seen) >= p / 100 * Double(total) { return bucket }
        }
        return maximum
    }
    return Latency(p50: percentile(50), p99: percentile(99), max: maximum)
}

func format(_ l: Latency) -> String { String(format: "p50 %6.1f µs  p99 %6.1f µs  max %7.1f µs", l.p50, l.p99, l.max) }

print("loop-compare: \(rounds) rounds of \(seconds) s per side, rates \(rates.map { "\(Int($0)) Hz" }.joined(separator: ", ")), priority \(priority)")
var failed = false
for rate in rates {
    var ratios: [Double] = []
    var allocations: [Double] = []
    var policyNote = ""
    for round in 1...rounds {
        let ours: LoopLatencyProbe.Result
        do { ours = try LoopLatencyProbe.run(rate: rate, priority: priority, lockMemory: lockMemory, seconds: seconds, allocationCounter: threadMallocs) } catch {
            flags.fail("\(error)")
        }
        let fifo = ours.realtime.fifoPriority != nil
        policyNote = fifo ? "SCHED_FIFO \(priority)" : "SCHED_OTHER (SCHED_FIFO refused: \(ours.realtime.refusals.first ?? "?"))"
        let mine = Latency(p50: Double(ours.p50) / 1000, p99: Double(ours.p99) / 1000, max: Double(ours.max) / 1000)
        let theirs = runCyclictest(rate: rate, fifo: fifo)
        let ratio = mine.p99 / max(theirs.p99, 1)
        ratios.append(ratio)
        if let a = ours.allocationsPerCycle { allocations.append(a) }
        print(String(format: "  %5.0f Hz round %d  qrrm %@ (%llu cycles, %llu misses)", rate, round, format(mine), ours.cycles, ours.deadlineMisses))
        print(String(format: "  %5.0f Hz round %d  cyclictest %@  → p99 ratio %.2f", rate, round, format(theirs), ratio))
    }
    let median = ratios.sorted()[ratios.count / 2]
    print(String(format: "%5.0f Hz, %@: median p99 ratio qrrm/cyclictest = %.2f (goal ≤ 1.2)", rate, policyNote, median))
    if allocations.isEmpty {
        print("  allocations per cycle: not measured (preload Anchors/malloc_count.so)")
    } else {
        print(String(format: "  loop-thread allocations per cycle after start-up: %.4f (goal 0)", allocations.max()!))
        failed = failed || allocations.max()! > 0
    }
}
exit(failed ? 1 : 0)
