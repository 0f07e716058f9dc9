import Foundation
import Quantities

/// A sequence as users write it on the command line: a family, an optional pulse count (or CDD order), and
/// `key=value` settings separated by commas or spaces:
///
///     cpmg-8,T=100us,pulse=20ns         xy8-16 tau=50ns pulse=24ns shape=gaussian
///     udd-6,T=10us                      fid,T=5us        hahn,T=20us,budget=100us
///
/// Keys: `T` (total time) or `tau` (pulse interval, for equally spaced families), `pulse` (the π pulse's
/// duration; omitted: ideal), `shape` (`square`, `gaussian`, `drag`; Gaussians truncated at ±3σ, DRAG with
/// `beta=<time>`), `budget` (the coherence budget T may not exceed).
public struct SequenceSpec: Sendable, Hashable {
    public var family: DDFamily
    public var count: Int
    public var total: Time?
    public var interval: Time?
    public var piPulse: Pulse
    public var budget: Time?

    public init(parsing text: String) throws(SequenceError) {
        let parts = text.split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
        guard let head = parts.first else { throw SequenceError("empty sequence spec; write e.g. cpmg-8,T=100us") }
        let pieces = head.split(separator: "-", maxSplits: 1).map(String.init)
        guard let family = DDFamily(name: pieces[0]) else {
            throw SequenceError("unknown sequence family \"\(pieces[0])\"; known: \(DDFamily.allCases.map(\.rawValue).joined(separator: ", ")), Ramsey, echo")
        }
        self.family = family
        if pieces.count == 2 {
            guard let n = Int(pieces[1]) else { throw SequenceError("\"\(head)\": the pulse count after '-' must be an integer, got \"\(pieces[1])\"") }
            count = n
        } else {
            count = family == .hahn || family == .fid ? 1 : family.pulseMultiple
            if family != .hahn, family != .fid, family.pulseMultiple == 1 {
                throw SequenceError("\"\(head)\": say how many pulses, e.g. \(family.rawValue.lowercased())-8")
            }
        }
        var duration = Time.seconds(0)
        var shape = PulseShape.square
        var shapeName: String? = nil
        var beta: Time? = nil
        for part in parts.dropFirst() {
            let kv = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2, !kv[1].isEmpty else { throw SequenceError("\"\(part)\": expected key=value (T, tau, pulse, shape, beta, budget)") }
            let (key, value) = (kv[0], kv[1])
            func time() throws(SequenceError) -> Time {
                do { return try Time(parsing: value) } catch { throw SequenceError("\(key)=\(value): \(error)") }
            }
            switch key.lowercased() {
            case "t", "total": total = try time()
            case "tau", "pulseinterval": interval = try time()
            case "pulse", "width": duration = try time()
            case "budget": budget = try time()
            case "beta": beta = try time()
            case "shape": shapeName = value.lowercased()
            default: throw SequenceError("unknown key \"\(key)\" in \"\(part)\"; keys are T, tau, pulse, shape, beta, budget")
            }
        }
        switch shapeName {
        case nil, "square": shape = .square
        case "gaussian": shape = .gaussian(truncation: 3)
        case "drag": shape = .drag(truncation: 3, beta: beta?.seconds ?? 0)
        case let other?: throw SequenceError("shape=\(other): expected square, gaussian or drag")
        }
        if beta != nil, shapeName != "drag" { throw SequenceError("beta applies to shape=drag only") }
        guard (total == nil) != (interval == nil) else {
            throw SequenceError("give exactly one of T (total time) and tau (pulse interval)")
        }
        piPulse = Pulse(angle: .pi, phase: .pi / 2, duration: duration, shape: shape)
    }

    /// The sequence, with its checks (N, spacing, budget).
    public func sequence(total override: Time? = nil) throws(SequenceError) -> DDSequence {
        if let override {
            return try DDSequence(family, pulses: count, total: override, piPulse: piPulse, coherenceBudget: budget)
        }
        if let interval {
            return try DDSequence(family, pulses: count, pulseInterval: interval, piPulse: piPulse, coherenceBudget: budget)
        }
        return try DDSequence(family, pulses: count, total: total ?? .seconds(0), piPulse: piPulse, coherenceBudget: budget)
    }
}

extension NoisePSD {
    /// A PSD as users write it: terms joined by `+`, each `name(key=value,…)`:
    ///
    ///     white(s0=1e3)                         S₀ in rad²/s
    ///     1/f(A=1.4e8,alpha=0.9,low=1Hz,high=10MHz)   A is S at 1 rad/s; cutoffs optional
    ///     lorentzian(sigma=20kHz,tau=2us)       σ of the frequency noise, correlation time τ
    ///     table(measured.csv)                   lines "omega,S" (rad/s, rad²/s); # comments
    ///
    /// Frequencies with a unit are in Hz and become angular (×2π); bare numbers are rad/s.
    public init(parsing text: String, directory: URL? = nil) throws(SequenceError) {
        var terms: [NoisePSD] = []
        for raw in Self.splitTerms(text) {
            let term = raw.trimmingCharacters(in: .whitespaces)
            guard let open = term.firstIndex(of: "("), term.hasSuffix(")") else {
                throw SequenceError("noise term \"\(term)\": expected name(key=value,…), e.g. white(s0=1e3)")
            }
            let name = term[..<open].lowercased()
            let body = String(term[term.index(after: open)..<term.index(before: term.endIndex)])
            if name == "table" {
                terms.append(try Self.table(body, directory: directory))
                continue
            }
            var values: [String: String] = [:]
            for pair in body.split(separator: ",") {
                let kv = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard kv.count == 2, !kv[1].isEmpty else { throw SequenceError("noise term \"\(term)\": \"\(pair)\" is not key=value") }
                values[kv[0].lowercased()] = kv[1]
            }
            func take(_ key: String, _ allowed: Set<String>) throws(SequenceError) -> String? {
                if let unknown = values.keys.first(where: { !allowed.contains($0) }) {
                    throw SequenceError("noise term \"\(term)\": unknown key \"\(unknown)\"; it takes \(allowed.sorted().joined(separator: ", "))")
                }
                return values[key]
            }
            func number(_ key: String, _ value: String?) throws(SequenceError) -> Double? {
                guard let value else { return nil }
                guard let n = Double(value), n.isFinite else { throw SequenceError("noise term \"\(term)\": \(key)=\(value) is not a number") }
                return n
            }
            func angular(_ key: String, _ value: String?) throws(SequenceError) -> Double? {
                guard let value else { return nil }
                if let n = Double(value), n.isFinite { return n }
                do { return 2 * .pi * (try Frequency(parsing: value)).hertz } catch {
                    throw SequenceError("noise term \"\(term)\": \(key)=\(value): \(error)")
                }
            }
            switch name {
            case "white":
                guard let s0 = try number("s0", take("s0", ["s0"])) else { throw SequenceError("noise term \"\(term)\": needs s0") }
                terms.append(.white(s0: s0))
            case "1/f", "powerlaw":
                let keys: Set<String> = ["a", "alpha", "low", "high"]
                guard let a = try number("A", take("a", keys)) else { throw SequenceError("noise term \"\(term)\": needs A") }
                let alpha = try number("alpha", take("alpha", keys)) ?? 1
                let low = try angular("low", take("low", keys)) ?? 0
                let high = try angular("high", take("high", keys)) ?? .infinity
                terms.append(.powerLaw(amplitude: a, alpha: alpha, low: low, high: high))
            case "lorentzian", "ou":
                let keys: Set<String> = ["sigma", "tau"]
                guard let sigma = try angular("sigma", take("sigma", keys)), let tauText = try take("tau", keys) else {
                    throw SequenceError("noise term \"\(term)\": needs sigma and tau")
                }
                let tau: Double
                do { tau = try Time(parsing: tauText).seconds } catch { throw SequenceError("noise term \"\(term)\": tau=\(tauText): \(error)") }
                terms.append(.lorentzian(variance: sigma * sigma, correlationTime: tau))
            default:
                throw SequenceError("unknown noise \"\(name)\"; write white(…), 1/f(…), lorentzian(…) or table(file)")
            }
        }
        guard !terms.isEmpty else { throw SequenceError("empty noise spec; write e.g. white(s0=1e3)") }
        self = terms.count == 1 ? terms[0] : .sum(terms)
        try validate()
    }

    /// Splits at `+` outside parentheses (a `+` may appear in an exponent inside a term).
    private static func splitTerms(_ text: String) -> [String] {
        var terms: [String] = [], current = "", depth = 0
        for c in text {
            if c == "(" { depth += 1 } else if c == ")" { depth -= 1 }
            if c == "+", depth == 0 {
                terms.append(current)
                current = ""
            } else {
                current.append(c)
            }
        }
        if !current.trimmingCharacters(in: .whitespaces).isEmpty { terms.append(current) }
        return terms
    }

    /// A measured PSD from a CSV file of "omega,S" lines; errors name the file and line.
    static func table(_ path: String, directory: URL?) throws(SequenceError) -> NoisePSD {
        let url = path.hasPrefix("/") || directory == nil ? URL(fileURLWithPath: path) : directory!.appendingPathComponent(path)
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw SequenceError("table(\(path)): cannot read \(url.path)")
        }
        var points: [Point] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            let trimmed = content.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            let fields = trimmed.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count == 2, let omega = Double(fields[0]), let value = Double(fields[1]) else {
                if points.isEmpty, index == 0, Double(fields.first ?? "") == nil { continue }  // a header line
                throw SequenceError("\(url.lastPathComponent):\(index + 1): expected \"omega,S\" (two numbers), got \"\(trimmed)\"")
            }
            points.append(Point(omega: omega, value: value))
        }
        let psd = NoisePSD.tabulated(points)
        do { try psd.validate() } catch { throw SequenceError("\(url.lastPathComponent): \(error.message)") }
        return psd
    }
}
