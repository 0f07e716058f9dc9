import Drivers
import Emulator
import Foundation
import HAL
import Quantities
import Runtime
import Sequences
import Synchronization
import Testing

/// The experiments on the emulated transmon testbed, driven through the drivers: the emulator knows nothing of
/// sequences or fits, so agreement with Sequences' predictions and the profile's parameters is a real check.
/// Every test builds its own station, so they run in parallel.
@Suite("Experiments on the emulated testbed measure what Sequences predicts and the profile sets")
struct ExperimentTests {
    static let profileURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("HardwareProfiles/transmon-testbed.yaml")
    /// The preset transmon's dephasing, as Sequences writes it.
    static let transmonNoise = NoisePSD.powerLaw(amplitude: 1.43e8, alpha: 0.9, low: 2 * .pi, high: 2 * .pi * 1e7)

    /// The testbed, with `edit` applied to every qubit's spec.
    static func station(_ edit: (inout QubitSpec) -> Void = { _ in }) throws -> EmulatedStation {
        var profile = try HardwareProfile(contentsOf: profileURL)
        var testbed = try #require(profile.testbed)
        for index in testbed.qubits.indices { edit(&testbed.qubits[index].spec) }
        profile.testbed = testbed
        return EmulatedStation(profile: profile)
    }

    /// Only dephasing: no relaxation, a perfect readout.
    static func dephasingOnly(_ spec: inout QubitSpec) {
        spec.t1 = 1e3
        spec.readout.groundFidelity = 1
        spec.readout.excitedFidelity = 1
    }

    @Test("CPMG sweep over N: T₂(N) grows with N, matches DDSequence.coherenceTime within 4σ, and γ ≈ α/(1+α)")
    func cpmgSweep() throws {
        let bench = try Runtime.QubitBench.emulated("q0", on: try Self.station(Self.dephasingOnly))
        let progress = Mutex<[ExperimentProgress]>([])
        let result = try CPMGSweep(pulseCounts: [1, 2, 3], sampling: .predicted(Self.transmonNoise), shots: 200)
            .run(on: bench, control: ExperimentControl(progress: { p in progress.withLock { $0.append(p) } }))
        #expect(result.status == .completed && result.kind == .cpmg && result.qubit == "q0")
        #expect(progress.withLock { $0.count } == 3 * DecaySampling.fractions.count)
        var previous = 0.0
        for n in [1, 2, 3] {
            let t2 = try #require(result.value("T2 N=\(n)"))
            let predicted = try #require(try DDSequence(.cpmg, pulses: n, total: .seconds(1e-4)).coherenceTime(noise: Self.transmonNoise)).seconds
            #expect(abs(t2.value - predicted) <= 4 * t2.uncertainty, "N = \(n): fitted T₂ = \(t2.value) ± \(t2.uncertainty) s, predicted \(predicted) s")
            #expect(t2.uncertainty < 0.2 * t2.value, "N = \(n): T₂ too poorly determined to test")
            #expect(t2.value > previous, "T₂ must grow with N")
            previous = t2.value
        }
        let gamma = try #require(result.value("gamma"))
        #expect(abs(gamma.value - 0.9 / 1.9) <= 4 * gamma.uncertainty + 0.02, "γ = \(gamma.value) ± \(gamma.uncertainty)")
        #expect(try bench.generator.runState() == .stopped)
    }

    @Test("A UDD sweep plays on the 33522B (a chunked program whose readout segment keeps its marker 4 samples in) and matches Sequences")
    func uddOnFunctionGenerator() throws {
        let bench = try Runtime.QubitBench.emulated("q1", on: try Self.station(Self.dephasingOnly))
        let result = try CPMGSweep(family: .udd, pulseCounts: [4], sampling: .predicted(Self.transmonNoise), shots: 200).run(on: bench)
        let t2 = try #require(result.value("T2 N=4"))
        let predicted = try #require(try DDSequence(.udd, pulses: 4, total: .seconds(1e-4)).coherenceTime(noise: Self.transmonNoise)).seconds
        #expect(abs(t2.value - predicted) <= 4 * t2.uncertainty, "UDD-4: fitted T₂ = \(t2.value) ± \(t2.uncertainty) s, predicted \(predicted) s")
        #expect(try bench.generator.errorQueue().isEmpty)
    }

    @Test("T₁ from a coarse first pass matches the profile's T₁ within 4σ, readout errors included", arguments: ["q1"])
    func t1(qubit: String) throws {
        let station = try Self.station()
        let expected = try #require(station.profile.testbed?.qubits.first { $0.name == qubit }).spec.t1
        let bench = try Runtime.QubitBench.emulated(qubit, on: station)
        let result = try T1Experiment(sampling: .coarse(from: .seconds(3e-6), to: .seconds(400e-6)), shots: 400).run(on: bench)
        let t1 = try #require(result.value("T1"))
        #expect(abs(t1.value - expected) <= 4 * t1.uncertainty, "\(qubit): T₁ = \(t1.value) ± \(t1.uncertainty) s, profile \(expected) s")
        #expect(t1.uncertainty < 0.15 * expected)
        #expect(result.points(in: "coarse").count == 8 && result.points(in: "T1").count == DecaySampling.fractions.count)
    }

    @Test("Zeno loops match Itano's P(n) within 4σ through both generators", arguments: ["q0", "q1"])
    func zeno(qubit: String) throws {
        let bench = try Runtime.QubitBench.emulated(qubit, on: try Self.station(Self.dephasingOnly))
        let result = try ZenoExperiment(measurements: [1, 2, 4, 8], duration: .seconds(640e-9), shots: 300).run(on: bench)
        let measured = result.points(in: "measured"), predicted = result.points(in: "Itano")
        #expect(measured.count == 4 && predicted.count == 4)
        for (m, p) in zip(measured, predicted) {
            #expect(abs(m.y - p.y) <= 4 * m.sigma, "n = \(m.x): \(m.y) ± \(m.sigma), Itano \(p.y)")
        }
        #expect(measured[0].y > 0.9 && measured[3].y < 0.4, "the Zeno effect must show: \(measured.map(\.y))")
    }

    @Test("With the readout's assignment errors on, a bench that knows its fidelities still matches Itano; one that does not, does not")
    func assignmentCorrection() throws {
        // Relaxation off, the preset's readout (F₀ = 0.985, F₁ = 0.955) on.
        let station = try Self.station { $0.t1 = 1e3 }
        var bench = try Runtime.QubitBench.emulated("q0", on: station)
        let readout = QubitSpec.transmon.readout
        let plan = ZenoExperiment(measurements: [1, 2], duration: .seconds(640e-9), shots: 1000)
        let raw = try plan.run(on: bench).points(in: "measured")
        #expect(abs(raw[0].y - readout.excitedFidelity) <= 4 * raw[0].sigma, "uncorrected P(1) after a π pulse reads F₁: \(raw[0].y)")
        bench.assignment = .init(groundFidelity: readout.groundFidelity, excitedFidelity: readout.excitedFidelity)
        let result = try plan.run(on: bench)
        for (m, p) in zip(result.points(in: "measured"), result.points(in: "Itano")) {
            #expect(abs(m.y - p.y) <= 4 * m.sigma, "n = \(m.x): corrected \(m.y) ± \(m.sigma), Itano \(p.y)")
        }
        #expect(abs(raw[0].y - 1) > 4 * raw[0].sigma, "without the correction the n = 1 point must miss Itano's 1")
    }

    @Test("Refresh cycles planned from a measured Ramsey decay keep the memory above threshold; without refresh it falls below")
    func refresh() throws {
        let bench = try Runtime.QubitBench.emulated("q0", on: try Self.station(Self.dephasingOnly))
        let ramsey = try RamseyExperiment(sampling: .predicted(Self.transmonNoise), shots: 200).run(on: bench)
        let t2star = try #require(ramsey.value("T2*"))
        let predicted = try #require(try DDSequence(.fid, pulses: 0, total: .seconds(1e-5)).coherenceTime(noise: Self.transmonNoise)).seconds
        #expect(abs(t2star.value - predicted) <= 4 * t2star.uncertainty, "T₂* = \(t2star.value) ± \(t2star.uncertainty), predicted \(predicted)")
        let model = try #require(CoherenceModel(ramsey: ramsey))
        let threshold = 0.8
        let result = try RefreshExperiment(model: model, threshold: threshold, horizon: .seconds(4 * t2star.value), shots: 300).run(on: bench)
        let refreshed = result.points(in: "refreshed"), bare = result.points(in: "no refresh")
        #expect(refreshed.count >= 4)
        for point in refreshed {
            #expect(point.y >= threshold - 4 * point.sigma, "refreshed fidelity \(point.y) ± \(point.sigma) at \(point.x) s")
        }
        #expect(refreshed.map(\.y).reduce(0, +) / Double(refreshed.count) > threshold)
        let last = try #require(bare.last)
        #expect(last.y < threshold - 4 * last.sigma, "without refresh the fidelity \(last.y) ± \(last.sigma) must fall below \(threshold)")
    }

    @Test("Refresh by a CPMG-4 block, planned with the T₂ gain Sequences predicts, keeps the memory above threshold for longer intervals")
    func refreshByDecoupling() throws {
        let bench = try Runtime.QubitBench.emulated("q0", on: try Self.station(Self.dephasingOnly))
        let bare = try #require(try DDSequence(.fid, pulses: 0, total: .seconds(1e-5)).coherenceTime(noise: Self.transmonNoise)).seconds
        let protected = try #require(try DDSequence(.cpmg, pulses: 4, total: .seconds(1e-4)).coherenceTime(noise: Self.transmonNoise)).seconds
        let model = CoherenceModel(t2: .seconds(bare), stretch: 2, initialFidelity: 1)
        let threshold = 0.8
        let result = try RefreshExperiment(
            model: model, threshold: threshold, horizon: .seconds(10 * bare),
            refresh: .decouple(family: .cpmg, pulses: 4, t2Factor: protected / bare), shots: 200).run(on: bench)
        let refreshed = result.points(in: "refreshed"), unprotected = result.points(in: "no refresh")
        #expect(refreshed.count >= 3)
        let intervals = zip(refreshed.dropFirst(), refreshed).map { $0.x - $1.x }
        #expect(intervals.allSatisfy { $0 > 3 * refreshed[0].x }, "a DD block must stretch the refresh interval: \(intervals)")
        for point in refreshed {
            #expect(point.y >= threshold - 4 * point.sigma, "refreshed fidelity \(point.y) ± \(point.sigma) at \(point.x) s")
        }
        let last = try #require(unprotected.last)
        #expect(last.y < threshold - 4 * last.sigma)
    }

    @Test("Noise spectroscopy recovers the 1/f^0.9 spectrum within 4σ + 30 % at each probed frequency")
    func spectroscopy() throws {
        let bench = try Runtime.QubitBench.emulated("q0", on: try Self.station(Self.dephasingOnly))
        let result = try NoiseSpectroscopyExperiment(pulseCounts: [1, 2], sampling: .predicted(Self.transmonNoise), shots: 200).run(on: bench)
        let spectrum = result.points(in: "S(ω)")
        #expect(spectrum.count >= 3)
        for point in spectrum {
            let truth = Self.transmonNoise.value(at: point.x)
            #expect(abs(point.y - truth) <= 4 * point.sigma + 0.3 * truth, "S(\(point.x)) = \(point.y) ± \(point.sigma), true \(truth)")
        }
    }

    @Test("An abort mid-experiment stops the generator, turns its outputs off and returns the partial data", arguments: ["q0", "q1"])
    func abort(qubit: String) throws {
        let bench = try Runtime.QubitBench.emulated(qubit, on: try Self.station())
        let seen = Atomic<Int>(0)
        let control = ExperimentControl(
            abortReason: { seen.load(ordering: .relaxed) >= 3 ? "mixing chamber above its limit" : nil },
            progress: { _ in seen.add(1, ordering: .relaxed) })
        let outcome = Result { () throws(ExperimentError) -> ExperimentResult in
            try ZenoExperiment(measurements: [1, 2, 4, 8, 16], shots: 100).run(on: bench, control: control)
        }
        guard case let .failure(.aborted(reason, partial)) = outcome else {
            Issue.record("expected .aborted, got \(outcome)")
            return
        }
        #expect(reason.contains("mixing chamber"))
        #expect(partial.status == .aborted && partial.points(in: "measured").count == 3 && partial.qubit == qubit)
        #expect(try bench.generator.runState() == .stopped)
        if let fgen = bench.generator as? Keysight33500B {
            #expect(try !fgen.isOutputEnabled(1) && !fgen.isOutputEnabled(2))
        }
    }

    @Test("Bad plans give typed errors naming the parameter")
    func badPlans() throws {
        let bench = try Runtime.QubitBench.emulated("q0", on: try Self.station())
        let cases: [(String, () throws -> ExperimentResult)] = [
            ("pulse count", { try CPMGSweep(family: .xy4, pulseCounts: [6], sampling: .around(.seconds(1e-4))).run(on: bench) }),
            ("pulse counts", { try CPMGSweep(pulseCounts: [], sampling: .around(.seconds(1e-4))).run(on: bench) }),
            ("shots", { try RamseyExperiment(sampling: .around(.seconds(4e-5)), shots: 1).run(on: bench) }),
            ("times", { try EchoExperiment(sampling: .times([.seconds(1e-6), .seconds(-1e-6), .seconds(2e-6), .seconds(3e-6), .seconds(4e-6)])).run(on: bench) }),
            ("sampling", { try T1Experiment(sampling: .predicted(Self.transmonNoise)).run(on: bench) }),
            ("coarse range", { try T1Experiment(sampling: .coarse(from: .seconds(1e-4), to: .seconds(1e-5))).run(on: bench) }),
            ("measurements", { try ZenoExperiment(measurements: [0, 2]).run(on: bench) }),
            ("threshold", { try RefreshExperiment(model: CoherenceModel(t2: .seconds(4e-5), stretch: 2), threshold: 0.4, horizon: .seconds(1e-4)).run(on: bench) }),
        ]
        for (parameter, run) in cases {
            do {
                _ = try run()
                Issue.record("\(parameter): the plan was accepted")
            } catch let ExperimentError.invalidPlan(_, named, reason) {
                #expect(named == parameter, "expected \(parameter), got \(named): \(reason)")
            } catch {
                Issue.record("\(parameter): expected .invalidPlan, got \(error)")
            }
        }
        #expect(throws: ExperimentError.self) { try Runtime.QubitBench.emulated("q7", on: try Self.station()) }
    }
}
