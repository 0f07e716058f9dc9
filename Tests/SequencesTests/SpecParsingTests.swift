import Foundation
import Quantities
import Sequences
import Testing

@Suite("Sequences: spec and noise syntax")
struct SpecParsingTests {
    @Test("Specs as users write them", arguments: [
        ("cpmg-8,T=100us,pulse=20ns", DDFamily.cpmg, 8, 100e-6),
        ("XY8-16 tau=50ns pulse=24ns shape=gaussian", .xy8, 16, 16 * 50e-9),
        ("udd-6,T=10us", .udd, 6, 10e-6),
        ("Ramsey,T=5us", .fid, 0, 5e-6),
        ("echo,T=20us,budget=100us", .hahn, 1, 20e-6),
        ("pdd-3,tau=1us", .pdd, 3, 4e-6),
        ("cdd-3,T=8us", .cdd, 5, 8e-6),
        ("kdd-20,T=40us,pulse=10ns,shape=drag,beta=0.5ns", .kdd, 20, 40e-6),
    ])
    func parses(text: String, family: DDFamily, pulses: Int, total: Double) throws {
        let sequence = try SequenceSpec(parsing: text).sequence()
        #expect(sequence.family == family)
        #expect(sequence.pulseCount == pulses)
        #expect(abs(sequence.total.seconds - total) < 1e-15)
    }

    @Test("Malformed specs say what is wrong", arguments: [
        ("", "empty sequence spec"),
        ("cpgm-8,T=1us", "unknown sequence family \"cpgm\""),
        ("cpmg-x,T=1us", "must be an integer"),
        ("cpmg,T=1us", "say how many pulses"),
        ("cpmg-8", "exactly one of T"),
        ("cpmg-8,T=1us,tau=1us", "exactly one of T"),
        ("cpmg-8,T=1", "has no unit"),
        ("cpmg-8,T=1us,colour=red", "unknown key \"colour\""),
        ("cpmg-8,T=", "expected key=value"),
        ("cpmg-8,T=1us,shape=sinc", "shape=sinc"),
        ("cpmg-8,T=1us,beta=1ns", "beta applies to shape=drag only"),
        ("cpmg-0,T=1us", "N ≥ 1"),
        ("xy8-12,T=1us", "multiple of 8"),
        ("udd-4,tau=1us", "not equally spaced"),
        ("cpmg-8,tau=10ns,pulse=20ns", "shorter than"),
        ("cpmg-8,T=1ms,budget=100us", "exceeds the coherence budget"),
        ("cpmg-8,T=-1us", "must be positive"),
    ])
    func malformedSpecs(text: String, expected: String) {
        let error = #expect(throws: SequenceError.self) { try SequenceSpec(parsing: text).sequence() }
        #expect(error?.description.contains(expected) == true, "\(text): \(String(describing: error))")
    }

    @Test("Noise as users write it: units become angular frequencies, terms add")
    func noise() throws {
        let psd = try NoisePSD(parsing: "white(s0=1e3) + 1/f(A=1.4e8,alpha=0.9,low=1Hz,high=10MHz) + lorentzian(sigma=20kHz,tau=2us)")
        guard case let .sum(terms) = psd else { Issue.record("expected a sum, got \(psd)"); return }
        #expect(terms[0] == .white(s0: 1e3))
        #expect(terms[1] == .powerLaw(amplitude: 1.4e8, alpha: 0.9, low: 2 * .pi, high: 2 * .pi * 1e7))
        let sigma = 2 * Double.pi * 2e4
        #expect(terms[2] == .lorentzian(variance: sigma * sigma, correlationTime: 2e-6))
        #expect(try NoisePSD(parsing: "1/f(A=2.5e+3)") == .powerLaw(amplitude: 2.5e3, alpha: 1, low: 0, high: .infinity))
    }

    @Test("Malformed noise says what is wrong", arguments: [
        ("", "empty noise spec"),
        ("pink(A=1)", "unknown noise \"pink\""),
        ("white", "expected name(key=value"),
        ("white()", "needs s0"),
        ("white(s0=abc)", "is not a number"),
        ("white(s0=-1)", "S₀ must be zero or positive"),
        ("white(s0=1,colour=2)", "unknown key \"colour\""),
        ("1/f(alpha=1)", "needs A"),
        ("1/f(A=1,alpha=5)", "α must lie in (0, 3]"),
        ("1/f(A=1,low=10MHz,high=1Hz)", "0 ≤ low < high"),
        ("1/f(A=1,low=fast)", "low=fast"),
        ("lorentzian(sigma=1kHz)", "needs sigma and tau"),
        ("lorentzian(sigma=1kHz,tau=2)", "tau=2"),
        ("white(s0)", "is not key=value"),
        ("table(/nonexistent/psd.csv)", "cannot read"),
    ])
    func malformedNoise(text: String, expected: String) {
        let error = #expect(throws: SequenceError.self) { try NoisePSD(parsing: text) }
        #expect(error?.description.contains(expected) == true, "\(text): \(String(describing: error))")
    }

    @Test("A measured PSD table: comments and a header are skipped, bad lines name the file and line")
    func table() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qrrm-psd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "omega,S\n# measured on q0\n1,10\n10, 1\n100,0.1\n".write(to: dir.appendingPathComponent("good.csv"), atomically: true, encoding: .utf8)
        try "1,10\n10,x\n".write(to: dir.appendingPathComponent("bad.csv"), atomically: true, encoding: .utf8)
        try "1,10\n0.5,1\n".write(to: dir.appendingPathComponent("order.csv"), atomically: true, encoding: .utf8)
        let psd = try NoisePSD(parsing: "table(good.csv)", directory: dir)
        #expect(psd.value(at: 5.5) == 5.5)
        #expect(psd.value(at: 1000) == 0)
        let bad = #expect(throws: SequenceError.self) { try NoisePSD(parsing: "table(bad.csv)", directory: dir) }
        #expect(bad?.description.contains("bad.csv:2:") == true)
        let order = #expect(throws: SequenceError.self) { try NoisePSD(parsing: "table(order.csv)", directory: dir) }
        #expect(order?.description.contains("must increase") == true)
        // χ under a table equals χ under the same PSD written as terms, where the table is exact (white).
        try "0,2\n1e7,2\n".write(to: dir.appendingPathComponent("flat.csv"), atomically: true, encoding: .utf8)
        let sequence = try DDSequence(.cpmg, pulses: 4, total: .seconds(1e-3))
        let tabulated = try sequence.predict(noise: NoisePSD(parsing: "table(flat.csv)", directory: dir), tolerance: 1e-7)
        #expect(abs(tabulated.chi - 2 * 1e-3 / 2) <= max(tabulated.errorBound, 1e-6))
    }
}
