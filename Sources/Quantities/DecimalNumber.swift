/// An exact decimal number `±digits × 10^exponent`. Parsing, unit conversion and formatting
/// go through it so that decimal text is never rounded through binary on the way.
struct DecimalNumber: Equatable, Sendable {
    /// Whether the number is negative (kept for zero, so "-0 s" stays -0.0).
    let isNegative: Bool
    /// Significand digits 0…9, most significant first, without leading or trailing zeros;
    /// empty for zero.
    let digits: [UInt8]
    /// The power of ten applied to the integer formed by `digits`; 0 for zero.
    let exponent: Int

    /// Creates `±digits × 10^exponent`, normalising away leading and trailing zeros.
    init(isNegative: Bool, digits: some Collection<UInt8>, exponent: Int) {
        let digits = Array(digits)
        let first = digits.firstIndex { $0 != 0 } ?? digits.endIndex
        let end = digits.lastIndex { $0 != 0 }.map { $0 + 1 } ?? first
        self.isNegative = isNegative
        self.digits = Array(digits[first..<end])
        self.exponent = self.digits.isEmpty ? 0 : exponent + (digits.count - end)
    }

    /// The shortest decimal that converts back to `value` (Swift's `description` digits).
    init(_ value: Double) {
        precondition(value.isFinite, "cannot represent \(value) as a decimal number")
        guard let (number, _) = Self.scan(Substring(value.description)) else {
            preconditionFailure("unexpected Double description \(value.description)")
        }
        self = number
    }

    /// `value × 10^exponent`, exactly.
    init(_ value: Int128, exponent: Int) {
        self.init(isNegative: value < 0, digits: String(value.magnitude).utf8.map { $0 - UInt8(ascii: "0") },
                  exponent: exponent)
    }

    var isZero: Bool { digits.isEmpty }

    /// The power of ten of the leading digit (0 for zero).
    var leadingExponent: Int { isZero ? 0 : exponent + digits.count - 1 }

    /// Reads a number at the start of `text`: `[+-]digits[.digits][(e|E)[+-]digits]`, where at
    /// least one mantissa digit is required. An exponent marker not followed by digits is not
    /// consumed, so "5Es" reads 5 and leaves the exa prefix. Returns nil without mantissa digits.
    static func scan(_ text: Substring) -> (number: DecimalNumber, end: Substring.Index)? {
        var index = text.startIndex
        func character(at position: Substring.Index) -> Character? {
            position < text.endIndex ? text[position] : nil
        }
        func readDigits(from position: inout Substring.Index, into body: (UInt8) -> Void) {
            while let digit = character(at: position)?.asciiDigit {
                body(digit)
                position = text.index(after: position)
            }
        }
        func readSign(at position: inout Substring.Index) -> Bool {
            guard let sign = character(at: position), sign == "+" || sign == "-" else { return false }
            position = text.index(after: position)
            return sign == "-"
        }

        let isNegative = readSign(at: &index)
        var digits: [UInt8] = []
        var exponent = 0
        readDigits(from: &index) { digits.append($0) }
        if character(at: index) == "." {
            index = text.index(after: index)
            readDigits(from: &index) { digits.append($0); exponent -= 1 }
        }
        guard !digits.isEmpty else { return nil }

        if let marker = character(at: index), marker == "e" || marker == "E" {
            var position = text.index(after: index)
            let exponentIsNegative = readSign(at: &position)
            if character(at: position)?.asciiDigit != nil {
                // Saturate: anything beyond 10^±1e9 is out of range for every consumer.
                var magnitude = 0
                readDigits(from: &position) { magnitude = min(magnitude * 10 + Int($0), 1_000_000_000) }
                exponent += exponentIsNegative ? -magnitude : magnitude
                index = position
            }
        }
        return (DecimalNumber(isNegative: isNegative, digits: digits, exponent: exponent), index)
    }

    /// The nearest Double (correctly rounded); ±infinity on overflow, ±0 on underflow.
    var doubleValue: Double {
        let significand = isZero ? "0" : String(decoding: digits.map { $0 + UInt8(ascii: "0") }, as: UTF8.self)
        let text = (isNegative ? "-" : "") + significand + "e\(exponent)"
        guard let value = Double(text) else { preconditionFailure("unexpected decimal text \(text)") }
        return value
    }

    /// The integer value, or nil if it has a fractional part or does not fit in Int128.
    var int128Value: Int128? {
        // Int128 has at most 39 digits; this also bounds the zeros appended below.
        guard exponent >= 0, digits.count + exponent <= 39 else { return nil }
        var value: Int128 = 0
        for digit in digits + Array(repeating: 0, count: exponent) {
            let (shifted, overflow) = value.multipliedReportingOverflow(by: 10)
            let (next, carry) = isNegative
                ? shifted.subtractingReportingOverflow(Int128(digit))
                : shifted.addingReportingOverflow(Int128(digit))
            guard !overflow, !carry else { return nil }
            value = next
        }
        return value
    }

    /// Multiplies by `10^places`, exactly.
    func shifted(by places: Int) -> DecimalNumber {
        DecimalNumber(isNegative: isNegative, digits: digits, exponent: exponent + places)
    }

    /// Multiplies by a positive integer, exactly.
    func multiplied(by factor: Int) -> DecimalNumber {
        precondition(factor > 0, "decimal factor must be positive")
        var product: [UInt8] = []
        var carry = 0
        for digit in digits.reversed() {
            let partial = Int(digit) * factor + carry
            product.append(UInt8(partial % 10))
            carry = partial / 10
        }
        while carry > 0 {
            product.append(UInt8(carry % 10))
            carry /= 10
        }
        return DecimalNumber(isNegative: isNegative, digits: product.reversed(), exponent: exponent)
    }

    /// The exact sum. Both operands must have moderate exponents (their digits are aligned).
    func adding(_ other: DecimalNumber) -> DecimalNumber {
        if other.isZero { return self }
        if isZero { return other }
        let exponent = min(self.exponent, other.exponent)
        // Little-endian digit arrays aligned to the common exponent.
        let lhs = Array(repeating: 0, count: self.exponent - exponent) + digits.reversed()
        let rhs = Array(repeating: 0, count: other.exponent - exponent) + other.digits.reversed()
        if isNegative == other.isNegative {
            return DecimalNumber(isNegative: isNegative, digits: Self.add(lhs, rhs).reversed(), exponent: exponent)
        }
        let lhsIsLarger = Self.compareMagnitudes(lhs, rhs) >= 0
        let difference = lhsIsLarger ? Self.subtract(rhs, from: lhs) : Self.subtract(lhs, from: rhs)
        return DecimalNumber(isNegative: lhsIsLarger ? isNegative : other.isNegative,
                             digits: difference.reversed(), exponent: exponent)
    }

    /// Rounds half away from zero so that the result's exponent is at least `minimumExponent`.
    func rounded(toExponent minimumExponent: Int) -> DecimalNumber {
        guard exponent < minimumExponent else { return self }
        let kept = digits.count - (minimumExponent - exponent)
        guard kept >= 0 else { return DecimalNumber(isNegative: isNegative, digits: [], exponent: 0) }
        let roundsUp = digits[kept] >= 5
        var result = Array(digits[..<kept].reversed())
        if roundsUp { result = Self.add(result, [1]) }
        return DecimalNumber(isNegative: isNegative, digits: result.reversed(), exponent: minimumExponent)
    }

    /// Rounds half away from zero to `count` significant digits.
    func rounded(toSignificantDigits count: Int) -> DecimalNumber {
        isZero ? self : rounded(toExponent: leadingExponent - count + 1)
    }

    /// Positional notation without an exponent, e.g. "-123.457", "0.0005", "1500"; zero is "0".
    var plainText: String {
        guard !isZero else { return "0" }
        let text = digits.map { Character(Unicode.Scalar($0 + UInt8(ascii: "0"))) }
        let integerCount = digits.count + exponent
        let body: [Character] =
            if exponent >= 0 {
                text + Array(repeating: "0", count: exponent)
            } else if integerCount > 0 {
                Array(text[..<integerCount]) + ["."] + Array(text[integerCount...])
            } else {
                ["0", "."] + Array(repeating: "0", count: -integerCount) + text
            }
        return (isNegative ? "-" : "") + String(body)
    }

    // MARK: Little-endian digit arithmetic

    private static func add(_ lhs: [UInt8], _ rhs: [UInt8]) -> [UInt8] {
        var sum: [UInt8] = []
        var carry: UInt8 = 0
        for index in 0..<max(lhs.count, rhs.count) {
            let partial = (index < lhs.count ? lhs[index] : 0) + (index < rhs.count ? rhs[index] : 0) + carry
            sum.append(partial % 10)
            carry = partial / 10
        }
        return carry > 0 ? sum + [carry] : sum
    }

    /// `minuend − subtrahend`; the minuend's magnitude must not be smaller.
    private static func subtract(_ subtrahend: [UInt8], from minuend: [UInt8]) -> [UInt8] {
        var difference: [UInt8] = []
        var borrow: UInt8 = 0
        for index in minuend.indices {
            let taken = (index < subtrahend.count ? subtrahend[index] : 0) + borrow
            borrow = minuend[index] < taken ? 1 : 0
            difference.append(minuend[index] + 10 * borrow - taken)
        }
        return difference
    }

    /// Compares magnitudes of aligned digit arrays whose most significant digit is non-zero.
    private static func compareMagnitudes(_ lhs: [UInt8], _ rhs: [UInt8]) -> Int {
        if lhs.count != rhs.count { return lhs.count < rhs.count ? -1 : 1 }
        for (left, right) in zip(lhs.reversed(), rhs.reversed()) where left != right { return left < right ? -1 : 1 }
        return 0
    }
}

extension Character {
    /// The value of an ASCII digit "0"…"9", nil for anything else.
    var asciiDigit: UInt8? {
        guard let ascii = asciiValue, ascii >= UInt8(ascii: "0"), ascii <= UInt8(ascii: "9") else { return nil }
        return ascii - UInt8(ascii: "0")
    }
}
