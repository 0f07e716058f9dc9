import Foundation
import HAL
import Synchronization

/// Everything the physics model needs from a profile.
public struct PhysicsSpec: Sendable, Hashable {
    public var thermal: ThermalSpec
    /// Where each stage starts, in K; missing stages start at room temperature.
    public var initialKelvin: [StageID: Double]
    public var initialPhase: CirculationPhase
    /// Heater outputs by id (e.g. `sample`, `warmup`, `still`).
    public var heaters: [String: HeaterLoop]
    public var gauges: [PressureGaugeSpec]
    public var field: MagneticFieldSpec
    public var seed: UInt64

    public init(
        thermal: ThermalSpec, initialKelvin: [StageID: Double], initialPhase: CirculationPhase,
        heaters: [String: HeaterLoop], gauges: [PressureGaugeSpec], field: MagneticFieldSpec, seed: UInt64
    ) {
        self.thermal = thermal
        self.initialKelvin = initialKelvin
        self.initialPhase = initialPhase
        self.heaters = heaters
        self.gauges = gauges
        self.field = field
        self.seed = seed
    }
}

/// A pressure spike: every gauge reads `factor` times higher, decaying with time constant `decaySeconds`.
public struct PressureSpike: Sendable, Hashable {
    public var start: Double
    public var factor: Double
    public var decaySeconds: Double

    func multiplier(at time: Double) -> Double {
        guard time >= start else { return 1 }
        return 1 + (factor - 1) * exp(-(time - start) / decaySeconds)
    }
}

/// One gauge reading: the pressure in mbar and whether it is inside the gauge's range.
public struct GaugeReading: Sendable, Hashable {
    public enum Status: Sendable, Hashable { case ok, underRange, overRange }
    public var millibar: Double
    public var status: Status
}

/// The fridge in simulated time: the thermal network, its heaters, gauges, field and injected faults.
/// Safe to share between the clock thread and the instruments' connection threads.
public final class CryostatModel: Sendable {
    struct State: Sendable {
        var network: ThermalNetwork
        var heaters: [String: HeaterLoop]
        var spikes: [PressureSpike] = []
        var openCircuits: Set<String> = []
        var random: SeededGenerator
    }

    public let spec: PhysicsSpec
    private let state: Mutex<State>

    public init(spec: PhysicsSpec) {
        self.spec = spec
        let network = ThermalNetwork(spec: spec.thermal, initialKelvin: spec.initialKelvin, phase: spec.initialPhase)
        state = Mutex(State(network: network, heaters: spec.heaters, random: SeededGenerator(seed: spec.seed)))
    }

    /// Simulated seconds since the model started.
    public var time: Double { state.withLock { $0.network.time } }

    /// A stage's temperature in K.
    public func temperature(of stage: StageID) -> Double {
        state.withLock { $0.network.temperature(of: stage) }
    }

    /// What the gas handling is doing.
    public var phase: CirculationPhase { state.withLock { $0.network.phase } }

    /// Circulation of ³He in mol/s.
    public var circulation: Double { state.withLock { $0.network.circulation } }

    /// The stages this fridge has.
    public var stages: [StageID] { spec.thermal.stages.map(\.id) }

    /// The longest stretch of simulated time advanced under one hold of the model's lock: a long advance
    /// is taken in chunks of this, so the instruments' queries are served between them.
    static let lockedChunkSeconds = 600.0

    /// Advances simulated time by `seconds`, running the heater controllers every step (1 s while a
    /// loop is closed, up to 60 s otherwise). A non-finite or non-positive interval does nothing.
    public func advance(by seconds: Double) {
        guard seconds.isFinite, seconds > 0 else { return }
        let chunks = (seconds / Self.lockedChunkSeconds).rounded(.up)
        let chunk = seconds / chunks
        // (An interval beyond 2^62 chunks cannot be finished anyway; it is not allowed to trap.)
        for _ in 0..<Int(min(chunks, 0x1p62)) {
            state.withLock { state in
                let controlled = state.heaters.values.contains { [.closedLoop, .zone, .warmUp].contains($0.mode) && $0.fullScaleCurrent > 0 }
                state.network.advance(by: chunk, maxStep: controlled ? 1 : 60, heaters: &state.heaters)
                let now = state.network.time
                state.spikes.removeAll { now - $0.start > 20 * $0.decaySeconds }
            }
        }
    }

    /// Reads or changes one heater output; nil when the profile has no heater `id`.
    @discardableResult
    public func withHeater<R>(_ id: String, _ body: (inout HeaterLoop, _ controlTemperature: Double) -> R) -> R? {
        state.withLock { state in
            guard var heater = state.heaters[id] else { return nil }
            let result = body(&heater, state.network.temperature(of: heater.controlStage))
            state.heaters[id] = heater
            return result
        }
    }

    /// A gauge's reading, or nil when the profile has no gauge `id`.
    public func pressure(gauge id: String) -> GaugeReading? {
        guard let gauge = spec.gauges.first(where: { $0.id == id }) else { return nil }
        return state.withLock { state in
            let network = state.network
            var millibar = gauge.millibar(stageKelvin: network.temperature(of: gauge.stage), circulation: network.circulation)
            for spike in state.spikes { millibar *= spike.multiplier(at: network.time) }
            let status: GaugeReading.Status =
                millibar < gauge.minimumMillibar ? .underRange : millibar > gauge.maximumMillibar ? .overRange : .ok
            return GaugeReading(millibar: millibar, status: status)
        }
    }

    /// One sample of the field vector at the sample, in tesla.
    public func magneticField() -> (x: Double, y: Double, z: Double) {
        let field = spec.field
        return state.withLock { state in
            guard field.noise > 0 else { return (field.x, field.y, field.z) }
            return (field.x + field.noise * state.random.gaussian(),
                    field.y + field.noise * state.random.gaussian(),
                    field.z + field.noise * state.random.gaussian())
        }
    }

    // MARK: Scenarios and faults

    /// Starts a cooldown: pulse tube on, heat switches closed; condensing follows automatically.
    public func startCooldown() {
        state.withLock { $0.network.setPhase(.precooling) }
    }

    /// Starts a warm-up: pulse tube and circulation off (the heaters then warm the fridge).
    public func startWarmUp() {
        state.withLock { $0.network.setPhase(.warmingUp) }
    }

    /// Sets the gas-handling phase directly.
    public func setPhase(_ phase: CirculationPhase) {
        state.withLock { $0.network.setPhase(phase) }
    }

    /// A quench: `energy` joules dumped on `stage` over `seconds`, starting now.
    public func quench(stage: StageID, energy: Double, seconds: Double) {
        state.withLock { state in
            state.network.add(HeatPulse(stage: stage, start: state.network.time, duration: max(seconds, 1e-3), energy: energy))
        }
    }

    /// A pressure spike on every gauge, starting now.
    public func pressureSpike(factor: Double, decaySeconds: Double) {
        state.withLock { state in
            state.spikes.append(PressureSpike(start: state.network.time, factor: factor, decaySeconds: max(decaySeconds, 1e-3)))
        }
    }

    /// Opens or closes the leads of a sensor, named `<instrument id>/<channel>`.
    public func setOpenCircuit(_ sensor: String, _ open: Bool) {
        state.withLock { state in
            if open { state.openCircuits.insert(sensor) } else { state.openCircuits.remove(sensor) }
        }
    }

    /// Whether a sensor's leads are open.
    public func isOpenCircuit(_ sensor: String) -> Bool {
        state.withLock { $0.openCircuits.contains(sensor) }
    }
}
