import Foundation
import Synchronization

/// The Pfeiffer MaxiGauge TPG 366 (six gauge channels), with the Pfeiffer mnemonic dialogue of its
/// operating manual: the host sends a mnemonic ending in CR (LF optional); the gauge answers ACK CR LF
/// (or NAK CR LF when it cannot); the host then sends ENQ and receives the data ending in CR LF.
/// ETX clears the input buffer. Mnemonics: PR1…PR6, PRX, TID, UNI, ERR, AYT, RES.
public final class MaxiGaugeTwin: InstrumentTwin {
    public let id: String
    public let kind = InstrumentKind.tpg366
    let profile: InstrumentProfile
    let model: CryostatModel
    private let settings = Mutex<(unit: Int, error: Int)>((unit: 0, error: 0))

    /// Error-word bits of ERR: 1000 controller error, 0100 no hardware, 0010 inadmissible parameter, 0001 syntax error.
    static let syntaxError = 0b0001, parameterError = 0b0010

    /// Millibar per unit of each UNI setting: 0 mbar, 1 Torr, 2 Pa, 3 micron, 4 hPa.
    static let unitScale: [Double] = [1, 1.333_223_684, 0.01, 1.333_223_684e-3, 1]

    init(profile: InstrumentProfile, model: CryostatModel) {
        id = profile.id
        self.profile = profile
        self.model = model
    }

    public func makeSession() -> any TwinSession {
        MaxiGaugeSession(twin: self)
    }

    enum Parsed: Equatable {
        case pressure(Int)
        case allPressures
        case identification
        case unit(set: Int?)
        case errorStatus
        case areYouThere
        /// RES[,1]: `reset` clears the error word first.
        case reset(Bool)
    }

    /// Checks a mnemonic line; nil (with the error word updated) when the gauge must NAK it.
    func parse(_ line: String) -> Parsed? {
        let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        let mnemonic = fields[0].uppercased()
        let parsed: Parsed?
        switch (mnemonic, fields.count) {
        case ("PRX", 1): parsed = .allPressures
        case ("TID", 1): parsed = .identification
        case ("ERR", 1): parsed = .errorStatus
        case ("AYT", 1): parsed = .areYouThere
        case ("RES", 1): parsed = .reset(false)
        case ("RES", 2):
            guard fields[1] == "1" else { return flag(Self.parameterError) }
            parsed = .reset(true)
        case ("UNI", 1): parsed = .unit(set: nil)
        case ("UNI", 2):
            guard let unit = Int(fields[1]), (0..<Self.unitScale.count).contains(unit) else { return flag(Self.parameterError) }
            parsed = .unit(set: unit)
        case let (name, 1) where name.hasPrefix("PR") && name.count == 3:
            guard let n = Int(name.dropFirst(2)), (1...6).contains(n) else { return flag(Self.parameterError) }
            parsed = .pressure(n)
        default:
            return flag(Self.syntaxError)
        }
        if case let .unit(unit?) = parsed { settings.withLock { $0.unit = unit } }
        if case .reset(true) = parsed { settings.withLock { $0.error = 0 } }
        return parsed
    }

    private func flag(_ bit: Int) -> Parsed? {
        settings.withLock { $0.error |= bit }
        return nil
    }

    /// The data line sent after ENQ, without terminator.
    func data(for parsed: Parsed) -> String {
        switch parsed {
        case let .pressure(n): return measurement(n)
        case .allPressures: return (1...6).map(measurement).joined(separator: ",")
        case .identification: return (1...6).map { profile.gauges.indices.contains($0 - 1) ? "PKR" : "noSen" }.joined(separator: ",")
        case .unit: return String(settings.withLock { $0.unit })
        case .errorStatus:
            let error = settings.withLock { s in defer { s.error = 0 }; return s.error }
            let bits = String(error, radix: 2)
            return String(repeating: "0", count: max(0, 4 - bits.count)) + bits
        case .areYouThere:
            // `<type>,<part number>,<serial>,<firmware>,<hardware>`. No TPG 366 manual text for AYT was at hand;
            // this follows the TPG 36x-family layout the driver parses (PfeifferTPG366.identify), with the
            // TPG 366's part number PTG28700 as the driver documents it and a fixed hardware version.
            return "TPG 366,PTG28700,\(profile.serialNumber),\(profile.firmware),010100"
        case .reset:
            // The list of present errors (Pfeiffer RES: 0 is no error); the twin emulates no controller fault.
            return "0"
        }
    }

    /// `status,x.xxxxE±xx` for gauge `n` in the current unit: 0 ok, 1 underrange, 2 overrange, 5 no sensor.
    private func measurement(_ n: Int) -> String {
        guard profile.gauges.indices.contains(n - 1), let reading = model.pressure(gauge: profile.gauges[n - 1]) else {
            return "5,0.0000E+00"
        }
        let status = switch reading.status {
        case .ok: 0
        case .underRange: 1
        case .overRange: 2
        }
        let scale = Self.unitScale[settings.withLock { $0.unit }]
        return "\(status)," + String(format: "%.4E", reading.millibar / scale)
    }
}

/// One connection to the MaxiGauge, holding the mnemonic that ENQ answers.
final class MaxiGaugeSession: TwinSession {
    private let twin: MaxiGaugeTwin
    private var framer = LineFramer()
    private var pending: MaxiGaugeTwin.Parsed?
    static let ack: [UInt8] = [0x06, 0x0D, 0x0A], nak: [UInt8] = [0x15, 0x0D, 0x0A]

    init(twin: MaxiGaugeTwin) {
        self.twin = twin
        framer.carriageReturnEndsLine = true
        framer.limit = 64
    }

    func receive(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var text: [UInt8] = []
        func flush() {
            for line in framer.feed(text) {
                switch line {
                case let .text(mnemonic) where !mnemonic.isEmpty:
                    pending = twin.parse(mnemonic)
                    out += pending == nil ? Self.nak : Self.ack
                case .overflow:
                    pending = nil
                    out += Self.nak
                case .text:
                    break
                }
            }
            text.removeAll()
        }
        for byte in bytes {
            switch byte {
            case 0x05:  // ENQ: send the data of the last accepted mnemonic
                flush()
                if let pending { out += Array((twin.data(for: pending) + "\r\n").utf8) } else { out += Self.nak }
            case 0x03:  // ETX: clear the input buffer
                text.removeAll()
                framer.reset()
                pending = nil
            default:
                text.append(byte)
            }
        }
        flush()
        return out
    }
}
