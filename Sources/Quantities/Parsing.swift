/// A unit spelling together with the SI prefix attached to it, e.g. "m" + "s".
struct ResolvedUnit {
    let spelling: UnitSpelling
    let prefix: SIPrefix?

    init(_ spelling: UnitSpelling, prefix: SIPrefix? = nil) {
        self.spelling = spelling
        self.prefix = prefix
    }

    /// The formatting symbol, e.g. "µs".
    var symbol: String { (prefix.map { String($0.symbol) } ?? "") + spelling.symbol }

    private var powerOfTen: Int { (prefix?.exponent ?? 0) + spelling.powerOfTen }

    /// `number` of this unit in SI units, before the offset is added (exact).
    func scaledWithoutOffset(_ number: DecimalNumber) -> DecimalNumber {
        number.multiplied(by: spelling.multiplier).shifted(by: powerOfTen)
    }

    /// The SI value of `number` of this unit, correctly rounded.
    func siValue(of number: DecimalNumber) -> Double {
        scaledWithoutOffset(number).adding(DecimalNumber(spelling.offset)).doubleValue
    }

    /// The SI value `siValue` expressed as a number of this unit.
    func number(fromSI siValue: Double) -> DecimalNumber {
        let relative = DecimalNumber(siValue).adding(DecimalNumber(-spelling.offset)).doubleValue
        return DecimalNumber(relative / Double(spelling.multiplier)).shifted(by: -powerOfTen)
    }
}

extension PhysicalDimension {
    /// The unit written as `text` in this dimension: an exact spelling first, otherwise an SI
    /// prefix character followed by a spelling that accepts prefixes ("G" is gauss, "GT" gigatesla).
    static func resolveUnit(_ text: Substring) -> ResolvedUnit? {
        if let spelling = units.first(where: { $0.symbol == text }) {
            return ResolvedUnit(spelling)
        }
        guard let first = text.first, let prefix = SIPrefix(symbol: first) else { return nil }
        let rest = text.dropFirst()
        return units.first { $0.acceptsPrefixes && $0.symbol == rest }.map { ResolvedUnit($0, prefix: prefix) }
    }

    /// Resolves `text` as a unit of this dimension or throws, naming the dimension the unit
    /// belongs to if it is another one.
    static func unit(_ text: Substring, input: String) throws(QuantityParseError) -> ResolvedUnit {
        if let unit = resolveUnit(text) { return unit }
        if let other = allDimensions.first(where: { $0.resolveUnit(text) != nil }) {
            throw QuantityParseError(input: input, dimension: Self.self,
                                     reason: .wrongDimension(unit: String(text), dimension: other.name))
        }
        throw QuantityParseError(input: input, dimension: Self.self, reason: .unknownUnit(String(text)))
    }

    /// Splits `input` into its number and unit: optional surrounding whitespace, a decimal
    /// number, optional whitespace, a unit of this dimension.
    static func parse(_ input: String) throws(QuantityParseError) -> (number: DecimalNumber, unit: ResolvedUnit) {
        func failure(_ reason: QuantityParseError.Reason) -> QuantityParseError {
            QuantityParseError(input: input, dimension: Self.self, reason: reason)
        }
        let text = input.trimmedOfWhitespace
        guard !text.isEmpty else { throw failure(.empty) }
        guard let (number, end) = DecimalNumber.scan(text) else {
            let isUnit = allDimensions.contains { $0.resolveUnit(text) != nil }
            throw failure(isUnit ? .missingNumber : .malformedNumber)
        }
        let unitText = text[end...].drop(while: \.isWhitespace)
        guard let first = unitText.first else { throw failure(.missingUnit) }
        // Digits, points or signs after the number mean the number itself is malformed ("5..0 s").
        guard first.asciiDigit == nil, !".+-".contains(first) else { throw failure(.malformedNumber) }
        return (number, try unit(unitText, input: input))
    }
}

/// Every built-in dimension, for naming the dimension of a unit given in the wrong place.
var allDimensions: [any PhysicalDimension.Type] {
    [TimeDimension.self, FrequencyDimension.self, TemperatureDimension.self, PowerDimension.self,
     ResistanceDimension.self, VoltageDimension.self, CurrentDimension.self,
     MagneticFieldDimension.self, SampleRateDimension.self, PressureDimension.self]
}

extension Quantity: LosslessStringConvertible {
    /// Parses text such as "500 µs", "1.5 kHz", "10 mK" or "-1.5 mA": a decimal number
    /// (optionally signed, with optional exponent), optional whitespace, and a unit of `D`
    /// with an optional SI prefix. Leading and trailing whitespace is ignored.
    public init(parsing input: String) throws(QuantityParseError) {
        func failure(_ reason: QuantityParseError.Reason) -> QuantityParseError {
            QuantityParseError(input: input, dimension: D.self, reason: reason)
        }
        let (number, unit) = try D.parse(input)
        // Check the magnitude before adding any offset, so huge exponents never reach the
        // exact decimal addition.
        let magnitude = unit.scaledWithoutOffset(number).doubleValue
        guard magnitude.isFinite, magnitude != 0 || number.isZero else { throw failure(.outOfRange) }
        let siValue = unit.siValue(of: number)
        if let limit = D.lowerLimit, siValue < limit.siValue {
            throw failure(.belowLowerLimit("\(limit.name) (\(Self(siValue: limit.siValue)))"))
        }
        self.init(siValue: siValue)
    }

    /// Parses `description`; nil where `init(parsing:)` throws.
    public init?(_ description: String) {
        try? self.init(parsing: description)
    }
}

extension String {
    /// The text without leading and trailing whitespace (including no-break spaces).
    var trimmedOfWhitespace: Substring {
        let start = firstIndex { !$0.isWhitespace } ?? endIndex
        let end = lastIndex { !$0.isWhitespace }.map { index(after: $0) } ?? start
        return self[start..<end]
    }
}
