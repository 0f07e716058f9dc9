import Quantities
import Testing

/// Every spelling of a dimension, with the prefix symbols it may carry ("" for none).
func spellings<D: PhysicalDimension>(of _: D.Type) -> [(text: String, symbol: String, exponent: Int)] {
    let units = [UnitSpelling(D.symbol, acceptsPrefixes: true)] + D.otherUnits
    let prefixes = [("", 0)] + SIPrefix.allCases.map { ("\($0.symbol)", $0.exponent) } + [("\u{3BC}", -6), ("u", -6)]
    return units.flatMap { unit in
        (unit.acceptsPrefixes ? prefixes : [("", 0)]).map { (prefix, exponent) in
            (prefix + unit.symbol, unit.symbol, exponent)
        }
    }
}

@Suite("Unit tables")
struct UnitTableTests {
    /// Each prefixed spelling means exactly its prefix's power of ten times the bare unit,
    /// so no spelling is shadowed by another (e.g. "G" gauss versus "GT" gigatesla).
    @Test(arguments: dimensions.indices)
    func prefixedSpellingsAreUnambiguous(index: Int) throws {
        try checkPrefixes(dimensions[index].dimension)
    }

    private func checkPrefixes<D: PhysicalDimension>(_ dimension: D.Type) throws {
        for (text, symbol, exponent) in spellings(of: dimension) {
            let prefixed = try Quantity<D>(parsing: "3 \(text)")
            let scaled = try Quantity<D>(parsing: "3e\(exponent) \(symbol)")
            #expect(prefixed == scaled, "\(text) in \(D.name)")
        }
    }

    /// A unit belongs to exactly one dimension: every other dimension reports it as that one's.
    @Test(arguments: dimensions.indices)
    func unitsBelongToOneDimension(index: Int) {
        checkForeignUnits(dimensions[index].dimension)
    }

    private func checkForeignUnits<D: PhysicalDimension>(_ dimension: D.Type) {
        for (other, _) in dimensions where other.name != D.name {
            for (text, _, _) in spellings(of: other) {
                expectParseError(dimension, "1 \(text)", .wrongDimension(unit: text, dimension: other.name))
            }
        }
    }

    /// The example quoted in error messages is valid and formats to itself.
    @Test(arguments: dimensions.indices)
    func exampleIsCanonical(index: Int) throws {
        try checkExample(dimensions[index].dimension)
    }

    private func checkExample<D: PhysicalDimension>(_: D.Type) throws {
        #expect(try Quantity<D>(parsing: D.example).description == D.example)
    }

    @Test("The ohm sign U+2126 is the same symbol as Greek capital omega")
    func ohmSign() throws {
        #expect(try Resistance(parsing: "1 k\u{2126}") == Resistance.kiloohms(1))
    }

    @Test("SI prefixes")
    func prefixes() {
        #expect(SIPrefix.allCases.map(\.exponent) == Array(stride(from: -24, through: 18, by: 3)).filter { $0 != 0 })
        #expect(SIPrefix(symbol: "\u{B5}") == .micro)
        #expect(SIPrefix(symbol: "\u{3BC}") == .micro)
        #expect(SIPrefix(symbol: "u") == .micro)
        #expect(SIPrefix(symbol: "c") == nil)
        #expect(SIPrefix(symbol: "d") == nil)
        #expect(SIPrefix(symbol: "h") == nil)
        #expect(SIPrefix.micro.symbol == "\u{B5}")
    }
}
