import Foundation
import HAL
import Quantities

/// The `qubits:` section of a hardware profile: a list of qubits, each a preset with overrides, its
/// dephasing noise as a list of PSD terms, and its wiring:
///
///     qubits:
///       - name: q0
///         preset: transmon            # or siGeSpin; omitted: transmon
///         frequency: 5.1GHz
///         T1: 100us
///         noise: [{white: {s0: 1e3}}, {powerLaw: {amplitude: 1.4e8, alpha: 0.9, low: 1Hz, high: 10MHz}},
///                 {lorentzian: {sigma: 20kHz, correlationTime: 2us}}]
///         drive: {generator: awg1, i: 1, q: 2}
///         readout: {instrument: scope1, trigger: {generator: awg1, channel: 1, marker: 1}}
///
/// Frequencies with a unit are in Hz and become angular (×2π): cutoffs, `sigma` and `detuning`; a bare
/// number for `low`, `high` or `sigma` is already rad/s. `s0` (rad²/s) and `amplitude` (S at 1 rad/s)
/// are plain numbers. `rabiPerVolt` is a frequency per volt ("50MHz").
enum QubitProfileReader {
    static let presets: [String: QubitSpec] = ["transmon": .transmon, "siGeSpin": .siGeSpin]
    static let qubitKeys = [
        "name", "preset", "frequency", "detuning", "T1", "noise", "rabiPerVolt", "amplitudeError", "phaseError",
        "readout", "drive",
    ]

    /// Reads the section; `seed` seeds the testbed.
    static func qubits(_ value: YAMLValue, seed: UInt64) throws(ProfileError) -> TestbedSpec {
        var qubits: [TestbedSpec.Qubit] = []
        var readouts: [TestbedSpec.ReadoutWiring] = []
        var triggerValues: [String: YAMLValue] = [:]
        for item in try value.list() {
            let m = try item.mapping(allowed: qubitKeys)
            let nameValue = try m.required("name")
            let name = try nameValue.string()
            if qubits.contains(where: { $0.name == name }) { throw nameValue.error("qubit \"\(name)\" is defined twice") }
            var spec = try m.optional("preset")?.oneOf(presets) ?? .transmon
            if let v = m.optional("frequency") { spec.frequency = try frequency(v, nonNegative: true) }
            if let v = m.optional("detuning") { spec.detuning = try frequency(v, nonNegative: false) }
            if let v = m.optional("T1") { spec.t1 = try time(v) }
            if let v = m.optional("noise") { spec.dephasing = try noise(v) }
            if let v = m.optional("rabiPerVolt") { spec.rabiPerVolt = try frequency(v, nonNegative: true) }
            if let v = m.optional("amplitudeError") {
                spec.amplitudeError = try v.number()
                guard spec.amplitudeError > -1 else { throw v.error("the amplitude error must be above −1, got \(spec.amplitudeError)") }
            }
            if let v = m.optional("phaseError") { spec.phaseError = try v.number() }
            var qubit = TestbedSpec.Qubit(name: name, spec: spec)
            if let v = m.optional("drive") {
                let d = try v.mapping(allowed: ["generator", "i", "q"])
                let i = try d.required("i").integer(in: 1...64)
                let q = try d.optional("q")?.integer(in: 1...64)
                if q == i, let qValue = d.optional("q") { throw qValue.error("the Q channel must differ from the I channel (\(i))") }
                qubit.drive = .init(generator: try d.required("generator").string(), i: i, q: q)
            }
            if let v = m.optional("readout") {
                let r = try v.mapping(allowed: ["instrument", "trigger", "groundFidelity", "excitedFidelity", "ground", "excited", "sigma"])
                let instrument = try r.required("instrument").string()
                qubit.readout = instrument
                if let t = r.optional("trigger") {
                    let tm = try t.mapping(allowed: ["generator", "channel", "marker"])
                    let trigger = TestbedSpec.MarkerSource(
                        generator: try tm.required("generator").string(), channel: try tm.required("channel").integer(in: 1...64),
                        marker: try tm.required("marker").integer(in: 1...16))
                    if let existing = readouts.first(where: { $0.instrument == instrument }) {
                        guard existing.trigger == trigger else {
                            throw t.error("readout \(instrument) is already triggered by \(existing.trigger.generator) channel \(existing.trigger.channel) marker \(existing.trigger.marker)")
                        }
                    } else {
                        readouts.append(.init(instrument: instrument, trigger: trigger))
                        triggerValues[instrument] = t
                    }
                }
                if let p = r.optional("groundFidelity") { spec.readout.groundFidelity = try p.fraction() }
                if let p = r.optional("excitedFidelity") { spec.readout.excitedFidelity = try p.fraction() }
                if let p = r.optional("ground") { spec.readout.ground = try point(p) }
                if let p = r.optional("excited") { spec.readout.excited = try point(p) }
                if let p = r.optional("sigma") { spec.readout.sigma = try volts(p, nonNegative: true) }
                qubit.spec = spec
            }
            qubits.append(qubit)
        }
        for (index, qubit) in qubits.enumerated() {
            if let instrument = qubit.readout, !readouts.contains(where: { $0.instrument == instrument }) {
                let item = try value.list()[index]
                throw try item.mapping(allowed: qubitKeys).required("readout").error("readout \(instrument) needs a trigger: {generator, channel, marker} on one of its qubits")
            }
        }
        let spec = TestbedSpec(qubits: qubits, readouts: readouts, seed: seed)
        do { try spec.validate() } catch { throw value.error(error.message) }
        return spec
    }

    static func noise(_ value: YAMLValue) throws(ProfileError) -> NoiseSpectrum {
        var terms: [NoiseSpectrum.Term] = []
        for item in try value.list() {
            let m = try item.mapping(allowed: ["white", "powerLaw", "lorentzian"])
            guard m.entries.count == 1, let (kind, body) = m.entries.first else {
                throw item.error("each noise term is one of white, powerLaw, lorentzian")
            }
            let term: NoiseSpectrum.Term
            switch kind {
            case "white":
                term = .white(s0: try body.mapping(allowed: ["s0"]).required("s0").nonNegativeNumber())
            case "powerLaw":
                let p = try body.mapping(allowed: ["amplitude", "alpha", "low", "high"])
                let alphaValue = try p.required("alpha")
                let alpha = try alphaValue.positiveNumber()
                guard alpha <= 2 else { throw alphaValue.error("alpha must lie in (0, 2], got \(alpha)") }
                let low = try angular(p.required("low")), highValue = try p.required("high")
                let high = try angular(highValue)
                guard high > low else { throw highValue.error("the high cutoff must exceed the low cutoff") }
                term = .powerLaw(amplitude: try p.required("amplitude").nonNegativeNumber(), alpha: alpha, low: low, high: high)
            default:
                let l = try body.mapping(allowed: ["sigma", "correlationTime"])
                let sigma = try angular(l.required("sigma"), allowZero: true)
                term = .lorentzian(variance: sigma * sigma, correlationTime: try time(l.required("correlationTime")))
            }
            do { _ = try NoiseSpectrum([term]) } catch { throw item.error(error.message) }
            terms.append(term)
        }
        do { return try NoiseSpectrum(terms) } catch { throw value.error(error.message) }
    }

    /// A positive duration with its unit ("100us").
    static func time(_ value: YAMLValue) throws(ProfileError) -> Double {
        let text = try value.string()
        let seconds: Double
        do { seconds = try Time(parsing: text).siValue } catch { throw value.error("\(error)") }
        guard seconds > 0 else { throw value.error("expected a positive duration, got \"\(text)\"") }
        return seconds
    }

    /// A frequency with its unit, in Hz.
    static func frequency(_ value: YAMLValue, nonNegative: Bool) throws(ProfileError) -> Double {
        let text = try value.string()
        let hertz: Double
        do { hertz = try Frequency(parsing: text).siValue } catch { throw value.error("\(error)") }
        if nonNegative, hertz < 0 { throw value.error("expected a frequency ≥ 0, got \"\(text)\"") }
        return hertz
    }

    /// An angular frequency: a bare number in rad/s, or a frequency with its unit (×2π); positive.
    static func angular(_ value: YAMLValue, allowZero: Bool = false) throws(ProfileError) -> Double {
        let omega: Double
        if let number = try? value.number() { omega = number } else { omega = 2 * .pi * (try frequency(value, nonNegative: true)) }
        guard omega.isFinite, omega > 0 || (allowZero && omega == 0) else {
            throw value.error("expected a positive angular frequency (rad/s, or Hz with a unit), got \(omega)")
        }
        return omega
    }

    /// A voltage: a bare number in V or a value with its unit ("0.2mV").
    static func volts(_ value: YAMLValue, nonNegative: Bool) throws(ProfileError) -> Double {
        if let number = try? value.number() {
            if nonNegative, number < 0 { throw value.error("expected a voltage ≥ 0, got \(number)") }
            return number
        }
        let text = try value.string()
        let v: Double
        do { v = try Voltage(parsing: text).siValue } catch { throw value.error("\(error)") }
        if nonNegative, v < 0 { throw value.error("expected a voltage ≥ 0, got \"\(text)\"") }
        return v
    }

    /// An IQ centre written [i, q], each a voltage.
    static func point(_ value: YAMLValue) throws(ProfileError) -> IQPoint {
        let pair = try value.list()
        guard pair.count == 2 else { throw value.error("expected [i, q]") }
        return IQPoint(i: try volts(pair[0], nonNegative: false), q: try volts(pair[1], nonNegative: false))
    }
}

extension TestbedSpec {
    /// Reads a profile's `qubits:` section from YAML text (`file` names it in errors): the section's own
    /// document, with a list of qubits at its root or under a `qubits` key.
    public init(yaml: String, file: String, seed: UInt64 = 1) throws(ProfileError) {
        let root = try parseYAML(yaml, file: file)
        if case .mapping = root.node {
            self = try QubitProfileReader.qubits(root.mapping(allowed: ["qubits"]).required("qubits"), seed: seed)
        } else {
            self = try QubitProfileReader.qubits(root, seed: seed)
        }
    }
}
