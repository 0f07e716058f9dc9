import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Telemetry
import TelemetryMetrics
import Testing

@Suite("Prometheus /metrics")
struct MetricsTests {
    @Test("latest channel values with their units, node health from heartbeats, loss and garbage; served on GET /metrics")
    func metrics() async throws {
        var configuration = TelemetryPublisherConfiguration(
            nodeID: "node1", endpoint: "tcp://127.0.0.1:*", snapshotEndpoint: "tcp://127.0.0.1:*", security: .plaintext)
        configuration.heartbeatInterval = .milliseconds(50)
        let publisher = try TelemetryPublisher(configuration)
        defer { publisher.stop() }
        let subscriber = try TelemetrySubscriber(connectingTo: [publisher.endpoint], security: .plaintext)
        let metrics = TelemetryMetrics()
        func pump(until done: () -> Bool) throws {
            let deadline = ContinuousClock.now + .seconds(10)
            while !done() && ContinuousClock.now < deadline {
                if let message = try subscriber.receive(wait: .timeout(.milliseconds(50))) { metrics.observe(message) }
            }
        }
        try pump { metrics.exposition().contains("qrrm_node_uptime_seconds") }
        let channel = try publisher.declare(WireChannelDescriptor.with { $0.topic = "node1/ls372/mxc"; $0.unit = "K" })
        var producer = publisher.makeProducer()
        producer.record(channel, 0.0101)
        producer.record(channel, 0.0102)
        try pump { metrics.exposition().contains("0.0102") }
        metrics.observe(subscriber.statistics)

        let text = metrics.exposition()
        #expect(text.contains(#"qrrm_channel_value{node="node1",topic="node1/ls372/mxc",unit="K"} 0.0102"#), "\(text)")
        #expect(text.contains(#"qrrm_node_samples_dropped{node="node1"} 0"#))
        #expect(text.contains(#"qrrm_node_restarts{node="node1"} 0"#))
        #expect(text.contains(#"qrrm_telemetry_garbage_messages{reason="undecodable-header"} 0"#))

        let server = try MetricsServer(port: 0) { metrics.exposition() }
        defer { server.stop() }
        let (body, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(server.port)/metrics")!)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        #expect(String(decoding: body, as: UTF8.self) == metrics.exposition())
        let (_, missing) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(server.port)/other")!)
        #expect((missing as? HTTPURLResponse)?.statusCode == 404)
    }

    @Test("a port in use is a typed error naming the address")
    func portInUse() throws {
        let first = try MetricsServer(port: 0) { "" }
        defer { first.stop() }
        #expect { try MetricsServer(port: first.port) { "" } } throws: { "\($0)".contains("bind(127.0.0.1:\(first.port))") }
    }
}
