import Allocation
import Foundation
import Ledger
import Quantities
import Realm
import Testing
import ZeroMQ

/// The realm over three nodes, each `qrrm run` in a process of its own on an emulated station: the realm
/// sees them only through their telemetry (snapshot, heartbeats) and command endpoints. Clients allocate,
/// confirm, use and release over the realm's ZeroMQ endpoint; a node killed mid-allocation is recorded
/// lost and its qubit is never granted again; the ledger replays to the same state and verifies.
@Suite("The realm end to end, over three node processes", .serialized)
struct RealmEndToEndTests {
    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// A node process and its endpoints.
    struct NodeProcess {
        let name: String
        let process: Process
        let endpoints: NodeEndpoints
    }

    /// Starts `qrrm run --serve --no-plan` on the demo station renamed `name`, on ports the kernel picks, its
    /// endpoints under CURVE with `keys`, admitting only the `allowed` client keys.
    static func startNode(_ name: String, in folder: URL, qrrm: URL, keys: CurveKeyPair, allowed: [CurveKey]) throws -> NodeProcess {
        let secretFile = folder.appendingPathComponent("\(name).curve")
        try keys.secretKey.z85.write(to: secretFile, atomically: true, encoding: .utf8)
        let curve = "{curve: {secretKeyFile: \"\(secretFile.path)\", allowedClients: [\(allowed.map { "\"\($0.z85)\"" }.joined(separator: ", "))]}}"
        let repository = NodeEndToEndTests.repository
        var station = try String(contentsOf: repository.appendingPathComponent("HardwareProfiles/stations/demo.yaml"), encoding: .utf8)
        station = station.replacingOccurrences(of: "node: demo-node", with: "node: \(name)")
            .replacingOccurrences(of: "../transmon-demo.yaml", with: repository.appendingPathComponent("HardwareProfiles/transmon-demo.yaml").path)
            .replacingOccurrences(of: #"tcp://127\.0\.0\.1:55[0-9][0-9]"#, with: "tcp://127.0.0.1:*", options: .regularExpression)
            .replacingOccurrences(of: #"security: plaintext"#, with: "security: \(curve)")
        guard station.contains(secretFile.path) else { throw Failure("the demo station has no `security: plaintext` line to replace") }
        let file = folder.appendingPathComponent("\(name).yaml")
        try station.write(to: file, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = qrrm
        process.arguments = ["run", "--station", file.path, "--serve", "--no-plan", "--plain",
                             "--results", folder.appendingPathComponent("results-\(name)").path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var text = ""
        let end = Date().addingTimeInterval(60)
        while Date() < end {
            let data = output.fileHandleForReading.availableData
            if data.isEmpty { Thread.sleep(forTimeInterval: 0.05); continue }
            text += String(decoding: data, as: UTF8.self)
            let lines = text.split(separator: "\n")
            if let telemetry = lines.first(where: { $0.hasPrefix("telemetry: ") }), let commands = lines.first(where: { $0.hasPrefix("commands: ") }) {
                // "telemetry: tcp://127.0.0.1:40001 (snapshot tcp://127.0.0.1:40002)"
                let words = telemetry.split(separator: " ")
                return NodeProcess(name: name, process: process, endpoints: NodeEndpoints(
                    telemetry: String(words[1]), snapshot: String(words[3].dropLast()), commands: String(commands.dropFirst(10)),
                    location: "rack-\(name)", serverKey: keys.publicKey))
            }
        }
        process.terminate()
        throw Failure("node \(name) did not print its endpoints within 60 s:\n\(text)")
    }

    /// Polls `condition` every 100 ms for up to `seconds`.
    static func eventually(_ seconds: Double, _ condition: () async throws -> Bool) async rethrows -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if try await condition() { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return try await condition()
    }

    /// Sends one command to `node`'s command endpoint as a client with `keys`; returns the decoded reply.
    static func command(_ json: String, at node: NodeEndpoints, as keys: CurveKeyPair) throws -> [String: Any] {
        let context = try ZMQContext()
        defer { context.shutdown() }
        let socket = try context.socket(.req)
        try socket.set(.linger, .zero)
        try socket.makeCurveClient(serverKey: node.serverKey!, keys: keys)
        try socket.connect(node.commands!)
        try socket.send(json)
        guard let frame = try socket.receiveFrame(wait: .timeout(.seconds(10))),
              let reply = try JSONSerialization.jsonObject(with: Data(frame)) as? [String: Any] else { throw Failure("no reply from \(node.commands!)") }
        return reply
    }

    /// Reserves `qubit` on `node` for `ttl` as a client with `keys`: the lease id, or the refusal's code.
    static func reserve(_ qubit: String, at node: NodeEndpoints, as keys: CurveKeyPair, ttl: String = "60s") throws -> Result<String, Failure> {
        let reply = try command(#"{"command": "reserve", "resources": ["\#(qubit)"], "ttl": "\#(ttl)"}"#, at: node, as: keys)
        if let lease = (reply["result"] as? [String: Any])?["id"] as? String { return .success(lease) }
        return .failure(Failure((reply["error"] as? [String: Any])?["code"] as? String ?? "no code"))
    }

    /// Asks node `node` to reserve `qubit` for a second, as a client with `keys`: whether it answered busy
    /// (someone holds it).
    static func isHeld(_ qubit: String, at node: NodeEndpoints, as keys: CurveKeyPair) throws -> Bool {
        switch try reserve(qubit, at: node, as: keys, ttl: "1s") {
        case .success(let lease):
            _ = try command(#"{"command": "release", "lease": "\#(lease)"}"#, at: node, as: keys)
            return false
        case .failure(let refusal):
            return "\(refusal)" == "busy"
        }
    }

    @Test("Allocate, use and release across three nodes; a node killed mid-allocation is lost and never granted twice; a retired qubit is reset by its node")
    func threeNodes() async throws {
        let qrrm = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("qrrm")
        try #require(FileManager.default.isExecutableFile(atPath: qrrm.path), "\(qrrm.path) is missing: build the qrrm product first")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("qrrm-realm-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }

        // CURVE everywhere: each node admits the realm and one other lab client; the realm admits Alice and Bob.
        let realmKeys = try CurveKeyPair.generate(), otherClient = try CurveKeyPair.generate()
        let aliceKeys = try CurveKeyPair.generate(), bobKeys = try CurveKeyPair.generate(), stranger = try CurveKeyPair.generate()
        var nodes: [NodeProcess] = []
        defer { for node in nodes where node.process.isRunning { kill(node.process.processIdentifier, SIGKILL) } }
        for name in ["node-1", "node-2", "node-3"] {
            nodes.append(try Self.startNode(name, in: folder, qrrm: qrrm, keys: try CurveKeyPair.generate(),
                                            allowed: [realmKeys.publicKey, otherClient.publicKey]))
        }

        // The realm: a ledger, its authority, two clients, links to the three nodes, and its endpoint.
        let store = try SQLiteLedgerStore(path: folder.appendingPathComponent("realm.sqlite").path)
        let authority = try LedgerSigningKey(id: "realm")
        let alice = try LedgerSigningKey(id: "alice")
        let bob = try LedgerSigningKey(id: "bob")
        try await Ledger<RealmState>.create(realm: "e2e", in: store, authority: authority)
        let ledger = try await Ledger<RealmState>(store: store, signer: authority)
        for client in [alice, bob] {
            try await ledger.register(KeyRegistration(id: client.id, publicKey: client.publicKey, roles: [.client]))
        }
        let realm = Realm(ledger: ledger)
        let links = try NodeLinks(realm: realm, nodes: nodes.map(\.endpoints), curveKeys: realmKeys, lossTimeout: .seconds(2))
        await links.start()
        defer { links.stop() }
        let serverKeys = try CurveKeyPair.generate()
        let server = try RealmServer(realm: realm, endpoint: "tcp://127.0.0.1:*",
                                     security: .curve(serverKeys: serverKeys, allowedClients: [aliceKeys.publicKey, bobKeys.publicKey]))
        defer { server.stop() }
        let aliceSystem = try RealmSystem(endpoint: server.endpoint, key: alice,
                                          security: .curve(serverKey: serverKeys.publicKey, clientKeys: aliceKeys))
        let bobSystem = try RealmSystem(endpoint: server.endpoint, key: bob,
                                        security: .curve(serverKey: serverKeys.publicKey, clientKeys: bobKeys))
        // A client whose CURVE key the realm does not admit gets nothing, though its ledger key is registered.
        let strangerSystem = try RealmSystem(endpoint: server.endpoint, key: alice,
                                             security: .curve(serverKey: serverKeys.publicKey, clientKeys: stranger), timeout: .seconds(2))
        await #expect(throws: RealmError.self) { _ = try await strangerSystem.status() }

        // The inventory comes from the nodes' announcements: one advertised qubit each.
        #expect(try await Self.eventually(30) { try await aliceSystem.status().nodes.filter { $0.resources == 1 }.count == 3 })
        let inventory = await realm.state
        #expect(inventory.resources.keys.sorted() == ["node-1/q0", "node-2/q0", "node-3/q0"])
        #expect(inventory.resources["node-1/q0"]?.location == "rack-node-1")
        // Each node's heater power (its station's channel in W) is recorded for energy metering.
        let powered = try await Self.eventually(30) {
            let entries = try await store.entries(from: 0, limit: 100_000).filter { $0.kind == "allocation.powerReported" }
            let nodes = entries.compactMap { entry -> String? in
                guard case .powerReported(let node, let watts)? = try? JSONDecoder().decode(AllocationEvent.self, from: entry.payload),
                      watts.isFinite, watts >= 0 else { return nil }
                return node
            }
            return Set(nodes) == ["node-1", "node-2", "node-3"]
        }
        #expect(powered, "not every node's power was recorded")

        // Allocate and confirm two qubits; the realm holds a lease on each node, so no one else can take them.
        let first = try await aliceSystem.allocateQuantumParticles(
            .init(particleTypes: [.qubit: 2], properties: .init(minCoherenceTime: "100μs", minFidelity: 0.95),
                  purpose: .research, priority: .normal, duration: "1h")).confirm()
        #expect(first.resources.count == 2)
        let held = nodes.filter { first.nodeIdentifiers.contains($0.name) }
        #expect(held.count == 2)
        for node in held {
            #expect(try await Self.eventually(10) { try Self.isHeld("q0", at: node.endpoints, as: otherClient) }, "\(node.name) holds no lease for the realm")
        }
        // Release: the leases go.
        try await aliceSystem.release(first.resourceId)
        for node in held {
            #expect(try await Self.eventually(10) { try !Self.isHeld("q0", at: node.endpoints, as: otherClient) }, "\(node.name) still holds q0")
        }

        // Mid-allocation, one of its nodes dies.
        let second = try await aliceSystem.allocateQuantumParticles(.init(particleTypes: [.qubit: 2], purpose: .research, duration: "1h")).confirm()
        let victim = try #require(nodes.first { second.nodeIdentifiers.contains($0.name) })
        kill(victim.process.processIdentifier, SIGKILL)
        victim.process.waitUntilExit()
        let lostQubit = "\(victim.name)/q0"
        #expect(try await Self.eventually(15) { try await realm.state.status(of: lostQubit) == .lost }, "the realm never recorded \(victim.name) lost")
        let affected = try await aliceSystem.getQuantumResource(second.resourceId)
        #expect(affected.meters.contains { $0.resource == lostQubit && $0.lost })

        // The one qubit no allocation holds can still be granted; the lost one never is.
        let third = try await bobSystem.allocateQuantumParticles(.init(particleTypes: [.qubit: 1], purpose: .research, duration: "30min")).confirm()
        #expect(!third.resources.contains(lostQubit))
        #expect(Set(third.resources).isDisjoint(with: second.resources))
        let later = try await bobSystem.allocateQuantumParticles(.init(particleTypes: [.qubit: 1], purpose: .research, duration: "30min")).quote
        #expect(!later.resources.contains(lostQubit))

        // Retirement: the node resets the qubit (ending the lease another lab client took on it meanwhile), and
        // the realm records that it did.
        try await bobSystem.release(third.resourceId)
        let retired = try #require(third.resources.first)
        let host = try #require(nodes.first { retired.hasPrefix($0.name + "/") })
        #expect(try await Self.eventually(10) { try !Self.isHeld("q0", at: host.endpoints, as: otherClient) })
        let lease = try Self.reserve("q0", at: host.endpoints, as: otherClient).get()
        #expect(try Self.isHeld("q0", at: host.endpoints, as: realmKeys))
        try await realm.record(.retired(resource: retired))
        let reported = await Self.eventually(30) {
            let state = await realm.state
            return state.resources[retired]?.status == .retired && state.pendingResets.isEmpty
        }
        #expect(reported, "the node never reported \(retired) reset")
        // The node read the qubit alone after turning its drive off, and the entry carries what it read.
        // (The state shows an entry once applied; the store has it once its group is signed and written.)
        var resets: [LedgerEntry] = []
        _ = try await Self.eventually(10) {
            resets = try await store.entries(from: 0, limit: Int(Int32.max)).filter { $0.kind == "allocation.resetCompleted" }
            return !resets.isEmpty
        }
        let event = try JSONDecoder().decode(AllocationEvent.self, from: try #require(resets.last).payload)
        guard case .resetCompleted(retired, let population?) = event else {
            Issue.record("the reset of \(retired) was recorded without the population its node read: \(event)")
            return
        }
        // An emulated transmon at rest reads |1⟩ only through readout error (1.5–3 %, about 0 once corrected for a
        // station's calibrated fidelities, then within noise of it either side); the node's bound is 8 %.
        #expect(abs(population) <= 0.08, "\(retired) reads |1⟩ in \(population) of its shots")
        #expect(try !Self.isHeld("q0", at: host.endpoints, as: realmKeys), "the reset left \(lease) in place")

        // The ledger alone gives the same state, and every entry verifies.
        try await ledger.catchUp()
        let replayed = try await LedgerReplica<RealmState>.replay(store)
        #expect(replayed.state == (await ledger.state))
        #expect(try await LedgerVerifier.verify(store, state: RealmState.self).isValid)
    }
}
