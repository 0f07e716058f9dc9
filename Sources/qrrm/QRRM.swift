import ArgumentParser

/// `qrrm`: the Quantum Realm command line. It parses arguments and calls the modules.
@main
struct QRRM: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qrrm",
        abstract: "Quantum Realm: control runtime for quantum-lab nodes.",
        subcommands: [Probe.self, Run.self, StationCommand.self, ExperimentCommand.self, Emulate.self, SequenceCommand.self, TelemetryCommand.self, Record.self, Replay.self, LedgerCommand.self, RealmCommand.self],
        defaultSubcommand: Probe.self)
}
