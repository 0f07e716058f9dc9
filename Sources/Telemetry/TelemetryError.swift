import ZeroMQ

/// What went wrong in the telemetry layer, in words a lab user can act on.
public enum TelemetryError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A libzmq call failed while doing `what` (binding the telemetry endpoint, say).
    case zmq(ZMQError, while: String)
    /// A topic is not `<node>/<instrument>/<channel>`.
    case invalidTopic(String, reason: String)
    /// A channel was declared twice.
    case duplicateChannel(topic: String)
    /// A configuration value is out of range.
    case invalidConfiguration(String)
    /// The snapshot endpoint did not answer in time (a wrong address, a stopped node, or a CURVE
    /// key the node does not admit: a refused client hears nothing).
    case snapshotTimedOut(endpoint: String, after: Duration)
    /// The snapshot endpoint answered something that is not a Snapshot, or refused the request.
    case malformedSnapshot(endpoint: String, reason: String)
    /// The publisher thread could not be started (`pthread_create`).
    case thread(errno: Int32)

    public var description: String {
        switch self {
        case .zmq(let error, let what): "telemetry: \(what): \(error)"
        case .invalidTopic(let topic, let reason): "telemetry topic \"\(topic)\": \(reason)"
        case .duplicateChannel(let topic): "telemetry channel \"\(topic)\" is already declared"
        case .invalidConfiguration(let what): "telemetry configuration: \(what)"
        case .snapshotTimedOut(let endpoint, let after):
            "telemetry snapshot from \(endpoint): no reply within \(after) (is the node running, and is this client's CURVE key on its allow-list?)"
        case .malformedSnapshot(let endpoint, let reason): "telemetry snapshot from \(endpoint): \(reason)"
        case .thread(let errno): "telemetry: could not start the publisher thread (pthread_create errno \(errno))"
        }
    }
}

/// Runs a ZeroMQ call, naming `what` it was for in the error.
@inline(__always)
func zmq<T>(_ what: @autoclosure () -> String, _ body: () throws(ZMQError) -> T) throws(TelemetryError) -> T {
    do {
        return try body()
    } catch {
        throw .zmq(error, while: what())
    }
}
