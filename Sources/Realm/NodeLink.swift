import Allocation
import Foundation
import Logging
import Quantities
import Synchronization
import Telemetry
import ZeroMQ

/// Where a node is: its telemetry, snapshot and command endpoints, the site the realm lists it at, and its
/// CURVE public key when its station uses CURVE. Written as
/// `telemetry=tcp://h:5556,snapshot=tcp://h:5557,commands=tcp://h:5558,location=Delft B1,server-key=<Z85>`.
public struct NodeEndpoints: Sendable, Equatable {
    public var telemetry: String
    public var snapshot: String
    public var commands: String?
    public var location: String
    /// The node's CURVE public key; nil for a node its station configures without CURVE.
    public var serverKey: CurveKey?

    public init(telemetry: String, snapshot: String, commands: String?, location: String, serverKey: CurveKey? = nil) {
        self.telemetry = telemetry
        self.snapshot = snapshot
        self.commands = commands
        self.location = location
        self.serverKey = serverKey
    }

    public init(parsing text: String) throws(RealmError) {
        let keys = ["telemetry", "snapshot", "commands", "location", "server-key"]
        var fields: [String: String] = [:]
        for part in text.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2, keys.contains(pair[0]), fields[pair[0]] == nil else {
                throw .badRequest("node \"\(text)\": \"\(part)\" is not one of telemetry=, snapshot=, commands=, location=, server-key= (each once)")
            }
            fields[pair[0]] = pair[1]
        }
        guard let telemetry = fields["telemetry"], let snapshot = fields["snapshot"] else {
            throw .badRequest("node \"\(text)\": telemetry= and snapshot= are required")
        }
        var serverKey: CurveKey?
        if let z85 = fields["server-key"] {
            do { serverKey = try CurveKey(z85: z85) } catch {
                throw .badRequest("node \"\(text)\": server-key=: \(error)")
            }
        }
        self.init(telemetry: telemetry, snapshot: snapshot, commands: fields["commands"], location: fields["location"] ?? "unspecified",
                  serverKey: serverKey)
    }
}

/// The realm's view of its nodes, over the wire only: each node's snapshot gives its announcement (the
/// inventory), its heartbeats say it is alive, its experiment results re-measure its qubits' coherence,
/// its channels in watts (heater powers) are its power draw for energy metering, and its command endpoint
/// holds a lease on every qubit the realm grants and resets every qubit the realm retires (the `reset`
/// command: leases ended, runs stopped, drive outputs off, then a readout checking that the qubit rests in
/// |0⟩), which the realm then records as `resetCompleted` with the excited population the node read. A reset
/// whose qubit does not read |0⟩ stays pending. Resets still pending when a node (re)connects are sent then.
///
/// A node silent for longer than `lossTimeout` (or three heartbeat intervals, if longer) is recorded lost;
/// when it comes back, it is announced again.
public final class NodeLinks: Sendable {
    private let realm: Realm
    private let nodes: [NodeEndpoints]
    /// The realm's CURVE key pair, for the nodes that have a `serverKey`.
    private let curveKeys: CurveKeyPair?
    private let lossTimeout: Duration
    /// The least time between two power reports of one node.
    private let powerInterval: Duration
    private let logger: Logger
    private let stopping = Atomic<Bool>(false)
    private let threads = Mutex<[DispatchSemaphore]>([])
    /// Node id → its endpoints, once its snapshot has arrived.
    private let known = Mutex<[String: NodeEndpoints]>([:])
    /// Allocation id → (node → lease id) of the leases held for it.
    private let leases = Mutex<[String: [String: String]]>([:])
    /// Allocations that have ended (released, completed or lost): no lease is taken for them any more.
    private let ended = Mutex<Set<String>>([])

    /// Links `nodes` to `realm`. A node with a `serverKey` is reached over CURVE as a client with
    /// `curveKeys` (which its station must allow); the others in plaintext. Throws when a node has a
    /// server key and there are no `curveKeys`.
    /// A node's power is recorded when it first reads, and then when it has changed by more than 1 % (or
    /// 1 nW), at most once per `powerInterval`.
    public init(realm: Realm, nodes: [NodeEndpoints], curveKeys: CurveKeyPair? = nil,
                lossTimeout: Duration = .seconds(3), powerInterval: Duration = .seconds(10),
                logger: Logger = Logger(label: "qrrm.realm.nodes")) throws(RealmError) {
        if curveKeys == nil, let node = nodes.first(where: { $0.serverKey != nil }) {
            throw .badRequest("node at \(node.snapshot) has a server-key, so the realm needs a CURVE key pair to reach it")
        }
        self.realm = realm
        self.nodes = nodes
        self.curveKeys = curveKeys
        self.lossTimeout = lossTimeout
        self.powerInterval = powerInterval
        self.logger = logger
    }

    /// Starts one watcher thread per node and holds leases for the realm's grants.
    public func start() async {
        // Off the confirm path: a grant is answered at once, and the lease follows (at the window's start).
        await realm.onChange { [self] change in Task { await self.apply(change) } }
        for node in nodes {
            let done = DispatchSemaphore(value: 0)
            threads.withLock { $0.append(done) }
            let thread = Thread { [self] in
                watch(node)
                done.signal()
            }
            thread.name = "qrrm-node-link"
            thread.start()
        }
    }

    /// Stops the watchers and waits for them.
    public func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        for done in threads.withLock({ $0 }) { done.wait() }
    }

    // MARK: Watching a node

    private func watch(_ endpoints: NodeEndpoints) {
        while !stopping.load(ordering: .acquiring) {
            guard let (node, subscriber, interval, powerTopics) = connect(endpoints) else { continue }
            var lastHeard = ContinuousClock.now
            var heartbeatInterval = interval
            var power = PowerMeter(topics: powerTopics, interval: powerInterval)
            while !stopping.load(ordering: .acquiring) {
                let message: TelemetryMessage?
                do { message = try subscriber.receive(wait: .timeout(.milliseconds(100))) } catch {
                    logger.warning("node \(node): \(error)")
                    continue
                }
                if let message {
                    lastHeard = .now
                    switch message.payload.body {
                    case .heartbeat(let heartbeat): heartbeatInterval = .seconds(max(0.001, heartbeat.intervalS))
                    case .result(let result): observe(result, on: node, topic: message.topic)
                    case .sample(let sample): if let watts = power.read(sample.value, on: message.topic) { record(.powerReported(node: node, watts: watts)) }
                    case .batch(let batch): if let watts = batch.values.last.flatMap({ power.read($0, on: message.topic) }) { record(.powerReported(node: node, watts: watts)) }
                    default: break
                    }
                }
                if ContinuousClock.now - lastHeard > max(lossTimeout, heartbeatInterval * 3) {
                    logger.warning("node \(node) silent since \(ContinuousClock.now - lastHeard): recording it lost")
                    record(.nodeLost(node: node))
                    break  // back to connect: a node that returns is announced again
                }
            }
        }
    }

    /// Fetches the node's snapshot, announces it, and subscribes to its heartbeats, results and channels in
    /// watts (returned too).
    private func connect(_ endpoints: NodeEndpoints) -> (String, TelemetrySubscriber, Duration, Set<String>)? {
        let snapshot: WireSnapshot
        do { snapshot = try TelemetrySnapshotClient.fetch(from: endpoints.snapshot, security: security(of: endpoints), timeout: .seconds(1)) } catch {
            logger.debug("node at \(endpoints.snapshot): \(error)")
            Thread.sleep(forTimeInterval: 0.2)
            return nil
        }
        let node = snapshot.announcement.nodeID
        known.withLock { $0[node] = endpoints }
        record(.nodeAnnounced(Self.announcement(snapshot.announcement, location: endpoints.location)))
        Task { [realm] in
            for pending in await realm.state.pendingResets where pending.node == node {
                for resource in pending.resources { await self.reset(resource, on: node, attempts: 1) }
            }
        }
        let powerTopics = Set(snapshot.announcement.channels.filter { $0.unit == "W" }.map(\.topic))
        do {
            let subscriber = try TelemetrySubscriber(
                connectingTo: [endpoints.telemetry], prefixes: ["\(node)/_node/heartbeat", "\(node)/_experiment/"] + powerTopics.sorted(),
                security: security(of: endpoints), keepingFrames: false)
            return (node, subscriber, .seconds(1), powerTopics)
        } catch {
            logger.warning("node \(node): cannot subscribe to \(endpoints.telemetry): \(error)")
            return nil
        }
    }

    /// The allocation contract's view of a node's announcement: each resource with advertised properties, as
    /// the particle type it is advertised as (a qubit when the node names none).
    static func announcement(_ wire: WireNodeAnnouncement, location: String) -> NodeAnnouncement {
        NodeAnnouncement(node: wire.nodeID, location: location, resources: wire.qubits.compactMap { qubit in
            let values = Dictionary(qubit.properties.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
            guard let coherence = values["coherenceTime"], let fidelity = values["fidelity"], coherence > 0 else { return nil }
            return AnnouncedResource(
                id: "\(wire.nodeID)/\(qubit.id)", type: qubit.particleType.isEmpty ? .qubit : ParticleType(qubit.particleType),
                properties: ResourceProperties(coherenceTimeNanoseconds: Int64((coherence * 1e9).rounded()), fidelity: fidelity,
                                               entanglementReady: (values["entanglementReady"] ?? 0) != 0))
        })
    }

    /// A completed coherence measurement (a T₂ from echo or CPMG) updates the qubit's properties in the realm.
    private func observe(_ result: WireExperimentResult, on node: String, topic: String) {
        guard result.status == "completed", let qubit = topic.split(separator: "/").last,
              let t2 = result.values.first(where: { $0.name == "T2" && $0.value > 0 }) else { return }
        let resource = "\(node)/\(qubit)"
        Task {
            guard let current = await realm.state.resources[resource]?.measured else { return }
            var measured = current
            measured.coherenceTimeNanoseconds = Int64((t2.value * 1e9).rounded())
            guard measured != current else { return }
            record(.resourceObserved(resource: resource, properties: measured))
        }
    }

    private func record(_ event: AllocationEvent) {
        let realm = realm
        let logger = logger
        Task {
            do { try await realm.record(event) } catch { logger.warning("realm: could not record \(event.kind): \(error)") }
        }
    }

    /// How to reach the node at `endpoints`: over CURVE when it has a server key.
    private func security(of endpoints: NodeEndpoints) -> TelemetryClientSecurity {
        guard let serverKey = endpoints.serverKey, let curveKeys else { return .plaintext }
        return .curve(serverKey: serverKey, clientKeys: curveKeys)
    }

    // MARK: Leases on the nodes

    private func apply(_ change: RealmChange) async {
        switch change {
        case .confirmed(let allocation):
            let wait = allocation.start.nanosecondsSinceEpoch - Timestamp.now().nanosecondsSinceEpoch
            if wait > 0 { try? await Task.sleep(for: .nanoseconds(wait)) }
            let seconds = Double(allocation.end.nanosecondsSinceEpoch - allocation.start.nanosecondsSinceEpoch) / 1e9
            let ttl = Int(max(1, seconds).rounded(.up))
            for node in allocation.nodes {
                let qubits = allocation.resources.filter { $0.hasPrefix(node + "/") }.map { String($0.dropFirst(node.count + 1)) }
                guard let endpoints = known.withLock({ $0[node] }), let commands = endpoints.commands else { continue }
                // Someone may hold a qubit on the node directly for a moment: try again, for up to 30 s.
                for attempt in 0..<150 where !ended.withLock({ $0.contains(allocation.id) }) {
                    do {
                        let reply = try NodeCommandClient.call(commands, security: security(of: endpoints),
                                                               ["command": "reserve", "resources": qubits, "ttl": "\(ttl)s"])
                        if let lease = (reply["result"] as? [String: Any])?["id"] as? String {
                            leases.withLock { $0[allocation.id, default: [:]][node] = lease }
                        }
                        break
                    } catch {
                        if attempt == 0 { logger.notice("node \(node): could not reserve \(qubits) for \(allocation.id) yet: \(error)") }
                        try? await Task.sleep(for: .milliseconds(200))
                    }
                }
            }
            // Ended while the leases were being taken: give them back now.
            if ended.withLock({ $0.contains(allocation.id) }) { await release(allocation.id) }
        case .ended(let allocation), .lost(let allocation):
            ended.withLock { _ = $0.insert(allocation.id) }
            await release(allocation.id)
        case .retired(let resource, let node):
            await reset(resource, on: node, attempts: 150)
        }
    }

    /// Asks `node` to reset `resource` (one of its qubits), trying every 200 ms up to `attempts` times, and
    /// records `resetCompleted` once it has and the qubit reads |0⟩.
    private func reset(_ resource: String, on node: String, attempts: Int) async {
        guard resource.hasPrefix(node + "/") else {
            logger.warning("realm: cannot reset \(resource): it is not named <node>/<qubit> for node \(node)")
            return
        }
        let qubit = String(resource.dropFirst(node.count + 1))
        for attempt in 0..<attempts {
            if let endpoints = known.withLock({ $0[node] }), let commands = endpoints.commands {
                do {
                    // The node stops the qubit's runs (each within 30 s) and then reads it, which takes a second or
                    // more: the call waits on a thread of its own, not one of the few that run the realm's tasks.
                    let reply = try await NodeCommandClient.callOnOwnThread(
                        commands, security: security(of: endpoints), ["command": "reset", "qubit": qubit], timeout: .seconds(45))
                    let result = reply["result"] as? [String: Any]
                    let population = result?["excitedPopulation"] as? Double
                    if result?["groundState"] as? Bool == false {
                        logger.warning("realm: \(resource) was reset but reads |1⟩ in \(population ?? .nan) of its shots: its reset stays pending")
                        return
                    }
                    do { try await realm.record(.resetCompleted(resource: resource, excitedPopulation: population)) } catch {
                        logger.warning("realm: could not record the reset of \(resource): \(error)")
                    }
                    return
                } catch {
                    if attempt == 0 { logger.notice("node \(node): could not reset \(qubit) yet: \(error)") }
                }
            }
            if attempt < attempts - 1 { try? await Task.sleep(for: .milliseconds(200)) }
        }
    }

    private func release(_ allocation: String) async {
        for (node, lease) in leases.withLock({ $0.removeValue(forKey: allocation) ?? [:] }).sorted(by: { $0.key < $1.key }) {
            guard let endpoints = known.withLock({ $0[node] }), let commands = endpoints.commands else { continue }
            _ = try? NodeCommandClient.call(commands, security: security(of: endpoints), ["command": "release", "lease": lease])
        }
    }

    /// The lease each node holds for `allocation`, by node.
    public func leases(of allocation: String) -> [String: String] {
        leases.withLock { $0[allocation] ?? [:] }
    }
}

/// A node's power draw: the sum of the latest reading of each of its channels in watts, reported when it
/// has changed enough, and not too often.
struct PowerMeter {
    let topics: Set<String>
    let interval: Duration
    private var latest: [String: Double] = [:]
    private var reported: (watts: Double, at: ContinuousClock.Instant)?

    init(topics: Set<String>, interval: Duration) {
        self.topics = topics
        self.interval = interval
    }

    /// Takes a reading of `topic`; returns the node's total when it is due to be reported: once every power
    /// channel has read, the first time, and then after `interval` when it moved by more than 1 % or 1 nW.
    /// Readings that are not finite or are negative (a heater reads 0 W or more) are ignored.
    mutating func read(_ watts: Double, on topic: String, now: ContinuousClock.Instant = .now) -> Double? {
        guard topics.contains(topic), watts.isFinite, watts >= 0 else { return nil }
        latest[topic] = watts
        guard latest.count == topics.count else { return nil }
        let total = topics.sorted().reduce(0) { $0 + latest[$1]! }
        if let last = reported {
            guard now - last.at >= interval, abs(total - last.watts) > max(0.01 * last.watts, 1e-9) else { return nil }
        }
        reported = (total, now)
        return total
    }
}

/// One request–reply to a node's command endpoint (a DEALER to its ROUTER), JSON both ways.
enum NodeCommandClient {
    /// `call` on a new thread, for requests the node takes long to answer: waiting blocks that thread only.
    static func callOnOwnThread(_ endpoint: String, security: TelemetryClientSecurity, _ request: [String: String],
                                timeout: Duration) async throws(RealmError) -> [String: Any] {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<[String: Any], RealmError>, Never>) in
            Thread {
                do throws(RealmError) {
                    continuation.resume(returning: .success(try call(endpoint, security: security, request, timeout: timeout)))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }.start()
        }
        return try result.get()
    }

    static func call(_ endpoint: String, security: TelemetryClientSecurity, _ request: [String: Any],
                     timeout: Duration = .seconds(5)) throws(RealmError) -> [String: Any] {
        let body: Data
        do { body = try JSONSerialization.data(withJSONObject: request, options: [.sortedKeys]) } catch {
            throw .node(node: endpoint, reason: "could not encode \(request): \(error)")
        }
        let reply: [UInt8]?
        do {
            let context = try ZMQContext()
            defer { context.shutdown() }
            let socket = try context.socket(.dealer)
            if case .curve(let serverKey, let clientKeys) = security { try socket.makeCurveClient(serverKey: serverKey, keys: clientKeys) }
            try socket.set(.linger, .zero)
            try socket.connect(endpoint)
            try socket.send(multipart: [[], Array(body)], wait: .timeout(timeout))
            reply = try socket.receiveMultipart(wait: .timeout(timeout))?.last
        } catch {
            throw .node(node: endpoint, reason: "\(request["command"] ?? "?"): \(error)")
        }
        guard let reply, let object = try? JSONSerialization.jsonObject(with: Data(reply)) as? [String: Any] else {
            throw .node(node: endpoint, reason: "no JSON reply to \(request["command"] ?? "?") within \(timeout)")
        }
        guard object["ok"] as? Bool == true else {
            throw .node(node: endpoint, reason: "\((object["error"] as? [String: Any])?["message"] ?? "refused")")
        }
        return object
    }
}
