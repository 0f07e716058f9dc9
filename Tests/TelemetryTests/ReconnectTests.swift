import Testing
@testable import Telemetry
import ZeroMQ

@Suite("Reconnects seen by the SUB socket's monitor")
struct ReconnectTests {
    /// Receives (and drops) messages until `done` holds for the statistics, or 10 s pass.
    private func pump(_ subscriber: TelemetrySubscriber, until done: (SubscriberStatistics) -> Bool) throws -> SubscriberStatistics {
        let deadline = ContinuousClock.now + .seconds(10)
        var statistics = subscriber.statistics
        while !done(statistics) && ContinuousClock.now < deadline {
            _ = try subscriber.receive(wait: .timeout(.milliseconds(50)))
            statistics = subscriber.statistics
        }
        return statistics
    }

    @Test("a node that stops and comes back on the same endpoint: one disconnect, one reconnect, one restart")
    func reconnect() throws {
        let first = try makePublisher()
        let endpoint = first.endpoint
        let subscriber = try TelemetrySubscriber(connectingTo: [endpoint], security: .plaintext)
        #expect(try waitForHeartbeat(subscriber))
        var statistics = try pump(subscriber) { $0.connections[endpoint]?.connects == 1 }
        #expect(statistics.connections[endpoint] == ConnectionTracking(connects: 1, disconnects: 0, reconnects: 0, isConnected: true),
                "\(statistics.connections)")

        first.stop()
        statistics = try pump(subscriber) { $0.connections[endpoint]?.disconnects == 1 }
        #expect(statistics.connections[endpoint]?.isConnected == false, "\(statistics.connections)")
        #expect(statistics.connections[endpoint]?.reconnects == 0)

        let second = try makePublisher { $0.endpoint = endpoint }
        defer { second.stop() }
        statistics = try pump(subscriber) { $0.publishers["node1"]?.restarts == 1 && $0.connections[endpoint]?.reconnects == 1 }
        #expect(statistics.connections[endpoint] == ConnectionTracking(connects: 2, disconnects: 1, reconnects: 1, isConnected: true),
                "\(statistics.connections)")
        #expect(statistics.publishers["node1"]?.restarts == 1)
    }

    @Test("a client the node refuses (unlisted CURVE key) reaches TCP again and again but never counts as connected")
    func refusedHandshake() throws {
        let server = try CurveKeyPair.generate()
        let listed = try CurveKeyPair.generate()
        let publisher = try makePublisher(security: .curve(serverKeys: server, allowedClients: [listed.publicKey]))
        defer { publisher.stop() }
        let good = try TelemetrySubscriber(
            connectingTo: [publisher.endpoint], security: .curve(serverKey: server.publicKey, clientKeys: listed))
        let bad = try TelemetrySubscriber(
            connectingTo: [publisher.endpoint], security: .curve(serverKey: server.publicKey, clientKeys: try CurveKeyPair.generate()))
        // Once the listed client is in, the refused one has had its handshakes too.
        #expect(try waitForHeartbeat(good))
        #expect(try pump(good) { $0.connections[publisher.endpoint]?.connects == 1 }.connections[publisher.endpoint]?.isConnected == true)
        _ = try bad.receive(wait: .timeout(.milliseconds(300)))
        let refused = bad.statistics.connections[publisher.endpoint] ?? ConnectionTracking()
        #expect(refused.connects == 0 && refused.reconnects == 0 && !refused.isConnected, "\(refused)")
    }
}
