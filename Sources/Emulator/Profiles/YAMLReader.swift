import Foundation
import Quantities
import Yams

/// A malformed profile, located as an editor shows it: `file:line:column: key.path: what is wrong`.
public struct ProfileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file name (not the full path), e.g. `bluefors-ld400.yaml`.
    public let file: String
    public let line: Int
    public let column: Int
    /// The dotted key path, e.g. `physics.stages.mixingChamber.copperMoles`; empty for the document itself.
    public let keyPath: String
    public let message: String

    public init(file: String, line: Int, column: Int, keyPath: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.keyPath = keyPath
        self.message = message
    }

    public var description: String {
        let key = keyPath.isEmpty ? "" : "\(keyPath): "
        return "\(file):\(line):\(column): \(key)\(message)"
    }
}

/// A YAML node with the file and key path it came from, so every complaint can say where it is.
/// Shared within the package: the Runtime's station files are read the same way.
package struct YAMLValue {
    package let file: String
    package let node: Node
    package let path: String

    package func error(_ message: String) -> ProfileError {
        ProfileError(file: file, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1, keyPath: path, message: message)
    }

    private var quoted: String {
        switch node {
        case let .scalar(scalar): "\"\(scalar.string)\""
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }

    package func string() throws(ProfileError) -> String {
        guard case let .scalar(scalar) = node else { throw error("expected a text value, got \(quoted)") }
        return scalar.string
    }

    package func number() throws(ProfileError) -> Double {
        guard case let .scalar(scalar) = node, let value = Double(scalar.string.trimmingCharacters(in: .whitespaces)), value.isFinite else {
            throw error("expected a number, got \(quoted)")
        }
        return value
    }

    package func positiveNumber() throws(ProfileError) -> Double {
        guard case let .scalar(scalar) = node, let value = Double(scalar.string), value.isFinite, value > 0 else {
            throw error("expected a positive number, got \(quoted)")
        }
        return value
    }

    package func nonNegativeNumber() throws(ProfileError) -> Double {
        guard case let .scalar(scalar) = node, let value = Double(scalar.string), value.isFinite, value >= 0 else {
            throw error("expected a number ≥ 0, got \(quoted)")
        }
        return value
    }

    /// A latency in milliseconds, 0 to `FaultProfile.maximumLatencyMilliseconds`.
    package func latencyMilliseconds() throws(ProfileError) -> Double {
        let value = try nonNegativeNumber()
        guard value <= FaultProfile.maximumLatencyMilliseconds else {
            throw error("a latency must be at most \(Int(FaultProfile.maximumLatencyMilliseconds)) ms, got \(quoted)")
        }
        return value
    }

    package func fraction() throws(ProfileError) -> Double {
        let value = try nonNegativeNumber()
        guard value <= 1 else { throw error("expected a number from 0 to 1, got \(quoted)") }
        return value
    }

    package func integer(in range: ClosedRange<Int>) throws(ProfileError) -> Int {
        guard case let .scalar(scalar) = node, let value = Int(scalar.string), range.contains(value) else {
            throw error("expected a whole number from \(range.lowerBound) to \(range.upperBound), got \(quoted)")
        }
        return value
    }

    /// A quantity written with its unit ("50mK", "1kHz", "2.5GS/s").
    package func quantity<D: PhysicalDimension>(_ dimension: D.Type) throws(ProfileError) -> Quantity<D> {
        let text = try string()
        do { return try Quantity<D>(parsing: text) } catch { throw self.error("\(error)") }
    }

    package func boolean() throws(ProfileError) -> Bool {
        try oneOf(["true": true, "false": false, "yes": true, "no": false])
    }

    package func oneOf<T>(_ choices: [String: T]) throws(ProfileError) -> T {
        let text = try string()
        guard let value = choices[text] else {
            throw error("expected one of \(choices.keys.sorted().joined(separator: ", ")), got \(quoted)")
        }
        return value
    }

    package func list() throws(ProfileError) -> [YAMLValue] {
        guard case let .sequence(sequence) = node else { throw error("expected a list, got \(quoted)") }
        return sequence.enumerated().map { YAMLValue(file: file, node: $1, path: "\(path)[\($0)]") }
    }

    /// This value as a mapping whose keys must come from `allowed` (an unknown key is an error, to catch typos).
    package func mapping(allowed: [String]) throws(ProfileError) -> YAMLMapping {
        guard case let .mapping(mapping) = node else { throw error("expected a mapping, got \(quoted)") }
        var entries: [String: YAMLValue] = [:]
        for (keyNode, valueNode) in mapping {
            let keyValue = YAMLValue(file: file, node: keyNode, path: path)
            let key = try keyValue.string()
            let childPath = path.isEmpty ? key : "\(path).\(key)"
            guard allowed.contains(key) else {
                throw YAMLValue(file: file, node: keyNode, path: childPath)
                    .error("unknown key; expected one of \(allowed.joined(separator: ", "))")
            }
            entries[key] = YAMLValue(file: file, node: valueNode, path: childPath)
        }
        return YAMLMapping(owner: self, entries: entries)
    }

    /// This value as a mapping with free-form keys (e.g. stage names), in document order.
    package func pairs() throws(ProfileError) -> [(key: YAMLValue, value: YAMLValue)] {
        guard case let .mapping(mapping) = node else { throw error("expected a mapping, got \(quoted)") }
        var result: [(key: YAMLValue, value: YAMLValue)] = []
        for (keyNode, valueNode) in mapping {
            let key = try YAMLValue(file: file, node: keyNode, path: path).string()
            let childPath = path.isEmpty ? key : "\(path).\(key)"
            result.append((YAMLValue(file: file, node: keyNode, path: childPath), YAMLValue(file: file, node: valueNode, path: childPath)))
        }
        return result
    }
}

/// A mapping's entries, by key.
package struct YAMLMapping {
    package let owner: YAMLValue
    package let entries: [String: YAMLValue]

    package func required(_ key: String) throws(ProfileError) -> YAMLValue {
        guard let value = entries[key] else {
            let path = owner.path.isEmpty ? key : "\(owner.path).\(key)"
            throw YAMLValue(file: owner.file, node: owner.node, path: path).error("missing required key")
        }
        return value
    }

    package func optional(_ key: String) -> YAMLValue? {
        entries[key]
    }
}

/// Parses YAML text into its root node, turning syntax errors into `ProfileError`s.
package func parseYAML(_ text: String, file: String) throws(ProfileError) -> YAMLValue {
    do {
        guard let node = try Yams.compose(yaml: text) else {
            throw ProfileError(file: file, line: 1, column: 1, keyPath: "", message: "the profile is empty")
        }
        return YAMLValue(file: file, node: node, path: "")
    } catch let error as ProfileError {
        throw error
    } catch let error as YamlError {
        switch error {
        case let .scanner(_, problem, mark, _), let .parser(_, problem, mark, _):
            throw ProfileError(file: file, line: mark.line, column: mark.column, keyPath: "", message: "YAML syntax error: \(problem)")
        default:
            throw ProfileError(file: file, line: 1, column: 1, keyPath: "", message: "YAML error: \(error)")
        }
    } catch {
        throw ProfileError(file: file, line: 1, column: 1, keyPath: "", message: "YAML error: \(error)")
    }
}
