import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif
import Telemetry
import TelemetryMetrics
import Testing
import ZeroMQ

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

    @Test("two nodes publishing the same topic keep a gauge each, with their own units")
    func sameTopicOnTwoNodes() throws {
        let context = try ZMQContext()
        let publisher = try context.socket(.pub)
        let endpoint = try publisher.bind("tcp://127.0.0.1:*")
        let subscriber = try TelemetrySubscriber(connectingTo: [endpoint], security: .plaintext, context: context)
        let metrics = TelemetryMetrics()
        func send(from node: String, sequence: UInt64, _ payload: WirePayload) throws {
            let header = WireFrameHeader.with {
                $0.schemaVersion = telemetrySchemaVersion
                $0.publisherID = node
                $0.publisherInstance = 1
                $0.sequence = sequence
            }
            try publisher.send(multipart: [Array("lab/ls372/mxc".utf8), try header.serializedBytes(), try payload.serializedBytes()])
        }
        func sample(_ value: Double) -> WirePayload { WirePayload.with { $0.sample = WireSample.with { $0.value = value } } }
        func unit(_ unit: String) -> WirePayload {
            WirePayload.with { $0.descriptor = WireChannelDescriptor.with { $0.topic = "lab/ls372/mxc"; $0.unit = unit } }
        }
        let expected = [
            #"qrrm_channel_value{node="nodeA",topic="lab/ls372/mxc",unit="K"} 0.011"#,
            #"qrrm_channel_value{node="nodeB",topic="lab/ls372/mxc",unit="mK"} 22.5"#,
        ]
        // PUB drops what it sends before the subscription arrives: repeat until both gauges show.
        let deadline = ContinuousClock.now + .seconds(10)
        var sequence: UInt64 = 0
        while !expected.allSatisfy(metrics.exposition().contains) && ContinuousClock.now < deadline {
            sequence += 2
            try send(from: "nodeA", sequence: sequence - 1, unit("K"))
            try send(from: "nodeB", sequence: sequence - 1, unit("mK"))
            try send(from: "nodeA", sequence: sequence, sample(0.011))
            try send(from: "nodeB", sequence: sequence, sample(22.5))
            while let message = try subscriber.receive(wait: .timeout(.milliseconds(20))) { metrics.observe(message) }
        }
        let text = metrics.exposition()
        for line in expected { #expect(text.contains(line), "\(text)") }
        #expect(text.split(separator: "\n").filter { $0.hasPrefix("qrrm_channel_value{") }.count == 2, "\(text)")
    }

    /// A TCP connection to the server on 127.0.0.1 (`socket`, `connect`), with a 10 s receive timeout.
    private func connect(to port: UInt16) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(rc == 0, "connect: errno \(errno)")
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    /// Everything the server sends until it closes the connection (or 10 s pass without a byte).
    private func readAll(_ fd: Int32) -> String {
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { received += chunk[..<n] } else if n < 0 && errno == EINTR { continue } else { break }
        }
        return String(decoding: received, as: UTF8.self)
    }

    /// Sends `GET /metrics` on a new connection and expects the body in the reply.
    private func expectServed(on port: UInt16, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let fd = try connect(to: port)
        defer { close(fd) }
        let request = Array("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        #expect(readAll(fd).hasSuffix("\r\n\r\nup 1\n"), sourceLocation: sourceLocation)
    }

    @Test("a client that connects and sends nothing is closed at the request deadline; the next is served")
    func silentClient() throws {
        let server = try MetricsServer(port: 0, requestTimeout: .milliseconds(200)) { "up 1\n" }
        defer { server.stop() }
        let silent = try connect(to: server.port)
        defer { close(silent) }
        // The server hangs up on the silent client without a reply; the next gets its answer.
        #expect(readAll(silent) == "")
        try expectServed(on: server.port)
    }

    @Test("a client trickling its request a byte at a time cannot hold the server past the deadline")
    func tricklingClient() throws {
        let server = try MetricsServer(port: 0, requestTimeout: .milliseconds(200)) { "up 1\n" }
        defer { server.stop() }
        let slow = try connect(to: server.port)
        defer { close(slow) }
        // 100 bytes at one per 20 ms: 2 s in all, well inside any per-read timeout, far past the deadline.
        var sent = 0
        for byte in Array("GET /metrics HTTP/1.1\r\nX-Padding: ".utf8) + [UInt8](repeating: 0x61, count: 64) {
            var value = byte
            guard send(slow, &value, 1, Int32(MSG_NOSIGNAL)) == 1 else { break }
            sent += 1
            usleep(20_000)
        }
        // The server closed the connection: a write fails, or the read sees end of file with no reply.
        #expect(sent < 100 || readAll(slow) == "")
        try expectServed(on: server.port)
    }

    @Test("a request timeout that is not positive is a typed error")
    func badTimeout() {
        #expect { try MetricsServer(port: 0, requestTimeout: .zero) { "" } } throws: { "\($0)".contains("requestTimeout") }
    }
}
