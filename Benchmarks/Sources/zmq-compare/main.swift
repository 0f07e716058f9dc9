// zmq-compare: our ZeroMQ module against raw libzmq (Anchors/zmq_pubsub.c), in one invocation.
//
// Each round runs the Swift measurement in this process, then the C anchor as a child process,
// with the same message count and high-water mark, and prints both rates. At the end it prints
// the medians and the median of the per-round Swift/C ratios. Interleaving the rounds spreads the
// noise of a shared 2-core VM over both sides instead of letting it land on one of them.
//
// Usage: zmq-compare [--anchor PATH] [--rounds N] [--messages N] [--hwm N] [--min-ratio R] [--swift-only]
//   --anchor     the compiled anchor (default: zmq_pubsub next to this executable, then
//                .build/anchors/zmq_pubsub under the current directory)
//   --rounds     rounds of Swift-then-C (default 5)
//   --messages   messages per run (default 2000000)
//   --hwm        SNDHWM on PUB and RCVHWM on SUB (default 0: unlimited, nothing dropped)
//   --min-ratio  exit 1 if the median ratio is below this (default: report only)
//   --swift-only run only the Swift side, printing its line as the anchor does (for profiling:
//                valgrind/callgrind, malloc counting; see ../../profile.sh)
import Foundation
import ZMQBenchSupport
import ZeroMQ

struct Options {
    var anchor: String?
    var rounds = 5
    var messages = 2_000_000
    var hwm: Int32 = 0
    var minRatio: Double?
    var swiftOnly = false
}

func usage(_ message: String) -> Never {
    FileHandle.standardError.write(Data("zmq-compare: \(message)\n".utf8))
    FileHandle.standardError.write(Data(
        "usage: zmq-compare [--anchor PATH] [--rounds N] [--messages N] [--hwm N] [--min-ratio R] [--swift-only]\n".utf8))
    exit(2)
}

func number<T: LosslessStringConvertible>(_ text: String, _ flag: String) -> T {
    guard let value = T(text) else { usage("bad value for \(flag): \(text)") }
    return value
}

func parseOptions() -> Options {
    var options = Options()
    var arguments = CommandLine.arguments.dropFirst()
    func value(_ flag: String) -> String {
        guard let next = arguments.popFirst() else { usage("\(flag) needs a value") }
        return next
    }
    while let flag = arguments.popFirst() {
        switch flag {
        case "--anchor": options.anchor = value(flag)
        case "--rounds": options.rounds = number(value(flag), flag)
        case "--messages": options.messages = number(value(flag), flag)
        case "--hwm": options.hwm = number(value(flag), flag)
        case "--min-ratio": options.minRatio = number(value(flag), flag) as Double
        case "--swift-only": options.swiftOnly = true
        case "-h", "--help": usage("help")
        default: usage("unknown argument \(flag)")
        }
    }
    guard options.rounds >= 1, options.messages >= 2, options.hwm >= 0 else { usage("out-of-range argument") }
    return options
}

func findAnchor(_ explicit: String?) -> String {
    let files = FileManager.default
    if let explicit {
        guard files.isExecutableFile(atPath: explicit) else { usage("no executable anchor at \(explicit)") }
        return explicit
    }
    let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    let candidates = [
        executable.deletingLastPathComponent().appendingPathComponent("zmq_pubsub").path,
        files.currentDirectoryPath + "/.build/anchors/zmq_pubsub",
    ]
    for candidate in candidates where files.isExecutableFile(atPath: candidate) { return candidate }
    usage("no anchor found (looked at \(candidates.joined(separator: ", "))); build Anchors/zmq_pubsub.c and pass --anchor")
}

/// What one run of the anchor printed.
struct AnchorResult {
    var received: Int
    var messagesPerSecond: Double
    var cpuNanosecondsPerMessage: Double
    var minorFaults: Int
}

/// Runs the anchor once and parses its `key=value` line.
func runAnchor(_ path: String, messages: Int, hwm: Int32) throws -> AnchorResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = [String(messages), String(hwm)]
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    guard process.terminationStatus == 0 else {
        throw BenchFailure("anchor exited with \(process.terminationStatus): \(text)")
    }
    var fields: [String: String] = [:]
    for pair in text.split(separator: " ") {
        let parts = pair.split(separator: "=", maxSplits: 1)
        if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
    }
    guard let received = fields["received"].flatMap(Int.init),
          let rate = fields["msgs_per_sec"].flatMap(Double.init),
          let cpu = fields["cpu_ns_per_msg"].flatMap(Double.init),
          let faults = fields["minor_faults"].flatMap(Int.init) else {
        throw BenchFailure("cannot parse the anchor's output: \(text)")
    }
    return AnchorResult(received: received, messagesPerSecond: rate, cpuNanosecondsPerMessage: cpu, minorFaults: faults)
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    let mid = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

let options = parseOptions()
if options.swiftOnly {
    do {
        for _ in 1...options.rounds {
            let r = try runPubSubThroughput(messages: options.messages, highWaterMark: options.hwm)
            print(String(format: "swift messages=%d received=%d seconds=%.6f msgs_per_sec=%.0f cpu_ns_per_msg=%.1f minor_faults=%d",
                         options.messages, r.messages, r.seconds, r.messagesPerSecond, r.cpuNanosecondsPerMessage,
                         r.minorFaults))
        }
    } catch {
        FileHandle.standardError.write(Data("zmq-compare: \(error)\n".utf8))
        exit(1)
    }
    exit(0)
}
let anchor = findAnchor(options.anchor)
let version = zmqVersion
print("zmq-compare: PUB->SUB tcp://127.0.0.1, frames \"\(BenchMessage.topic)\" + \(BenchMessage.payloadSize) B, "
      + "\(options.messages) messages per run, HWM \(options.hwm), libzmq \(version.major).\(version.minor).\(version.patch)")
print("anchor: \(anchor)")
print("each round: this process (Swift), then the anchor (C); rates timed at the subscriber, first to last message;")
print("cpu = CPU time of the whole process (all threads) per message over the same window; faults = minor page faults")
print("")
print("round   swift msgs/s       C msgs/s  swift/C   swift cpu ns/msg  C cpu ns/msg  C/swift   swift faults  C faults")

func row(_ label: String, _ swiftRate: Double, _ cRate: Double, _ ratio: Double,
         _ swiftCPU: Double, _ cCPU: Double, _ cpuRatio: Double, _ swiftFaults: String, _ cFaults: String) -> String {
    label.padding(toLength: 5, withPad: " ", startingAt: 0)
        + String(format: " %14.0f %14.0f %8.3f %18.1f %13.1f %8.3f", swiftRate, cRate, ratio, swiftCPU, cCPU, cpuRatio)
        + " " + swiftFaults.leftPadded(14) + " " + cFaults.leftPadded(9)
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}

var swiftRates: [Double] = [], cRates: [Double] = [], ratios: [Double] = []
var swiftCPU: [Double] = [], cCPU: [Double] = [], cpuRatios: [Double] = []
do {
    for round in 1...options.rounds {
        let swift = try runPubSubThroughput(messages: options.messages, highWaterMark: options.hwm)
        let c = try runAnchor(anchor, messages: options.messages, hwm: options.hwm)
        swiftRates.append(swift.messagesPerSecond)
        cRates.append(c.messagesPerSecond)
        ratios.append(swift.messagesPerSecond / c.messagesPerSecond)
        swiftCPU.append(swift.cpuNanosecondsPerMessage)
        cCPU.append(c.cpuNanosecondsPerMessage)
        cpuRatios.append(c.cpuNanosecondsPerMessage / swift.cpuNanosecondsPerMessage)
        print(row(String(round), swift.messagesPerSecond, c.messagesPerSecond, ratios.last!,
                  swift.cpuNanosecondsPerMessage, c.cpuNanosecondsPerMessage, cpuRatios.last!,
                  String(swift.minorFaults), String(c.minorFaults)))
        if swift.messages < options.messages || c.received < options.messages {
            print("      dropped at the high-water mark: swift \(options.messages - swift.messages), "
                  + "C \(options.messages - c.received) (rates count the messages received)")
        }
    }
} catch {
    FileHandle.standardError.write(Data("zmq-compare: \(error)\n".utf8))
    exit(1)
}

let medianRatio = median(ratios)
print(row("med.", median(swiftRates), median(cRates), medianRatio, median(swiftCPU), median(cCPU), median(cpuRatios), "", ""))
print("")
print(String(format: "median ratio swift/C, messages per second: %.3f  (min %.3f, max %.3f over %d rounds)",
             medianRatio, ratios.min()!, ratios.max()!, ratios.count))
print(String(format: "median ratio C/swift, CPU time per message: %.3f  (min %.3f, max %.3f; above 1: Swift used less CPU)",
             median(cpuRatios), cpuRatios.min()!, cpuRatios.max()!))
if let minRatio = options.minRatio, medianRatio < minRatio {
    print(String(format: "FAIL: median ratio %.3f is below %.3f", medianRatio, minRatio))
    exit(1)
}
