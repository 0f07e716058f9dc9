import ArgumentParser
import Foundation
import HAL
import Runtime

/// `qrrm station check <file>`: validates a station file and, with `--connect`, opens and identifies its instruments.
struct StationCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "station", abstract: "Check station files.", subcommands: [Check.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a station file; errors name the file, line, column and key.",
            discussion: "With --connect, also opens every instrument (the emulator for LOOPBACK:: ones) and asks who it is (*IDN?).")

        @Argument(help: "The station file, e.g. HardwareProfiles/stations/demo.yaml.")
        var file: String

        @Flag(name: .long, help: "Open every instrument and identify it.")
        var connect = false

        func run() throws {
            let station: Station
            do { station = try Station(contentsOf: URL(fileURLWithPath: file)) } catch {
                FileHandle.standardError.write(Data("\(error)\n".utf8))
                throw ExitCode.failure
            }
            do { try RunPlan.validate(station) } catch {
                FileHandle.standardError.write(Data("\(error)\n".utf8))
                throw ExitCode.failure
            }
            print("station \(station.node): \(URL(fileURLWithPath: file).lastPathComponent) is valid")
            if let emulator = station.emulator { print("  emulator     \(emulator.profile.lastPathComponent), served \(emulator.serving.rawValue)") }
            print("  telemetry    \(station.telemetry.endpoint) (snapshot \(station.telemetry.snapshotEndpoint)), \(station.telemetry.security == .plaintext ? "plaintext" : "CURVE")")
            if let commands = station.commandEndpoint { print("  commands     \(commands)") }
            print("  loop         \(station.loop.rate) Hz, SCHED_FIFO \(station.loop.priority)\(station.loop.cpu.map { ", CPU \($0)" } ?? "")")
            let instruments = connect ? try StationInstruments(station) : nil
            for (index, entry) in station.instruments.enumerated() {
                var line = "  instrument   \(entry.id.padding(toLength: 10, withPad: " ", startingAt: 0)) \(entry.kind.rawValue.padding(toLength: 15, withPad: " ", startingAt: 0)) \(entry.resource)"
                if let instruments {
                    do { line += "  \(try instruments.drivers[index].instrument.identify())" } catch { line += "  UNREACHABLE: \(error)" }
                }
                print(line)
            }
            for channel in station.channels { print("  channel      \(channel.name) ← \(channel.instrument) \(channel.reading) [\(channel.reading.unit)]") }
            for qubit in station.qubits { print("  qubit        \(qubit.name): drive \(qubit.generator) ch \(qubit.iChannel)/\(qubit.qChannel), readout \(qubit.readout)") }
            for line in station.lines { print("  line         \(line.name) \(line.resource) \(line.role)") }
            for interlock in station.interlocks { print("  interlock    \(interlock.name) [\(interlock.severity.rawValue)] \(interlock.condition)") }
            for action in station.safeState { print("  safe state   \(action)") }
            print("  run          \(station.run.map(\.experiment).joined(separator: " → "))")
        }
    }
}

/// `qrrm experiment <name> --qubit q0 [--set key=value …]`: one experiment on a station, printed as JSON.
struct ExperimentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "experiment",
        abstract: "Run one experiment on a station and print its result as JSON.",
        discussion: """
            Experiments: \(RunPlan.experiments.joined(separator: ", ")). Parameters as in a station's run: list, \
            e.g. --set pulses=1,2,4 --set shots=400 --set from=5us --set to=2ms. The node comes up as in qrrm run \
            (loop, interlocks, telemetry) and the experiment waits for the station to admit it.
            """)

    @Argument(help: "The experiment.")
    var name: String

    @Option(name: .long, help: "The station file.")
    var station = "HardwareProfiles/stations/demo.yaml"

    @Option(name: .long, help: "The qubit (default: the station's first).")
    var qubit: String?

    @Option(name: .customLong("set"), help: "A parameter, key=value (repeatable).")
    var parameters: [String] = []

    @Option(name: .long, help: "How long to wait for the station to admit experiments, e.g. 60s.")
    var admissionTimeout = "60s"

    func run() throws {
        bootstrapLogging()
        let loaded = try Station(contentsOf: URL(fileURLWithPath: station))
        guard let qubit = qubit ?? loaded.qubits.first?.name else { throw ValidationError("station \(loaded.node) has no qubits") }
        var values: [String: String] = [:]
        for item in parameters {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else { throw ValidationError("--set expects key=value, got \"\(item)\"") }
            values[parts[0]] = parts[1]
        }
        guard case let .experiment(_, _, plan) = try RunPlan.plan(RunStep(experiment: name, qubit: qubit, parameters: values)) else {
            throw ValidationError("\(name) is not an experiment; the experiments are \(RunPlan.experiments.joined(separator: ", "))")
        }
        let wait = try Duration(parsing: admissionTimeout)
        let node = try Node(station: loaded)
        defer { node.shutdown() }
        let host = try ExperimentHost(node: node)
        let end = ContinuousClock.now + wait
        while !node.isAdmitted, ContinuousClock.now < end { Thread.sleep(forTimeInterval: 0.1) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do throws(ExperimentError) {
            let result = try host.runNow(name, qubit: qubit, plan: plan, owner: "qrrm experiment")
            print(String(decoding: (try? encoder.encode(result)) ?? Data(), as: UTF8.self))
        } catch {
            if case let .aborted(_, partial) = error { print(String(decoding: try encoder.encode(partial), as: UTF8.self)) }
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}
