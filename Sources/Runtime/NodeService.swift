import Logging
import ServiceLifecycle

/// A node as a swift-service-lifecycle `Service`: it serves until the group shuts down gracefully
/// (SIGTERM or SIGINT in `qrrm run`), then stops its runs and its command endpoint, drives the whole safe
/// state and flushes its telemetry.
public struct NodeService: Service {
    public let node: Node
    public let commands: CommandServer?
    private let experiments: (any NodeExperimentHost)?
    private let logger: Logger

    public init(node: Node, commands: CommandServer?, experiments: (any NodeExperimentHost)?, logger: Logger) {
        self.node = node
        self.commands = commands
        self.experiments = experiments
        self.logger = logger
    }

    public func run() async throws {
        // Cancellation (rather than a graceful shutdown) also lands here: either way the node goes safe.
        try? await gracefulShutdown()
        logger.notice("node \(node.station.node) shutting down: stopping runs, outputs to their safe state")
        experiments?.stopRuns(on: node.station.qubits.map(\.name))
        commands?.stop()
        node.shutdown()
        logger.notice("node \(node.station.node) is safe and stopped")
    }
}
