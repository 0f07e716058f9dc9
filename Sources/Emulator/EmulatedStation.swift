import Foundation
import HAL
import Synchronization

/// A station's instruments could not be reached as asked.
public enum StationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No instrument has this id.
    case unknownInstrument(id: String, known: [String])
    /// A TCP port could not be opened.
    case serve(ServeError)

    public var description: String {
        switch self {
        case let .unknownInstrument(id, known):
            "the station has no instrument \"\(id)\"; its instruments are \(known.joined(separator: ", "))"
        case let .serve(error): error.description
        }
    }
}

/// Where one instrument is being served.
public struct ServedEndpoint: Sendable, Hashable {
    public var id: String
    public var kind: InstrumentKind
    public var host: String
    public var port: UInt16
    /// The VISA resource name a driver connects to.
    public var resource: ResourceName { ResourceName(.tcpSocket(board: 0, host: host, port: port)) }
}

/// An emulated station: the fridge model and its instruments, built from a HardwareProfile, reachable
/// in-process (`LOOPBACK::<id>`) or over TCP, with simulated time advanced by hand or by a background
/// clock running at the profile's speed factor.
public final class EmulatedStation: Sendable {
    public let profile: HardwareProfile
    public let model: CryostatModel
    /// The qubits the station's pulse generators drive and its readouts measure (none without `qubits:`).
    public let testbed: QubitTestbed
    private let twins: [String: any InstrumentTwin]
    private let injectors: [String: FaultInjector]
    private let servers = Mutex<[TCPInstrumentServer]>([])
    private let pendingEvents: Mutex<[ScheduledEvent]>
    private let speed: Mutex<Double>
    private let clockStop = Atomic<Bool>(true)
    private let clockDone = DispatchGroup()

    /// Loads the profile at `url` and builds the station.
    public convenience init(profile url: URL) throws(ProfileError) {
        self.init(profile: try HardwareProfile(contentsOf: url))
    }

    public init(profile: HardwareProfile) {
        self.profile = profile
        // The loader caps the factor; one set on the profile afterwards is brought into range here.
        let factor = profile.speedFactor
        speed = Mutex(factor.isFinite && factor > 0 ? min(factor, HardwareProfile.maximumSpeedFactor) : 1)
        model = CryostatModel(spec: profile.physics)
        do {
            testbed = try QubitTestbed(profile.testbed ?? TestbedSpec(qubits: [], readouts: [], seed: profile.physics.seed))
        } catch {
            // The profile loader validates the section; a profile built in code with a bad one is a programmer error.
            preconditionFailure("invalid qubits in profile \(profile.name): \(error)")
        }
        var twins: [String: any InstrumentTwin] = [:]
        var injectors: [String: FaultInjector] = [:]
        for (index, instrument) in profile.instruments.enumerated() {
            switch instrument.kind {
            case .lakeShore372: twins[instrument.id] = LakeShore372Twin(profile: instrument, model: model)
            case .triton: twins[instrument.id] = TritonTwin(profile: instrument, model: model)
            case .tpg366: twins[instrument.id] = MaxiGaugeTwin(profile: instrument, model: model)
            case .f71: twins[instrument.id] = F71Twin(profile: instrument, model: model)
            case .keysight33500B:
                twins[instrument.id] = Keysight33500BTwin(
                    profile: instrument, bench: testbed, model: instrument.modelNumber ?? "33522B", options: instrument.options)
            case .awg5200:
                twins[instrument.id] = TektronixAWG5200Twin(
                    profile: instrument, bench: testbed, model: instrument.modelNumber ?? "AWG5204",
                    options: instrument.options.isEmpty ? ["50", "SEQ"] : instrument.options)
            case .infiniiVision:
                let read = (profile.testbed?.qubits ?? []).filter { $0.readout == instrument.id }.count
                let tones = instrument.tones.isEmpty ? (0..<max(read, 1)).map { 25e6 + 20e6 * Double($0) } : instrument.tones
                twins[instrument.id] = KeysightInfiniiVisionTwin(
                    profile: instrument, bench: testbed, model: instrument.modelNumber ?? "DSOX3034T", tones: tones,
                    seed: profile.physics.seed &+ UInt64(index + 1))
            }
            injectors[instrument.id] = FaultInjector(profile: instrument.faults, seed: profile.physics.seed &+ UInt64(index + 1))
            for channel in instrument.faults.openCircuitChannels { model.setOpenCircuit("\(instrument.id)/\(channel)", true) }
        }
        self.twins = twins
        self.injectors = injectors
        pendingEvents = Mutex(profile.events.sorted { $0.at < $1.at })
    }

    /// The twin serving instrument `id`.
    func profileTwin(_ id: String) -> (any InstrumentTwin)? {
        twins[id]
    }

    /// The instrument ids, in profile order.
    public var instrumentIDs: [String] { profile.instruments.map(\.id) }

    private func lookup(_ id: String) throws(StationError) -> (any InstrumentTwin, FaultInjector) {
        guard let twin = twins[id], let faults = injectors[id] else { throw .unknownInstrument(id: id, known: instrumentIDs) }
        return (twin, faults)
    }

    /// A new in-process connection to instrument `id` (`LOOPBACK::<id>`).
    public func loopbackTransport(for id: String) throws(StationError) -> LoopbackTransport {
        let (twin, faults) = try lookup(id)
        return LoopbackTransport(id: id, session: twin.makeSession(), faults: faults)
    }

    /// Serves every instrument on `host`: on its profile port, or its documented port when the profile
    /// names none (port 0 picks a free one). Returns where each one listens.
    public func serveTCP(host: String = "127.0.0.1") throws(StationError) -> [ServedEndpoint] {
        var endpoints: [ServedEndpoint] = []
        for instrument in profile.instruments {
            let (twin, faults) = try lookup(instrument.id)
            do {
                let server = try TCPInstrumentServer(twin: twin, faults: faults, host: host, port: instrument.port ?? instrument.kind.documentedPort)
                servers.withLock { $0.append(server) }
                endpoints.append(ServedEndpoint(id: instrument.id, kind: instrument.kind, host: host, port: server.port))
            } catch {
                stopServing()
                throw .serve(error)
            }
        }
        return endpoints
    }

    /// Closes every TCP listener and connection.
    public func stopServing() {
        let running = servers.withLock { servers in
            defer { servers.removeAll() }
            return servers
        }
        for server in running { server.stop() }
    }

    /// Changes an instrument's reply faults at run time.
    public func setFaults(_ faults: FaultProfile, for id: String) throws(StationError) {
        let (_, injector) = try lookup(id)
        injector.profile = faults
    }

    /// Advances simulated time by `seconds`, firing the profile's scheduled events on the way.
    public func advance(by seconds: Double) {
        var remaining = seconds
        while remaining > 0 {
            let now = model.time
            let next = pendingEvents.withLock { events -> ScheduledEvent? in
                guard let first = events.first, first.at <= now + remaining else { return nil }
                events.removeFirst()
                return first
            }
            guard let event = next else {
                model.advance(by: remaining)
                return
            }
            let step = max(event.at - now, 0)
            model.advance(by: step)
            remaining -= step
            apply(event.action)
        }
    }

    private func apply(_ action: ScheduledEvent.Action) {
        switch action {
        case let .quench(stage, joules, seconds): model.quench(stage: stage, energy: joules, seconds: seconds)
        case let .pressureSpike(factor, decay): model.pressureSpike(factor: factor, decaySeconds: decay)
        case let .openCircuit(sensor, open): model.setOpenCircuit(sensor, open)
        case .cooldown: model.startCooldown()
        case .warmUp: model.startWarmUp()
        }
    }

    /// Simulated seconds per real second for the background clock: the profile's, or the last one set,
    /// never more than `HardwareProfile.maximumSpeedFactor`.
    public var speedFactor: Double { speed.withLock { $0 } }

    /// Changes the background clock's speed; throws unless 0 < `factor` ≤ `HardwareProfile.maximumSpeedFactor`.
    public func setSpeedFactor(_ factor: Double) throws(SpeedFactorError) {
        let checked = try HardwareProfile.checkedSpeedFactor(factor)
        speed.withLock { $0 = checked }
    }

    /// Runs simulated time in a background thread: every 10 ms of real time it advances by the real
    /// time elapsed × `speedFactor`, until `stopClock()`.
    public func startClock() {
        guard clockStop.exchange(false, ordering: .acquiringAndReleasing) else { return }
        clockDone.enter()
        let thread = Thread { [self] in
            let clock = ContinuousClock()
            var last = clock.now
            while !clockStop.load(ordering: .acquiring) {
                Thread.sleep(forTimeInterval: 0.01)
                let now = clock.now
                advance(by: last.duration(to: now).seconds * speedFactor)
                last = now
            }
            clockDone.leave()
        }
        thread.start()
    }

    /// Stops the background clock and waits for it.
    public func stopClock() {
        guard !clockStop.exchange(true, ordering: .acquiringAndReleasing) else { return }
        clockDone.wait()
    }

    deinit {
        stopClock()
        stopServing()
    }
}
