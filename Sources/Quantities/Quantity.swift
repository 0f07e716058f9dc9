/// A physical quantity of dimension `D`, stored as a finite Double in SI units.
public struct Quantity<D: PhysicalDimension>: Hashable, Comparable, Sendable {
    /// The value in the SI unit of `D` (s, Hz, K, W, Ω, V, A, T or S/s).
    public let siValue: Double

    /// Creates a quantity from its SI value, which must be finite.
    public init(siValue: Double) {
        precondition(siValue.isFinite, "a \(D.name) must be finite, got \(siValue) \(D.symbol)")
        self.siValue = siValue
    }

    /// Creates `value` in the prefixed SI unit, e.g. `Time(500, .micro)` is 500 µs.
    public init(_ value: Double, _ prefix: SIPrefix) {
        self.init(value, in: ResolvedUnit(D.siUnit, prefix: prefix))
    }

    /// This quantity in the prefixed SI unit, e.g. `time.value(in: .nano)`.
    public func value(in prefix: SIPrefix) -> Double {
        value(in: ResolvedUnit(D.siUnit, prefix: prefix))
    }

    /// Creates `value` in `unit`, correctly rounded from its decimal digits.
    init(_ value: Double, in unit: ResolvedUnit) {
        precondition(value.isFinite, "a \(D.name) must be finite, got \(value) \(unit.symbol)")
        self.init(siValue: unit.siValue(of: DecimalNumber(value)))
    }

    /// This quantity expressed in `unit`.
    func value(in unit: ResolvedUnit) -> Double {
        unit.number(fromSI: siValue).doubleValue
    }

    /// Orders by SI value.
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.siValue < rhs.siValue }
}

extension Quantity: AdditiveArithmetic {
    /// Zero in the SI unit.
    public static var zero: Self { Self(siValue: 0) }
    /// The sum of two quantities of the same dimension.
    public static func + (lhs: Self, rhs: Self) -> Self { Self(siValue: lhs.siValue + rhs.siValue) }
    /// The difference of two quantities of the same dimension.
    public static func - (lhs: Self, rhs: Self) -> Self { Self(siValue: lhs.siValue - rhs.siValue) }
}

extension Quantity {
    /// The negated quantity.
    public static prefix func - (operand: Self) -> Self { Self(siValue: -operand.siValue) }
    /// The quantity scaled by a factor.
    public static func * (lhs: Self, rhs: Double) -> Self { Self(siValue: lhs.siValue * rhs) }
    /// The quantity scaled by a factor.
    public static func * (lhs: Double, rhs: Self) -> Self { Self(siValue: lhs * rhs.siValue) }
    /// The quantity divided by a non-zero factor.
    public static func / (lhs: Self, rhs: Double) -> Self { Self(siValue: lhs.siValue / rhs) }
    /// The dimensionless ratio of two quantities of the same dimension; `rhs` must be non-zero.
    public static func / (lhs: Self, rhs: Self) -> Double { lhs.siValue / rhs.siValue }
    /// Scales the quantity in place.
    public static func *= (lhs: inout Self, rhs: Double) { lhs = lhs * rhs }
    /// Divides the quantity in place by a non-zero factor.
    public static func /= (lhs: inout Self, rhs: Double) { lhs = lhs / rhs }
}
