/// A physical dimension (time, frequency, …): its SI unit, its name and the other unit
/// spellings users may write. Conforming types are caseless enums used as `Quantity<D>` tags.
public protocol PhysicalDimension: Sendable {
    /// Human-readable name used in messages, e.g. "time".
    static var name: String { get }
    /// SI unit symbol, e.g. "s"; it accepts SI prefixes and is used for formatting.
    static var symbol: String { get }
    /// Accepted spellings besides `symbol`, e.g. "min" for time or "°C" for temperature.
    static var otherUnits: [UnitSpelling] { get }
    /// A typical value as a user writes it, e.g. "500 µs"; quoted in error messages.
    static var example: String { get }
    /// The smallest SI value the parser accepts and its name, e.g. (0, "absolute zero").
    static var lowerLimit: (siValue: Double, name: String)? { get }
}

extension PhysicalDimension {
    /// No other spellings by default.
    public static var otherUnits: [UnitSpelling] { [] }
    /// No lower limit by default.
    public static var lowerLimit: (siValue: Double, name: String)? { nil }

    /// The SI unit itself as a spelling.
    static var siUnit: UnitSpelling { UnitSpelling(symbol, acceptsPrefixes: true) }
    /// Every accepted spelling, SI unit first.
    static var units: [UnitSpelling] { [siUnit] + otherUnits }
    /// Units that `description` switches to for large magnitudes, largest first.
    static var displayUnits: [UnitSpelling] {
        otherUnits.filter(\.displaysLargeValues).sorted { $0.scale > $1.scale }
    }
}

/// One accepted way of writing a unit. A value `x` written in this unit has the SI value
/// `x × multiplier × 10^powerOfTen + offset` (times the SI prefix, if one is attached).
public struct UnitSpelling: Hashable, Sendable {
    /// The text users write, e.g. "min".
    public let symbol: String
    /// Integer factor to the SI unit, e.g. 60 for minutes.
    public let multiplier: Int
    /// Decimal exponent of the factor to the SI unit, e.g. -4 for gauss.
    public let powerOfTen: Int
    /// Affine offset added after scaling, e.g. 273.15 for degrees Celsius.
    public let offset: Double
    /// Whether an SI prefix ("m", "k", …) may be attached, as in "mG".
    public let acceptsPrefixes: Bool
    /// Whether `description` uses this unit for magnitudes of at least one of it (min, h, d).
    public let displaysLargeValues: Bool

    /// Creates a spelling; `multiplier` must be positive and `offset` finite.
    public init(
        _ symbol: String, multiplier: Int = 1, powerOfTen: Int = 0, offset: Double = 0,
        acceptsPrefixes: Bool = false, displaysLargeValues: Bool = false
    ) {
        precondition(!symbol.isEmpty, "a unit symbol must not be empty")
        precondition(multiplier > 0, "the multiplier of unit \(symbol) must be positive")
        precondition(offset.isFinite, "the offset of unit \(symbol) must be finite")
        self.symbol = symbol
        self.multiplier = multiplier
        self.powerOfTen = powerOfTen
        self.offset = offset
        self.acceptsPrefixes = acceptsPrefixes
        self.displaysLargeValues = displaysLargeValues
    }

    /// SI value of one of this unit, ignoring the offset.
    var scale: Double { DecimalNumber(1).multiplied(by: multiplier).shifted(by: powerOfTen).doubleValue }
}

/// The SI prefixes accepted in front of units; the raw value is the power of ten.
/// Centi, deci, hecto and deca are left out because "c", "d", "h" and "da" collide with units.
public enum SIPrefix: Int, CaseIterable, Sendable {
    case yocto = -24, zepto = -21, atto = -18, femto = -15, pico = -12, nano = -9, micro = -6, milli = -3
    case kilo = 3, mega = 6, giga = 9, tera = 12, peta = 15, exa = 18

    /// The power of ten, e.g. -6 for micro.
    public var exponent: Int { rawValue }

    /// The symbol used for formatting; micro is "µ" (U+00B5 MICRO SIGN).
    public var symbol: Character {
        switch self {
        case .yocto: "y"
        case .zepto: "z"
        case .atto: "a"
        case .femto: "f"
        case .pico: "p"
        case .nano: "n"
        case .micro: "\u{B5}"
        case .milli: "m"
        case .kilo: "k"
        case .mega: "M"
        case .giga: "G"
        case .tera: "T"
        case .peta: "P"
        case .exa: "E"
        }
    }

    /// The prefix written as `symbol`; micro may be "µ" (U+00B5), "μ" (U+03BC) or "u".
    public init?(symbol: Character) {
        switch symbol {
        case "\u{3BC}", "u": self = .micro
        default:
            guard let prefix = Self.allCases.first(where: { $0.symbol == symbol }) else { return nil }
            self = prefix
        }
    }
}
