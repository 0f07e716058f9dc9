import Emulator
import Foundation
import HAL
import Runtime
import Testing
import ZeroMQ

/// The node's command endpoint, driven over ZeroMQ with CURVE: leases, state, acknowledgements and every
/// kind of bad request, each answered with a typed error.
@Suite("Node command endpoint", .serialized)
struct CommandServerTests {
    final class Fixture {
        let node: Node
        let server: CommandServer
        let serverKeys: CurveKeyPair
        let alice: CurveKeyPair
        let bob: CurveKeyPair
        let context: ZMQContext

        init() throws {
            serverKeys = try CurveKeyPair.generate()
            alice = try CurveKeyPair.generate()
            bob = try CurveKeyPair.generate()
            let keyFile = FileManager.default.temporaryDirectory.appendingPathComponent("qrrm-node-\(UUID().uuidString).key")
            try "secret \(serverKeys.secretKey.z85)\n".write(to: keyFile, atomically: true, encoding: .utf8)
            let yaml = """
                node: cmd-node
                emulator: {profile: \(NodeTests.profile.path)}
                telemetry:
                  endpoint: "tcp://127.0.0.1:*"
                  snapshot: "tcp://127.0.0.1:*"
                  security: {curve: {secretKeyFile: \(keyFile.path), allowedClients: ["\(alice.publicKey.z85)", "\(bob.publicKey.z85)"]}}
                commands: {endpoint: "tcp://127.0.0.1:*"}
                loop: {rate: 200Hz, lockMemory: false}
                instruments:
                  - {id: ls372, model: lakeshore372, resource: "LOOPBACK::ls372"}
                  - {id: awg, model: awg5200, resource: "LOOPBACK::awg"}
                  - {id: scope, model: infiniivision, resource: "LOOPBACK::scope"}
                channels:
                  - {name: fourKelvin, instrument: ls372, input: "2", every: 50ms}
                qubits:
                  - name: q0
                    drive: {generator: awg, sampleRate: 1GS/s, rabiPerVolt: 50MHz, piPulse: 20ns}
                    readout: {instrument: scope, tone: 25MHz, ground: [1.0mV, 0.2mV], excited: [-0.6mV, 0.9mV]}
                interlocks:
                  - {name: fourK-too-cold, channel: fourKelvin, below: 10K, severity: warning}
                safeState:
                  - {instrument: awg, outputs: off}
                """
            let station = try Station(yaml: yaml, file: keyFile.deletingLastPathComponent().appendingPathComponent("cmd.yaml"))
            node = try Node(station: station)
            server = try CommandServer(
                node: node, endpoint: try #require(station.commandEndpoint), security: station.telemetry.security, experiments: nil)
            context = try ZMQContext()
        }

        deinit {
            server.stop()
            node.shutdown()
            context.shutdown()
        }

        /// A REQ client with `keys` (nil: a key the node does not know).
        func client(_ keys: CurveKeyPair?) throws -> ZMQSocket {
            let socket = try context.socket(.req)
            try socket.makeCurveClient(serverKey: serverKeys.publicKey, keys: try keys ?? CurveKeyPair.generate())
            try socket.set(.linger, .milliseconds(0))
            try socket.connect(server.endpoint)
            return socket
        }

        /// Sends `json` and decodes the reply (nil when none came within `timeout`).
        func ask(_ socket: ZMQSocket, _ json: String, timeout: Duration = .seconds(5)) throws -> CommandReply? {
            try socket.send(json)
            guard let frame = try socket.receiveFrame(wait: .timeout(timeout)) else { return nil }
            return try JSONDecoder().decode(CommandReply.self, from: Data(frame))
        }
    }

    @Test("Leases: reserve, refuse a second holder, renew, release, and lapse after their time-to-live")
    func leases() throws {
        let f = try Fixture()
        let alice = try f.client(f.alice), bob = try f.client(f.bob)
        let reserved = try #require(try f.ask(alice, #"{"id": "1", "command": "reserve", "resources": ["q0", "awg"], "ttl": "30s"}"#))
        #expect(reserved.ok && reserved.id == "1")
        guard case let .object(lease)? = reserved.result, case let .string(id)? = lease["id"], case let .string(owner)? = lease["owner"] else {
            Issue.record("no lease in \(reserved)")
            return
        }
        #expect(owner == f.alice.publicKey.z85, "the lease belongs to the CURVE key that asked")

        let refused = try #require(try f.ask(bob, #"{"command": "reserve", "resources": ["awg"], "ttl": "30s"}"#))
        #expect(!refused.ok && refused.error?.code == .busy && refused.error?.message.contains(id) == true)
        let stolen = try #require(try f.ask(bob, #"{"command": "release", "lease": "\#(id)"}"#))
        #expect(stolen.error?.code == .unauthorized)
        #expect(try f.ask(alice, #"{"command": "renew", "lease": "\#(id)", "ttl": "1min"}"#)?.ok == true)
        #expect(try f.ask(alice, #"{"command": "release", "lease": "\#(id)"}"#)?.ok == true)
        #expect(try f.ask(bob, #"{"command": "reserve", "resources": ["awg"], "ttl": "300ms"}"#)?.ok == true)
        Thread.sleep(forTimeInterval: 0.6)
        let resources = try #require(try f.ask(alice, #"{"command": "resources"}"#))
        guard case let .object(body)? = resources.result else { Issue.record("no resources"); return }
        #expect(body["leases"] == .array([]), "a lapsed lease must release its resources")
        #expect(body["qubits"] == .array([.object(["name": .string("q0"), "generator": .string("awg"), "readout": .string("scope")])]))
        #expect(try f.ask(alice, #"{"command": "reserve", "resources": ["awg"], "ttl": "10s"}"#)?.ok == true)
    }

    @Test("Reset takes a qubit out of service: whoever leased it loses the lease")
    func reset() throws {
        let f = try Fixture()
        let alice = try f.client(f.alice), bob = try f.client(f.bob)
        let reserved = try #require(try f.ask(alice, #"{"command": "reserve", "resources": ["q0"], "ttl": "30s"}"#))
        guard case let .object(lease)? = reserved.result, case let .string(id)? = lease["id"] else {
            Issue.record("no lease in \(reserved)")
            return
        }
        let reset = try #require(try f.ask(bob, #"{"command": "reset", "qubit": "q0"}"#))
        #expect(reset.ok, "\(String(describing: reset.error))")
        guard case let .object(body)? = reset.result else { Issue.record("no reset result"); return }
        #expect(body["qubit"] == .string("q0") && body["leasesEnded"] == .array([.string(id)]))
        #expect(try f.ask(alice, #"{"command": "renew", "lease": "\#(id)", "ttl": "1min"}"#)?.error?.code == .noLease)
        #expect(try f.ask(bob, #"{"command": "reserve", "resources": ["q0"], "ttl": "10s"}"#)?.ok == true)
    }

    @Test("State and acknowledge: a tripped interlock is reported and refuses to re-arm while its condition holds")
    func stateAndAcknowledge() throws {
        let f = try Fixture()
        let alice = try f.client(f.alice)
        #expect(NodeTests.eventually(5) { !f.node.status.trips.isEmpty })
        let state = try #require(try f.ask(alice, #"{"command": "state"}"#))
        guard case let .object(body)? = state.result else { Issue.record("no state"); return }
        #expect(body["tripped"] == .array([.string("fourK-too-cold")]) && body["admitted"] == .bool(false))
        let ack = try #require(try f.ask(alice, #"{"command": "acknowledge", "interlock": "fourK-too-cold"}"#))
        #expect(!ack.ok && ack.error?.code == .stillTripped)
    }

    @Test("Bad requests get typed errors", arguments: [
        ("not json", CommandFailure.Code.badRequest, "not a command object"),
        (#"{"id": "x"}"#, .badRequest, "missing \"command\""),
        (#"{"command": 7}"#, .badRequest, "command"),
        (#"{"command": "launch"}"#, .unknownCommand, "the commands are"),
        (#"{"command": "reserve", "resources": ["q9"], "ttl": "1s"}"#, .unknownResource, "no resource \"q9\""),
        (#"{"command": "reserve", "resources": ["q0"]}"#, .badRequest, "needs \"ttl\""),
        (#"{"command": "reserve", "resources": ["q0"], "ttl": "soon"}"#, .badRequest, "ttl"),
        (#"{"command": "reserve", "resources": ["q0"], "ttl": "-1s"}"#, .badRequest, ""),
        (#"{"command": "reserve", "resources": ["q0", "q0"], "ttl": "1s"}"#, .badRequest, "twice"),
        (#"{"command": "reserve", "resources": ["q0"], "ttl": "2d"}"#, .badRequest, "24 h"),
        (#"{"command": "renew", "lease": "lease-999", "ttl": "1s"}"#, .noLease, "lease-999"),
        (#"{"command": "acknowledge", "interlock": "nope"}"#, .unknownResource, "no interlock"),
        (#"{"command": "start", "experiment": "cpmgSweep", "qubit": "q0"}"#, .failed, "runs no experiments"),
        (#"{"command": "reset"}"#, .badRequest, "reset needs \"qubit\""),
        (#"{"command": "reset", "qubit": "q9"}"#, .unknownResource, "no qubit or particle \"q9\""),
    ])
    func badRequests(json: String, code: CommandFailure.Code, fragment: String) throws {
        let f = try Fixture()
        let reply = try #require(try f.ask(try f.client(f.alice), json))
        #expect(!reply.ok && reply.error?.code == code, "\(json) → \(String(describing: reply.error))")
        #expect(fragment.isEmpty || reply.error?.message.contains(fragment) == true, "\(String(describing: reply.error))")
    }

    @Test("A client whose CURVE key is not on the allow-list gets nothing")
    func unknownKey() throws {
        let f = try Fixture()
        let stranger = try f.client(nil)
        #expect(try f.ask(stranger, #"{"command": "state"}"#, timeout: .seconds(1)) == nil)
    }
}
