import Foundation
import Logging
import Quantities
import Synchronization
import Telemetry
import ZeroMQ

/// What the command endpoint asks of the experiment side of a node: start and stop runs and protection.
public protocol NodeExperimentHost: Sendable {
    /// Starts `experiment` on `qubit` with `parameters` for `owner`; returns the run id.
    func start(experiment: String, qubit: String, parameters: [String: String], owner: String) throws(CommandFailure) -> String
    /// Stops run `id` (an experiment or a protection) started by `owner`.
    func stop(run id: String, owner: String) throws(CommandFailure)
    /// Stops every run on `resources` (a lease lapsed or was released).
    func stopRuns(on resources: [String])
    /// Turns `qubit`'s drive outputs off (its own channels only); returns the channel numbers.
    func disableDrive(of qubit: String) throws(CommandFailure) -> [Int]
    /// `qubit`'s excited population read with nothing driving it (its drive outputs off afterwards).
    func restingPopulation(of qubit: String, shots: Int) throws(CommandFailure) -> QubitBench.ExcitedFraction
    /// The runs, as JSON.
    var runs: JSONValue { get }
}

/// The node's command endpoint: a ZeroMQ ROUTER (REQ and DEALER clients both work), secured with CURVE
/// like the telemetry, where the layers above list resources, reserve them with a lease and a
/// time-to-live, start and stop experiments and protection, read state, acknowledge alarms, and reset a
/// qubit taken out of service.
///
/// Each request is one JSON object (``CommandRequest``) in the last frame, at most 64 KiB; each answer a
/// ``CommandReply``. Requests are authenticated by the CURVE handshake (the ZAP handler's allow-list); the
/// client's public key is its identity for leases. A lapsed lease releases its resources and stops its runs.
public final class CommandServer: Sendable {
    public static let maximumRequestBytes = 65_536
    /// Shots of the readout that checks a reset qubit rests in |0⟩.
    public static let resetCheckShots = 400
    /// The most a reset qubit may read |1⟩ (within two standard errors), readout errors included: a
    /// transmon's thermal population and a 97 % readout stay well inside it; a qubit left excited does not.
    public static let resetExcitedBound = 0.08

    /// Whether a reset qubit that read `resting` with nothing driving it rests in |0⟩: at most
    /// ``resetExcitedBound`` excited, within two standard errors.
    public static func restsInGround(_ resting: QubitBench.ExcitedFraction) -> Bool {
        resting.value <= resetExcitedBound + 2 * resting.standardError
    }
    /// The endpoint actually bound (wildcards resolved).
    public let endpoint: String
    public let leases: LeaseBook
    private let node: Node
    private let experiments: (any NodeExperimentHost)?
    private let context: ZMQContext
    private let authenticator: ZAPAuthenticator?
    private let worker = Mutex<WorkerThread?>(nil)
    private let logger: Logger
    private static let domain = "quantumrealm.commands"

    /// Binds `endpoint` with `security` (the station's telemetry security) and starts serving.
    public init(
        node: Node, endpoint: String, security: TelemetryServerSecurity, experiments: (any NodeExperimentHost)?,
        leases: LeaseBook = LeaseBook(), logger: Logger = Logger(label: "qrrm.commands")
    ) throws(StationStartError) {
        self.node = node
        self.experiments = experiments
        self.leases = leases
        self.logger = logger
        let socket: ZMQSocket
        do {
            context = try ZMQContext()
            if case let .curve(keys, allowed) = security {
                authenticator = try ZAPAuthenticator(context: context, allowedClientKeys: allowed, domain: Self.domain)
                socket = try context.socket(.router)
                try socket.makeCurveServer(secretKey: keys.secretKey, domain: Self.domain)
            } else {
                authenticator = nil
                socket = try context.socket(.router)
            }
            try socket.set(.maxMessageSize, Int64(Self.maximumRequestBytes))
            try socket.set(.linger, .milliseconds(200))
            self.endpoint = try socket.bind(endpoint)
        } catch {
            throw StationStartError("command endpoint \(endpoint): \(error)")
        }
        leases.onLapse.withLock { [experiments, logger] in
            $0 = { lease in
                logger.notice("lease \(lease.id) of \(lease.owner) ended; releasing \(lease.resources.joined(separator: ", "))")
                experiments?.stopRuns(on: lease.resources)
            }
        }
        let box = SocketBox(socket)
        worker.withLock { $0 = WorkerThread(name: "qrrm-commands") { [self] in serve(box.take(), $0) } }
    }

    /// Stops serving and closes the endpoint.
    public func stop() {
        guard let worker = worker.withLock({ w -> WorkerThread? in defer { w = nil }; return w }) else { return }
        worker.stop()
        authenticator?.stop()
        context.shutdown()
    }

    private func serve(_ socket: ZMQSocket, _ thread: WorkerThread) {
        var poller = ZMQPoller()
        _ = poller.add(socket)
        while !thread.isStopping {
            leases.expire()
            do {
                guard try poller.poll(timeout: .milliseconds(100)) > 0 else { continue }
                while let (envelope, body, user) = try receive(socket) {
                    let reply = handle(body, owner: user ?? "anonymous")
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                    let data = (try? encoder.encode(reply)) ?? Data("{\"ok\":false}".utf8)
                    try socket.send(multipart: envelope + [Array(data)], wait: .timeout(.seconds(1)))
                }
            } catch {
                if error.isContextTerminated { break }
                logger.error("command endpoint: \(error)")
            }
        }
    }

    /// One request: its routing envelope, its last frame, and the client's CURVE key (ZAP User-Id).
    private func receive(_ socket: ZMQSocket) throws(ZMQError) -> (envelope: [[UInt8]], body: [UInt8], user: String?)? {
        guard let (frames, user) = try socket.receiveMultipartWithUser(wait: .dontWait), frames.count >= 2 else { return nil }
        return (Array(frames.dropLast()), frames.last!, user)
    }

    /// Answers one request body.
    func handle(_ body: [UInt8], owner: String) -> CommandReply {
        let request: CommandRequest
        do { request = try JSONDecoder().decode(CommandRequest.self, from: Data(body)) } catch {
            return CommandReply(id: nil, ok: false, error: CommandFailure(.badRequest, "not a command object: \(Self.describe(error))"))
        }
        do {
            let result = try execute(request, owner: owner)
            return CommandReply(id: request.id, ok: true, result: result)
        } catch {
            logger.info("command \(request.command) from \(owner) refused: \(error)")
            return CommandReply(id: request.id, ok: false, error: error)
        }
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case let DecodingError.keyNotFound(key, _): "missing \"\(key.stringValue)\""
        case let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context):
            "\"\(context.codingPath.map(\.stringValue).joined(separator: "."))\": \(context.debugDescription)"
        case let DecodingError.dataCorrupted(context): context.debugDescription
        default: "\(error)"
        }
    }

    private func required<T>(_ value: T?, _ name: String, _ command: String) throws(CommandFailure) -> T {
        guard let value else { throw CommandFailure(.badRequest, "\(command) needs \"\(name)\"") }
        return value
    }

    private func ttl(_ text: String?, _ command: String) throws(CommandFailure) -> Double {
        let text = try required(text, "ttl", command)
        do { return try Time(parsing: text).siValue } catch { throw CommandFailure(.badRequest, "ttl: \(error)") }
    }

    private func execute(_ request: CommandRequest, owner: String) throws(CommandFailure) -> JSONValue {
        let station = node.station
        switch request.command {
        case "resources":
            let latest = node.latestValues
            return .object([
                "node": .string(station.node),
                "qubits": .array(station.qubits.map { q in
                    .object(["name": .string(q.name), "generator": .string(q.generator), "readout": .string(q.readout)])
                }),
                "particles": .array(station.particles.map { p in .object(["name": .string(p.name), "type": .string(p.advertised.type)]) }),
                "instruments": .array(station.instruments.map { i in
                    .object(["id": .string(i.id), "model": .string(i.kind.rawValue), "resource": .string(i.resource.description)])
                }),
                "channels": .array(station.channels.map { c in
                    .object(["name": .string(c.name), "instrument": .string(c.instrument), "unit": .string(c.reading.unit),
                             "value": .number(latest[c.name] ?? .nan)])
                }),
                "leases": JSONValue.encoding(leases.all),
            ])
        case "state":
            let status = node.status
            return .object([
                "admitted": .bool(status.admitted),
                "tripped": .array(status.tripped.map(JSONValue.string)),
                "trips": .array(status.trips.map { t in
                    .object(["interlock": .string(t.interlock), "severity": .string(t.severity.rawValue), "value": .number(t.value),
                             "cycle": .number(Double(t.cycle)), "safeByCycle": .number(Double(t.safeByCycle)),
                             "actions": .array(t.actions.map(JSONValue.string))])
                }),
                "loop": .object(["cycles": .number(Double(status.cycles)), "latencyP99Ns": .number(Double(status.latencyP99)),
                                 "deadlineMisses": .number(Double(status.deadlineMisses))]),
                "values": .object(status.latest.mapValues(JSONValue.number)),
                "runs": experiments?.runs ?? .array([]),
            ])
        case "reserve":
            let resources = try required(request.resources, "resources", "reserve")
            let known = Set(station.qubits.map(\.name) + station.particles.map(\.name) + station.instruments.map(\.id) + station.channels.map(\.name))
            if let unknown = resources.first(where: { !known.contains($0) }) {
                throw CommandFailure(.unknownResource, "no resource \"\(unknown)\"; reserve qubits, particles, instruments or channels: \(known.sorted().joined(separator: ", "))")
            }
            return JSONValue.encoding(try leases.reserve(resources, owner: owner, ttl: try ttl(request.ttl, "reserve")))
        case "renew":
            return JSONValue.encoding(try leases.renew(try required(request.lease, "lease", "renew"), owner: owner, ttl: try ttl(request.ttl, "renew")))
        case "release":
            try leases.release(try required(request.lease, "lease", "release"), owner: owner)
            return .object([:])
        case "acknowledge":
            let name = try required(request.interlock, "interlock", "acknowledge")
            guard station.interlocks.contains(where: { $0.name == name }) else {
                throw CommandFailure(.unknownResource, "no interlock \"\(name)\"; the interlocks are \(station.interlocks.map(\.name).joined(separator: ", "))")
            }
            guard node.status.tripped.contains(name) else { return .object(["rearmed": .bool(false), "wasTripped": .bool(false)]) }
            guard node.acknowledge(name) else { throw CommandFailure(.stillTripped, "\(name) still trips; it re-arms once its condition clears") }
            return .object(["rearmed": .bool(true), "wasTripped": .bool(true)])
        case "start", "protect":
            guard let experiments else { throw CommandFailure(.failed, "this node runs no experiments") }
            let qubit = try required(request.qubit, "qubit", request.command)
            guard station.qubits.contains(where: { $0.name == qubit }) else { throw CommandFailure(.unknownResource, "no qubit \"\(qubit)\"") }
            try leases.check(request.lease, owner: owner, holds: qubit)
            let name = request.command == "protect" ? "protect" : try required(request.experiment, "experiment", "start")
            var parameters: [String: String] = [:]
            for (key, value) in request.parameters ?? [:] {
                if case let .array(items) = value {
                    parameters[key] = items.compactMap(\.text).joined(separator: ",")
                } else {
                    guard let text = value.text else { throw CommandFailure(.badRequest, "parameter \(key) must be a number, text or list") }
                    parameters[key] = text
                }
            }
            return .object(["run": .string(try experiments.start(experiment: name, qubit: qubit, parameters: parameters, owner: owner))])
        case "stop":
            guard let experiments else { throw CommandFailure(.failed, "this node runs no experiments") }
            try experiments.stop(run: try required(request.run, "run", "stop"), owner: owner)
            return .object([:])
        case "reset":
            // The safe disposal of a retired qubit (or particle): no lease holds it, nothing runs on it, nothing drives it.
            let qubit = try required(request.qubit, "qubit", "reset")
            let isQubit = station.qubits.contains { $0.name == qubit }
            guard isQubit || station.particles.contains(where: { $0.name == qubit }) else {
                throw CommandFailure(.unknownResource, "no qubit or particle \"\(qubit)\"")
            }
            let ended = leases.end(holding: qubit)
            experiments?.stopRuns(on: [qubit])
            var reply: [String: JSONValue] = ["qubit": .string(qubit), "leasesEnded": .array(ended.map { .string($0.id) })]
            if isQubit, let experiments {
                let outputs = try experiments.disableDrive(of: qubit)
                reply["outputsOff"] = .array(outputs.map { .number(Double($0)) })
                // Then check that it rests in |0⟩: read it alone, nothing driving it.
                let resting = try experiments.restingPopulation(of: qubit, shots: Self.resetCheckShots)
                let grounded = Self.restsInGround(resting)
                reply["excitedPopulation"] = .number(resting.value)
                reply["standardError"] = .number(resting.standardError)
                reply["shots"] = .number(Double(resting.shots))
                reply["groundState"] = .bool(grounded)
                logger.notice("\(qubit) reset for \(owner): leases \(ended.map(\.id)) ended, drive outputs \(outputs) off, reads |1⟩ in \(resting.value) ± \(resting.standardError) of \(resting.shots) shots\(grounded ? "" : ", above the \(Self.resetExcitedBound) bound")")
            } else {
                reply["outputsOff"] = .array([])
                logger.notice("\(qubit) reset for \(owner): leases \(ended.map(\.id)) ended")
            }
            return .object(reply)
        default:
            throw CommandFailure(
                .unknownCommand,
                "unknown command \"\(request.command)\"; the commands are resources, state, reserve, renew, release, acknowledge, start, protect, stop, reset")
        }
    }
}

/// Hands a socket to the thread that will own it (a zmq socket is used by one thread at a time).
final class SocketBox: @unchecked Sendable {
    private var socket: ZMQSocket?
    init(_ socket: ZMQSocket) { self.socket = socket }
    func take() -> ZMQSocket {
        defer { socket = nil }
        return socket!
    }
}
