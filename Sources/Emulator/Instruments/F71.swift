import Foundation
import Synchronization

/// The Lake Shore F71 three-axis teslameter's SCPI subset (F41/F71 user's manual, remote commands; the
/// `lakeshore` Python package's `Teslameter` speaks it): lines end in LF (replies in CR LF), `;` separates
/// commands (an optional leading `:` returns to the root), keywords take their short or long form in
/// any case, and errors queue for `SYSTem:ERRor?` as `-113,"Undefined header"`, `-224,"Illegal parameter
/// value"`, `-109,"Missing parameter"`, up to 20 of them (then `-350,"Queue overflow"`).
public final class F71Twin: InstrumentTwin {
    public let id: String
    public let kind = InstrumentKind.f71
    let profile: InstrumentProfile
    let model: CryostatModel
    private let state = Mutex<(errors: [String], gauss: Bool, mode: String)>((errors: [], gauss: false, mode: "DC"))

    init(profile: InstrumentProfile, model: CryostatModel) {
        id = profile.id
        self.profile = profile
        self.model = model
    }

    public func makeSession() -> any TwinSession {
        F71Session(twin: self)
    }

    /// Whether `word` is the SCPI keyword written `keyword` (upper case marks its short form), e.g.
    /// `fetc` and `FETCH` both match `FETCh`.
    static func matches(_ word: Substring, _ keyword: String) -> Bool {
        let upper = word.uppercased()
        return upper == keyword.uppercased() || upper == keyword.filter(\.isUppercase)
    }

    static func matches(_ words: [Substring], _ keywords: [String]) -> Bool {
        words.count == keywords.count && zip(words, keywords).allSatisfy { matches($0, $1) }
    }

    /// Executes one line; the replies of its queries joined by `;`, nil if none.
    func execute(_ line: String) -> String? {
        var replies: [String] = []
        for command in line.split(separator: ";") {
            var text = command.trimmingCharacters(in: .whitespaces)
            if text.hasPrefix(":") { text.removeFirst() }
            guard !text.isEmpty else { continue }
            if let reply = run(text) { replies.append(reply) }
        }
        return replies.isEmpty ? nil : replies.joined(separator: ";")
    }

    /// The error queue's depth. When it is full, the newest entry becomes `-350,"Queue overflow"` and
    /// later errors are lost, as SCPI-99 (21.8.1) prescribes.
    static let errorQueueCapacity = 20

    /// Queues an error for `SYSTem:ERRor?`; returns no reply.
    func fail(_ error: String) -> String? {
        state.withLock { state in
            if state.errors.count < Self.errorQueueCapacity {
                state.errors.append(error)
            } else {
                state.errors[Self.errorQueueCapacity - 1] = "-350,\"Queue overflow\""
            }
        }
        return nil
    }

    private func run(_ text: String) -> String? {
        let header = text.prefix { !$0.isWhitespace }
        let argument = text.dropFirst(header.count).trimmingCharacters(in: .whitespaces)
        let isQuery = header.hasSuffix("?")
        let words = (isQuery ? header.dropLast() : header).split(separator: ":", omittingEmptySubsequences: false)
        guard !words.contains(where: \.isEmpty) else { return fail("-102,\"Syntax error\"") }
        switch (words.map { $0.uppercased() }, isQuery) {
        case (["*IDN"], true): return "Lake Shore,F71,\(profile.serialNumber),\(profile.firmware)"
        case (["*RST"], false):
            state.withLock { $0.gauss = false; $0.mode = "DC" }
            return nil
        case (["*CLS"], false):
            state.withLock { $0.errors.removeAll() }
            return nil
        case (["*OPC"], true): return "1"
        default: break
        }
        if Self.matches(words, ["SYSTem", "ERRor"]) || Self.matches(words, ["SYSTem", "ERRor", "NEXT"]), isQuery {
            return state.withLock { $0.errors.isEmpty ? "0,\"No error\"" : $0.errors.removeFirst() }
        }
        if Self.matches(words, ["SYSTem", "ERRor", "ALL"]), isQuery {
            return state.withLock { s in
                defer { s.errors.removeAll() }
                return s.errors.isEmpty ? "0,\"No error\"" : s.errors.joined(separator: ",")
            }
        }
        if Self.matches(words, ["SYSTem", "ERRor", "CLEar"]), !isQuery {
            state.withLock { $0.errors.removeAll() }
            return nil
        }
        if isQuery, words.count == 2, Self.matches(words[1], "DC"),
           ["FETCh", "READ", "MEASure"].contains(where: { Self.matches(words[0], $0) }) {
            return field(argument)
        }
        if Self.matches(words, ["UNIT", "FIELD"]) {
            if isQuery { return state.withLock { $0.gauss ? "GAUSS" : "TESLA" } }
            switch argument.uppercased() {
            case "TESLA": state.withLock { $0.gauss = false }
            case "GAUSS": state.withLock { $0.gauss = true }
            case "": return fail("-109,\"Missing parameter\"")
            default: return fail("-224,\"Illegal parameter value\"")
            }
            return nil
        }
        if Self.matches(words, ["PROBE", "AXES"]), isQuery {
            // PROBE:AXES?: the number of axes of the attached probe, 3 for the F71's three-axis probe.
            return "3"
        }
        if Self.matches(words, ["SENSe", "MODE"]) {
            if isQuery { return state.withLock { $0.mode } }
            guard argument.uppercased() == "DC" else {
                return fail(argument.isEmpty ? "-109,\"Missing parameter\"" : "-224,\"Illegal parameter value\"")
            }
            state.withLock { $0.mode = "DC" }
            return nil
        }
        return fail("-113,\"Undefined header\"")
    }

    /// FETCh|READ|MEASure:DC? [X|Y|Z|MAGnitude|ALL]: the DC field in the selected unit (magnitude by default).
    private func field(_ argument: String) -> String? {
        let (x, y, z) = model.magneticField()
        let scale = state.withLock { $0.gauss } ? 1e4 : 1
        func format(_ value: Double) -> String { String(format: "%.6E", value * scale) }
        let axis = argument.uppercased()
        switch axis {
        case "", "MAG", "MAGNITUDE": return format((x * x + y * y + z * z).squareRoot())
        case "X": return format(x)
        case "Y": return format(y)
        case "Z": return format(z)
        case "ALL": return [x, y, z].map(format).joined(separator: ",")
        default: return fail("-224,\"Illegal parameter value\"")
        }
    }
}

/// One connection to the F71: LF lines in, CR LF replies out.
final class F71Session: TwinSession {
    private let twin: F71Twin
    private var framer = LineFramer()

    init(twin: F71Twin) {
        self.twin = twin
    }

    func receive(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        for line in framer.feed(bytes) {
            switch line {
            case let .text(text):
                if let reply = twin.execute(text) { out += Array((reply + "\r\n").utf8) }
            case .overflow:
                _ = twin.fail("-363,\"Input buffer overrun\"")
            }
        }
        return out
    }
}
