import Testing
@testable import Telemetry
import ZeroMQ

@Suite("CURVE on the telemetry and snapshot endpoints")
struct CurveTests {
    @Test("a listed key receives and gets the snapshot; an unlisted key and plaintext get nothing")
    func allowList() throws {
        let server = try CurveKeyPair.generate()
        let listed = try CurveKeyPair.generate()
        let unlisted = try CurveKeyPair.generate()
        let publisher = try makePublisher(security: .curve(serverKeys: server, allowedClients: [listed.publicKey]))
        defer { publisher.stop() }
        let channel = try publisher.declare(descriptor("node1/ls372/mxc"))
        var producer = publisher.makeProducer()

        let good = try TelemetrySubscriber(
            connectingTo: [publisher.endpoint], security: .curve(serverKey: server.publicKey, clientKeys: listed))
        let bad = try TelemetrySubscriber(
            connectingTo: [publisher.endpoint], security: .curve(serverKey: server.publicKey, clientKeys: unlisted))
        let plain = try TelemetrySubscriber(connectingTo: [publisher.endpoint], security: .plaintext)
        producer.record(channel, 1)
        let received = try receive(good) { $0.contains { $0.topic == "node1/_node/heartbeat" } }
        #expect(!received.isEmpty)
        for i in 0..<100 { producer.record(channel, Double(i)) }
        #expect(try receive(bad, timeout: .milliseconds(500)) { !$0.isEmpty }.isEmpty)
        #expect(try receive(plain, timeout: .milliseconds(200)) { !$0.isEmpty }.isEmpty)

        let snapshot = try good.fetchSnapshot(from: publisher.snapshotEndpoint)
        #expect(snapshot.channels.map(\.descriptor.topic) == ["node1/ls372/mxc"])
        #expect(throws: TelemetryError.snapshotTimedOut(endpoint: publisher.snapshotEndpoint, after: .milliseconds(500))) {
            try bad.fetchSnapshot(from: publisher.snapshotEndpoint, timeout: .milliseconds(500))
        }
        #expect(throws: TelemetryError.snapshotTimedOut(endpoint: publisher.snapshotEndpoint, after: .milliseconds(300))) {
            try plain.fetchSnapshot(from: publisher.snapshotEndpoint, timeout: .milliseconds(300))
        }
    }
}
