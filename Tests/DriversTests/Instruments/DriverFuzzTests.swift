import HAL
import Quantities
import Testing

@testable import Drivers
import TestSupport

/// An in-memory transport that answers writes with hostile replies: `reply` builds one of roughly the right
/// shape from the command written and the one before it (nil: no reply), then the transport may garble,
/// truncate, split or drop it. A read with nothing to give times out at once.
final class FuzzTransport: ByteTransport {
    let resource = ResourceName(.loopback(id: "fuzz"))
    private var random: SplitMix64
    private let terminator: String
    private let reply: (_ command: String, _ previous: String, _ random: inout SplitMix64) -> String?
    private var previous = ""
    private var pending: [UInt8] = []

    init(
        seed: UInt64, terminator: String,
        reply: @escaping (_ command: String, _ previous: String, _ random: inout SplitMix64) -> String?
    ) {
        random = SplitMix64(seed: seed)
        self.terminator = terminator
        self.reply = reply
    }

    func write(_ bytes: UnsafeRawBufferPointer, timeout: Duration) throws(TransportError) {
        let command = String(decoding: bytes, as: UTF8.self).trimmingSuffix(terminator)
        defer { previous = command }
        guard let text = reply(command, previous, &random) else { return }
        var out = Array((text + terminator).utf8)
        switch Int.random(in: 0..<20, using: &random) {
        case 0: out = []  // dropped
        case 1: out = Array(out.prefix(Int.random(in: 0...out.count, using: &random)))  // truncated
        case 2:  // bytes replaced by anything, NUL and invalid UTF-8 included
            for _ in 0..<max(1, out.count / 8) where !out.isEmpty {
                out[Int.random(in: 0..<out.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
            }
        case 3: out.insert(contentsOf: Array(terminator.utf8), at: Int.random(in: 0...out.count, using: &random))  // split
        case 4: out = Array((String(repeating: "9", count: Int.random(in: 300...5000, using: &random)) + terminator).utf8)
        default: break
        }
        pending += out
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, timeout: Duration) throws(TransportError) -> Int {
        guard !pending.isEmpty else { throw TransportError(resource: resource, operation: "read", kind: .timeout) }
        let count = min(buffer.count, pending.count)
        for index in 0..<count { buffer[index] = pending[index] }
        pending.removeFirst(count)
        return count
    }

    func discardInput() throws(TransportError) {
        pending.removeAll()
    }

    func close() {}
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}

/// Replies of roughly the right shape whose numbers are hostile: SCPI's infinity and NaN sentinels, values
/// beyond a Double or beyond an Int, negative zero, words, and ordinary values so deeper paths are reached.
enum Hostile {
    static let numbers = [
        "9.9E37", "-9.9E37", "9.91E37", "1e303", "1.0E+307", "-1e308", "1e400", "0", "-0", "+0.0", "1", "-1", "0.5",
        "+12.3000E-03", "99999999999999999999", "-99999999999999999999", "9223372036854775807", "2", "3", "5", "8",
        "16", "25", "50", "100", "1000", "2000", "0.001", "1.732", "0.45", "NaN", "inf", "", "1.5e", "--1", ".", "0x10",
    ]

    static func number(_ random: inout SplitMix64) -> String {
        switch Int.random(in: 0..<4, using: &random) {
        case 0: String(Int.random(in: -2...30, using: &random))
        case 1: String(Double.random(in: -1...1, using: &random) * pow10(Int.random(in: -12...12, using: &random)))
        default: numbers.randomElement(using: &random)!
        }
    }

    /// `expected` comma-separated numbers, give or take one.
    static func fields(_ expected: Int, _ random: inout SplitMix64) -> String {
        let count = max(0, expected + Int.random(in: -1...1, using: &random) * Int.random(in: 0...1, using: &random))
        return (0..<count).map { _ in number(&random) }.joined(separator: ",")
    }

    private static func pow10(_ exponent: Int) -> Double {
        var value = 1.0
        for _ in 0..<abs(exponent) { value *= 10 }
        return exponent < 0 ? 1 / value : value
    }
}

/// Every driver's public reads, driven over ``FuzzTransport`` with hostile replies, must return a value or
/// throw an `InstrumentError`: a trap crashes the run. Values read are sent back through the matching
/// setter (`setPID(pid())`), which must not trap either.
@Suite struct DriverFuzzTests {
    static let iterations = 5_000

    /// Runs `calls` at random `iterations` times; returns how many succeeded and how many threw an
    /// `InstrumentError` (any other error is an issue).
    typealias Call = () throws -> Void

    /// The generator the calls draw their arguments from, shared with ``run(_:_:)``.
    final class RandomBox {
        var generator: SplitMix64

        init(seed: UInt64) {
            generator = SplitMix64(seed: seed)
        }
    }

    static func run(_ calls: [Call], _ random: RandomBox) -> (successes: Int, errors: Int) {
        var successes = 0, errors = 0
        for _ in 0..<iterations {
            do {
                try calls.randomElement(using: &random.generator)!()
                successes += 1
            } catch is InstrumentError {
                errors += 1
            } catch {
                Issue.record("not an InstrumentError: \(error)")
            }
        }
        return (successes, errors)
    }

    @Test func lakeShore372() {
        let transport = FuzzTransport(seed: 372, terminator: "\r\n") { command, _, random -> String? in
            // Settings get no reply on the wire; now and then one comes anyway.
            guard command.contains("?") || Int.random(in: 0..<8, using: &random) == 0 else { return nil }
            let fieldCounts = ["INSET?": 5, "INTYPE?": 6, "OUTMODE?": 6, "HTRSET?": 4, "PID?": 3, "RAMP?": 2, "SCAN?": 2]
            return command.split(separator: ";").map { part in
                let head = String(part.split(separator: " ").first ?? "")
                if head == "INNAME?" { return "\"\(Hostile.number(&random))\"" }
                if head == "*IDN?" { return ["LSCI,MODEL372,X,1", "LSCI,MODEL372", Hostile.fields(4, &random)].randomElement(using: &random)! }
                if head == "OUTMODE?", Bool.random(using: &random) {
                    return "\(Int.random(in: 0...7, using: &random)),\(["A", "0", "6", "17", "B"].randomElement(using: &random)!),0,1,0,\(Hostile.number(&random))"
                }
                return Hostile.fields(fieldCounts[head] ?? 1, &random)
            }.joined(separator: ";")
        }
        let bridge = LakeShore372(transport: transport, timeout: .milliseconds(1))
        let r = RandomBox(seed: 1)
        let calls: [Call] = [
            {
                _ = try bridge.identify()
            },
            {
                _ = try bridge.errorQueue()
            },
            {
                _ = try bridge.reading(channel: LakeShore372.inputChannels.randomElement(using: &r.generator)!)
            },
            {
                _ = try bridge.channels()
            },
            {
                try bridge.setScanner(try bridge.scanner())
            },
            {
                let c = LakeShore372.inputChannels.randomElement(using: &r.generator)!
                try bridge.setInputType(try bridge.inputType(channel: c), channel: c)
            },
            {
                _ = try bridge.name(of: LakeShore372.inputChannels.randomElement(using: &r.generator)!)
            },
            {
                let c = LakeShore372.inputChannels.randomElement(using: &r.generator)!
                try bridge.setTemperatureLimit(try bridge.temperatureLimit(for: c), for: c)
            },
            {
                let o = Int.random(in: 0...2, using: &r.generator)
                try bridge.setOutputMode(try bridge.outputMode(for: o), for: o)
            },
            {
                let o = Int.random(in: 0...2, using: &r.generator)
                let m = try bridge.heaterMode(for: o)
                try bridge.setHeaterMode(m.mode, input: m.input, for: o)
            },
            {
                let o = Int.random(in: 0...1, using: &r.generator)
                try bridge.setHeaterSetup(try bridge.heaterSetup(for: o), for: o)
            },
            {
                let o = Int.random(in: 0...2, using: &r.generator)
                try bridge.setHeaterRange(try bridge.heaterRange(for: o), for: o)
            },
            {
                let o = Int.random(in: 0...2, using: &r.generator)
                try bridge.setSetpoint(try bridge.setpoint(for: o), for: o)
            },
            {
                let o = Int.random(in: 0...2, using: &r.generator)
                try bridge.setPID(try bridge.pid(for: o), for: o)
            },
            {
                let o = Int.random(in: 0...2, using: &r.generator)
                try bridge.setRamp(try bridge.ramp(for: o), for: o)
            },
            {
                _ = try bridge.isRamping(output: Int.random(in: 0...2, using: &r.generator))
            },
            {
                _ = try bridge.heaterOutputPercent(for: Int.random(in: 0...2, using: &r.generator))
            },
            {
                try bridge.setStillOutputPercent(try bridge.stillOutputPercent())
            },
        ]
        let outcome = Self.run(calls, r)
        #expect(outcome.successes > 0 && outcome.errors > 0, "\(outcome)")
    }

    @Test func oxfordTriton() {
        let transport = FuzzTransport(seed: 17, terminator: "\r\n") { command, _, random -> String? in
            if command == "*IDN?" { return ["IDN:OXFORD INSTRUMENTS:TRITON:T-1:2", "IDN::", Hostile.fields(3, &random)].randomElement(using: &random)! }
            if command.hasPrefix("SET:") {
                return "STAT:\(command):" + ["VALID", "INVALID", "NOT_FOUND", Hostile.number(&random)].randomElement(using: &random)!
            }
            let path = command.hasPrefix("READ:") ? String(command.dropFirst(5)) : command
            let units = ["K", "mK", "Ohm", "kOhm", "MOhm", "mB", "B", "mA", "A", "uA", "K/min", "", "X"]
            let words = ["ON", "OFF", "NOT_FOUND", "INVALID", "NONE", "PCL", "Circulating", ""]
            let value = Int.random(in: 0..<5, using: &random) == 0
                ? words.randomElement(using: &random)! : Hostile.number(&random) + units.randomElement(using: &random)!
            return Bool.random(using: &random) || Bool.random(using: &random) ? "STAT:\(path):\(value)" : "STAT:\(value)"
        }
        let triton = OxfordTriton(transport: transport, timeout: .milliseconds(1))
        let r = RandomBox(seed: 2)
        let calls: [Call] = [
            {
                _ = try triton.identify()
            },
            {
                _ = try triton.temperature(of: CryostatStage.allCases.randomElement(using: &r.generator)!)
            },
            {
                _ = try triton.reading(channel: "T\(Int.random(in: 1...16, using: &r.generator))")
            },
            {
                _ = try triton.pressures()
            },
            {
                _ = try triton.circulationState()
            },
            {
                try triton.setLoopEnabled(try triton.isLoopEnabled())
            },
            {
                try triton.setLoopSetpoint(try triton.loopSetpoint())
            },
            {
                try triton.setLoopPID(try triton.loopPID())
            },
            {
                try triton.setLoopHeaterRange(try triton.loopHeaterRange())
            },
            {
                try triton.setLoopRamp(try triton.loopRamp())
            },
            {
                try triton.enterSafeState()
            },
        ]
        let outcome = Self.run(calls, r)
        #expect(outcome.successes > 0 && outcome.errors > 0, "\(outcome)")
    }

    @Test func pfeifferTPG366() {
        let transport = FuzzTransport(seed: 366, terminator: "\r\n") { command, previous, random -> String? in
            if command == "\u{03}" { return nil }  // ETX is answered by nothing
            guard command == "\u{05}" else {
                return ["\u{06}", "\u{06}", "\u{06}", "\u{15}", Hostile.number(&random)].randomElement(using: &random)!
            }
            switch previous {
            case "UNI", "UNI,0", "UNI,1", "UNI,2", "UNI,3", "UNI,4", "UNI,5":
                return Bool.random(using: &random) ? String(Int.random(in: -1...6, using: &random)) : Hostile.number(&random)
            case "ERR": return ["0000", "1010", "0201", "00000", Hostile.number(&random)].randomElement(using: &random)!
            case "AYT": return ["TPG 366,P,S,F,H", "TPG,1,2", Hostile.fields(5, &random)].randomElement(using: &random)!
            case "TID": return Hostile.fields(6, &random)
            default:
                let pairs = previous == "PRX" ? 6 : 1
                return (0..<pairs).map { _ in "\(Int.random(in: -1...7, using: &random)),\(Hostile.number(&random))" }
                    .joined(separator: ",") + (Int.random(in: 0..<8, using: &random) == 0 ? ",1" : "")
            }
        }
        let gauge = PfeifferTPG366(transport: transport, timeout: .milliseconds(1))
        let r = RandomBox(seed: 3)
        let calls: [Call] = [
            {
                _ = try gauge.identify()
            },
            {
                try gauge.reset()
            },
            {
                _ = try gauge.errorQueue()
            },
            {
                _ = try gauge.read()
            },
            {
                _ = try gauge.pressures()
            },
            {
                _ = try gauge.pressure(gauge: Int.random(in: 1...6, using: &r.generator))
            },
            {
                try gauge.setUnit(try gauge.unit())
            },
            {
                _ = try gauge.gaugeTypes()
            },
        ]
        let outcome = Self.run(calls, r)
        #expect(outcome.successes > 0 && outcome.errors > 0, "\(outcome)")
    }

    @Test func lakeShoreF71() {
        let transport = FuzzTransport(seed: 71, terminator: "\n") { command, _, random -> String? in
            guard command.contains("?") || Int.random(in: 0..<8, using: &random) == 0 else { return nil }
            switch command {
            case "*IDN?": return ["Lake Shore,F71,X,1", "Lake Shore,F99,X,1", Hostile.fields(4, &random)].randomElement(using: &random)!
            case "SYST:ERR?": return ["0,\"No error\"", "-113,\"Undefined\"", Hostile.fields(2, &random)].randomElement(using: &random)!
            case "UNIT:FIELD?": return ["TESLA", "GAUSS", "OERSTED", "AM", "FURLONG"].randomElement(using: &random)!
            case "PROBE:AXES?": return Hostile.number(&random)
            default:
                let unit = ["TESLA", "GAUSS", "OERSTED", "AM", "FURLONG", ""].randomElement(using: &random)!
                return Int.random(in: 0..<6, using: &random) == 0 ? Hostile.fields(3, &random) : "\(unit);\(Hostile.fields(3, &random))"
            }
        }
        let meter = LakeShoreF71(transport: transport, timeout: .milliseconds(1))
        let r = RandomBox(seed: 4)
        let calls: [Call] = [
            {
                _ = try meter.identify()
            },
            {
                _ = try meter.errorQueue()
            },
            {
                for reading in try meter.read() {
                    // Whatever parses is a finite field: the magnitude included.
                    #expect(reading.value.map { $0.isFinite && abs($0) <= 2 * LakeShoreF71.maximumTeslas } == true)
                }
            },
            {
                _ = try meter.fieldVector()
            },
            {
                try meter.setUnit(try meter.unit())
            },
            {
                _ = try meter.probeAxes()
            },
            {
                try meter.reset()
            },
        ]
        let outcome = Self.run(calls, r)
        #expect(outcome.successes > 0 && outcome.errors > 0, "\(outcome)")
    }
}
