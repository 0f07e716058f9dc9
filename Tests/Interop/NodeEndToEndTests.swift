import Drivers
import Emulator
import Foundation
import HAL
import Telemetry
import TelemetryRecording
import Testing
import ZeroMQ

/// The node as the layers above see it: `qrrm run` in a process of its own, its instruments the emulator's
/// behind TCP (served from this process, as real instruments on the network would be), driven only through
/// its command endpoint and its telemetry. A DD sweep runs; then a quench injected into the emulated fridge
/// trips the mixing-chamber interlock: the outputs must be safe within one loop cycle, the trip on telemetry,
/// and the node's recording must hold every message it published, without a gap.
@Suite("qrrm run end to end, through commands and telemetry only", .serialized)
struct NodeEndToEndTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Reads the node's stdout until it has printed its telemetry and command endpoints.
    static func endpoints(_ pipe: Pipe, timeout: Double) throws -> (telemetry: String, commands: String, log: String) {
        var text = ""
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            let data = pipe.fileHandleForReading.availableData
            if data.isEmpty { Thread.sleep(forTimeInterval: 0.05); continue }
            text += String(decoding: data, as: UTF8.self)
            let lines = text.split(separator: "\n")
            if let t = lines.first(where: { $0.hasPrefix("telemetry: ") }), let c = lines.first(where: { $0.hasPrefix("commands: ") }) {
                return (String(t.dropFirst(11).split(separator: " ")[0]), String(c.dropFirst(10)), text)
            }
        }
        throw NodeTestFailure("the node did not print its endpoints within \(timeout) s:\n\(text)")
    }

    struct NodeTestFailure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// Sends one command and decodes the reply's JSON object.
    static func command(_ socket: ZMQSocket, _ json: String) throws -> [String: Any] {
        try socket.send(json)
        guard let frame = try socket.receiveFrame(wait: .timeout(.seconds(20))) else { throw NodeTestFailure("no reply to \(json)") }
        guard let reply = try JSONSerialization.jsonObject(with: Data(frame)) as? [String: Any] else { throw NodeTestFailure("not JSON: \(frame)") }
        return reply
    }

    @Test("A DD sweep through the command endpoint, then a quench: outputs safe within one cycle, nothing recorded lost")
    func sweepThenQuench() throws {
        let qrrm = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("qrrm")
        try #require(FileManager.default.isExecutableFile(atPath: qrrm.path), "\(qrrm.path) is missing: build the qrrm product first")

        // The emulated hardware, on TCP ports the kernel picks.
        var profile = try HardwareProfile(contentsOf: Self.repository.appendingPathComponent("HardwareProfiles/transmon-testbed.yaml"))
        for index in profile.instruments.indices { profile.instruments[index].port = 0 }
        let emulator = EmulatedStation(profile: profile)
        let served = try emulator.serveTCP()
        emulator.startClock()
        defer {
            emulator.stopClock()
            emulator.stopServing()
        }
        func resource(_ id: String) -> String { served.first { $0.id == id }!.resource.description }

        // A station file as a lab writes it for real instruments: TCPIP resources, no emulator section.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("qrrm-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let stationFile = folder.appendingPathComponent("station.yaml")
        try """
            node: e2e-node
            telemetry: {endpoint: "tcp://127.0.0.1:*", snapshot: "tcp://127.0.0.1:*", security: plaintext}
            commands: {endpoint: "tcp://127.0.0.1:*"}
            loop: {rate: 1kHz, priority: 80}
            instruments:
              - {id: ls372, model: lakeshore372, resource: "\(resource("ls372"))"}
              - {id: awg, model: awg5200, resource: "\(resource("awg"))"}
              - {id: scope, model: infiniivision, resource: "\(resource("scope"))", tones: [25MHz]}
            channels:
              - {name: mxc, instrument: ls372, input: "6", every: 100ms}
            qubits:
              - name: q0
                drive: {generator: awg, sampleRate: 1GS/s, rabiPerVolt: 50MHz, piPulse: 20ns}
                readout: {instrument: scope, tone: 25MHz, ground: [1.0mV, 0.2mV], excited: [-0.6mV, 0.9mV]}
            interlocks:
              - {name: mxc-warm, channel: mxc, above: 100mK, severity: critical}
            safeState:
              - {instrument: awg, outputs: off}
              - {instrument: ls372, heaterOff: 0}
            admission: {channel: mxc, below: 30mK}
            """.write(to: stationFile, atomically: true, encoding: .utf8)
        let recording = folder.appendingPathComponent("node.sqlite").path

        let node = Process()
        node.executableURL = qrrm
        node.arguments = ["run", "--station", stationFile.path, "--serve", "--no-plan", "--plain", "--record", recording,
                          "--results", folder.appendingPathComponent("results").path]
        let output = Pipe()
        node.standardOutput = output
        node.standardError = FileHandle.nullDevice
        try node.run()
        defer { if node.isRunning { kill(node.processIdentifier, SIGKILL) } }
        let (telemetryEndpoint, commandEndpoint, _) = try Self.endpoints(output, timeout: 30)

        let subscriber = try TelemetrySubscriber(connectingTo: [telemetryEndpoint], prefixes: ["e2e-node/"], security: .plaintext)
        let context = try ZMQContext()
        defer { context.shutdown() }
        let client = try context.socket(.req)
        try client.set(.linger, .milliseconds(0))
        try client.connect(commandEndpoint)

        // Reserve the qubit and run a small CPMG sweep through the endpoint.
        let resources = try Self.command(client, #"{"command": "resources"}"#)
        #expect(resources["ok"] as? Bool == true)
        let reserved = try Self.command(client, #"{"command": "reserve", "resources": ["q0"], "ttl": "5min"}"#)
        let lease = try #require((reserved["result"] as? [String: Any])?["id"] as? String, "\(reserved)")
        var admitted = false
        for _ in 0..<100 where !admitted {
            admitted = ((try Self.command(client, #"{"command": "state"}"#))["result"] as? [String: Any])?["admitted"] as? Bool == true
            if !admitted { Thread.sleep(forTimeInterval: 0.1) }
        }
        #expect(admitted, "a cold fridge must admit experiments")
        let started = try Self.command(client, #"""
            {"command": "start", "experiment": "cpmgSweep", "qubit": "q0", "lease": "\#(lease)",
             "parameters": {"pulses": [1, 4], "shots": 200, "from": "5us", "to": "1ms"}}
            """#)
        let run = try #require((started["result"] as? [String: Any])?["run"] as? String, "\(started)")

        // The result arrives on telemetry.
        var result: WireExperimentResult?
        let deadline = Date().addingTimeInterval(300)
        while result == nil, Date() < deadline, let message = try subscriber.receive(wait: .timeout(.seconds(5))) {
            if message.topic == "e2e-node/_experiment/q0", case let .result(r)? = message.payload.body { result = r }
        }
        let sweep = try #require(result, "no experiment result on telemetry")
        #expect(sweep.kind == "cpmg" && sweep.status == "completed", "\(sweep)")
        #expect(sweep.values.contains { $0.name.hasPrefix("T2") && $0.value > 0 }, "\(sweep.values)")
        let runs = ((try Self.command(client, #"{"command": "state"}"#))["result"] as? [String: Any])?["runs"] as? [[String: Any]]
        #expect(runs?.first { $0["id"] as? String == run }?["status"] as? String == "completed")

        // Energise the outputs behind the node's back, as an experiment would, then quench the fridge.
        let awg = try TektronixAWG5200(transport: TCPTransport(host: "127.0.0.1", port: served.first { $0.id == "awg" }!.port))
        let bridge = LakeShore372(transport: TCPTransport(host: "127.0.0.1", port: served.first { $0.id == "ls372" }!.port))
        try awg.setOutput(1, enabled: true)
        try bridge.setHeaterRange(2, for: 0)
        emulator.model.quench(stage: .mixingChamber, energy: 5e-3, seconds: 0.5)
        emulator.advance(by: 2)

        var event: WireInterlockEvent?
        let tripDeadline = Date().addingTimeInterval(30)
        while event == nil, Date() < tripDeadline, let message = try subscriber.receive(wait: .timeout(.seconds(5))) {
            if case let .interlock(e)? = message.payload.body, e.tripped { event = e }
        }
        let trip = try #require(event, "no interlock event on telemetry")
        #expect(trip.interlock == "mxc-warm" && trip.value > 0.1 && trip.actions == ["awg: outputs off", "ls372: heater 0 off"])
        let state = try #require((try Self.command(client, #"{"command": "state"}"#))["result"] as? [String: Any])
        let trips = try #require(state["trips"] as? [[String: Any]])
        let first = try #require(trips.first)
        let cycle = try #require(first["cycle"] as? Double), safeBy = try #require(first["safeByCycle"] as? Double)
        #expect(safeBy - cycle <= 1, "the safe state took \(safeBy - cycle) loop cycles")
        #expect(try !awg.isOutputEnabled(1) && bridge.heaterRange(for: 0) == 0, "outputs are not safe")
        #expect(state["admitted"] as? Bool == false)

        // A graceful stop flushes the recorder; the recording holds every message, each topic without a gap.
        kill(node.processIdentifier, SIGTERM)
        node.waitUntilExit()
        #expect(node.terminationStatus == 0, "qrrm run exited with \(node.terminationStatus)")
        let recorded = try TelemetryRecording(path: recording)
        #expect(try recorded.integrityCheck() == "ok")
        var messages: [RecordedMessage] = []
        var after: Int64 = 0
        while true {
            let page = try recorded.messages(after: after, limit: 5000)
            guard let last = page.last else { break }
            messages += page
            after = last.id
        }
        let streams = Dictionary(grouping: messages) { $0.topic }
        #expect(streams["e2e-node/_interlock/mxc-warm"]?.isEmpty == false, "the trip is not in the recording")
        #expect(streams["e2e-node/_experiment/q0"]?.isEmpty == false, "the result is not in the recording")
        for (topic, stream) in streams {
            let sequences = stream.map(\.sequence).sorted()
            #expect(sequences == Array(sequences.first!...sequences.last!), "\(topic): the recording has a gap in \(sequences)")
        }
        #expect(subscriber.statistics.totalMissed == 0, "the live subscriber missed messages")
    }
}
