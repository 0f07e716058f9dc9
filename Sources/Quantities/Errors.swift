/// Why a text could not be read as a quantity (or as an exact `Duration`).
public struct QuantityParseError: Error, CustomStringConvertible, Hashable, Sendable {
    /// What was wrong with the input.
    public enum Reason: Hashable, Sendable {
        /// The input was empty or only whitespace.
        case empty
        /// The input does not start with a valid decimal number ("abc", "--5 s", "5..0 s", "nan").
        case malformedNumber
        /// The input is a unit without a number ("ms").
        case missingNumber
        /// The input is a number without a unit ("5").
        case missingUnit
        /// The unit is not known for any dimension ("5 kg", "5 ss").
        case unknownUnit(String)
        /// The unit belongs to another dimension, e.g. "Hz" (frequency) when a time was expected.
        case wrongDimension(unit: String, dimension: String)
        /// The value overflows or underflows a Double ("1e999 s").
        case outOfRange
        /// The value is below the dimension's lower limit, e.g. "absolute zero (0 K)".
        case belowLowerLimit(String)
        /// The time does not fit in a `Duration` (beyond ±9.2e18 s).
        case outsideDurationRange
        /// The time has digits below one attosecond, so no `Duration` equals it exactly.
        case finerThanAttosecond
    }

    /// The text that was parsed.
    public let input: String
    /// The name of the expected dimension, e.g. "time".
    public let dimension: String
    /// What was wrong.
    public let reason: Reason
    /// A valid example of the expected dimension, e.g. "500 µs".
    public let example: String
    /// The accepted units of the expected dimension, as a sentence fragment.
    public let acceptedUnits: String

    init<D: PhysicalDimension>(input: String, dimension _: D.Type, reason: Reason) {
        self.input = input
        self.dimension = D.name
        self.reason = reason
        self.example = D.example
        let prefixable = D.units.filter(\.acceptsPrefixes).map(\.symbol).joined(separator: ", ")
        let prefixes = SIPrefix.allCases.map { $0 == .micro ? "\($0.symbol) (or u)" : "\($0.symbol)" }
        self.acceptedUnits = D.units.map(\.symbol).joined(separator: ", ")
            + "; SI prefixes \(prefixes.joined(separator: " ")) may precede \(prefixable)"
    }

    /// A sentence a lab user understands: what was given and what was expected.
    public var description: String {
        let given = "\"\(input)\""
        let expected = "expected a \(dimension) such as \(example)"
        switch reason {
        case .empty:
            return "The input is empty; \(expected)."
        case .malformedNumber:
            return "\(given) does not start with a valid number; \(expected) (a number followed by a unit)."
        case .missingNumber:
            return "\(given) has a unit but no number; \(expected)."
        case .missingUnit:
            return "\(given) has no unit; \(expected). Accepted units: \(acceptedUnits)."
        case .unknownUnit(let unit):
            return "\(given): \"\(unit)\" is not a unit of \(dimension). Accepted units: \(acceptedUnits)."
        case .wrongDimension(let unit, let other):
            return "\(given): \(unit) is a unit of \(other), \(expected)."
        case .outOfRange:
            return "\(given) is too large or too small to represent as a 64-bit floating-point number; \(expected)."
        case .belowLowerLimit(let limit):
            return "\(given) is below \(limit); \(expected)."
        case .outsideDurationRange:
            return "\(given) is outside the range of a Swift Duration (±9.2e18 s); \(expected)."
        case .finerThanAttosecond:
            return "\(given) has digits below one attosecond, so it cannot be represented exactly as a Swift Duration."
        }
    }
}

/// Why a text could not be read as an RFC 3339 / ISO 8601 timestamp.
public struct TimestampParseError: Error, CustomStringConvertible, Hashable, Sendable {
    /// The part of the timestamp that is wrong or missing.
    public enum Field: String, Hashable, Sendable {
        case year, month, day, hour, minute, second
        case fraction = "fractional second"
        case timeZone = "time zone"
    }

    /// The text that was parsed.
    public let input: String
    /// The field that is wrong or missing.
    public let field: Field
    /// The offending text; empty when the field is missing.
    public let found: String
    /// What the field should look like.
    public let expected: String

    /// A sentence a lab user understands: what was given and what was expected.
    public var description: String {
        let problem = found.isEmpty ? "the \(field.rawValue) is missing" : "the \(field.rawValue) \"\(found)\" is invalid"
        return "Invalid timestamp \"\(input)\": \(problem); expected \(expected)."
    }
}
