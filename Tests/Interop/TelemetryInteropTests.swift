import Foundation
import Telemetry
import Testing
import ZeroMQ

/// Generates telemetry_pb2.py the way the README tells Python users to (`protoc --python_out`),
/// once per test run, into a temporary folder.
enum GeneratedPythonSchema {
    static let schemaFolder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/Telemetry/Schema")

    static let folder: Result<String, InteropFailure> = {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("qrrm-telemetry-pb2-\(getpid())")
        try? FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let protoc = Process()
        protoc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        protoc.arguments = ["protoc", "--python_out=\(output.path)", "-I", schemaFolder.path, "telemetry.proto"]
        let errors = Pipe()
        protoc.standardError = errors
        do {
            try protoc.run()
        } catch {
            return .failure(InteropFailure(description: "could not run protoc (\(error)); `make test` installs protobuf-compiler"))
        }
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        protoc.waitUntilExit()
        guard protoc.terminationStatus == 0 else {
            return .failure(InteropFailure(description: """
                protoc --python_out failed (status \(protoc.terminationStatus)): \(String(decoding: stderr, as: UTF8.self)). \
                `make test` installs protobuf-compiler (Debian) and protobuf (PyPI).
                """))
        }
        return .success(output.path)
    }()
}

@Suite("pyzmq interop: the README's Python telemetry subscriber")
struct TelemetryInteropTests {
    static let script = PythonPeer.folder.appendingPathComponent("telemetry_subscriber.py")

    @Test("receives and decodes samples, detects an injected gap and fetches the snapshot; an unlisted CURVE key gets nothing")
    func readmeSubscriber() throws {
        let protoDir = try GeneratedPythonSchema.folder.get()
        let server = try CurveKeyPair.generate()
        let listed = try CurveKeyPair.generate()
        let unlisted = try CurveKeyPair.generate()
        var configuration = TelemetryPublisherConfiguration(
            nodeID: "node1", endpoint: "tcp://127.0.0.1:*", snapshotEndpoint: "tcp://127.0.0.1:*",
            security: .curve(serverKeys: server, allowedClients: [listed.publicKey]))
        configuration.heartbeatInterval = .milliseconds(100)
        configuration.maximumBatchDelay = .milliseconds(2)
        configuration.batchSize = 8
        let publisher = try TelemetryPublisher(configuration)
        defer { publisher.stop() }
        let startNs = Int64(Date().timeIntervalSince1970 * 1e9)
        let mxc = try publisher.declare(WireChannelDescriptor.with {
            $0.topic = "node1/ls372/mxc"; $0.instrument = "ls372"; $0.channel = "mxc"; $0.unit = "K"
        })
        var producer = publisher.makeProducer()

        // The gap injector: a second CURVE publisher with the same server key and allow-list,
        // sending well-formed frames whose sequence skips two numbers on purpose.
        let injectorContext = try ZMQContext()
        let injectorAuth = try ZAPAuthenticator(context: injectorContext, allowedClientKeys: [listed.publicKey])
        defer { injectorAuth.stop() }
        let injector = try injectorContext.socket(.pub)
        try injector.makeCurveServer(secretKey: server.secretKey)
        let injectorEndpoint = try injector.bind("tcp://127.0.0.1:*")
        var injectedSequence: UInt64 = 0
        func inject(_ sequence: UInt64) throws {
            let header = WireFrameHeader.with {
                $0.schemaVersion = 1; $0.publisherID = "injector"; $0.publisherInstance = 9; $0.sequence = sequence
            }
            let payload = WirePayload.with { $0.sample = WireSample.with { $0.value = Double(sequence) } }
            try injector.send(multipart: [Array("inj/x/y".utf8), try header.serializedBytes(), try payload.serializedBytes()])
        }

        func subscriber(_ name: String, _ keys: CurveKeyPair) throws -> PythonPeer {
            try PythonPeer(name, [
                "--proto-dir", protoDir, "--connect", publisher.endpoint, "--connect", injectorEndpoint,
                "--subscribe", "node1/", "--subscribe", "inj/", "--snapshot", publisher.snapshotEndpoint,
                "--curve-serverkey=\(server.publicKey.z85)",
                "--curve-publickey=\(keys.publicKey.z85)", "--curve-secretkey=\(keys.secretKey.z85)",
            ], script: Self.script)
        }
        let good = try subscriber("README subscriber, listed key", listed)
        defer { good.kill() }
        let bad = try subscriber("README subscriber, unlisted key", unlisted)
        defer { bad.kill() }
        try good.waitFor("ready")
        try bad.waitFor("ready")

        // Samples until the listed subscriber has decoded some, and injected messages until it
        // has one of those too (ZeroMQ drops what is sent before a subscription arrives).
        var value = 0.0
        let isSample: (PeerEvent) -> Bool = { $0.event == "message" && $0.strings["topic"] == "node1/ls372/mxc" && $0.integers["count"] != nil }
        let isInjected: (PeerEvent) -> Bool = { $0.event == "message" && $0.strings["topic"] == "inj/x/y" }
        while value < 2000 && !(good.hasPrinted("message", where: isSample) && good.hasPrinted("message", where: isInjected)) {
            value += 1
            producer.record(mxc, value, hardwareTimeNs: Int64(value) * 1_000)
            if !good.hasPrinted("message", where: isInjected) {
                injectedSequence += 1
                try inject(injectedSequence)
            }
            _ = try good.poll("decoded messages", timeout: .milliseconds(10)) { $0.contains(where: isSample) && $0.contains(where: isInjected) }
        }
        try #require(good.hasPrinted("message", where: isSample), "\(good.failure("decoded no sample"))")
        try #require(good.hasPrinted("message", where: isInjected), "\(good.failure("received no injected message"))")

        // The injected gap: the next two sequence numbers never go out.
        let lastDelivered = good.events.last(where: isInjected)!.integers["sequence"]!
        try inject(UInt64(lastDelivered) + 3)
        let gap = try good.wait(for: "the injected gap") { $0.contains { $0.event == "gap" && $0.strings["topic"] == "inj/x/y" } }
            .first { $0.event == "gap" && $0.strings["topic"] == "inj/x/y" }!
        #expect(gap.integers["missed"] == 2)
        #expect(gap.strings["publisher"] == "injector")

        // The last sample arrives; then the snapshot must hold it, with the descriptor.
        value += 1
        producer.record(mxc, value, hardwareTimeNs: Int64(value) * 1_000)
        let final = value
        try good.wait(for: "the last sample \(final)") { $0.contains { isSample($0) && $0.numbers["last_value"] == final } }
        good.send("snapshot")
        let snapshot = try good.waitFor("snapshot")
        #expect(snapshot.strings["publisher"] == "node1")
        #expect(snapshot.lists["channels"] == ["node1/ls372/mxc"])
        #expect(snapshot.lists["units"] == ["K"])
        #expect(snapshot.lists["values"] == ["\(final)"])

        // The decoded samples are the recorded values, in order, without loss on the node's stream.
        let decoded = good.events.filter(isSample)
        #expect(!good.hasPrinted("gap") { $0.strings["topic"] == "node1/ls372/mxc" })
        #expect(zip(decoded, decoded.dropFirst()).allSatisfy { ($0.numbers["last_value"] ?? 0) < ($1.numbers["last_value"] ?? 0) })
        // Batch times, sent as deltas, summed by Python to what was recorded: hardware time 1000 ns per
        // unit of value, host times from this run's wall clock, never decreasing.
        let batches = decoded.filter { $0.strings["kind"] == "batch" }
        #expect(!batches.isEmpty, "no batch among \(decoded.count) messages")
        for batch in batches {
            let last = Int64(batch.numbers["last_value"] ?? 0), count = Int64(batch.integers["count"] ?? 0)
            #expect(batch.lists["hardware_times"] == (last - count + 1...last).map { String($0 * 1_000) })
            let host = (batch.lists["host_times"] ?? []).compactMap(Int64.init)
            #expect(host.count == count && zip(host, host.dropFirst()).allSatisfy { $0 <= $1 })
            #expect(host.allSatisfy { abs($0 - startNs) < 600_000_000_000 }, "host times \(host) far from \(startNs)")
        }

        // The unlisted key: nothing on the bus, no snapshot.
        bad.send("snapshot")
        try bad.waitFor("snapshot-timeout")
        try good.finish()
        try bad.finish()
        #expect(bad.events("message").isEmpty, "the unlisted client received \(bad.events("message").count) messages")
        #expect(bad.events("done").first?.integers["received"] == 0)
        #expect(!bad.hasPrinted("snapshot"))
    }
}
