import HAL
import Quantities
import Testing

@testable import Drivers

/// The 33500B driver's reads and its program upload, driven with hostile replies: each call returns or throws an
/// `InstrumentError`, never traps; values read are sent back through the matching setter.
@Suite struct Keysight33500BFuzzTests {
    static func transport(seed: UInt64) -> FuzzTransport {
        FuzzTransport(seed: seed, terminator: "\n") { command, _, random -> String? in
            switch command {
            case "*IDN?":
                return ["Keysight Technologies,33522B,MY1,4.00", "Agilent Technologies,33511B,MY2,2.0", "Keysight Technologies,33622A,X,1",
                        "Rigol,33522B,X,1", Hostile.fields(4, &random)].randomElement(using: &random)!
            case "*OPT?": return ["\"MEM\"", "\"\"", "0,MEM", "\"MEM,ARB\"", Hostile.fields(2, &random)].randomElement(using: &random)!
            case "SYST:ERR?":
                return ["+0,\"No error\"", "+0,\"No error\"", "+0,\"No error\"", "-222,\"Data out of range\"",
                        "+781,\"Not enough memory\"", Hostile.fields(2, &random)].randomElement(using: &random)!
            default:
                guard command.contains("?") || Int.random(in: 0..<16, using: &random) == 0 else { return nil }
                let words = ["0", "1", "SIN", "ARB", "TRIG", "GAT", "BUS", "EXT", "IMM", "TIM", "POS", "NEG", "VPP", "VRMS",
                             "\"QR1\"", "\"A\",\"B\"", "\"\"", "\"unterminated", "+1.00000000000000E+03"]
                return command.split(separator: ";").map { _ in
                    Bool.random(using: &random) ? words.randomElement(using: &random)! : Hostile.number(&random)
                }.joined(separator: ";")
            }
        }
    }

    /// A driver whose identification succeeded (hostile `*IDN?` replies make most attempts throw, as they must).
    static func driver() throws -> Keysight33500B {
        for seed in UInt64(1)...200 {
            if let awg = try? Keysight33500B(transport: transport(seed: seed), timeout: .milliseconds(1)) { return awg }
        }
        throw InstrumentError(instrument: "fuzz", command: nil, kind: .invalidArgument("no seed identified a 33500B"))
    }

    @Test func hostileReplies() throws {
        let awg = try Self.driver()
        let r = DriverFuzzTests.RandomBox(seed: 33500)
        let channel = { Int.random(in: 0...3, using: &r.generator) }
        let program = PulseProgram(
            sampleRate: .megasamplesPerSecond(100), channels: [.init(number: 1, amplitude: .volts(0.3))],
            segments: [.init(name: "a", length: 16, waveforms: [1: .samples((0..<16).map { Float($0) / 16 })],
                             markers: [.init(channel: 1, number: 1, start: 5, length: 2)]),
                       .init(name: "b", length: 8)],
            steps: [.init(segment: "a"), .init(segment: "b", repeats: 9)])
        let calls: [DriverFuzzTests.Call] = [
            { _ = try awg.identify() },
            { _ = try awg.errorQueue() },
            { let c = channel(); try awg.setFunction(try awg.function(channel: c), channel: c) },
            { let c = channel(); try awg.setFrequency(try awg.frequency(channel: c), channel: c) },
            { let c = channel(); try awg.setAmplitude(try awg.amplitude(channel: c), channel: c) },
            { let c = channel(); try awg.setAmplitudeUnit(try awg.amplitudeUnit(channel: c), channel: c) },
            { let c = channel(); try awg.setOffset(try awg.offset(channel: c), channel: c) },
            { let c = channel(); try awg.setOutput(c, enabled: try awg.isOutputEnabled(c)) },
            { let c = channel(); try awg.setOutputLoad(try awg.outputLoad(channel: c), channel: c) },
            { let c = channel(); try awg.setBurst(try awg.burst(channel: c), channel: c) },
            { let c = channel(); try awg.setTriggerSource(try awg.triggerSource(channel: c), channel: c) },
            { let c = channel(); try awg.setSampleRate(try awg.sampleRate(channel: c), channel: c) },
            { let c = channel(); try awg.setMarkerPoint(try awg.markerPoint(channel: c), channel: c) },
            { _ = try awg.volatileCatalog(channel: channel()) },
            { _ = try awg.volatileFreePoints(channel: channel()) },
            { _ = try awg.selectedArbitrary(channel: channel()) },
            { try awg.setSync(enabled: try awg.isSyncEnabled()) },
            { _ = try awg.runState() },
            { try awg.load(program) },
            { try awg.setTrigger(.bus, shots: Int.random(in: -1...3, using: &r.generator)) },
            { try awg.arm() },
            { try awg.trigger() },
            { try awg.stop() },
        ]
        let outcome = DriverFuzzTests.run(calls, r)
        #expect(outcome.successes > 0 && outcome.errors > 0, "\(outcome)")
    }
}
