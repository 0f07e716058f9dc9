// qubit-compare: emulated shots per second of a CPMG-64 sequence on one transmon (the preset: 1/f^0.9
// dephasing synthesised as OU components, T₁ = 100 µs) through QubitTestbed, against the same algorithm
// written with numpy and vectorised over shots (Anchors/qubit_numpy.py), in interleaved rounds of one
// invocation. Both sample exact OU updates per interval, evolve a Bloch vector with T₁, measure and
// produce the readout record (assignment errors, shot noise).
//
// Usage: qubit-compare [--anchor PATH] [--python PATH] [--rounds N] [--shots N] [--threads N] [--min-ratio R]
//   --anchor     the numpy script (default Anchors/qubit_numpy.py)
//   --python     the interpreter (default python3)
//   --rounds     rounds of testbed-then-numpy (default 5)
//   --shots      shots per run (default 20000)
//   --threads    threads the testbed spreads shots over (default: the active processor count)
//   --min-ratio  exit 1 if the median testbed/numpy ratio is below this (default: report only)
import Emulator
import CompareSupport
import Foundation
import HAL
import Quantities

struct Options {
    var anchor = "Anchors/qubit_numpy.py"
    var python = "python3"
    var rounds = 5
    var shots = 20_000
    var threads: Int?
    var minRatio: Double?
}

/// Ends the program with `message` (exit status 2).
func fail(_ message: String) -> Never {
    CommandLineFlags(tool: "qubit-compare").fail(message)
}

func parseOptions() -> Options {
    var options = Options()
    var flags = CommandLineFlags(tool: "qubit-compare")
    while let flag = flags.next() {
        switch flag {
        case "--anchor": options.anchor = flags.value(flag)
        case "--python": options.python = flags.value(flag)
        case "--rounds": options.rounds = flags.count(flag)
        case "--shots": options.shots = flags.count(flag)
        case "--threads": options.threads = flags.count(flag)
        case "--min-ratio": options.minRatio = flags.number(flag) as Double
        default: flags.fail("unknown argument \(flag)")
        }
    }
    return options
}

/// CPMG-64 at 1 GS/s, 0.5 V channels: π/2_x (10 ns), 64 × [490 ns, π_y (20 ns), 490 ns], π/2_−x, and a
/// marker 2 ns later. Three segments; the train is one segment repeated.
let pulses = 64
func square(_ start: Int, _ length: Int, _ phase: Double) -> (PulseProgram.ParametricPulse, PulseProgram.ParametricPulse) {
    (.init(start: start, length: length, shape: .square, amplitude: cos(phase)),
     .init(start: start, length: length, shape: .square, amplitude: sin(phase)))
}
func segment(_ name: String, length: Int, pulse: (Int, Int, Double), marker: Int? = nil) -> PulseProgram.Segment {
    let (i, q) = square(pulse.0, pulse.1, pulse.2)
    return .init(name: name, length: length, waveforms: [1: .pulses([i]), 2: .pulses([q])],
                 markers: marker.map { [.init(channel: 1, number: 1, start: $0, length: 4)] } ?? [])
}
let program = PulseProgram(
    sampleRate: SampleRate(siValue: 1e9),
    channels: [.init(number: 1, amplitude: Voltage(siValue: 0.5)), .init(number: 2, amplitude: Voltage(siValue: 0.5))],
    segments: [segment("start", length: 10, pulse: (0, 10, 0)),
               segment("unit", length: 1000, pulse: (490, 20, Double.pi / 2)),
               segment("end", length: 20, pulse: (0, 10, Double.pi), marker: 12)],
    steps: [.init(segment: "start"), .init(segment: "unit", repeats: pulses), .init(segment: "end")])

/// The same timeline for the anchor: (kind, seconds, angle, phase).
func operations() -> [[Any]] {
    var ops: [[Any]] = [["pulse", 10e-9, Double.pi / 2, 0.0], ["free", 490e-9]]
    for j in 0..<pulses {
        ops.append(["pulse", 20e-9, Double.pi, Double.pi / 2])
        ops.append(["free", j == pulses - 1 ? 490e-9 : 980e-9])
    }
    ops += [["pulse", 10e-9, Double.pi / 2, Double.pi], ["free", 2e-9], ["measure"]]
    return ops
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

let options = parseOptions()
let qubit = QubitSpec.transmon
do {
    let spec = TestbedSpec(
        qubits: [.init(name: "q0", spec: qubit, drive: .init(generator: "awg1", i: 1, q: 2), readout: "ro")],
        readouts: [.init(instrument: "ro", trigger: .init(generator: "awg1", channel: 1, marker: 1))], seed: 1)
    let testbed = try QubitTestbed(spec, threads: options.threads)
    let synthesis = try NoiseSynthesis(qubit.dephasing)
    let anchorInput: [String: Any] = [
        "white": synthesis.white, "components": synthesis.components.map { [$0.variance, $0.rate] }, "t1": qubit.t1,
        "operations": operations(), "shots": options.shots, "seed": 1,
        "readout": ["p00": qubit.readout.groundFidelity, "p11": qubit.readout.excitedFidelity,
                    "ground": [qubit.readout.ground.i, qubit.readout.ground.q],
                    "excited": [qubit.readout.excited.i, qubit.readout.excited.q], "sigma": qubit.readout.sigma],
    ]
    let input = try JSONSerialization.data(withJSONObject: anchorInput)

    /// Testbed shots per second and the fraction measured in |1⟩.
    func testbedRun() -> (Double, Double) {
        let clock = ContinuousClock()
        let start = clock.now
        testbed.play(program, generator: "awg1", shots: options.shots)
        let records = testbed.takeRecords(readout: "ro", maximum: .max)
        let elapsed = start.duration(to: clock.now)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        guard records.count == options.shots else { fail("expected \(options.shots) records, got \(records.count)") }
        return (Double(options.shots) / seconds, Double(records.filter { $0.projected[0] }.count) / Double(records.count))
    }

    func anchorRun() throws -> (Double, Double) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [options.python, options.anchor]
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        stdin.fileHandleForWriting.write(input)
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let reply = try JSONSerialization.jsonObject(with: output) as? [String: Any],
              let rate = reply["shots_per_second"] as? Double, let excited = reply["excited"] as? Double else {
            fail("the anchor failed (status \(process.terminationStatus)): \(String(decoding: output, as: UTF8.self))")
        }
        return (rate, excited)
    }

    _ = testbedRun() // warm-up: compiles the program once, as every later play reuses it
    print("CPMG-\(pulses) on the transmon preset (\(synthesis.components.count) OU components), \(options.shots) shots per run, testbed on \(testbed.threads) thread(s)")
    print("round  testbed shots/s   numpy shots/s   testbed/numpy   P(1) testbed  numpy")
    var ratios: [Double] = [], ours: [Double] = [], theirs: [Double] = []
    for round in 1...options.rounds {
        let (a, pa) = testbedRun()
        let (b, pb) = try anchorRun()
        ours.append(a); theirs.append(b); ratios.append(a / b)
        print(String(format: "%5d  %15.0f   %13.0f   %13.2f   %11.4f  %6.4f", round, a, b, a / b, pa, pb))
    }
    let ratio = median(ratios)
    print(String(format: "med.   %15.0f   %13.0f   %13.2f", median(ours), median(theirs), ratio))
    print(String(format: "median ratio testbed/numpy, shots per second: %.2f (min %.2f, max %.2f over %d rounds)",
                 ratio, ratios.min()!, ratios.max()!, options.rounds))
    if let minRatio = options.minRatio, ratio < minRatio {
        print(String(format: "below the required %.2f", minRatio))
        exit(1)
    }
} catch {
    fail("\(error)")
}
