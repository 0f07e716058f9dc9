// chi-compare: χ for CPMG-N, N = 1…64, under a 1/f spectrum, computed by the Sequences library against the
// PyPI package filter-functions at equal accuracy, in one invocation.
//
// Both sides compute the same 64 values of χ(T = 1 ms) for S(ω) = A/ω between 2π·1 Hz and 2π·10 MHz. Equal
// accuracy: the anchor (Anchors/chi_filter_functions.py) first finds, for each N, the smallest ω grid whose χ is
// within --accuracy (relative) of our reference values (computed to 1e-9), then times only those final grids;
// we time `predict` at the tolerance that gives the same relative accuracy. Rounds interleave; medians.
//
// Usage: chi-compare [--anchor PATH] [--rounds N] [--accuracy R]
import CompareSupport
import Foundation
import Sequences

var anchor = "Anchors/chi_filter_functions.py"
var rounds = 3
var accuracy = 1e-4
var flags = CommandLineFlags(tool: "chi-compare")
while let flag = flags.next() {
    switch flag {
    case "--anchor": anchor = flags.value(flag)
    case "--rounds": rounds = flags.count(flag)
    case "--accuracy": accuracy = flags.number(flag)
    default: flags.fail("unknown argument \(flag)")
    }
}

let total = 1e-3
let noise = NoisePSD.powerLaw(amplitude: 1e7, alpha: 1, low: 2 * .pi, high: 2 * .pi * 1e7)
let counts = Array(1...64)

/// χ for every N at absolute tolerance `tolerance`, and the seconds it took.
func ours(tolerance: (Double) -> Double, reference: [Double]?) throws -> ([Double], Double) {
    let clock = ContinuousClock()
    var values: [Double] = []
    let elapsed = try clock.measure {
        for (index, n) in counts.enumerated() {
            let sequence = try DDSequence(.cpmg, pulses: n, total: .seconds(total))
            values.append(try sequence.predict(noise: noise, tolerance: tolerance(reference?[index] ?? 1)).chi)
        }
    }
    return (values, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
}

let (reference, _) = try ours(tolerance: { _ in 1e-12 }, reference: nil)
print("reference χ(N=1) = \(reference[0]), χ(N=64) = \(reference[63])")
let referenceArgument = reference.map { String($0) }.joined(separator: ",")

var ratios: [Double] = []
for round in 1...rounds {
    // Ours, at a tolerance of `accuracy` relative to each χ (a fifth of it, for margin).
    let (values, swiftSeconds) = try ours(tolerance: { accuracy * $0 / 5 }, reference: reference)
    let worst = zip(values, reference).map { abs($0 - $1) / $1 }.max() ?? 0
    // The anchor, at the same relative accuracy.
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", anchor, "--reference", referenceArgument, "--accuracy", String(accuracy), "--total", String(total)]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0,
          let line = output.split(separator: "\n").last(where: { $0.hasPrefix("seconds ") }),
          let pythonSeconds = Double(line.dropFirst("seconds ".count))
    else { FileHandle.standardError.write(Data("anchor failed: \(output)\n".utf8)); exit(1) }
    let ratio = pythonSeconds / swiftSeconds
    ratios.append(ratio)
    print("round \(round): Sequences \(String(format: "%.3f", swiftSeconds)) s (worst relative error \(String(format: "%.1e", worst))), filter-functions \(String(format: "%.3f", pythonSeconds)) s, ratio \(String(format: "%.1f", ratio))×")
}
ratios.sort()
print("median speed-up over filter-functions at relative accuracy \(accuracy): \(String(format: "%.1f", ratios[ratios.count / 2]))×")
