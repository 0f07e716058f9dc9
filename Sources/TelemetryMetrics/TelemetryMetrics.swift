import Prometheus
import Synchronization
import Telemetry

/// Prometheus gauges fed from the telemetry bus (swift-prometheus): the latest value of every
/// channel, each node's health from its heartbeats, and what the subscriber lost or dropped.
///
/// It reads only the bus, so it runs wherever a subscriber can: inside a node for its own
/// `/metrics`, or beside a dashboard for several nodes.
public final class TelemetryMetrics: Sendable {
    /// The registry the gauges live in; ``exposition()`` renders it.
    public let registry: PrometheusCollectorRegistry
    /// A channel as the bus names it: the publishing node (the header's publisher id) and the
    /// topic. Two nodes may publish the same topic; each keeps its own unit and gauge.
    private struct ChannelKey: Hashable {
        let node: String
        let topic: String
    }

    private let units = Mutex<[ChannelKey: String]>([:])
    private let channelGauges = Mutex<[ChannelKey: Gauge]>([:])

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
    }

    /// Takes what one decoded message says: a descriptor's unit, a sample's value, a heartbeat.
    public func observe(_ message: TelemetryMessage) {
        let node = message.header.publisherID
        switch message.payload.body {
        case .descriptor(let descriptor):
            units.withLock { $0[ChannelKey(node: node, topic: descriptor.topic)] = descriptor.unit }
        case .sample(let sample):
            channel(message.topic, node: node).set(sample.value)
        case .batch(let batch):
            if let last = batch.values.last { channel(message.topic, node: node).set(last) }
        case .heartbeat(let heartbeat):
            let labels = [("node", node)]
            gauge(name: "qrrm_node_uptime_seconds", labels: labels, help: "Seconds since the node's publisher started.")
                .set(Double(heartbeat.uptimeNs) / 1e9)
            gauge(name: "qrrm_node_messages_sent", labels: labels, help: "Telemetry messages the node has sent.")
                .set(Double(heartbeat.messagesSent))
            gauge(name: "qrrm_node_samples_dropped", labels: labels, help: "Samples the node dropped because a producer ring was full.")
                .set(Double(heartbeat.samplesDropped))
            gauge(name: "qrrm_node_last_heartbeat_seconds", labels: labels, help: "Wall time of the node's last heartbeat (Unix seconds).")
                .set(Double(message.header.wallNs) / 1e9)
        default:
            break
        }
    }

    /// Takes the subscriber's loss and garbage counts.
    public func observe(_ statistics: SubscriberStatistics) {
        for (key, stream) in statistics.streams {
            gauge(name: "qrrm_telemetry_missed_messages", labels: [("node", key.publisherID), ("topic", key.topic)],
                help: "Messages lost on this topic, from sequence gaps."
            ).set(Double(stream.missed))
        }
        for (id, publisher) in statistics.publishers {
            gauge(name: "qrrm_node_restarts", labels: [("node", id)], help: "Publisher restarts seen (new instance numbers).")
                .set(Double(publisher.restarts))
        }
        for reason in GarbageReason.allCases {
            gauge(name: "qrrm_telemetry_garbage_messages", labels: [("reason", reason.rawValue)],
                help: "Malformed bus messages dropped, by reason."
            ).set(Double(statistics.garbage[reason] ?? 0))
        }
    }

    /// The Prometheus text exposition (format 0.0.4) of every metric.
    public func exposition() -> String { registry.emitToString() }

    /// The gauge of `node`'s channel `topic`, made on its first sample with the unit its descriptor gave.
    private func channel(_ topic: String, node: String) -> Gauge {
        let key = ChannelKey(node: node, topic: topic)
        if let gauge = channelGauges.withLock({ $0[key] }) { return gauge }
        let unit = units.withLock { $0[key] } ?? ""
        let gauge = gauge(name: "qrrm_channel_value", labels: [("node", node), ("topic", topic), ("unit", unit)],
            help: "The latest value of a telemetry channel, in its unit.")
        channelGauges.withLock { $0[key] = gauge }
        return gauge
    }

    /// A gauge in the registry (`makeGauge(descriptor:labels:)`; the name is used whole, with no unit suffix).
    private func gauge(name: String, labels: [(String, String)], help: String) -> Gauge {
        registry.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
    }
}
