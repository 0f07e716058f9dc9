import Testing
@testable import Telemetry
import ZeroMQ

@Suite("Late-joiner snapshot")
struct SnapshotTests {
    @Test("the snapshot holds every channel's descriptor, last value and sequence, filtered by prefix")
    func snapshot() throws {
        var announcement = WireNodeAnnouncement()
        announcement.instruments = [WireInstrumentInfo.with { $0.id = "ls372"; $0.model = "Lake Shore 372" }]
        announcement.qubits = [WireQubit.with { $0.id = "q0"; $0.properties = [WireQuantity.with { $0.name = "t1"; $0.value = 5e-5; $0.unit = "s" }] }]
        let publisher = try makePublisher { $0.announcement = announcement }
        defer { publisher.stop() }
        let mxc = try publisher.declare(descriptor("node1/ls372/mxc"))
        let still = try publisher.declare(descriptor("node1/ls372/still"))
        _ = try publisher.declare(descriptor("node1/maxigauge/p1", unit: "mbar"))
        var producer = publisher.makeProducer()
        for i in 1...100 { producer.record(mxc, Double(i) * 1e-3) }
        producer.record(still, 0.8)

        // Samples are taken off the ring asynchronously: ask until the last one is in.
        var snapshot = try TelemetrySnapshotClient.fetch(from: publisher.snapshotEndpoint, security: .plaintext)
        var attempts = 0
        while snapshot.channels.first(where: { $0.descriptor.topic == "node1/ls372/mxc" })?.last.value != 0.1 && attempts < 100 {
            attempts += 1
            snapshot = try TelemetrySnapshotClient.fetch(from: publisher.snapshotEndpoint, security: .plaintext)
        }
        #expect(snapshot.publisherID == "node1")
        #expect(snapshot.publisherInstance == publisher.instance)
        #expect(snapshot.announcement.instruments.map(\.id) == ["ls372"])
        #expect(snapshot.announcement.qubits.first?.properties.first?.value == 5e-5)
        #expect(Set(snapshot.announcement.channels.map(\.topic)) == ["node1/ls372/mxc", "node1/ls372/still", "node1/maxigauge/p1"])
        let channels = Dictionary(uniqueKeysWithValues: snapshot.channels.map { ($0.descriptor.topic, $0) })
        #expect(channels.count == 3)
        #expect(channels["node1/ls372/mxc"]?.last.value == 0.1)
        #expect(channels["node1/ls372/still"]?.last.value == 0.8)
        #expect(channels["node1/maxigauge/p1"]?.hasLast == false)
        #expect(channels["node1/maxigauge/p1"]?.descriptor.unit == "mbar")
        #expect((channels["node1/ls372/mxc"]?.sequence ?? 0) >= 2, "descriptor and at least one batch")

        let filtered = try TelemetrySnapshotClient.fetch(from: publisher.snapshotEndpoint, prefix: "node1/maxigauge/", security: .plaintext)
        #expect(filtered.channels.map(\.descriptor.topic) == ["node1/maxigauge/p1"])
    }

    @Test("a late joiner's picture: the snapshot, then only the messages newer than it")
    func picture() throws {
        let publisher = try makePublisher(batchSize: 1)
        defer { publisher.stop() }
        let channel = try publisher.declare(descriptor("node1/ls372/mxc"))
        var producer = publisher.makeProducer()
        for i in 1...50 { producer.record(channel, Double(i)) }
        // The late joiner subscribes first, then fetches the snapshot.
        let subscriber = try TelemetrySubscriber(connectingTo: [publisher.endpoint], prefixes: ["node1/ls372/"], security: .plaintext)
        var value = 50.0
        var early: [TelemetryMessage] = []
        while early.isEmpty && value < 1000 {
            value += 1
            producer.record(channel, value)
            early = try receive(subscriber, timeout: .milliseconds(20)) { !$0.isEmpty }
        }
        let snapshot = try subscriber.fetchSnapshot(from: publisher.snapshotEndpoint)
        for i in 1...20 { producer.record(channel, value + Double(i)) }
        let later = try receive(subscriber) { $0.contains { $0.payload.sample.value == value + 20 } }

        var picture = TelemetryPicture()
        picture.apply(snapshot)
        let snapshotSequence = try #require(picture.channels["node1/ls372/mxc"]?.sequence)
        let applied = (early + later).filter { picture.apply($0) }
        #expect(applied.allSatisfy { $0.header.sequence > snapshotSequence })
        #expect(picture.channels["node1/ls372/mxc"]?.last?.value == value + 20)
        #expect(picture.channels["node1/ls372/mxc"]?.descriptor?.unit == "K")
    }

    @Test("a malformed request gets a reply naming the problem; the endpoint keeps serving")
    func malformedRequest() throws {
        let publisher = try makePublisher()
        defer { publisher.stop() }
        let context = try ZMQContext()
        let request = try context.socket(.req)
        try request.connect(publisher.snapshotEndpoint)
        try request.send([0xFF, 0xFF, 0xFF])
        let reply = try #require(try request.receiveFrame(wait: .timeout(.seconds(5))))
        let snapshot = try WireSnapshot(serializedBytes: reply)
        #expect(snapshot.error.contains("not a SnapshotRequest"))
        #expect(snapshot.channels.isEmpty)
        #expect(try TelemetrySnapshotClient.fetch(from: publisher.snapshotEndpoint, security: .plaintext).publisherID == "node1")
    }

    @Test("no node at the endpoint: a timeout naming the endpoint")
    func timeout() throws {
        let context = try ZMQContext()
        let unused = try context.socket(.rep)
        let endpoint = try unused.bind("tcp://127.0.0.1:*")
        try unused.unbind(endpoint)
        #expect(throws: TelemetryError.snapshotTimedOut(endpoint: endpoint, after: .milliseconds(200))) {
            try TelemetrySnapshotClient.fetch(from: endpoint, security: .plaintext, timeout: .milliseconds(200))
        }
    }
}
