import Foundation
import HAL

/// The thermal stages of the emulated dilution refrigerator, warmest first.
public enum StageID: String, Sendable, Hashable, CaseIterable, Comparable {
    case fiftyKelvin, fourKelvin, still, coldPlate, mixingChamber, sample

    /// The HAL stage this is, when it is one of the five standard stages.
    public var cryostatStage: CryostatStage? {
        switch self {
        case .fiftyKelvin: .fiftyKelvin
        case .fourKelvin: .fourKelvin
        case .still: .still
        case .coldPlate: .coldPlate
        case .mixingChamber: .mixingChamber
        case .sample: nil
        }
    }

    var index: Int { Self.allCases.firstIndex(of: self)! }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.index < rhs.index }
}

/// One end of a thermal link: a stage, or the room-temperature vacuum can.
public enum ThermalNode: Sendable, Hashable {
    case room
    case stage(StageID)
}

/// A heat path whose conductance is a power law, G(T) = c·Tⁿ W/K, so the heat it carries from a
/// (warmer) to b is ∫G dT = c/(n+1)·(T_a^{n+1} − T_b^{n+1}). n ≈ 1 for metals, 2–3 for insulating
/// supports, and n = 3 with c = 4σεA for radiation.
public struct ThermalLink: Sendable, Hashable {
    public var a: ThermalNode
    public var b: ThermalNode
    /// c in W K^-(n+1).
    public var coefficient: Double
    /// n.
    public var exponent: Double
    /// The phases in which the link conducts (nil: always). A gas-gap heat switch conducts only while
    /// precooling; the liquid mixture couples the still, cold plate and mixing chamber while condensing.
    public var onlyDuring: Set<CirculationPhase>?

    public init(_ a: ThermalNode, _ b: ThermalNode, coefficient: Double, exponent: Double, onlyDuring: Set<CirculationPhase>? = nil) {
        self.a = a
        self.b = b
        self.coefficient = coefficient
        self.exponent = exponent
        self.onlyDuring = onlyDuring
    }

    /// Heat flowing from a to b, in watts.
    func heat(_ ta: Double, _ tb: Double) -> Double {
        let m = exponent + 1
        return coefficient / m * (pow(ta, m) - pow(tb, m))
    }
}

/// One stage: its materials (moles of each), its static heat load and its starting temperature.
public struct StageSpec: Sendable, Hashable {
    public struct Material: Sendable, Hashable {
        public var name: String
        public var heatCapacity: HeatCapacityModel
        public var moles: Double
        public init(name: String, heatCapacity: HeatCapacityModel, moles: Double) {
            self.name = name
            self.heatCapacity = heatCapacity
            self.moles = moles
        }
    }

    public var id: StageID
    public var materials: [Material]
    /// Heat arriving from wiring, radiation and vibration that the links do not model, in watts.
    public var staticLoad: Double

    public init(id: StageID, materials: [Material], staticLoad: Double) {
        self.id = id
        self.materials = materials
        self.staticLoad = staticLoad
    }

    /// Heat capacity at `kelvin`, in J/K.
    public func heatCapacity(at kelvin: Double) -> Double {
        materials.reduce(0) { $0 + $1.moles * $1.heatCapacity.molar(at: kelvin) }
    }
}

/// The pulse-tube cooler: cooling-power curves of its first (50 K) and second (4 K) stage.
public struct PulseTubeSpec: Sendable, Hashable {
    public var firstStage: CoolingCurve
    public var secondStage: CoolingCurve
    public init(firstStage: CoolingCurve, secondStage: CoolingCurve) {
        self.firstStage = firstStage
        self.secondStage = secondStage
    }
}

/// The dilution unit: circulation, still evaporation and heat exchangers.
///
/// The still is pumped at a fixed speed, so ³He leaves it at a rate set by its vapour pressure,
/// ṅ(T) = ṅ_ref·exp(T_L/T_ref − T_L/T) (Clausius–Clapeyron with T_L = L/R), capped by the pump's
/// throughput. Its evaporation cools the still by ṅ·L; the still heater therefore sets the circulation,
/// as in a real fridge. The dilute stream leaving the mixing chamber absorbs 95·(T_cp² − T_mc²) J/mol in
/// the heat exchanger anchored on the cold plate (times an effectiveness), and the mixing chamber is
/// cooled by ṅ(95 T_mc² − 11 T_in²) with T_in = T_mc, an ideal last heat exchanger (Pobell ch. 7).
public struct DilutionUnitSpec: Sendable, Hashable {
    /// ṅ_ref, the circulation at the still's reference temperature, in mol/s.
    public var nominalCirculation: Double
    /// The pump's largest throughput, in mol/s.
    public var maximumCirculation: Double
    /// T_ref in K.
    public var stillReferenceKelvin: Double
    /// Latent heat of ³He, L, in J/mol.
    public var latentHeat: Double
    /// Effectiveness (0…1) of the heat exchanger on the cold plate.
    public var heatExchangerEffectiveness: Double
    /// How long condensing the mixture takes, in seconds.
    public var condensingSeconds: Double
    /// The 4 K plate temperature below which condensing starts, in K.
    public var condenseBelowKelvin: Double

    public init(
        nominalCirculation: Double, maximumCirculation: Double, stillReferenceKelvin: Double,
        latentHeat: Double, heatExchangerEffectiveness: Double, condensingSeconds: Double,
        condenseBelowKelvin: Double
    ) {
        self.nominalCirculation = nominalCirculation
        self.maximumCirculation = maximumCirculation
        self.stillReferenceKelvin = stillReferenceKelvin
        self.latentHeat = latentHeat
        self.heatExchangerEffectiveness = heatExchangerEffectiveness
        self.condensingSeconds = condensingSeconds
        self.condenseBelowKelvin = condenseBelowKelvin
    }

    /// Circulation in mol/s at still temperature `kelvin` (before the condensing ramp).
    public func circulation(stillKelvin kelvin: Double) -> Double {
        let latentTemperature = latentHeat / 8.314462618
        let exponent = latentTemperature / stillReferenceKelvin - latentTemperature / max(kelvin, 1e-3)
        return min(maximumCirculation, nominalCirculation * exp(min(exponent, 50)))
    }
}

/// The whole thermal description of a fridge.
public struct ThermalSpec: Sendable, Hashable {
    public var roomKelvin: Double
    public var stages: [StageSpec]
    public var links: [ThermalLink]
    public var pulseTube: PulseTubeSpec
    public var dilutionUnit: DilutionUnitSpec

    public init(roomKelvin: Double, stages: [StageSpec], links: [ThermalLink], pulseTube: PulseTubeSpec, dilutionUnit: DilutionUnitSpec) {
        self.roomKelvin = roomKelvin
        self.stages = stages.sorted { $0.id < $1.id }
        self.links = links
        self.pulseTube = pulseTube
        self.dilutionUnit = dilutionUnit
    }
}

/// What the gas handling is doing.
public enum CirculationPhase: String, Sendable, Hashable {
    /// Pulse tube on, heat switches closed, no mixture in the unit.
    case precooling
    /// Mixture being condensed; circulation ramps up.
    case condensing
    /// Normal operation.
    case circulating
    /// Pulse tube off, mixture recovered; heaters warm the fridge.
    case warmingUp
    /// Everything off.
    case idle

    /// The HAL's name for it.
    public var circulationState: CirculationState {
        switch self {
        case .precooling: .coolingDown
        case .condensing: .condensing
        case .circulating: .circulating
        case .warmingUp: .warmingUp
        case .idle: .idle
        }
    }
}

/// A heat pulse deposited on a stage (a magnet quench, say): `energy` joules spread evenly over `duration`.
public struct HeatPulse: Sendable, Hashable {
    public var stage: StageID
    public var start: Double
    public var duration: Double
    public var energy: Double

    /// Mean power over the interval [from, to], in watts.
    func meanPower(from: Double, to: Double) -> Double {
        let overlap = min(to, start + duration) - max(from, start)
        return overlap > 0 ? energy / duration * overlap / (to - from) : 0
    }
}

/// The lumped thermal network and its integrator: stage temperatures advanced by a linearised
/// backward-Euler (Rosenbrock–Euler) step, stiffly stable, so millikelvin stages with heat capacities of
/// 10⁻⁵ J/K do not limit the step, with step halving whenever a temperature would change by more than 20 %.
public struct ThermalNetwork: Sendable {
    public let spec: ThermalSpec
    /// Simulated time in seconds since the model started.
    public private(set) var time: Double = 0
    /// Stage temperatures in K, in `spec.stages` order.
    public private(set) var temperatures: [Double]
    public private(set) var phase: CirculationPhase
    public private(set) var phaseElapsed: Double = 0
    /// Heater power on each stage, in W, in `spec.stages` order; set at the start of each step.
    var heaterPower: [Double]
    var pulses: [HeatPulse] = []

    /// Starts with every stage at `initialKelvin[id]` (or room temperature) in `phase`.
    public init(spec: ThermalSpec, initialKelvin: [StageID: Double], phase: CirculationPhase) {
        self.spec = spec
        self.temperatures = spec.stages.map { initialKelvin[$0.id] ?? spec.roomKelvin }
        self.phase = phase
        self.heaterPower = Array(repeating: 0, count: spec.stages.count)
    }

    /// Index of a stage in `temperatures`, if the fridge has it.
    public func index(of stage: StageID) -> Int? {
        spec.stages.firstIndex { $0.id == stage }
    }

    /// Temperature of a stage in K (room temperature if the fridge has no such stage).
    public func temperature(of stage: StageID) -> Double {
        index(of: stage).map { temperatures[$0] } ?? spec.roomKelvin
    }

    /// Circulation in mol/s right now.
    public var circulation: Double { circulation(with: temperatures) }

    func circulation(with t: [Double]) -> Double {
        let ramp: Double
        switch phase {
        case .circulating: ramp = 1
        case .condensing: ramp = min(1, phaseElapsed / max(spec.dilutionUnit.condensingSeconds, 1))
        case .precooling, .warmingUp, .idle: return 0
        }
        guard let still = index(of: .still) else { return 0 }
        return ramp * spec.dilutionUnit.circulation(stillKelvin: t[still])
    }

    /// Net heat flowing into each stage, in W, at temperatures `t`, with heat pulses averaged over the
    /// step `dt` that starts now.
    func netPower(_ t: [Double], dt: Double) -> [Double] {
        var power = heaterPower
        for (i, stage) in spec.stages.enumerated() { power[i] += stage.staticLoad }
        for pulse in pulses { if let i = index(of: pulse.stage) { power[i] += pulse.meanPower(from: time, to: time + dt) } }
        for link in spec.links where link.onlyDuring?.contains(phase) ?? true {
            let ia = nodeIndex(link.a), ib = nodeIndex(link.b)
            let ta = ia.map { t[$0] } ?? spec.roomKelvin
            let tb = ib.map { t[$0] } ?? spec.roomKelvin
            let q = link.heat(ta, tb)
            if let ia { power[ia] -= q }
            if let ib { power[ib] += q }
        }
        let pulseTubeOn = phase != .warmingUp && phase != .idle
        if pulseTubeOn {
            if let i = index(of: .fiftyKelvin) { power[i] -= spec.pulseTube.firstStage.power(at: t[i]) }
            if let i = index(of: .fourKelvin) { power[i] -= spec.pulseTube.secondStage.power(at: t[i]) }
        }
        let ndot = circulation(with: t)
        if ndot > 0, let i = index(of: .still) { power[i] -= ndot * spec.dilutionUnit.latentHeat }
        // Dilution cooling needs a phase-separated mixture circulating through the mixing chamber.
        if ndot > 0, phase == .circulating {
            let unit = spec.dilutionUnit
            let tmc = index(of: .mixingChamber).map { t[$0] }
            if let i = index(of: .coldPlate), let tmc {
                let gain = DilutionRefrigeration.diluteEnthalpyCoefficient * (t[i] * t[i] - tmc * tmc)
                power[i] -= ndot * unit.heatExchangerEffectiveness * max(gain, 0)
                    * DilutionRefrigeration.phaseSeparationFraction(at: tmc)
            }
            if let i = index(of: .mixingChamber) {
                power[i] -= DilutionRefrigeration.mixingChamberCoolingPower(circulation: ndot, mixingChamber: t[i], incoming: t[i])
                    * DilutionRefrigeration.phaseSeparationFraction(at: t[i])
            }
        }
        // A non-finite net power (a heater or a link's power law overflowing) carries no usable heat flow:
        // it counts as zero, so the step can still be taken.
        return power.map { $0.isFinite ? $0 : 0 }
    }

    private func nodeIndex(_ node: ThermalNode) -> Int? {
        if case let .stage(id) = node { return index(of: id) }
        return nil
    }

    /// Adaptive trial steps one `advance(by:maxStep:heaters:)` may take: this many, plus
    /// `trialsPerMaximumStep` for every `maxStep` of the interval.
    static let baseTrialBudget = 1000
    static let trialsPerMaximumStep = 64

    /// Advances by `seconds` with steps of at most `maxStep` seconds. The heater controllers update at the
    /// start of every step from the temperatures then (sample and hold); a rejected step leaves them as
    /// they were.
    ///
    /// It always finishes: with N = ⌈seconds / maxStep⌉, it takes at most `baseTrialBudget` +
    /// `trialsPerMaximumStep`·N adaptive trial steps; once they are spent, the rest of the interval is
    /// taken in at most N forced steps of `maxStep` (each change clamped to ±20 %), so a pathological
    /// state costs accuracy, never a stall.
    mutating func advance(by seconds: Double, maxStep: Double, heaters: inout [String: HeaterLoop]) {
        guard seconds.isFinite, seconds > 0, maxStep > 0 else { return }
        var remaining = seconds
        var step = min(maxStep, seconds)
        let maximumSteps = (seconds / maxStep).rounded(.up)
        var trialsLeft = Self.baseTrialBudget + Self.trialsPerMaximumStep * Int(min(maximumSteps, 1e9))
        while remaining > 1e-12 {
            let exhausted = trialsLeft <= 0
            trialsLeft -= 1
            let dt = exhausted ? min(maxStep, remaining) : min(step, remaining)
            var trial = heaters
            var power = Array(repeating: 0.0, count: temperatures.count)
            for key in trial.keys {
                trial[key]!.update(controlTemperature: temperature(of: trial[key]!.controlStage), dt: dt)
                if let i = index(of: trial[key]!.stage) { power[i] += trial[key]!.power }
            }
            heaterPower = power
            // Below a microsecond the step is taken anyway, each change clamped to ±20 %, so a
            // pathological profile slows the simulation down but never stalls it.
            if let next = implicitStep(dt, force: exhausted || dt < 1e-6) {
                heaters = trial
                temperatures = next
                time += dt
                remaining -= dt
                advancePhase(by: dt)
                pulses.removeAll { time > $0.start + $0.duration }
                step = min(maxStep, step * 2)
            } else {
                step = dt / 2
            }
        }
    }

    /// One linearised backward-Euler step: (C/dt − J)·ΔT = P(T). Nil if some stage would change by
    /// more than 20 % (the caller halves the step), unless `force`.
    private func implicitStep(_ dt: Double, force: Bool) -> [Double]? {
        let n = temperatures.count
        let t = temperatures
        let p0 = netPower(t, dt: dt)
        var matrix = Array(repeating: Array(repeating: 0.0, count: n), count: n)
        for j in 0..<n {
            var perturbed = t
            let delta = max(t[j] * 1e-6, 1e-9)
            perturbed[j] += delta
            let p1 = netPower(perturbed, dt: dt)
            for i in 0..<n { matrix[i][j] = -(p1[i] - p0[i]) / delta }
        }
        // Only the damping part of each stage's own response is taken implicitly: where more heat makes a
        // stage colder-running (dP/dT > 0, e.g. dilution cooling fading near the tri-critical point) the
        // linearised step would jump to the unstable fixed point, so that part stays explicit.
        // That explicit part is stable only while dP/dT·dt stays below about half the heat capacity, so a
        // longer step is rejected (and halved).
        for i in 0..<n {
            let capacity = spec.stages[i].heatCapacity(at: t[i])
            if -matrix[i][i] * dt > 0.5 * capacity, !force { return nil }
            matrix[i][i] = max(matrix[i][i], 0) + capacity / dt
        }
        guard let change = Self.solve(matrix, p0) ?? (force ? Array(repeating: 0, count: n) : nil) else { return nil }
        var next = t
        for i in 0..<n {
            let limit = 0.2 * t[i] + 1e-6
            if force {
                next[i] = change[i].isFinite ? max(t[i] + min(max(change[i], -limit), limit), 1e-4) : t[i]
            } else {
                guard change[i].isFinite, abs(change[i]) <= limit else { return nil }
                next[i] = max(t[i] + change[i], 1e-4)
            }
        }
        return next
    }

    /// Gaussian elimination with partial pivoting; nil for a singular matrix.
    static func solve(_ a: [[Double]], _ b: [Double]) -> [Double]? {
        var m = a
        var x = b
        let n = b.count
        for col in 0..<n {
            guard let pivot = (col..<n).max(by: { abs(m[$0][col]) < abs(m[$1][col]) }), m[pivot][col] != 0 else { return nil }
            m.swapAt(col, pivot)
            x.swapAt(col, pivot)
            for row in (col + 1)..<n {
                let f = m[row][col] / m[col][col]
                if f == 0 { continue }
                for k in col..<n { m[row][k] -= f * m[col][k] }
                x[row] -= f * x[col]
            }
        }
        for row in stride(from: n - 1, through: 0, by: -1) {
            var sum = x[row]
            for k in (row + 1)..<n { sum -= m[row][k] * x[k] }
            x[row] = sum / m[row][row]
        }
        return x
    }

    private mutating func advancePhase(by dt: Double) {
        phaseElapsed += dt
        switch phase {
        case .precooling:
            let cold = spec.stages.indices.allSatisfy { i in
                spec.stages[i].id == .fiftyKelvin || temperatures[i] < spec.dilutionUnit.condenseBelowKelvin + 1
            }
            if temperature(of: .fourKelvin) < spec.dilutionUnit.condenseBelowKelvin, cold { setPhase(.condensing) }
        case .condensing:
            // Circulation is established once the mixture has condensed and phase-separated.
            if phaseElapsed >= spec.dilutionUnit.condensingSeconds,
               temperature(of: .mixingChamber) < DilutionRefrigeration.phaseSeparationTemperature - 0.02 {
                setPhase(.circulating)
            }
        case .circulating:
            // Heated above the tri-critical point (a quench), the mixture is homogeneous again: the liquid
            // couples the lower stages as while condensing until it phase-separates anew.
            if temperature(of: .mixingChamber) > DilutionRefrigeration.phaseSeparationTemperature + 0.03 {
                setPhase(.condensing)
                phaseElapsed = spec.dilutionUnit.condensingSeconds
            }
        case .warmingUp, .idle:
            break
        }
    }

    /// Switches the gas handling to `phase` (cooldown, warm-up, stop).
    mutating func setPhase(_ newPhase: CirculationPhase) {
        phase = newPhase
        phaseElapsed = 0
    }

    /// Deposits a heat pulse.
    mutating func add(_ pulse: HeatPulse) {
        pulses.append(pulse)
    }
}
