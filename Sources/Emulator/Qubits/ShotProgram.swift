import Foundation
import HAL

/// A pulse program compiled for the qubits it measures: per qubit, one shot as a flat list of
/// operations in runs with repeat counts (a repeated segment stays one run, never unrolled), and the
/// coefficients of every distinct interval length.
struct ShotProgram: Sendable {
    /// What one qubit does during an interval of the shot.
    enum Operation: Sendable {
        /// Free evolution over interval `interval`: noise, detuning and T₁.
        case free(interval: Int32)
        /// A constant-phase pulse: rotation by `angle` about (cos φ, sin φ, 0), noise and detuning acting
        /// along z over the same interval (first-order Magnus; exact for a square pulse), then T₁.
        case rotation(interval: Int32, angle: Double, cosine: Double, sine: Double)
        /// A pulse whose phase varies: `count` per-sample rotations from `shapedSteps[2·start...]`, the
        /// interval's noise phase shared evenly between the samples, then T₁.
        case shaped(interval: Int32, start: Int32, count: Int32)
        /// A projective measurement in z.
        case measure
    }

    /// Operations `start ..< start + count`, played `repeats` times.
    struct Run: Sendable {
        var start: Int
        var count: Int
        var repeats: Int
    }

    /// One distinct interval length: where its noise coefficients start, T₁ decay of z and of x, y,
    /// and the detuning phase.
    struct Interval: Sendable {
        var noiseOffset: Int
        var zDecay: Double
        var transverseDecay: Double
        var detuningPhase: Double
    }

    struct Qubit: Sendable {
        /// Index into the testbed's qubits.
        var qubit: Int
        var operations: [Operation] = []
        var runs: [Run] = []
        var intervals: [Interval] = []
        /// Per interval, from its `noiseOffset`: for each OU component side by side its decay, noise
        /// scale, mean gain and noise gain (`QubitDynamics.appendNoiseStep`, regrouped so the shot loop
        /// reads one run of memory through one pointer), then the standard deviation of the rest; each
        /// number in both lanes, as the shot loop multiplies it into two shots at once.
        var noise: [SIMD2<Double>] = []
        var shapedSteps: [Double] = []
        /// Measurements per shot.
        var measurements = 0
    }

    /// A readout the program triggers, with its qubits (indices into `qubits`) and windows per shot.
    struct Readout: Sendable {
        var instrument: String
        var members: [Int]
        var windows: Int
    }

    var qubits: [Qubit]
    var readouts: [Readout]
}

extension ShotProgram {
    /// The steps one shot plays, in order: from the first, following `goTo`, until the end or a step
    /// already played (a jump back is the generator looping to the next shot). Trigger waits take no time.
    static func stepOrder(_ program: PulseProgram) -> [Int] {
        var order: [Int] = [], seen = Set<Int>(), index = 0
        while index < program.steps.count, seen.insert(index).inserted {
            order.append(index)
            index = program.steps[index].goTo ?? index + 1
        }
        return order
    }

    /// Compiles a validated `program` played by `generator` for the qubits of `spec`.
    init(_ program: PulseProgram, generator: String, spec: TestbedSpec, dynamics: [QubitDynamics]) {
        let order = Self.stepOrder(program)
        let segmentIndex = Dictionary(program.segments.enumerated().map { ($1.name, $0) }) { a, _ in a }
        qubits = []
        readouts = []
        for wiring in spec.readouts where wiring.trigger.generator == generator {
            let edges = program.segments.map {
                PulseExtraction.edges(of: $0, channel: wiring.trigger.channel, number: wiring.trigger.marker)
            }
            guard edges.contains(where: { !$0.edges.isEmpty || $0.startsHigh }) else { continue }
            var readout = Readout(instrument: wiring.instrument, members: [], windows: 0)
            for (index, qubit) in spec.qubits.enumerated() where qubit.readout == wiring.instrument {
                var builder = Builder(program: program, qubit: index, spec: qubit, dynamics: dynamics[index],
                                      generator: generator, edges: edges)
                for step in order {
                    guard let segment = segmentIndex[program.steps[step].segment] else { continue }
                    builder.play(segment: segment, repeats: program.steps[step].repeats)
                }
                readout.members.append(qubits.count)
                readout.windows = builder.compiled.measurements
                qubits.append(builder.compiled)
            }
            if readout.members.isEmpty {
                var counter = Builder(program: program, qubit: -1, spec: nil, dynamics: nil, generator: generator, edges: edges)
                for step in order {
                    guard let segment = segmentIndex[program.steps[step].segment] else { continue }
                    counter.play(segment: segment, repeats: program.steps[step].repeats)
                }
                readout.windows = counter.compiled.measurements
            }
            if readout.windows > 0 { readouts.append(readout) }
        }
    }

    /// Walks the steps for one qubit, turning each segment's pulses and marker edges into operations.
    private struct Builder {
        let program: PulseProgram
        let spec: TestbedSpec.Qubit?
        let dynamics: QubitDynamics?
        let generator: String
        let edges: [MarkerEdges]
        var compiled: Qubit
        private var intervalIndex: [Int: Int32] = [:]
        private var pulseCache: [Int: [DrivePulse]] = [:]
        /// Free samples not yet turned into an operation.
        private var pending = 0
        /// Whether the trigger marker was high on the last sample played.
        private var markerHigh = false

        init(program: PulseProgram, qubit: Int, spec: TestbedSpec.Qubit?, dynamics: QubitDynamics?, generator: String, edges: [MarkerEdges]) {
            self.program = program
            self.spec = spec
            self.dynamics = dynamics
            self.generator = generator
            self.edges = edges
            compiled = Qubit(qubit: qubit)
        }

        enum Event {
            case pulse(DrivePulse)
            case measure(Int)

            var start: Int {
                switch self {
                case let .pulse(pulse): pulse.start
                case let .measure(at): at
                }
            }
        }

        /// The segment's events for this qubit, in time order, with or without a measurement at sample 0.
        mutating func events(segment: Int, edgeAtStart: Bool) -> [Event] {
            let marker = edges[segment]
            var measurements = marker.edges
            if edgeAtStart { measurements.insert(0, at: 0) }
            let pulses: [DrivePulse]
            if let cached = pulseCache[segment] {
                pulses = cached
            } else if let drive = spec?.drive, drive.generator == generator, let dynamics {
                pulses = PulseExtraction.pulses(in: program.segments[segment], program: program, i: drive.i, q: drive.q,
                                                rabiPerVolt: dynamics.spec.rabiPerVolt, cuts: marker.edges)
                pulseCache[segment] = pulses
            } else {
                pulses = []
            }
            var events: [Event] = []
            events.reserveCapacity(pulses.count + measurements.count)
            var p = 0, m = 0
            while p < pulses.count || m < measurements.count {
                // A measurement at the sample a pulse starts comes first.
                if m < measurements.count, p == pulses.count || measurements[m] <= pulses[p].start {
                    events.append(.measure(measurements[m])); m += 1
                } else {
                    events.append(.pulse(pulses[p])); p += 1
                }
            }
            return events
        }

        mutating func play(segment: Int, repeats: Int) {
            let length = program.segments[segment].length
            let marker = edges[segment]
            let first = events(segment: segment, edgeAtStart: marker.startsHigh && !markerHigh)
            emit(first, length: length, repeats: 1)
            markerHigh = marker.endsHigh
            guard repeats > 1 else { return }
            let body = events(segment: segment, edgeAtStart: marker.startsHigh && !marker.endsHigh)
            guard !body.isEmpty else {
                add(free: length.multipliedReportingOverflow(by: repeats - 1))
                return
            }
            // The lead-in of the second pass may differ from the steady one (tail of the first pass).
            let steadyPending = length - end(of: body)
            if pending == steadyPending {
                emit(body, length: length, repeats: repeats - 1)
            } else {
                emit(body, length: length, repeats: 1)
                if repeats > 2 { emit(body, length: length, repeats: repeats - 2) }
            }
        }

        private func end(of events: [Event]) -> Int {
            switch events.last {
            case let .pulse(pulse)?: pulse.start + pulse.length
            case let .measure(at)?: at
            case nil: 0
            }
        }

        private mutating func add(free: (partialValue: Int, overflow: Bool)) {
            let (sum, overflow) = pending.addingReportingOverflow(free.partialValue)
            pending = free.overflow || overflow ? Int.max : sum
        }

        /// Appends `events` as one run played `repeats` times, free time before each event included;
        /// the segment's tail stays pending.
        private mutating func emit(_ events: [Event], length: Int, repeats: Int) {
            guard !events.isEmpty else {
                add(free: (length, false))
                return
            }
            let start = compiled.operations.count
            var cursor = 0
            for event in events {
                add(free: (event.start - cursor, false))
                if pending > 0 {
                    compiled.operations.append(.free(interval: interval(samples: pending)))
                    pending = 0
                }
                switch event {
                case let .pulse(pulse):
                    append(pulse)
                    cursor = pulse.start + pulse.length
                case let .measure(at):
                    compiled.operations.append(.measure)
                    let (sum, overflow) = compiled.measurements.addingReportingOverflow(repeats)
                    compiled.measurements = overflow ? Int.max : sum
                    cursor = at
                }
            }
            compiled.runs.append(Run(start: start, count: compiled.operations.count - start, repeats: repeats))
            pending = length - cursor
        }

        private mutating func append(_ pulse: DrivePulse) {
            guard let dynamics else { return }
            let gain = 1 + dynamics.spec.amplitudeError, shift = dynamics.spec.phaseError
            let interval = interval(samples: pulse.length)
            if pulse.steps.isEmpty {
                let phase = pulse.phase + shift
                compiled.operations.append(.rotation(interval: interval, angle: pulse.angle * gain, cosine: cos(phase), sine: sin(phase)))
            } else {
                let c = cos(shift) * gain, s = sin(shift) * gain
                let start = compiled.shapedSteps.count / 2
                for k in 0..<pulse.length {
                    let x = pulse.steps[2 * k], y = pulse.steps[2 * k + 1]
                    compiled.shapedSteps.append(c * x - s * y)
                    compiled.shapedSteps.append(s * x + c * y)
                }
                compiled.operations.append(.shaped(interval: interval, start: Int32(start), count: Int32(pulse.length)))
            }
        }

        /// The index of the interval of `samples` samples, its coefficients computed on first use.
        private mutating func interval(samples: Int) -> Int32 {
            if let index = intervalIndex[samples] { return index }
            let index = Int32(compiled.intervals.count)
            intervalIndex[samples] = index
            guard let dynamics else {
                compiled.intervals.append(Interval(noiseOffset: 0, zDecay: 1, transverseDecay: 1, detuningPhase: 0))
                return index
            }
            let seconds = Double(samples) / program.sampleRate.siValue
            let offset = compiled.noise.count
            var step: [Double] = []
            dynamics.appendNoiseStep(seconds: seconds, to: &step)
            let k = dynamics.components.count
            for j in 0..<k {
                compiled.noise += [step[j], step[k + j], step[2 * k + j], step[3 * k + j]].map { SIMD2(repeating: $0) }
            }
            compiled.noise.append(SIMD2(repeating: step[4 * k]))
            let t1 = dynamics.spec.t1
            compiled.intervals.append(Interval(
                noiseOffset: offset, zDecay: exp(-seconds / t1), transverseDecay: exp(-seconds / (2 * t1)),
                detuningPhase: (2 * Double.pi * dynamics.spec.detuning * seconds).truncatingRemainder(dividingBy: 2 * .pi)))
            return index
        }
    }
}
