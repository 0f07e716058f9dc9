import Foundation
import HAL
import Synchronization

/// The emulated qubits behind the emulated generators and readouts. Each shot starts every measured qubit
/// in |0⟩ with fresh, stationary noise; the qubit's state is a Bloch vector, so T₁ (amplitude damping
/// toward |0⟩) acts exactly on the ensemble without sampling jumps, while the dephasing noise β(t), which
/// is not Markovian, is sampled as an explicit trajectory per shot. A measurement samples the outcome from
/// the Bloch vector's z, collapses it, and queues a record with assignment errors and shot noise.
///
/// Qubits are independent: a program measures the qubits whose readout its generator triggers, and
/// drives those whose drive channels are on that generator. Queues keep the newest `queueCapacity`
/// records per readout; older ones are dropped (counted by `droppedRecords(readout:)`).
/// Deterministic given the seed and the sequence of calls: shot n (counted since the bench was built)
/// draws from its own stream of the seed, so neither the thread count nor how shots are split into
/// plays changes a record.
public final class QubitTestbed: QubitBench {
    public let spec: TestbedSpec
    public let queueCapacity: Int
    /// Threads a play's shots are spread over (1: the calling thread only).
    public let threads: Int
    private let dynamics: [QubitDynamics]
    private let simulation: Mutex<Simulation>
    private let queues: Mutex<[String: RecordQueue]>

    /// Shots simulated per thread between hand-overs to the queues, so readers see records while a
    /// long play runs.
    private static let shotsPerBatch = 1024
    /// Shots a worker takes at a time: small enough to balance two threads on a busy machine.
    private static let shotsPerBlock = 64

    private struct Simulation: ~Copyable {
        var shot = 0
        var cachedProgram: (program: PulseProgram, generator: String, compiled: ShotProgram)?
    }

    /// `threads` defaults to the active processor count. Records do not depend on it: shot n draws
    /// its random numbers from stream n of the seed (`WyRand(seed:stream:)`).
    public init(_ spec: TestbedSpec, queueCapacity: Int = 1_000_000, threads: Int? = nil) throws(QubitSpecError) {
        try spec.validate()
        var dynamics: [QubitDynamics] = []
        for qubit in spec.qubits {
            do { dynamics.append(try QubitDynamics(qubit.spec)) } catch {
                throw QubitSpecError(message: "qubit \(qubit.name): \(error)")
            }
        }
        self.spec = spec
        self.queueCapacity = max(1, queueCapacity)
        self.threads = max(1, threads ?? ProcessInfo.processInfo.activeProcessorCount)
        self.dynamics = dynamics
        simulation = Mutex(Simulation())
        queues = Mutex(Dictionary(uniqueKeysWithValues: spec.readouts.map { ($0.instrument, RecordQueue()) }))
    }

    /// Plays `program` `shots` times. A program that fails `PulseProgram.validate()` plays nothing
    /// (the generator twin refuses it before it gets here).
    public func play(_ program: PulseProgram, generator: String, shots: Int) {
        guard shots > 0, (try? program.validate()) != nil else { return }
        simulation.withLock { simulation in
            let compiled: ShotProgram
            if let cached = simulation.cachedProgram, cached.generator == generator, cached.program == program {
                compiled = cached.compiled
            } else {
                compiled = ShotProgram(program, generator: generator, spec: spec, dynamics: dynamics)
                simulation.cachedProgram = (program, generator, compiled)
            }
            let first = simulation.shot
            simulation.shot += shots
            guard !compiled.readouts.isEmpty else { return }
            let batchSize = Self.shotsPerBatch * threads
            var done = 0
            while done < shots {
                let batch = min(batchSize, shots - done)
                let records = simulate(compiled, shots: (first + done)..<(first + done + batch))
                done += batch
                let capacity = queueCapacity
                queues.withLock { queues in
                    for (readout, batch) in zip(compiled.readouts, records) {
                        queues[readout.instrument, default: RecordQueue()].append(contentsOf: batch, capacity: capacity)
                    }
                }
            }
        }
    }

    /// The records of `shots`, per readout in shot order, simulated in blocks spread over `threads`
    /// plain threads (`DispatchQueue.concurrentPerform`, not the cooperative pool).
    private func simulate(_ compiled: ShotProgram, shots: Range<Int>) -> [[MeasurementRecord]] {
        let blockSize = Self.shotsPerBlock
        let blocks = (shots.count + blockSize - 1) / blockSize
        let workers = min(threads, blocks)
        @Sendable func block(_ index: Int, runner: inout ShotRunner) -> [[MeasurementRecord]] {
            let lower = shots.lowerBound + index * blockSize
            let range = lower..<min(shots.upperBound, lower + blockSize)
            var records = compiled.readouts.map { readout in
                var records: [MeasurementRecord] = []
                records.reserveCapacity(range.count * readout.windows)
                return records
            }
            for shot in stride(from: range.lowerBound, to: range.upperBound, by: 2) {
                runner.run(shots: shot, count: min(2, range.upperBound - shot), records: &records)
            }
            return records
        }
        guard workers > 1 else {
            var runner = ShotRunner(compiled, dynamics: dynamics, spec: spec)
            var records = compiled.readouts.map { _ in [MeasurementRecord]() }
            for index in 0..<blocks {
                for (r, part) in block(index, runner: &runner).enumerated() { records[r] += part }
            }
            return records
        }
        // Blocks go to whichever worker is free; a block's records are handed over under a lock,
        // once per block, and reassembled in shot order below.
        let next = Atomic<Int>(0)
        let results = Mutex([[[MeasurementRecord]]](repeating: [], count: blocks))
        let dynamics = dynamics, spec = spec
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            var runner = ShotRunner(compiled, dynamics: dynamics, spec: spec)
            while true {
                let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard index < blocks else { break }
                let part = block(index, runner: &runner)
                results.withLock { $0[index] = part }
            }
        }
        let parts = results.withLock { parts in
            defer { parts = [] }
            return parts
        }
        var records = compiled.readouts.map { readout in
            var records: [MeasurementRecord] = []
            records.reserveCapacity(shots.count * readout.windows)
            return records
        }
        for part in parts {
            for (r, readoutRecords) in part.enumerated() { records[r] += readoutRecords }
        }
        return records
    }

    public func takeRecords(readout: String, maximum: Int) -> [MeasurementRecord] {
        queues.withLock { $0[readout]?.take(maximum) ?? [] }
    }

    public func pendingRecords(readout: String) -> Int {
        queues.withLock { $0[readout]?.count ?? 0 }
    }

    /// Records of `readout` dropped because its queue was full.
    public func droppedRecords(readout: String) -> Int {
        queues.withLock { $0[readout]?.dropped ?? 0 }
    }
}

/// A readout's records, oldest first, bounded: appending beyond `capacity` drops the oldest.
struct RecordQueue: Sendable {
    private var storage: [MeasurementRecord] = []
    private var head = 0
    private(set) var dropped = 0

    var count: Int { storage.count - head }

    mutating func append(contentsOf records: [MeasurementRecord], capacity: Int) {
        storage += records
        let excess = count - capacity
        if excess > 0 {
            head += excess
            dropped += excess
        }
        compact()
    }

    mutating func take(_ maximum: Int) -> [MeasurementRecord] {
        let n = min(max(0, maximum), count)
        let taken = Array(storage[head..<(head + n)])
        head += n
        compact()
        return taken
    }

    /// Frees the consumed front once it is at least half the storage.
    private mutating func compact() {
        if head > 0, head >= storage.count / 2 {
            storage.removeFirst(head)
            head = 0
        }
    }
}

/// The shot loop: allocation-free evolution of each measured qubit, two shots at a time in the lanes
/// of SIMD2 vectors, then the records. Shot n draws everything from stream n of the seed and its lane
/// computes exactly what it would alone, so a shot's records depend on nothing but the seed and n.
struct ShotRunner {
    typealias Lanes = SIMD2<Double>
    let program: ShotProgram
    let dynamics: [QubitDynamics]
    let seed: UInt64
    /// Per readout, its members' readout models.
    private let models: [[ReadoutModel]]
    /// Per compiled qubit, its outcomes of the current shots: measurement m of lane l at 2m + l.
    private var outcomes: [[Bool]]
    /// OU component values of the qubit being evolved.
    private var noiseState: [Lanes]

    init(_ program: ShotProgram, dynamics: [QubitDynamics], spec: TestbedSpec) {
        self.program = program
        self.dynamics = dynamics
        seed = spec.seed
        models = program.readouts.map { $0.members.map { spec.qubits[program.qubits[$0].qubit].spec.readout } }
        outcomes = program.qubits.map { [Bool](repeating: false, count: 2 * $0.measurements) }
        noiseState = [Lanes](repeating: .zero, count: dynamics.map(\.components.count).max() ?? 0)
    }

    /// Shots `first` and, when `count` is 2, `first + 1` (with one, the second lane repeats the first
    /// shot and its records are dropped).
    mutating func run(shots first: Int, count: Int, records: inout [[MeasurementRecord]]) {
        let second = first + count - 1
        var random = WyRandPair(lanes: (WyRand(seed: seed, stream: UInt64(truncatingIfNeeded: first)),
                                        WyRand(seed: seed, stream: UInt64(truncatingIfNeeded: second))))
        for (index, qubit) in program.qubits.enumerated() {
            let dynamics = dynamics[qubit.qubit]
            noiseState.withUnsafeMutableBufferPointer { state in
                outcomes[index].withUnsafeMutableBufferPointer { outcomes in
                    Self.evolve(qubit, dynamics: dynamics, state: state.baseAddress!, outcomes: outcomes.baseAddress!, random: &random)
                }
            }
        }
        for lane in 0..<count {
            var random = lane == 0 ? random.lanes.0 : random.lanes.1
            for (r, readout) in program.readouts.enumerated() {
                for window in 0..<readout.windows {
                    var projected: [Bool] = [], points: [IQPoint] = []
                    projected.reserveCapacity(readout.members.count)
                    points.reserveCapacity(readout.members.count)
                    for (m, member) in readout.members.enumerated() {
                        let excited = outcomes[member][2 * window + lane]
                        let model = models[r][m]
                        let reportsExcited = excited ? random.unit() < model.excitedFidelity : random.unit() >= model.groundFidelity
                        let centre = reportsExcited ? model.excited : model.ground
                        projected.append(excited)
                        points.append(IQPoint(i: centre.i + model.sigma * random.gaussian(), q: centre.q + model.sigma * random.gaussian()))
                    }
                    records[r].append(MeasurementRecord(shot: first + lane, window: window, projected: projected, points: points))
                }
            }
        }
    }

    /// Two shots of one qubit from |0⟩, writing each measurement's outcomes (true: |1⟩).
    static func evolve(
        _ qubit: ShotProgram.Qubit, dynamics: QubitDynamics, state: UnsafeMutablePointer<Lanes>,
        outcomes: UnsafeMutablePointer<Bool>, random: inout WyRandPair
    ) {
        Ziggurat.shared.table.withUnsafeBufferPointer { table in
            // The generators live in registers for the whole shot, not behind the inout reference.
            var generator = random
            defer { random = generator }
            evolve(qubit, dynamics: dynamics, state: state, outcomes: outcomes, random: &generator, table: table.baseAddress!)
        }
    }

    @inline(__always)
    private static func evolve(
        _ qubit: ShotProgram.Qubit, dynamics: QubitDynamics, state: UnsafeMutablePointer<Lanes>,
        outcomes: UnsafeMutablePointer<Bool>, random: inout WyRandPair, table: UnsafePointer<Double>
    ) {
        let k = dynamics.components.count
        dynamics.stationarySigma.withUnsafeBufferPointer { sigma in
            for j in 0..<k { state[j] = sigma[j] * random.gaussian(table) }
        }
        var x = Lanes.zero, y = Lanes.zero, z = Lanes.one, measured = 0
        qubit.operations.withUnsafeBufferPointer { operations in
        qubit.intervals.withUnsafeBufferPointer { intervals in
        qubit.noise.withUnsafeBufferPointer { noise in
        qubit.shapedSteps.withUnsafeBufferPointer { shaped in
            /// The phase accrued over interval `i` (noise and detuning), advancing the OU state.
            @inline(__always) func phase(_ i: Int32) -> Lanes {
                let interval = intervals[Int(i)]
                // (decay, noise scale, mean gain, noise gain) per component, then the rest's deviation.
                var row = noise.baseAddress! + interval.noiseOffset
                let rest = row + 4 * k
                // Two partial sums, so the additions do not form one long dependency chain.
                var drift = Lanes(repeating: interval.detuningPhase), diffusion = rest.pointee * random.gaussian(table)
                var value = state
                while row < rest {
                    let x0 = value.pointee
                    let w = row[1] * random.gaussian(table)
                    drift += row[2] * x0
                    diffusion += row[3] * w
                    value.pointee = row[0] * x0 + w
                    row += 4
                    value += 1
                }
                return drift + diffusion
            }
            @inline(__always) func relax(_ i: Int32) {
                let interval = intervals[Int(i)]
                x *= interval.transverseDecay
                y *= interval.transverseDecay
                z = 1 + (z - 1) * interval.zDecay
            }
            /// Rotates the Bloch vector by |v| about v (Rodrigues); a lane with v = 0 stays as it is.
            @inline(__always) func rotate(_ vx: Lanes, _ vy: Lanes, _ vz: Lanes) {
                let angle = (vx * vx + vy * vy + vz * vz).squareRoot()
                let still = angle .== 0
                let divisor = angle.replacing(with: 1, where: still)
                let nx = vx / divisor, ny = vy / divisor, nz = vz / divisor
                let (s, c) = sineCosine(angle)
                let dot = (nx * x + ny * y + nz * z) * (1 - c)
                let cx = ny * z - nz * y, cy = nz * x - nx * z, cz = nx * y - ny * x
                x = (x * c + cx * s + nx * dot).replacing(with: x, where: still)
                y = (y * c + cy * s + ny * dot).replacing(with: y, where: still)
                z = (z * c + cz * s + nz * dot).replacing(with: z, where: still)
            }
            for run in qubit.runs {
                for _ in 0..<run.repeats {
                    for o in run.start..<(run.start + run.count) {
                        switch operations[o] {
                        case let .free(interval):
                            let p = phase(interval)
                            let (s, c) = sineCosine(p)
                            (x, y) = (x * c - y * s, x * s + y * c)
                            relax(interval)
                        case let .rotation(interval, angle, cosine, sine):
                            rotate(Lanes(repeating: angle * cosine), Lanes(repeating: angle * sine), phase(interval))
                            relax(interval)
                        case let .shaped(interval, start, count):
                            let dz = phase(interval) / Double(count)
                            for n in Int(start)..<Int(start + count) {
                                rotate(Lanes(repeating: shaped[2 * n]), Lanes(repeating: shaped[2 * n + 1]), dz)
                            }
                            relax(interval)
                        case .measure:
                            let excited = random.unit() .< (1 - z) / 2
                            outcomes[2 * measured] = excited[0]
                            outcomes[2 * measured + 1] = excited[1]
                            measured += 1
                            x = .zero; y = .zero; z = Lanes.one.replacing(with: -1, where: excited)
                        }
                    }
                }
            }
        }
        }
        }
        }
    }
}
