import Foundation
import HAL
import Testing
@testable import Emulator

@Suite("Qubits profile section")
struct QubitProfileTests {
    static let good = """
    qubits:
      - name: q0
        preset: transmon
        frequency: 5.2GHz
        T1: 80us
        noise:
          - white: {s0: 1e3}
          - powerLaw: {amplitude: 1.4e8, alpha: 0.8, low: 1Hz, high: 10MHz}
          - lorentzian: {sigma: 20kHz, correlationTime: 2us}
        amplitudeError: 0.01
        drive: {generator: awg1, i: 1, q: 2}
        readout: {instrument: scope1, trigger: {generator: awg1, channel: 1, marker: 1}, sigma: 0.3mV, ground: [1mV, 0], excited: [-1mV, 0.5mV]}
      - name: s0
        preset: siGeSpin
        readout: {instrument: scope1}
    """

    @Test func readsPresetsOverridesNoiseAndWiring() throws {
        let spec = try TestbedSpec(yaml: Self.good, file: "station.yaml", seed: 9)
        #expect(spec.seed == 9)
        #expect(spec.qubits.map(\.name) == ["q0", "s0"])
        let q0 = spec.qubits[0].spec
        #expect(q0.frequency == 5.2e9 && abs(q0.t1 - 80e-6) < 1e-15 && q0.amplitudeError == 0.01)
        #expect(q0.rabiPerVolt == QubitSpec.transmon.rabiPerVolt)
        #expect(q0.dephasing.terms.count == 3)
        if case let .powerLaw(_, alpha, low, high) = q0.dephasing.terms[1] {
            #expect(alpha == 0.8 && abs(low - 2 * .pi) < 1e-9 && abs(high - 2 * .pi * 1e7) < 1e-3)
        } else {
            Issue.record("expected a power law")
        }
        if case let .lorentzian(variance, tau) = q0.dephasing.terms[2] {
            #expect(abs(variance - pow(2 * .pi * 2e4, 2)) < 1 && abs(tau - 2e-6) < 1e-18)
        }
        #expect(abs(q0.readout.sigma - 3e-4) < 1e-12 && q0.readout.excited == IQPoint(i: -1e-3, q: 5e-4))
        #expect(spec.qubits[0].drive == .init(generator: "awg1", i: 1, q: 2))
        #expect(spec.qubits[1].spec == QubitSpec.siGeSpin)
        #expect(spec.readouts == [.init(instrument: "scope1", trigger: .init(generator: "awg1", channel: 1, marker: 1))])
        _ = try QubitTestbed(spec)
    }

    /// Each malformed profile names the line and the key path.
    @Test(arguments: [
        ("- {name: q, T1: -5us}", 1, "[0].T1"),
        ("- {name: q, T1: 5 furlongs}", 1, "[0].T1"),
        ("- {name: q, T1: 5kHz}", 1, "[0].T1"),
        ("- {name: q, preset: fluxonium}", 1, "[0].preset"),
        ("- {name: q, colour: blue}", 1, "[0].colour"),
        ("- name: q\n  noise: [{pinkish: {s0: 1}}]", 2, "[0].noise[0].pinkish"),
        ("- name: q\n  noise: [{powerLaw: {amplitude: 1, alpha: 3, low: 1Hz, high: 1MHz}}]", 2, "[0].noise[0].powerLaw.alpha"),
        ("- name: q\n  noise: [{powerLaw: {amplitude: 1, alpha: 1, low: 1MHz, high: 1Hz}}]", 2, "[0].noise[0].powerLaw.high"),
        ("- name: q\n  noise: [{white: {s0: -3}}]", 2, "[0].noise[0].white.s0"),
        ("- name: q\n  noise: [{white: {s0: 1}, lorentzian: {sigma: 1, correlationTime: 1us}}]", 2, "[0].noise[0]"),
        ("- name: q\n  readout: {instrument: ro}", 2, "[0].readout"),
        ("- name: q\n  readout: {instrument: ro, excitedFidelity: 1.2, trigger: {generator: a, channel: 1, marker: 1}}", 2, "[0].readout.excitedFidelity"),
        ("- name: q\n  drive: {generator: a, i: 1, q: 1}", 2, "[0].drive.q"),
        ("- {name: q}\n- {name: q}", 2, "[1].name"),
    ])
    func malformedInputIsLocated(yaml: String, line: Int, key: String) {
        do {
            _ = try TestbedSpec(yaml: yaml, file: "bad.yaml")
            Issue.record("accepted \(yaml)")
        } catch {
            #expect(error.file == "bad.yaml")
            #expect(error.line == line, "\(error)")
            #expect(error.keyPath == key, "\(error)")
        }
    }
}
