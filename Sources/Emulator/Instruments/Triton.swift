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
                let seconds = Int(model.time)
                return joined + ":" + String(format: "%02d:%02d:%02d", (seconds / 3600) % 24, (seconds / 60) % 60, seconds % 60)
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

    /// SET:DEV:T<n>:TEMP:LOOP:{MODE|TSET|P|I|D|RANGE|RAMP:ENAB|RAMP:RATE|HTR}:<value>.
    private func set(_ path: [String]) -> String {
        let joined = path.joined(separator: ":")
        let upper = path.map { $0.uppercased() }
        guard upper.count >= 6, upper[0] == "DEV", upper[2] == "TEMP", upper[3] == "LOOP" else { return joined + ":INVALID" }
        guard let channel = profile.thermometers.first(where: { $0.channel.uppercased() == upper[1] }),
              channel.channel == profile.loopChannel, let heaterID else { return joined + ":NOT_FOUND" }
        let parameter = upper[4..<(upper.count - 1)].joined(separator: ":")
        let text = path[path.count - 1]
        let number = Double(text.trimmingCharacters(in: CharacterSet(charactersIn: "KmA/in")))
        let accepted = model.withHeater(heaterID) { h, t -> Bool in
            switch (parameter, text.uppercased(), number) {
            case ("MODE", "ON", _): h.mode = .closedLoop; h.resetController()
            case ("MODE", "OFF", _): h.mode = .off
            case let ("TSET", _, value?) where value >= 0: h.setSetpoint(value, currentTemperature: t)
            case let ("P", _, value?) where value >= 0: h.gains.proportional = value
            case let ("I", _, value?) where value >= 0: h.gains.integral = value
            case let ("D", _, value?) where value >= 0: h.gains.derivative = value
            case let ("RANGE", _, value?) where value >= 0: h.fullScaleCurrent = value / 1000
            case ("RAMP:ENAB", "ON", _): h.rampEnabled = true
            case ("RAMP:ENAB", "OFF", _): h.rampEnabled = false
            case let ("RAMP:RATE", _, value?) where value >= 0: h.rampKelvinPerMinute = value
            case ("HTR", "H1", _): break
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
