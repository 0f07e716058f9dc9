// compile-compare: compile throughput of sample-level CPMG waveforms at 2.5 GS/s, SequenceCompiler against the
// same waveform built with numpy (Anchors/cpmg_numpy.py), interleaved rounds of one invocation.
//
// The target is a generator without a sequencer (every sample stored): 2.5 GS/s, two channels (I and Q) and a
// readout marker, 20 ns square π pulses on the Q channel, π/2 pulses on I, CPMG-N over T. Both sides produce
// the I and Q float32 arrays with every pulse on the sample nearest its ideal centre and check every sample's
// range (we as the samples are made, numpy afterwards); we also validate the program against the generator's
// limits, as `compile` always does. Two ways, each the best of 3 per round on both sides: into fresh arrays
// (`compile(_:)`, numpy `zeros`), and into arrays allocated once and reused (`compile(_:into:)`, numpy `out=`).
//
// Usage: compile-compare [--anchor PATH] [--rounds N] [--pulses N] [--total SECONDS]
import CompareSupport
import Foundation
import HAL
import Quantities
import Sequences

var anchor = "Anchors/cpmg_numpy.py"
var rounds = 5
var pulses = 64
var total = 10e-3
var flags = CommandLineFlags(tool: "compile-compare")
while let flag = flags.next() {
    switch flag {
    case "--anchor": anchor = flags.value(flag)
    case "--rounds": rounds = flags.count(flag)
    case "--pulses": pulses = flags.count(flag)
    case "--total": total = flags.number(flag)
    default: flags.fail("unknown argument \(flag)")
    }
}

let rate = 2.5e9
let capabilities = PulseGeneratorCapabilities(
    channels: 2, sampleRates: 1...rate, maximumAmplitude: .volts(1), memorySamples: 1 << 30, minimumSegmentLength: 1,
    granularity: 1, markersPerChannel: 1, maximumSteps: 1, maximumRepeats: 1)
let compiler = SequenceCompiler(capabilities: capabilities, sampleRate: .samplesPerSecond(rate), wiring: DriveWiring(rabiPerVolt: 50e6))
let sequence = try DDSequence(.cpmg, pulses: pulses, total: .seconds(total), piPulse: Pulse(angle: .pi, phase: .pi / 2, duration: .seconds(20e-9)))
let samples = try compiler.compile(sequence).segments.reduce(0) { $0 + $1.length }
var buffers = try WaveformBuffers(capacity: samples)

/// Samples per second per channel of the best of 3 runs of `body`.
func best(_ body: () throws -> PulseProgram) rethrows -> Double {
    var seconds = Double.infinity
    for _ in 0..<3 {
        let elapsed = try ContinuousClock().measure {
            let program = try body()
            precondition(program.segments[0].length == samples)
        }
        seconds = min(seconds, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
    }
    return Double(samples) / seconds
}

func format(_ x: Double) -> String { String(format: "%.3g", x) }

var results: [String: [Double]] = [:]
for round in 1...rounds {
    let fresh = try best { try compiler.compile(sequence) }
    let reused = try best { try compiler.compile(sequence, into: &buffers) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", anchor, "--pulses", String(pulses), "--total", String(total), "--rate", String(rate)]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    func anchorRate(_ key: String) -> Double? {
        output.split(separator: "\n").last { $0.hasPrefix(key + " ") }.flatMap { Double($0.dropFirst(key.count + 1)) }
    }
    guard process.terminationStatus == 0, let numpyFresh = anchorRate("samples_per_second_fresh"),
          let numpyReused = anchorRate("samples_per_second_reused")
    else { flags.fail("the anchor failed: \(output)") }
    for (key, value) in [("fresh", fresh), ("reused", reused), ("fresh ratio", fresh / numpyFresh), ("reused ratio", reused / numpyReused)] {
        results[key, default: []].append(value)
    }
    print("round \(round) (\(samples) samples per channel): fresh arrays: SequenceCompiler \(format(fresh)) samples/s, numpy \(format(numpyFresh)), ratio \(String(format: "%.2f", fresh / numpyFresh)); reused arrays: SequenceCompiler \(format(reused)) samples/s, numpy \(format(numpyReused)), ratio \(String(format: "%.2f", reused / numpyReused))")
}
func median(_ values: [Double]?) -> Double { values.map { $0.sorted()[$0.count / 2] } ?? .nan }
print("median, fresh arrays: SequenceCompiler \(format(median(results["fresh"]))) samples/s per channel, ratio to numpy \(String(format: "%.2f", median(results["fresh ratio"])))")
print("median, reused arrays: SequenceCompiler \(format(median(results["reused"]))) samples/s per channel, ratio to numpy \(String(format: "%.2f", median(results["reused ratio"])))")
