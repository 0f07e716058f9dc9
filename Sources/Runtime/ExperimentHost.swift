import Drivers
import Emulator
import Foundation
import HAL
import Logging
import Sequences
import Synchronization
import Telemetry

extension QubitBench {
    /// Qubit `entry` as the station wires it: its generator and readout drivers, the compiler at the station's
    /// sample rate, the readout marker, the discriminator and π pulse it calibrates.
    public init(_ entry: Station.QubitEntry, instruments: StationInstruments) throws(ExperimentError) {
        guard case let .generator(generator)? = instruments.driver(entry.generator),
              case let .readout(readout)? = instruments.driver(entry.readout) else {
            throw .unknownQubit(name: entry.name, reason: "its generator \(entry.generator) or readout \(entry.readout) is not open")
        }
        let wiring = DriveWiring(
            iChannel: entry.iChannel, qChannel: entry.qChannel, rabiPerVolt: entry.rabiPerVolt,
            readoutMarker: entry.marker, readout: entry.readout)
        self.init(
            name: entry.name, generator: generator, readout: readout,
            compiler: SequenceCompiler(capabilities: generator.capabilities, sampleRate: .samplesPerSecond(entry.sampleRate), wiring: wiring),
            discriminator: Discriminator(ground: entry.ground, excited: entry.excited),
            piPulse: Pulse(angle: .pi, phase: .pi / 2, duration: .seconds(entry.piPulse)),
            shotsPerTrigger: generator is Keysight33500B ? 50 : 1,
            // A trip stops the generator mid-acquisition; the readout then waits this long before the run aborts.
            fetchTimeout: .seconds(10),
            assignment: entry.fidelity.map { ReadoutAssignment(groundFidelity: $0.ground, excitedFidelity: $0.excited) })
    }
}

extension ExperimentPlan {
    /// The kind of result the plan produces.
    public var kind: ExperimentKind {
        switch self {
        case .cpmgSweep: .cpmg
        case .t1: .t1
        case .ramsey: .ramsey
        case .echo: .echo
        case .zeno: .zeno
        case .noiseSpectroscopy: .noiseSpectroscopy
        case .refresh: .refresh
        }
    }

    /// Runs the plan on `bench`; a refresh first measures the memory's coherence with its Ramsey.
    public func run(on bench: QubitBench, control: ExperimentControl) throws(ExperimentError) -> ExperimentResult {
        switch self {
        case let .cpmgSweep(plan): return try plan.run(on: bench, control: control)
        case let .t1(plan): return try plan.run(on: bench, control: control)
        case let .ramsey(plan): return try plan.run(on: bench, control: control)
        case let .echo(plan): return try plan.run(on: bench, control: control)
        case let .zeno(plan): return try plan.run(on: bench, control: control)
        case let .noiseSpectroscopy(plan): return try plan.run(on: bench, control: control)
        case let .refresh(ramsey, threshold, horizon, shots):
            let measured = try ramsey.run(on: bench, control: control)
            guard let model = CoherenceModel(ramsey: measured) else {
                throw .sequence(experiment: .refresh, qubit: bench.name, message: "the Ramsey fit gave no coherence model")
            }
            return try RefreshExperiment(model: model, threshold: threshold, horizon: horizon, shots: shots).run(on: bench, control: control)
        }
    }
}

/// The node's experiments: one run at a time per qubit, each on its own thread, aborted cleanly when the
/// station stops admitting experiments (a trip, a warm fridge), when stopped, or when its lease ends.
/// Results are published on `<node>/_experiment/<qubit>` and handed to ``onResult``.
public final class ExperimentHost: NodeExperimentHost {
    public struct Run: Sendable, Codable {
        public var id: String
        public var experiment: String
        public var qubit: String
        public var owner: String
        /// running, completed, aborted or failed.
        public var status: String
        public var summary: String
    }

    private let node: Node
    private let benches: [String: QubitBench]
    private let logger: Logger
    private let state = Mutex<(runs: [String: Run], stops: [String: String], next: Int)>(([:], [:], 1))
    private let finished = Mutex<[String: DispatchSemaphore]>([:])
    /// Called with each finished (or aborted) result, on the run's thread.
    public let onResult = Mutex<(@Sendable (ExperimentResult) -> Void)?>(nil)
    /// Called with each progress report, on the run's thread.
    public let onProgress = Mutex<(@Sendable (ExperimentProgress) -> Void)?>(nil)

    public init(node: Node, logger: Logger = Logger(label: "qrrm.experiments")) throws(ExperimentError) {
        self.node = node
        self.logger = logger
        var benches: [String: QubitBench] = [:]
        for entry in node.station.qubits { benches[entry.name] = try QubitBench(entry, instruments: node.instruments) }
        self.benches = benches
    }

    /// Why a run must stop now, or nil.
    private func abortReason(_ id: String) -> String? {
        if let reason = state.withLock({ $0.stops[id] }) { return reason }
        guard node.isAdmitted else {
            let tripped = node.status.tripped
            return tripped.isEmpty ? "the station no longer admits experiments (\(node.station.admission.map { "\($0.channel) above its limit" } ?? "not admitted"))"
                : "interlock \(tripped.joined(separator: ", ")) tripped"
        }
        return nil
    }

    /// Runs `plan` on `qubit` on this thread (for `qrrm run`), refusing when the station does not admit it.
    public func runNow(_ name: String, qubit: String, plan: ExperimentPlan, owner: String = "run plan") throws(ExperimentError) -> ExperimentResult {
        guard let bench = benches[qubit] else { throw .unknownQubit(name: qubit, reason: "not on this station") }
        let id = try register(name, qubit: qubit, owner: owner)
        defer { _ = finished.withLock { $0[id]?.signal() } }
        return try execute(id, plan: plan, bench: bench)
    }

    private func register(_ name: String, qubit: String, owner: String) throws(ExperimentError) -> String {
        try state.withLock { (s) throws(ExperimentError) -> String in
            if let busy = s.runs.values.first(where: { $0.qubit == qubit && $0.status == "running" }) {
                throw .unknownQubit(name: qubit, reason: "busy with run \(busy.id) (\(busy.experiment))")
            }
            let id = "run-\(s.next)"
            s.next += 1
            s.runs[id] = Run(id: id, experiment: name, qubit: qubit, owner: owner, status: "running", summary: "")
            finished.withLock { $0[id] = DispatchSemaphore(value: 0) }
            return id
        }
    }

    private func execute(_ id: String, plan: ExperimentPlan, bench: QubitBench) throws(ExperimentError) -> ExperimentResult {
        let control = ExperimentControl(
            abortReason: { [self] in abortReason(id) },
            progress: { [self] progress in onProgress.withLock { $0 }?(progress) })
        let outcome: Result<ExperimentResult, ExperimentError>
        do { outcome = .success(try plan.run(on: bench, control: control)) } catch { outcome = .failure(error) }
        let result: ExperimentResult?
        let status: String, summary: String
        switch outcome {
        case let .success(r): (result, status, summary) = (r, r.status.rawValue, r.summary)
        case let .failure(.aborted(reason, partial)): (result, status, summary) = (partial, "aborted", reason)
        case let .failure(error): (result, status, summary) = (nil, "failed", error.description)
        }
        state.withLock {
            $0.runs[id]?.status = status
            $0.runs[id]?.summary = summary
        }
        var payload = WirePayload()
        if let result {
            payload.result = result.telemetry(experimentID: "\(node.station.node)/\(id)")
            onResult.withLock { $0 }?(result)
        } else {
            // A failure has no data, but its subscribers still hear that it ended, and why.
            var failure = WireExperimentResult()
            failure.experimentID = "\(node.station.node)/\(id)"
            failure.kind = plan.kind.rawValue
            failure.status = status
            var reason = WireQuantity()
            reason.name = "error: \(summary)"
            reason.value = .nan
            failure.values = [reason]
            payload.result = failure
        }
        node.publish(payload, instrument: "_experiment", channel: bench.name)
        logger.notice("\(id) \(status): \(summary)")
        return try outcome.get()
    }

    public func start(experiment: String, qubit: String, parameters: [String: String], owner: String) throws(CommandFailure) -> String {
        let step = RunStep(experiment: experiment == "protect" ? "refresh" : experiment, qubit: qubit, parameters: parameters)
        let plan: ExperimentPlan
        do {
            guard case let .experiment(_, _, p) = try RunPlan.plan(step) else {
                throw CommandFailure(.badRequest, "\(experiment) is not an experiment")
            }
            plan = p
        } catch let error as CommandFailure { throw error } catch let error as ProfileError {
            throw CommandFailure(.badRequest, "\(experiment): \(error.keyPath.isEmpty ? "" : "\(error.keyPath): ")\(error.message)")
        } catch { throw CommandFailure(.badRequest, "\(error)") }
        guard let bench = benches[qubit] else { throw CommandFailure(.unknownResource, "no qubit \"\(qubit)\"") }
        guard node.isAdmitted else { throw CommandFailure(.notAdmitted, abortReason("") ?? "the station does not admit experiments") }
        let id: String
        do { id = try register(experiment, qubit: qubit, owner: owner) } catch { throw CommandFailure(.busy, error.description) }
        let thread = Thread { [self] in
            defer { _ = finished.withLock { $0[id]?.signal() } }
            if experiment == "protect" {
                // Protection repeats refresh cycles until it is stopped or aborted.
                while abortReason(id) == nil { if (try? execute(id, plan: plan, bench: bench)) == nil { break } }
            } else {
                _ = try? execute(id, plan: plan, bench: bench)
            }
        }
        thread.name = "qrrm-\(id)"
        thread.start()
        return id
    }

    public func stop(run id: String, owner: String) throws(CommandFailure) {
        try state.withLock { (s) throws(CommandFailure) in
            guard let run = s.runs[id] else { throw CommandFailure(.unknownResource, "no run \(id)") }
            guard run.owner == owner else { throw CommandFailure(.unauthorized, "run \(id) belongs to another client") }
            s.stops[id] = "stopped by its owner"
        }
        _ = finished.withLock { $0[id] }?.wait(timeout: .now() + 30)
    }

    public func stopRuns(on resources: [String]) {
        let stopping = state.withLock { s -> [String] in
            let ids = s.runs.values.filter { $0.status == "running" && resources.contains($0.qubit) }.map(\.id)
            for id in ids { s.stops[id] = "its lease ended" }
            return ids
        }
        for id in stopping { _ = finished.withLock { $0[id] }?.wait(timeout: .now() + 30) }
    }

    /// The qubit's excited population with nothing driving it: `shots` shots of a readout alone
    /// (`SequenceCompiler.compileReadout`), with the drive outputs turned off again afterwards. After a reset,
    /// this is how close to |0⟩ the qubit relaxed (readout errors included, unless the bench is calibrated).
    /// Like an experiment, it needs the station to admit experiments: a tripped interlock keeps outputs off.
    public func restingPopulation(of qubit: String, shots: Int) throws(CommandFailure) -> QubitBench.ExcitedFraction {
        guard let bench = benches[qubit] else { throw CommandFailure(.unknownResource, "no qubit \"\(qubit)\"") }
        guard node.isAdmitted else {
            throw CommandFailure(.notAdmitted, "\(qubit): \(abortReason("") ?? "the station does not admit experiments"), so its resting state cannot be read yet")
        }
        let program: PulseProgram
        do { program = try bench.compiler.compileReadout() } catch {
            throw CommandFailure(.failed, "\(qubit): cannot compile a readout for its generator: \(error.message)")
        }
        defer { try? bench.stopOutputs() }
        do { return try bench.acquire(program, shots: shots)[0] } catch {
            throw CommandFailure(.failed, "\(qubit): the readout of its resting state failed: \(error)")
        }
    }

    /// `OUTPut<n>[:STATe] OFF` (through the generator's driver) on each of the qubit's drive channels.
    public func disableDrive(of qubit: String) throws(CommandFailure) -> [Int] {
        guard let bench = benches[qubit] else { throw CommandFailure(.unknownResource, "no qubit \"\(qubit)\"") }
        let channels = Set([bench.compiler.wiring.iChannel, bench.compiler.wiring.qChannel]).sorted()
        do {
            for channel in channels { try bench.generator.setOutput(channel, enabled: false) }
        } catch {
            throw CommandFailure(.failed, "\(qubit): could not turn its drive outputs off: \(error)")
        }
        return channels
    }

    public var runs: JSONValue { JSONValue.encoding(state.withLock { Array($0.runs.values) }.sorted { $0.id < $1.id }) }

    /// The run `id`, if any.
    public func run(_ id: String) -> Run? { state.withLock { $0.runs[id] } }
}
