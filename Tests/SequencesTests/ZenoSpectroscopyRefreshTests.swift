import Foundation
import Quantities
import Sequences
import Testing

@Suite("Sequences: Zeno loops, noise spectroscopy, sequence choice, refresh planning")
struct ZenoSpectroscopyRefreshTests {
    @Test("Itano's table: P(n) = [1 − cosⁿ(π/n)]/2", arguments: [
        (1, 1.0), (2, 0.5), (4, 0.375), (8, 0.2346), (16, 0.1334), (32, 0.0716), (64, 0.0371),
    ])
    func itano(n: Int, expected: Double) throws {
        let p = try ZenoPrediction.transitionProbability(rabi: .pi / 1e-3, duration: .seconds(1e-3), measurements: n)
        #expect(abs(p - expected) < 5e-5)
    }

    @Test("Continuous measurement: the exact Bloch solution tends to (1 − e^{−Ω²T/Γ})/2 for Γ ≫ Ω, and to a Rabi flop for Γ → 0")
    func continuous() throws {
        let omega = 2 * Double.pi * 1e3, t = Time.seconds(5e-3)
        let strong = try ZenoPrediction.continuousTransitionProbability(rabi: omega, duration: t, dephasingRate: 1e7)
        #expect(abs(strong - (1 - exp(-omega * omega * 5e-3 / 1e7)) / 2) < 1e-6)
        let none = try ZenoPrediction.continuousTransitionProbability(rabi: omega, duration: .seconds(0.25e-3), dephasingRate: 0)
        #expect(abs(none - 0.5) < 1e-12)  // a quarter period: π/2
        let critical = try ZenoPrediction.continuousTransitionProbability(rabi: 1, duration: .seconds(2), dephasingRate: 2)
        #expect(abs(critical - (1 - exp(-2) * 3) / 2) < 1e-12)
        #expect(throws: SequenceError.self) { try ZenoPrediction.transitionProbability(rabi: 1, duration: .seconds(1), measurements: 0) }
    }

    @Test("Kofman–Kurizki: a bath peaked at the transition gives Zeno; one peaked off it gives anti-Zeno")
    func antiZeno() throws {
        // A Lorentzian centred at 0 evaluated near ω_a: decreasing with frequency. Measuring broadens the line:
        // with ω_a on the bath's steep flank far from its peak, sampling the peak side speeds the decay.
        let bath = NoisePSD.lorentzian(variance: 1, correlationTime: 1e-3)
        let onFlank = try ZenoPrediction.regime(coupling: bath, transition: 1e4, interval: .seconds(2e-4))
        #expect(onFlank.regime == .antiZeno, "\(onFlank)")
        // ω_a at the peak of a broad, flat-topped bath: broadening only samples lower values.
        let flat = NoisePSD.tabulated([.init(omega: 0, value: 0), .init(omega: 9e3, value: 1), .init(omega: 1.1e4, value: 1), .init(omega: 2e4, value: 0)])
        let atPeak = try ZenoPrediction.regime(coupling: flat, transition: 1e4, interval: .seconds(5e-3))
        #expect(atPeak.regime == .zeno, "\(atPeak)")
    }

    @Test("Spectroscopy recovers a 1/f PSD from exact CPMG decays to within the comb approximation and the noise")
    func spectroscopy() throws {
        let truth = NoisePSD.powerLaw(amplitude: 2e7, alpha: 0.8, low: 0, high: 2 * .pi * 3e7)
        var decays: [CPMGDecay] = []
        for n in [1, 2, 4, 8, 16, 32, 64] {
            for t in [40e-6, 80e-6] {
                let chi = try DDSequence(.cpmg, pulses: n, total: .seconds(t)).predict(noise: truth, tolerance: 1e-6).chi
                decays.append(CPMGDecay(pulses: n, total: .seconds(t), coherence: exp(-chi), coherenceError: 0.005))
            }
        }
        let estimate = try NoiseSpectroscopy.estimate(decays)
        // N/T repeats (2 pulses in 80 µs probe what 1 pulse in 40 µs does): 8 distinct frequencies.
        #expect(estimate.points.count == 8)
        for point in estimate.points.dropFirst().dropLast() {
            let exact = truth.value(at: point.omega)
            #expect(abs(point.value - exact) < 0.15 * exact + 3 * point.standardError, "ω = \(point.omega): \(point.value) ± \(point.standardError), true \(exact)")
            #expect(point.standardError > 0)
        }
        // Bad input is typed.
        #expect(throws: SequenceError.self) { try NoiseSpectroscopy.estimate([]) }
        #expect(throws: SequenceError.self) {
            try NoiseSpectroscopy.estimate([CPMGDecay(pulses: 4, total: .seconds(1e-5), coherence: 1.2, coherenceError: 0.01)])
        }
    }

    @Test("The best sequence: high-order DD wins without pulse errors, few pulses win when pulses are costly")
    func choice() throws {
        let noise = NoisePSD.powerLaw(amplitude: 1e8, alpha: 0.9, low: 2 * .pi, high: 2 * .pi * 1e7)
        let free = try SequenceChoice.rank(noise: noise, total: .seconds(100e-6), maximumPulses: 32, pulseError: 0)
        let costly = try SequenceChoice.rank(noise: noise, total: .seconds(100e-6), maximumPulses: 32, pulseError: 0.02)
        #expect(free[0].pulses >= 16, "\(free[0])")
        #expect(costly[0].pulses < free[0].pulses, "\(costly[0]) vs \(free[0])")
        #expect(free == free.sorted { $0.fidelity > $1.fidelity })
        #expect(throws: SequenceError.self) { try SequenceChoice.rank(noise: noise, total: .seconds(1e-4), maximumPulses: 0, pulseError: 0) }
    }

    static let qubit = CoherenceModel(t2: .seconds(100e-6), stretch: 1, initialFidelity: 0.999)

    @Test("One resource is refreshed before every crossing, and the forecast never dips below its threshold")
    func single() throws {
        let r = RefreshResource(id: "q0", model: Self.qubit, threshold: 0.9, priority: 0, kind: .reprepare, duration: .seconds(1e-6))
        let plan = try RefreshPlanner.plan([r], horizon: .seconds(1e-3))
        #expect(plan.violations.isEmpty)
        #expect(plan.cycles.count >= 4)
        for t in stride(from: 0.0, to: 1e-3, by: 1e-7) {
            let f = try #require(plan.forecast("q0", at: t))
            if f < 0.9 { Issue.record("fidelity \(f) at \(t) s"); break }
        }
    }

    @Test("Colliding refreshes on one lane: the important resource keeps its slot, the other moves earlier; an impossible one is a violation")
    func collisions() throws {
        let a = RefreshResource(id: "a", model: Self.qubit, threshold: 0.9, priority: 0, kind: .reprepare, duration: .seconds(5e-6))
        let b = RefreshResource(id: "b", model: Self.qubit, threshold: 0.9, priority: 2, kind: .decouple(t2Factor: 3), duration: .seconds(5e-6))
        let plan = try RefreshPlanner.plan([a, b], horizon: .seconds(1e-3))
        #expect(plan.violations.isEmpty)
        let sorted = plan.cycles.sorted { $0.start < $1.start }
        for (x, y) in zip(sorted, sorted.dropFirst()) { #expect(x.end <= y.start + 1e-15, "\(x) overlaps \(y)") }
        // The DD-protected resource needs fewer refreshes.
        #expect(plan.cycles.filter { $0.resource == "b" }.count < plan.cycles.filter { $0.resource == "a" }.count)
        // A refresh longer than the whole interval can never finish in time.
        let slow = RefreshResource(id: "slow", model: Self.qubit, threshold: 0.99, priority: 0, kind: .correct, duration: .seconds(1e-3))
        #expect(!(try RefreshPlanner.plan([slow], horizon: .seconds(1e-3)).violations.isEmpty))
        #expect(throws: SequenceError.self) {
            try RefreshPlanner.plan([RefreshResource(id: "x", model: Self.qubit, threshold: 0.9999, priority: 0, kind: .reprepare, duration: .seconds(1e-6))], horizon: .seconds(1))
        }
    }
}
