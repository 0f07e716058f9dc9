import Foundation
import HAL

/// The Oxford Instruments Triton's remote interface (Triton remote-control command reference; the
/// QCoDeS `OxfordTriton` driver speaks it): CR LF lines, every reply an echo of the command as
/// `STAT:<path>:<value>`. A missing device answers `…:NOT_FOUND`, a malformed command `…:INVALID`, and a
/// SET answers `STAT:SET:<path>:<value>:VALID` (or `:INVALID`).
public final class TritonTwin: InstrumentTwin {
    public let id: String
    public let kind = InstrumentKind.triton
    let profile: InstrumentProfile
    let model: CryostatModel

    init(profile: InstrumentProfile, model: CryostatModel) {
        id = profile.id
        self.profile = profile
        self.model = model
    }

    public func makeSession() -> any TwinSession {
        TritonSession(twin: self)
    }

    /// The reply to one command line, without terminator.
    func execute(_ line: String) -> String {
        let command = line.trimmingCharacters(in: .whitespaces)
        if command.uppercased() == "*IDN?" {
            return "IDN:OXFORD INSTRUMENTS:TRITON:\(profile.serialNumber):\(profile.firmware)"
        }
        let parts = command.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 2, !parts.contains(where: \.isEmpty) else { return "STAT:\(command):INVALID" }
        switch parts[0].uppercased() {
        case "READ": return "STAT:" + read(Array(parts.dropFirst()))
        case "SET": return "STAT:SET:" + set(Array(parts.dropFirst()))
        default: return "STAT:\(command):INVALID"
        }
    }

    private var heaterID: String? { profile.heaters["loop"] }

    /// READ:… queries.
    private func read(_ path: [String]) -> String {
        let joined = path.joined(separator: ":")
        let upper = path.map { $0.uppercased() }
        switch upper.first {
        case "SYS":
            switch Array(upper.dropFirst()) {
            case ["TIME"]:
                // The time of day: only the simulated time modulo one day is formatted, so any finite
                // simulated time (however long the run) converts to Int safely.
                let time = model.time
                let seconds = time.isFinite ? Int(time.truncatingRemainder(dividingBy: 86400).rounded(.down)) : 0
                return joined + ":" + String(format: "%02d:%02d:%02d", seconds / 3600, (seconds / 60) % 60, seconds % 60)
            case ["DR", "STATUS"]: return joined + ":" + statusText
            case ["DR", "ACTN"]: return joined + ":" + actionCode
            case ["DR", "CHAN"]: return joined + ":" + profile.thermometers.map(\.name).joined(separator: ":")
            case let rest where rest.count == 3 && rest[0] == "DR" && rest[1] == "CHAN":
                guard let channel = profile.thermometers.first(where: { $0.name.uppercased() == rest[2] }) else { return joined + ":INVALID" }
                return joined + ":" + channel.channel
            default: return joined + ":INVALID"
            }
        case "DEV":
            guard path.count >= 3 else { return joined + ":INVALID" }
            let device = upper[1]
            let rest = Array(upper.dropFirst(2))
            if device.hasPrefix("P"), rest == ["PRES", "SIG", "PRES"] {
                guard profile.gauges.contains(device), let reading = model.pressure(gauge: device) else { return joined + ":NOT_FOUND" }
                return joined + ":" + String(format: "%.6g", reading.millibar) + "mB"
            }
            guard let channel = profile.thermometers.first(where: { $0.channel.uppercased() == device }) else { return joined + ":NOT_FOUND" }
            switch rest {
            case ["TEMP", "SIG", "TEMP"]:
                let open = model.isOpenCircuit("\(id)/\(channel.channel)")
                let kelvin = open ? 0 : model.temperature(of: channel.stage)
                return joined + ":" + String(format: "%.6g", kelvin) + "K"
            case ["TEMP", "SIG", "RES"]:
                let ohms = model.isOpenCircuit("\(id)/\(channel.channel)") ? 0 : channel.sensor.resistance(at: model.temperature(of: channel.stage))
                return joined + ":" + String(format: "%.6g", ohms) + "Ohm"
            case let loop where loop.count >= 3 && loop[0] == "TEMP" && loop[1] == "LOOP":
                guard channel.channel == profile.loopChannel, let heaterID else { return joined + ":NOT_FOUND" }
                let parameter = loop.dropFirst(2).joined(separator: ":")
                let value = model.withHeater(heaterID) { h, _ -> String? in
                    switch parameter {
                    case "MODE": h.mode == .closedLoop ? "ON" : "OFF"
                    case "TSET": String(format: "%.6g", h.setpoint) + "K"
                    case "P": String(format: "%.6g", h.gains.proportional)
                    case "I": String(format: "%.6g", h.gains.integral)
                    case "D": String(format: "%.6g", h.gains.derivative)
                    case "RANGE": String(format: "%.6g", h.fullScaleCurrent * 1000) + "mA"
                    case "RAMP:ENAB": h.rampEnabled ? "ON" : "OFF"
                    case "RAMP:RATE": String(format: "%.6g", h.rampKelvinPerMinute) + "K/min"
                    case "HTR": "H1"
                    default: nil
                    }
                } ?? nil
                return joined + ":" + (value ?? "INVALID")
            default:
                return joined + ":INVALID"
            }
        default:
            return joined + ":INVALID"
        }
    }

    /// The loop's limits. The Triton's temperature control runs on its Lake Shore-style bridge, so the
    /// setpoint (K), P (0–1000), I (0–10000), D (0–2500) and ramp rate (0–100 K/min) take that
    /// controller's ranges, and the heater range (mA) goes up to the largest, 100 mA. A value outside
    /// them, or not a plain finite decimal (`nan`, `inf`, `1e999`, hex), is answered `INVALID`.
    static let setpointKelvin = 0.0...999.999
    static let rangeMilliamperes = 0.0...100
    static let rampKelvinPerMinute = 0.0...100

    /// SET:DEV:T<n>:TEMP:LOOP:{MODE|TSET|P|I|D|RANGE|RAMP:ENAB|RAMP:RATE|HTR}:<value>.
    private func set(_ path: [String]) -> String {
        let joined = path.joined(separator: ":")
        let upper = path.map { $0.uppercased() }
        guard upper.count >= 6, upper[0] == "DEV", upper[2] == "TEMP", upper[3] == "LOOP" else { return joined + ":INVALID" }
        guard let channel = profile.thermometers.first(where: { $0.channel.uppercased() == upper[1] }),
              channel.channel == profile.loopChannel, let heaterID else { return joined + ":NOT_FOUND" }
        let parameter = upper[4..<(upper.count - 1)].joined(separator: ":")
        let text = path[path.count - 1]
        let number = text.trimmingCharacters(in: CharacterSet(charactersIn: "KmA/in"))
        func value(_ limits: ClosedRange<Double>) -> Double? { WireNumber.decimal(number, in: limits) }
        let accepted = model.withHeater(heaterID) { h, t -> Bool in
            switch (parameter, text.uppercased()) {
            case ("MODE", "ON"): h.mode = .closedLoop; h.resetController()
            case ("MODE", "OFF"): h.mode = .off
            case ("TSET", _):
                guard let kelvin = value(Self.setpointKelvin) else { return false }
                h.setSetpoint(kelvin, currentTemperature: t)
            case ("P", _):
                guard let p = value(0...1000) else { return false }
                h.gains.proportional = p
            case ("I", _):
                guard let i = value(0...10000) else { return false }
                h.gains.integral = i
            case ("D", _):
                guard let d = value(0...2500) else { return false }
                h.gains.derivative = d
            case ("RANGE", _):
                guard let milliamperes = value(Self.rangeMilliamperes) else { return false }
                h.fullScaleCurrent = milliamperes / 1000
            case ("RAMP:ENAB", "ON"): h.rampEnabled = true
            case ("RAMP:ENAB", "OFF"): h.rampEnabled = false
            case ("RAMP:RATE", _):
                guard let rate = value(Self.rampKelvinPerMinute) else { return false }
                h.rampKelvinPerMinute = rate
            case ("HTR", "H1"): break
            default: return false
            }
            return true
        } ?? false
        return joined + (accepted ? ":VALID" : ":INVALID")
    }

    private var statusText: String {
        switch model.phase {
        case .precooling: "Precooling"
        case .condensing: "Condensing"
        case .circulating: "Circulating"
        case .warmingUp: "Warming up"
        case .idle: "Idle"
        }
    }

    /// READ:SYS:DR:ACTN codes: PCL precool, COND condense, NONE otherwise (QCoDeS reads NONE as
    /// circulating below 2 K), WARM warm-up.
    private var actionCode: String {
        switch model.phase {
        case .precooling: "PCL"
        case .condensing: "COND"
        case .circulating, .idle: "NONE"
        case .warmingUp: "WARM"
        }
    }
}

/// One connection to the Triton: LF (or CR LF) lines in, CR LF replies out.
final class TritonSession: TwinSession {
    private let twin: TritonTwin
    private var framer = LineFramer()

    init(twin: TritonTwin) {
        self.twin = twin
    }

    func receive(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        for line in framer.feed(bytes) {
            switch line {
            case let .text(text) where !text.trimmingCharacters(in: .whitespaces).isEmpty:
                out += Array((twin.execute(text) + "\r\n").utf8)
            case .overflow:
                out += Array("STAT:INVALID\r\n".utf8)
            case .text:
                break
            }
        }
        return out
    }
}
