import Foundation
import Quantities
import Sequences
import Testing

/// The checks of REFERENCES.md, "Dynamical decoupling".
@Suite("Sequences: REFERENCES.md checks for positions, filter functions and χ")
struct ReferenceChecksTests {
    @Test("UDD-6 pulse positions")
    func uddPositions() throws {
        let udd = try DDSequence(.udd, pulses: 6, total: .seconds(1))
        let expected = [0.049516, 0.188255, 0.388740, 0.611260, 0.811745, 0.950484]
        for (p, e) in zip(udd.pulses.map(\.position), expected) { #expect(abs(p - e) < 5e-7) }
    }

    @Test("CPMG pulses lie along y (the prepared coherence), CP along x; XY and KDD phases")
    func phases() throws {
        #expect(try DDSequence(.cpmg, pulses: 4, total: .seconds(1)).pulses.allSatisfy { $0.phase == .pi / 2 })
        #expect(try DDSequence(.cp, pulses: 4, total: .seconds(1)).pulses.allSatisfy { $0.phase == 0 })
        let xy8 = try DDSequence(.xy8, pulses: 8, total: .seconds(1)).pulses.map { $0.phase / (.pi / 2) }
        #expect(xy8 == [0, 1, 0, 1, 1, 0, 1, 0])
        let xy16 = try DDSequence(.xy16, pulses: 16, total: .seconds(1)).pulses.map { $0.phase / (.pi / 2) }
        #expect(Array(xy16[8...]) == [2, 3, 2, 3, 3, 2, 3, 2])
        let kdd = try DDSequence(.kdd, pulses: 20, total: .seconds(1)).pulses.map { $0.phase * 6 / .pi }
        #expect(kdd.count == 20)
        for (a, b) in zip(kdd, [1, 0, 3, 0, 1, 4, 3, 6, 3, 4, 1, 0, 3, 0, 1, 4, 3, 6, 3, 4] as [Double]) { #expect(abs(a - b) < 1e-12) }
    }

    @Test("CDD: order 1 is the echo, order 2 is CPMG-2, order 3 has five pulses")
    func concatenated() throws {
        #expect(try DDSequence(.cdd, pulses: 1, total: .seconds(1)).pulses.map(\.position) == [0.5])
        #expect(try DDSequence(.cdd, pulses: 2, total: .seconds(1)).pulses.map(\.position) == [0.25, 0.75])
        #expect(try DDSequence(.cdd, pulses: 3, total: .seconds(1)).pulses.map(\.position) == [0.125, 0.375, 0.5, 0.625, 0.875])
    }

    static let closedFormCases: [(DDFamily, Int)] = [(.fid, 0), (.hahn, 1)]
        + [1, 2, 3, 4, 7, 8, 16, 64].map { (DDFamily.cpmg, $0) } + [1, 2, 3, 6, 10].map { (DDFamily.udd, $0) }
        + [(.xy4, 4), (.xy8, 8), (.xy16, 16), (.kdd, 20), (.cp, 5)]

    @Test("The general form matches the closed forms to 1e-9", arguments: closedFormCases)
    func closedForms(family: DDFamily, n: Int) throws {
        let sequence = try DDSequence(family, pulses: max(n, 1), total: .seconds(1))
        let filter = FilterFunction(sequence)
        var z = 0.013
        while z < 2000 {
            let closed = try #require(FilterFunction.closedForm(family, pulses: n, at: z))
            #expect(abs(filter.value(at: z) - closed) <= 1e-9 * max(1, closed), "\(family.rawValue)-\(n) at z = \(z)")
            z *= 1.37
        }
    }

    @Test("Equally spaced pulses' closed geometric sum agrees with the term-by-term sum, also next to its poles",
          arguments: [(DDFamily.cpmg, 2), (.cpmg, 7), (.cpmg, 64), (.xy8, 8), (.pdd, 5)])
    func geometricSum(family: DDFamily, n: Int) throws {
        let sequence = try DDSequence(family, pulses: n, total: .seconds(1))
        let filter = FilterFunction(sequence)
        let positions = sequence.pulses.map(\.position)
        let step = positions.count > 1 ? positions[1] - positions[0] : 1
        // r = −e^{iz·step} = 1 at z·step = π(2m + 1): approach those from both sides.
        for m in 0..<4 {
            let pole = Double.pi * Double(2 * m + 1) / step
            for offset in [-0.5, -0.2, -1e-3, -1e-9, 0, 1e-9, 1e-3, 0.2, 0.5, 1.3] {
                let z = pole + offset / step
                let direct = FilterFunction.idealForm(z, positions: positions)
                #expect(abs(filter.value(at: z) - direct) <= 1e-9 * max(1, direct), "\(family.rawValue)-\(n) at z = \(z)")
            }
        }
    }

    @Test("Where the tail is in closed form, χ at a loose tolerance lies within its error bound of a tight one",
          arguments: [(DDFamily.cpmg, 1), (.cpmg, 8), (.cpmg, 33), (.udd, 5), (.xy4, 4)])
    func closedTail(family: DDFamily, n: Int) throws {
        let noise = NoisePSD.sum([.powerLaw(amplitude: 3e6, alpha: 1.3, low: 2 * .pi, high: 2 * .pi * 1e6),
                                  .lorentzian(variance: 4e6, correlationTime: 1e-4)])
        let sequence = try DDSequence(family, pulses: n, total: .seconds(1e-3))
        let exact = try sequence.predict(noise: noise, tolerance: 1e-12)
        for tolerance in [1e-4, 1e-6, 1e-8] {
            let loose = try sequence.predict(noise: noise, tolerance: tolerance)
            #expect(loose.errorBound <= tolerance)
            #expect(abs(loose.chi - exact.chi) <= loose.errorBound + exact.errorBound,
                    "\(family.rawValue)-\(n) at \(tolerance): \(loose.chi) vs \(exact.chi)")
        }
    }

    @Test("The Fourier route (finite-pulse machinery) agrees with the ideal closed sum for ideal pulses")
    func fourierRoute() throws {
        let sequence = try DDSequence(.udd, pulses: 5, total: .seconds(2))
        let filter = FilterFunction(sequence)
        for z in stride(from: 0.1, to: 300, by: 7.3) {
            let omega = z / 2
            let viaTransform = 0.5 * omega * omega * filter.spectralWeight(omega)
            #expect(abs(viaTransform - filter.value(at: z)) < 1e-9 * max(1, viaTransform))
        }
    }

    @Test("F_CPMG-N(πN) = 2N²", arguments: [1, 2, 3, 4, 8, 17, 32])
    func cpmgPeak(n: Int) throws {
        let filter = FilterFunction(try DDSequence(.cpmg, pulses: n, total: .seconds(1)))
        #expect(abs(filter.value(at: .pi * Double(n)) - 2 * Double(n * n)) < 1e-9 * Double(n * n))
    }

    @Test("Low-frequency orders: UDD-N ∝ z^{2N+2}, CPMG ∝ z⁴ (odd N) and z⁶ (even N)", arguments: [
        (DDFamily.udd, 2, 6.0), (.udd, 3, 8.0), (.cpmg, 3, 4.0), (.cpmg, 4, 6.0), (.cpmg, 1, 4.0), (.fid, 1, 2.0),
    ])
    func lowFrequency(family: DDFamily, n: Int, order: Double) throws {
        let filter = FilterFunction(try DDSequence(family, pulses: n, total: .seconds(1)))
        let z = 1e-2
        let slope = log(filter.value(at: 2 * z) / filter.value(at: z)) / log(2)
        #expect(abs(slope - order) < 0.01, "\(family.rawValue)-\(n): slope \(slope)")
    }

    @Test("White noise: χ = S₀T/2 for FID and every CPMG-N (check 1: 0.150)", arguments: [0, 1, 2, 5, 16, 64])
    func white(n: Int) throws {
        let sequence = try DDSequence(n == 0 ? .fid : .cpmg, pulses: max(n, 1), total: .seconds(1))
        let prediction = try sequence.predict(noise: .white(s0: 0.3))
        #expect(abs(prediction.chi - 0.150) < 1e-12)
    }

    @Test("1/|ω| noise: spin echo χ = ln 2/(2π) (check 2)")
    func echoOneOverF() throws {
        let prediction = try DDSequence(.hahn, pulses: 1, total: .seconds(1))
            .predict(noise: .powerLaw(amplitude: 1, alpha: 1, low: 0, high: .infinity), tolerance: 1e-7)
        #expect(abs(prediction.chi - log(2) / (2 * .pi)) < 1e-6)
        #expect(prediction.errorBound < 1e-6)
        #expect(abs(prediction.chi - 0.110318) <= prediction.errorBound + 5e-7)
    }

    @Test("1/|ω| noise: 2πN·χ_CPMG-N (check 2)", arguments: [
        (1, 0.6931), (2, 0.7849), (4, 0.8176), (8, 0.8349), (16, 0.8437), (32, 0.8481),
    ])
    func cpmgOneOverF(n: Int, expected: Double) throws {
        let prediction = try DDSequence(.cpmg, pulses: n, total: .seconds(1))
            .predict(noise: .powerLaw(amplitude: 1, alpha: 1, low: 0, high: .infinity), tolerance: 1e-6)
        #expect(abs(2 * .pi * Double(n) * prediction.chi - expected) < 6e-5, "N = \(n): \(2 * .pi * Double(n) * prediction.chi)")
    }

    @Test("1/|ω| noise: FID with ω_ir·T = 1e-3 gives χ = (ln 1000 + 1.5 − γ_E)/(2π) = 1.24627 (check 2)")
    func fidInfrared() throws {
        let prediction = try DDSequence(.fid, pulses: 0, total: .seconds(1))
            .predict(noise: .powerLaw(amplitude: 1, alpha: 1, low: 1e-3, high: .infinity), tolerance: 1e-7)
        #expect(abs(prediction.chi - 1.24627) < 2e-5)
    }

    @Test("FID under 1/f without a low cutoff diverges, and says so")
    func fidDiverges() throws {
        let error = #expect(throws: SequenceError.self) {
            try DDSequence(.fid, pulses: 0, total: .seconds(1)).predict(noise: .powerLaw(amplitude: 1, alpha: 1, low: 0, high: .infinity))
        }
        #expect(error?.description.contains("low cutoff") == true)
    }

    @Test("1/f^α: CPMG χ ∝ T^{1+α}N^{−α}, so T₂ ∝ N^{α/(1+α)}")
    func scaling() throws {
        let alpha = 0.8
        // A high cutoff far above N/T changes χ by ~(2N+1)·ω_c^{−1−α} ≈ 1e-6 here, below what is tested.
        let noise = NoisePSD.powerLaw(amplitude: 1, alpha: alpha, low: 0, high: 1e4)
        let chi = { (n: Int, t: Double) throws(SequenceError) -> Double in
            try DDSequence(.cpmg, pulses: n, total: .seconds(t)).predict(noise: noise, tolerance: 1e-8).chi
        }
        let ratioT = try chi(8, 2) / chi(8, 1)
        #expect(abs(log2(ratioT) - (1 + alpha)) < 1e-3)
        let ratioN = try chi(16, 1) / chi(8, 1)
        #expect(abs(log2(ratioN) + alpha) < 0.02)
    }
}
