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
