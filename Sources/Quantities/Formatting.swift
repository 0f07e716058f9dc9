extension Quantity: CustomStringConvertible {
    /// Engineering notation with at most 6 significant digits, e.g. "500 µs", "1.5 kHz",
    /// "12.3 mK", "0 s"; times of a minute or more use min, h or d ("1.5 min", "4 h").
    /// `init(parsing:)` reads it back (exactly, when the value has at most 6 significant digits).
    public var description: String { formatted(significantDigits: 6) }

    /// Like `description` with `significantDigits` (1…17) significant digits, trailing zeros
    /// trimmed. The mantissa is in [1, 1000) unless the value lies beyond the prefixes y…E.
    ///
    /// Dimensions with display units (time: min, h, d) use them once the magnitude reaches the
    /// smallest of them: the largest unit (or the plain SI unit) whose rounded text reads back
    /// exactly, so 90 s is "1.5 min" and 61 s is "61 s"; if none reads back exactly, the largest
    /// unit not exceeding the value ("1.01667 min"). With 17 digits the text always reads back.
    public func formatted(significantDigits: Int) -> String {
        Self.checkSignificantDigits(significantDigits)
        let candidates = D.displayUnits.filter { $0.scale <= abs(siValue) }.map { ResolvedUnit($0) }
        guard let largest = candidates.first else {
            let rounded = DecimalNumber(siValue).rounded(toSignificantDigits: significantDigits)
            let exponent = Swift.min(Swift.max(Self.floorToMultipleOfThree(rounded.leadingExponent), -24), 18)
            return text(in: ResolvedUnit(D.siUnit, prefix: SIPrefix(rawValue: exponent)), significantDigits: significantDigits)
        }
        let exact = (candidates + [ResolvedUnit(D.siUnit)]).first { unit in
            unit.siValue(of: number(in: unit, significantDigits: significantDigits)) == siValue
        }
        return text(in: exact ?? largest, significantDigits: significantDigits)
    }

    /// This quantity in the given unit (any accepted spelling, with an optional SI prefix and
    /// written as given): 500 µs `formatted(in: "ms")` is "0.5 ms" and 10 mK
    /// `formatted(in: "°C")` is "-273.14 °C". Throws if `unit` is not a unit of this dimension.
    public func formatted(in unit: String, significantDigits: Int = 6) throws(QuantityParseError) -> String {
        Self.checkSignificantDigits(significantDigits)
        let symbol = unit.trimmedOfWhitespace
        guard !symbol.isEmpty else { throw QuantityParseError(input: unit, dimension: D.self, reason: .missingUnit) }
        let resolved = try D.unit(symbol, input: unit)
        return "\(number(in: resolved, significantDigits: significantDigits).plainText) \(symbol)"
    }

    private func number(in unit: ResolvedUnit, significantDigits: Int) -> DecimalNumber {
        unit.number(fromSI: siValue).rounded(toSignificantDigits: significantDigits)
    }

    private func text(in unit: ResolvedUnit, significantDigits: Int) -> String {
        "\(number(in: unit, significantDigits: significantDigits).plainText) \(unit.symbol)"
    }

    private static func checkSignificantDigits(_ count: Int) {
        precondition((1...17).contains(count), "significant digits must be 1…17, got \(count)")
    }

    private static func floorToMultipleOfThree(_ exponent: Int) -> Int {
        (exponent >= 0 ? exponent : exponent - 2) / 3 * 3
    }
}
