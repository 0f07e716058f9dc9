import ArgumentParser
import Drivers
import Foundation
import HAL
import Quantities
import Sequences

/// `qrrm sequence …`: dynamical-decoupling sequences as JSON, for people and for programs.
struct SequenceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sequence",
        abstract: "Show, predict and compile dynamical-decoupling sequences (JSON output).",
        discussion: """
            A spec is a family, a pulse count and settings: cpmg-8,T=100us,pulse=20ns or xy8-16,tau=50ns. \
            Noise is a sum of terms: white(s0=1e3)+1/f(A=1.4e8,alpha=0.9,low=1Hz,high=10MHz)+lorentzian(sigma=20kHz,tau=2us) \
            or table(psd.csv). See the README.
            """,
        subcommands: [Show.self, Predict.self, Compile.self])

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the pulse times and phases.")

        @Argument(help: "The sequence, e.g. cpmg-8,T=100us,pulse=20ns.")
        var spec: String

        func run() throws {
            let sequence = try SequenceSpec(parsing: spec).sequence()
            let operations: [[String: Any]] = sequence.operations.map { op in
                switch op.operation {
                case let .pulse(p):
                    return ["time_s": op.time.seconds, "kind": "pulse", "angle_rad": p.angle, "phase_rad": p.phase,
                            "axis": axisName(p.phase), "duration_s": p.duration.seconds]
                case let .virtualZ(angle):
                    return ["time_s": op.time.seconds, "kind": "virtualZ", "angle_rad": angle]
                }
            }
            try printJSON([
                "family": sequence.family.rawValue, "refocusing_pulses": sequence.pulseCount,
                "total_s": sequence.total.seconds, "operations": operations,
            ])
        }
    }

    struct Predict: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print χ, the coherence e^{−χ}, T₂ and the filter function under a noise PSD.")

        @Argument(help: "The sequence, e.g. cpmg-8,T=100us.")
        var spec: String

        @Option(name: .long, help: "The noise PSD, e.g. 1/f(A=1.4e8,alpha=0.9,low=1Hz,high=10MHz).")
        var noise: String

        @Option(name: .long, help: "The total time T, overriding the spec's (e.g. 200us).")
        var duration: String?

        @Option(name: .long, help: "The absolute accuracy asked of χ.")
        var tolerance = 1e-8

        func run() throws {
            let parsed = try SequenceSpec(parsing: spec)
            let total = try duration.map { text throws in try Time(parsing: text) }
            let sequence = try parsed.sequence(total: total)
            let psd = try NoisePSD(parsing: noise, directory: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
            let prediction = try sequence.predict(noise: psd, tolerance: tolerance)
            let t2 = try sequence.coherenceTime(noise: psd)
            let filter = FilterFunction(sequence)
            let samples: [[String: Double]] = (0..<64).map { k in
                let z = pow(10, -2 + 6 * Double(k) / 63)
                return ["z": z, "omega_rad_s": z / sequence.total.seconds, "F": filter.value(at: z)]
            }
            try printJSON([
                "family": sequence.family.rawValue, "refocusing_pulses": sequence.pulseCount, "total_s": sequence.total.seconds,
                "chi": prediction.chi, "chi_error": prediction.errorBound, "coherence": prediction.coherence,
                "t2_s": t2.map { $0.seconds as Any } ?? NSNull(), "filter_function": samples,
            ])
        }
    }

    struct Compile: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compile to a PulseProgram for a generator and print its summary.")

        @Argument(help: "The sequence, with finite pulses, e.g. cpmg-64,tau=1us,pulse=20ns.")
        var spec: String

        @Option(name: .long, help: "The generator model: AWG5202, AWG5204, AWG5208, or 33509B … 33522B.")
        var generator: String

        @Option(name: .long, parsing: .upToNextOption, help: "Installed options as *OPT? lists them (e.g. MEM, SEQ, 50).")
        var options: [String] = []

        @Option(name: .long, help: "The sample rate, e.g. 1GS/s (default: the generator's highest).")
        var sampleRate: String?

        @Option(name: .long, help: "The qubit's Rabi frequency per volt of envelope, e.g. 50MHz.")
        var rabiPerVolt = "50MHz"

        func run() throws {
            let sequence = try SequenceSpec(parsing: spec).sequence()
            let capabilities: PulseGeneratorCapabilities
            if let awg = TektronixAWG5200.capabilities(model: generator.uppercased(), options: options.isEmpty ? ["50", "SEQ"] : options) {
                capabilities = awg
            } else if let fgen = Keysight33500B.capabilities(model: generator.uppercased(), options: options) {
                capabilities = fgen
            } else {
                throw ValidationError("unknown generator \"\(generator)\"; known: AWG5202, AWG5204, AWG5208, 33509B … 33522B")
            }
            let rate = try sampleRate.map { text throws in try SampleRate(parsing: text) }
                ?? .samplesPerSecond(capabilities.sampleRates.upperBound)
            let rabi = try Frequency(parsing: rabiPerVolt).hertz
            let program = try SequenceCompiler(capabilities: capabilities, sampleRate: rate, wiring: DriveWiring(rabiPerVolt: rabi))
                .compile(sequence)
            let stored = program.segments.reduce(0) { $0 + $1.length }
            try printJSON([
                "generator": generator.uppercased(), "sample_rate_sa_s": program.sampleRate.siValue,
                "channels": program.channels.map { ["number": $0.number, "amplitude_v": $0.amplitude.siValue] as [String: Any] },
                "segments": program.segments.map { s -> [String: Any] in
                    ["name": s.name, "length": s.length, "markers": s.markers.map { ["channel": $0.channel, "number": $0.number, "start": $0.start, "length": $0.length] },
                     "measurements": s.measurements.map { ["readout": $0.readout, "start": $0.start, "length": $0.length] as [String: Any] }]
                },
                "steps": program.steps.map { ["segment": $0.segment, "repeats": $0.repeats, "wait_for_trigger": $0.waitForTrigger] as [String: Any] },
                "stored_samples_per_channel": stored,
                "samples_per_shot": program.samplesPerShot.map { $0 as Any } ?? NSNull(),
                "duration_per_shot_s": program.durationPerShot.map { $0.seconds as Any } ?? NSNull(),
            ])
        }
    }
}

/// x, y, −x, −y for the four cardinal drive phases, else the phase in degrees.
private func axisName(_ phase: Double) -> String {
    let quarter = phase / (.pi / 2)
    let rounded = quarter.rounded()
    guard abs(quarter - rounded) < 1e-9 else { return "\(phase * 180 / .pi)°" }
    return ["x", "y", "-x", "-y"][((Int(rounded) % 4) + 4) % 4]
}

/// Prints `object` as one line of JSON with sorted keys.
private func printJSON(_ object: [String: Any]) throws {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}
