import Foundation
import Quantities
import Sequences
import Testing

/// χ from the Sequences library against the PyPI package `filter-functions` (qutech) for the same sequence
/// and noise. The library integrates ideal π pulses; filter-functions gets them as square pulses 10⁻⁶ T long,
/// so their width changes χ by far less than the 1e-3 compared.
@Suite("Sequences' χ agrees with filter-functions within 1e-3 relative", .serialized)
struct FilterFunctionsChiTests {
    static let total = 1e-3
    static let width = total * 1e-6

    /// The drive as filter-functions takes it: π/2ₓ, free periods, π pulses on their axes, π/2ₓ.
    static func drive(_ sequence: DDSequence) -> String {
        let rabi = Double.pi / width
        var pieces = ["[\(width), \(rabi / 2), 0]"]
        var time = width / 2
        for pulse in sequence.pulses {
            let start = pulse.position * total - width / 2
            pieces.append("[\(start - time), 0, 0]")
            pieces.append("[\(width), \(rabi), \(pulse.phase)]")
            time = start + width
        }
        pieces.append("[\(total - width / 2 - time), 0, 0]")
        pieces.append("[\(width), \(rabi / 2), 0]")
        return "[" + pieces.joined(separator: ", ") + "]"
    }

    enum Noise: String, CaseIterable, CustomStringConvertible {
        case white, oneOverF, lorentzian
        var description: String { rawValue }
        /// Strengths that put χ near 1 at T = 1 ms.
        var psd: NoisePSD {
            switch self {
            case .white: .white(s0: 2e3)
            case .oneOverF: .powerLaw(amplitude: 3e6, alpha: 1, low: 2 * .pi, high: 2 * .pi * 1e7)
            case .lorentzian: .lorentzian(variance: 4e6, correlationTime: 1e-4)
            }
        }
        var json: String {
            switch self {
            case .white: "{\"white\": 2e3}"
            case .oneOverF: "{\"powerLaw\": [3e6, 1, \(2 * Double.pi), \(2 * Double.pi * 1e7)]}"
            case .lorentzian: "{\"lorentzian\": [4e6, 1e-4]}"
            }
        }
    }

    static let sequences: [(DDFamily, Int)] = [(.fid, 0), (.hahn, 1), (.cpmg, 2), (.cpmg, 8), (.cpmg, 64), (.udd, 3), (.udd, 8),
                                               (.xy4, 4), (.xy8, 8), (.xy16, 16)]

    @Test("FID, echo, CPMG-N up to 64, UDD-N and the XY families under white, 1/f and Lorentzian noise")
    func agreement() throws {
        var cases: [String] = []
        var specs: [String] = []
        var ours: [Double] = []
        for (family, n) in Self.sequences {
            let sequence = try DDSequence(family, pulses: max(n, 1), total: .seconds(Self.total))
            for noise in Noise.allCases {
                // FID needs a low cutoff under 1/f; the 1/f noise here has one at 1 Hz.
                ours.append(try sequence.predict(noise: noise.psd, tolerance: 1e-9).chi)
                cases.append("\(family.rawValue)-\(n), \(noise)")
                specs.append("{\"segments\": \(Self.drive(sequence)), \"noise\": [\(noise.json)], \"points\": 40000}")
            }
        }
        let peer = try PythonPeer(
            "filter-functions", specs.flatMap { ["--spec", $0] },
            script: PythonPeer.folder.appendingPathComponent("ff_coherence.py"), deadline: .seconds(300))
        _ = try peer.waitFor("done", timeout: .seconds(300))
        try peer.finish()
        let theirs = peer.events("chi").compactMap { $0.numbers["chi"] }
        try #require(theirs.count == specs.count)
        for index in specs.indices {
            #expect(abs(ours[index] - theirs[index]) <= 1e-3 * theirs[index],
                    "\(cases[index]): Sequences χ = \(ours[index]), filter-functions χ = \(theirs[index])")
            // High-order decoupling suppresses 1/f and Lorentzian noise by orders of magnitude; χ must stay
            // well above the numerical noise of both integrations for the comparison to mean something.
            #expect(theirs[index] > 1e-4, "\(cases[index]): χ = \(theirs[index]) is too small to compare")
        }
    }
}
