import Emulator
import Foundation
import HAL
import Runtime
import Testing

/// Station files: the demo station reads as written, and each kind of mistake is reported at its file, line and key.
@Suite("Station files")
struct StationTests {
    static let stations = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("HardwareProfiles/stations")
    static let demo = stations.appendingPathComponent("demo.yaml")

    @Test("The demo station reads as written")
    func demoStation() throws {
        let station = try Station(contentsOf: Self.demo)
        #expect(station.node == "demo-node")
        #expect(station.emulator?.serving == .loopback)
        #expect(station.emulator?.profile.lastPathComponent == "transmon-demo.yaml")
        #expect(station.telemetry.security == .plaintext)
        #expect(station.loop.rate == 1000 && station.loop.priority == 80)
        #expect(station.instruments.map(\.id) == ["ls372", "maxigauge", "f71", "awg", "scope"])
        #expect(station.instrument("scope")?.tones == [25e6])
        #expect(station.channel("mxc")?.reading == .input("6"))
        #expect(station.channel("ovc")?.reading == .sensor("pressure gauge 1"))
        #expect(station.channel("mxcHeater")?.reading == .heater(0))
        #expect(station.channel("mxcHeaterPower")?.reading == .heaterPower(0))
        #expect(station.channel("mxcHeaterPower")?.reading.unit == "W")
        let q0 = try #require(station.qubits.first)
        #expect(q0.generator == "awg" && q0.readout == "scope" && q0.rabiPerVolt == 50e6 && abs(q0.piPulse - 20e-9) < 1e-18)
        #expect(abs(q0.ground.i - 1e-3) < 1e-12 && abs(q0.excited.q - 0.9e-3) < 1e-12)
        #expect(q0.fidelity?.ground == 0.985 && q0.fidelity?.excited == 0.955)
        let warm = try #require(station.interlocks.first { $0.name == "mxc-warm" })
        #expect(warm.condition == .above(channel: "mxc", threshold: 0.1) && warm.severity == .critical)
        #expect(station.interlocks.first { $0.name == "ovc-pressure" }?.condition == .above(channel: "ovc", threshold: 0.1))
        #expect(station.interlocks.first { $0.name == "field-high" }?.targets == ["awg"])
        #expect(station.safeState == [.outputsOff(instrument: "awg"), .heaterOff(instrument: "ls372", output: 0)])
        #expect(station.admission == Station.Admission(channel: "mxc", below: 0.03))
        #expect(station.run.map(\.experiment) == ["cooldownCheck", "cpmgSweep", "zeno", "refresh"])
        #expect(station.run[1].qubit == "q0" && station.run[1].parameters["pulses"]?.items == ["1", "2", "4", "8", "16"])
    }

    @Test("Qubits and other particles are announced as the particle type they are advertised as")
    func particleTypes() throws {
        let text = try Self.mutated("advertise: {coherence: 150us,", "advertise: {type: qudit, coherence: 150us,")
            + "\nparticles:\n  - {name: spdc0, advertise: {type: photon-pair, coherence: 20us, fidelity: 0.93, entanglementReady: true}}\n"
        let station = try Station(yaml: text, file: Self.demo)
        #expect(station.qubits.first?.advertised?.type == "qudit")
        let spdc0 = try #require(station.particles.first)
        #expect(station.particles.count == 1 && spdc0.name == "spdc0" && spdc0.advertised.type == "photon-pair")
        #expect(spdc0.advertised.coherenceTime == 20e-6 && spdc0.advertised.fidelity == 0.93 && spdc0.advertised.entanglementReady)
        let announced = Node.announcement(station).qubits
        #expect(announced.map(\.id) == ["q0", "spdc0"] && announced.map(\.particleType) == ["qudit", "photon-pair"])
        let spdc = Dictionary(uniqueKeysWithValues: announced[1].properties.map { ($0.name, $0.value) })
        #expect(spdc == ["coherenceTime": 20e-6, "fidelity": 0.93, "entanglementReady": 1])
        // Without a type, a qubit is announced as one.
        #expect(Node.announcement(try Station(contentsOf: Self.demo)).qubits.map(\.particleType) == ["qubit"])
    }

    @Test("A malformed particle names its line and key", arguments: [
        ("{name: q0, advertise: {coherence: 1us, fidelity: 0.9}}", "particles[0].name", "already the name"),
        ("{name: ls372, advertise: {coherence: 1us, fidelity: 0.9}}", "particles[0].name", "already the name"),
        ("{name: mxc, advertise: {coherence: 1us, fidelity: 0.9}}", "particles[0].name", "channel"),
        ("{name: spdc0}", "particles[0].advertise", "missing"),
        ("{name: spdc0, advertise: {type: photon pair, coherence: 1us, fidelity: 0.9}}", "particles[0].advertise.type", "letters, digits and -"),
        ("{name: spdc0, advertise: {coherence: 0us, fidelity: 0.9}}", "particles[0].advertise.coherence", "positive"),
        ("{name: spdc0, colour: red, advertise: {coherence: 1us, fidelity: 0.9}}", "particles[0].colour", "unknown key"),
    ])
    func malformedParticle(entry: String, keyPath: String, fragment: String) throws {
        let text = try String(contentsOf: Self.demo, encoding: .utf8) + "\nparticles:\n  - \(entry)\n"
        #expect { try Station(yaml: text, file: Self.demo) } throws: { error in
            guard let error = error as? ProfileError else { return false }
            return error.keyPath == keyPath && error.message.contains(fragment) && error.line == text.components(separatedBy: "\n").count - 1
        }
    }

    /// The demo file with `old` replaced by `new`.
    static func mutated(_ old: String, _ new: String) throws -> String {
        let text = try String(contentsOf: demo, encoding: .utf8)
        precondition(text.contains(old), "the demo station no longer contains \(old)")
        return text.replacingOccurrences(of: old, with: new)
    }

    @Test("Each mistake names the file, line and key", arguments: [
        ("node: demo-node", "nodes: demo-node", "nodes", "unknown key"),
        ("node: demo-node", "node: demo/node", "node", "topic"),
        ("  security: plaintext", "  security: none", "telemetry.security", "plaintext or"),
        ("  endpoint: tcp://127.0.0.1:5556", "  endpoint: 127.0.0.1:5556", "telemetry.endpoint", "ZeroMQ endpoint"),
        ("rate: 1kHz", "rate: 0.1Hz", "loop.rate", "1 Hz to 100 kHz"),
        ("rate: 1kHz", "rate: 1kg", "loop.rate", "unit"),
        ("model: tpg366", "model: tpg999", "instruments[1].model", "expected one of"),
        ("\"LOOPBACK::f71\"", "\"TCPIP0::host\"", "instruments[2].resource", ""),
        ("\"LOOPBACK::f71\"", "\"GPIO::gpiochip0::3\"", "instruments[2].resource", "lines:"),
        ("{id: f71, model: f71,", "{id: ls372, model: f71,", "instruments[2].id", "duplicate"),
        ("{name: still, instrument: ls372,", "{name: still, instrument: ls373,", "channels[1].instrument", "no instrument \"ls373\""),
        ("input: \"3\", every: 1s", "input: \"3\", heater: 1, every: 1s", "channels[1]", "exactly one of"),
        ("sensor: magnetic field z", "input: \"1\"", "channels[6].input", "f71 has no input"),
        ("heaterPower: 0, every: 1s", "heaterPower: 1, every: 1s", "channels[4].heaterPower", "only the sample heater"),
        ("instrument: maxigauge, sensor: pressure gauge 1", "instrument: maxigauge, heaterPower: 0", "channels[5].heaterPower", "tpg366 has no heaterPower"),
        ("every: 200ms", "every: 0.1ms", "channels[0].every", "1 ms to 1 h"),
        ("above: 100mK", "above: 100mbar", "interlocks[0].above", "unit"),
        ("targets: [awg]", "targets: [scope]", "interlocks[2].targets[0]", "no safeState entry"),
        ("instrumentLost: ls372", "instrumentLost: ls999", "interlocks[3].instrumentLost", "no instrument"),
        ("{name: io-watchdog, watchdog: 5s", "{name: mxc-warm, watchdog: 5s", "interlocks[4].name", "duplicate"),
        ("{instrument: ls372, heaterOff: 0}", "{instrument: scope, heaterOff: 0}", "safeState[1].heaterOff", "no heater"),
        ("admission: {channel: mxc", "admission: {channel: mixing", "admission.channel", "no channel"),
        ("generator: awg, i: 1", "generator: scope, i: 1", "qubits[0].drive.generator", "not a pulse generator"),
        ("rabiPerVolt: 50MHz", "rabiPerVolt: 50", "qubits[0].drive.rabiPerVolt", ""),
        ("ground: [1.0mV, 0.2mV]", "ground: [1.0mV]", "qubits[0].readout.ground", "[i, q]"),
        ("fidelity: [0.985, 0.955]", "fidelity: [0.5, 0.4]", "qubits[0].readout.fidelity", "sum to more than 1"),
        ("fidelity: [0.985, 0.955]", "fidelity: [0.985, 1.2]", "qubits[0].readout.fidelity[1]", "0 to 1"),
        ("cpmgSweep: {qubit: q0,", "cpmgSweep: {qubit: q7,", "run[1].cpmgSweep.qubit", "no qubit \"q7\""),
        ("emulator: {profile: ../transmon-demo.yaml, serve: loopback}", "", "instruments", "needs an emulator"),
        ("emulator: {profile: ../transmon-demo.yaml", "emulator: {profile: ../missing.yaml", "emulator.profile", "no profile"),
    ])
    func malformed(old: String, new: String, keyPath: String, fragment: String) throws {
        let text = try Self.mutated(old, new)
        let line = text.components(separatedBy: "\n").firstIndex { $0.contains(new.isEmpty ? "instruments:" : new.components(separatedBy: "\n")[0]) }.map { $0 + 1 }
        do {
            let station = try Station(yaml: text, file: Self.demo)
            Issue.record("accepted a station with \(new): \(station.node)")
        } catch {
            #expect(error.file == "demo.yaml")
            #expect(error.keyPath == keyPath, "\(error)")
            #expect(fragment.isEmpty || error.message.contains(fragment), "\(error)")
            if let line, !new.isEmpty { #expect(error.line == line, "\(error) (expected line \(line))") }
        }
    }

    @Test("A YAML syntax error names its line")
    func syntax() throws {
        let text = try Self.mutated("  - {id: f71, model: f71, resource: \"LOOPBACK::f71\"}", "  - {id: f71, model: f71, resource: \"LOOPBACK::f71\"")
        #expect(throws: ProfileError.self) { try Station(yaml: text, file: Self.demo) }
        do { _ = try Station(yaml: text, file: Self.demo) } catch {
            #expect(error.message.contains("YAML syntax error") && error.line >= 18, "\(error)")
        }
    }

    @Test("A missing file and a missing section are reported by name")
    func missing() throws {
        #expect { try Station(contentsOf: Self.stations.appendingPathComponent("nope.yaml")) } throws: { error in
            (error as? ProfileError)?.message.contains("cannot read the station file") == true
        }
        let text = try Self.mutated("loop: {rate: 1kHz, priority: 80, lockMemory: true}", "")
        #expect { try Station(yaml: text, file: Self.demo) } throws: { error in
            (error as? ProfileError).map { $0.keyPath == "loop" && $0.message == "missing required key" } == true
        }
    }
}
