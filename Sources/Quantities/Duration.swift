// Exact conversions between `Time` and the standard library's `Duration`.

private let attosecondsPerSecond: Int128 = 1_000_000_000_000_000_000

extension Duration {
    /// Parses a time such as "50ns", "500 µs", "1.5 ps" or "4 h" into an exact `Duration`:
    /// the decimal digits are scaled as integers, so no binary rounding happens.
    /// Throws for malformed input, digits below one attosecond, or magnitudes beyond ±9.2e18 s.
    public init(parsing input: String) throws(QuantityParseError) {
        let (number, unit) = try TimeDimension.parse(input)
        // Time units have no offset, so scaling is all there is.
        let attoseconds = unit.scaledWithoutOffset(number).shifted(by: 18)
        guard attoseconds.exponent >= 0 else {
            throw QuantityParseError(input: input, dimension: TimeDimension.self, reason: .finerThanAttosecond)
        }
        guard let total = attoseconds.int128Value, let duration = Duration(totalAttoseconds: total) else {
            throw QuantityParseError(input: input, dimension: TimeDimension.self, reason: .outsideDurationRange)
        }
        self = duration
    }

    /// The whole duration in attoseconds.
    var totalAttoseconds: Int128 {
        Int128(components.seconds) * attosecondsPerSecond + Int128(components.attoseconds)
    }

    /// A duration of `totalAttoseconds`, or nil when its seconds do not fit in Int64.
    init?(totalAttoseconds: Int128) {
        let (seconds, attoseconds) = totalAttoseconds.quotientAndRemainder(dividingBy: attosecondsPerSecond)
        guard let seconds = Int64(exactly: seconds) else { return nil }
        self.init(secondsComponent: seconds, attosecondsComponent: Int64(attoseconds))
    }
}

extension Quantity where D == TimeDimension {
    /// The time equal to `duration`, correctly rounded to a Double.
    public init(_ duration: Duration) {
        self.init(siValue: DecimalNumber(duration.totalAttoseconds, exponent: -18).doubleValue)
    }

    /// This time as a `Duration`: the shortest decimal that reads back as this Double, rounded
    /// to the nearest attosecond, so `Time.seconds(0.1).duration == .milliseconds(100)`.
    /// Traps beyond ±9.2e18 s (about 292 billion years).
    public var duration: Duration {
        let attoseconds = DecimalNumber(siValue).shifted(by: 18).rounded(toExponent: 0)
        guard let total = attoseconds.int128Value, let duration = Duration(totalAttoseconds: total) else {
            preconditionFailure("\(self) is outside the range of a Swift Duration")
        }
        return duration
    }
}
