// compile-compare: compile throughput of sample-level CPMG waveforms at 2.5 GS/s, SequenceCompiler against the
// same waveform built with numpy (Anchors/cpmg_numpy.py), interleaved rounds of one invocation.
//
// The target is a generator without a sequencer (every sample stored): 2.5 GS/s, two channels (I and Q) and a
// readout marker, 20 ns square π pulses on the Q channel, π/2 pulses on I, CPMG-N over T. Both sides produce
// the I and Q float32 arrays with every pulse on the sample nearest its ideal centre; we also validate the
// program against the generator's limits, as `compile` always does.
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
    case "--rounds": rounds = flags.number(flag)
    case "--pulses": pulses = flags.number(flag)
    case "--total": total = flags.number(flag)
    default: flags.fail("unknown argument \(flag)")
    }
}
if rounds < 1 { flags.fail("--rounds must be at least 1") }

let rate = 2.5e9
let capabilities = PulseGeneratorCapabilities(
    channels: 2, sampleRates: 1...rate, maximumAmplitude: .volts(1), memorySamples: 1 << 30, minimumSegmentLength: 1,
    granularity: 1, markersPerChannel: 1, maximumSteps: 1, maximumRepeats: 1)
let compiler = SequenceCompiler(capabilities: capabilities, sampleRate: .samplesPerSecond(rate), wiring: DriveWiring(rabiPerVolt: 50e6))
let sequence = try DDSequence(.cpmg, pulses: pulses, total: .seconds(total), piPulse: Pulse(angle: .pi, phase: .pi / 2, duration: .seconds(20e-9)))

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }

var ratios: [Double] = []
var swiftRates: [Double] = []
for round in 1...rounds {
    let clock = ContinuousClock()
    var samples = 0
    let elapsed = try clock.measure {
        let program = try compiler.compile(sequence)
        samples = program.segments.reduce(0) { $0 + $1.length }
    }
    let swiftRate = Double(samples) / seconds(elapsed)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", anchor, "--pulses", String(pulses), "--total", String(total), "--rate", String(rate)]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0, let line = output.split(separator: "\n").last(where: { $0.hasPrefix("samples_per_second ") }),
          let numpyRate = Double(line.dropFirst("samples_per_second ".count))
    else { flags.fail("the anchor failed: \(output)") }
    ratios.append(swiftRate / numpyRate)
    swiftRates.append(swiftRate)
    print("round \(round): SequenceCompiler \(String(format: "%.3g", swiftRate)) samples/s (\(samples) per channel), numpy \(String(format: "%.3g", numpyRate)) samples/s, ratio \(String(format: "%.2f", swiftRate / numpyRate))")
}
ratios.sort()
swiftRates.sort()
print("median: SequenceCompiler \(String(format: "%.3g", swiftRates[rounds / 2])) samples/s per channel, ratio to numpy \(String(format: "%.2f", ratios[rounds / 2]))")
