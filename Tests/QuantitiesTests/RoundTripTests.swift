import Quantities
import Testing
import TestSupport

/// Every built-in dimension, with whether negative values are valid input.
let dimensions: [(dimension: any PhysicalDimension.Type, allowsNegative: Bool)] = [
    (TimeDimension.self, true), (FrequencyDimension.self, true), (TemperatureDimension.self, false),
    (PowerDimension.self, true), (ResistanceDimension.self, true), (VoltageDimension.self, true),
    (CurrentDimension.self, true), (MagneticFieldDimension.self, true), (SampleRateDimension.self, true),
]

@Suite("Round trips through text")
struct RoundTripTests {
    /// Values with at most 6 significant digits over a wide exponent range read back exactly
    /// from `description`.
    @Test(arguments: dimensions.indices)
    func descriptionRoundTrip(index: Int) throws {
        let (dimension, allowsNegative) = dimensions[index]
        try checkDescriptionRoundTrip(dimension, allowsNegative: allowsNegative, seed: UInt64(index))
    }

    /// Arbitrary finite Doubles read back exactly from 17 significant digits.
    @Test(arguments: dimensions.indices)
    func fullPrecisionRoundTrip(index: Int) throws {
        let (dimension, allowsNegative) = dimensions[index]
        try checkFullPrecisionRoundTrip(dimension, allowsNegative: allowsNegative, seed: UInt64(index))
    }

    private func checkDescriptionRoundTrip<D: PhysicalDimension>(_: D.Type, allowsNegative: Bool, seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        for _ in 0..<3_000 {
            let mantissa = Int(random.next() % 999_999) + 1
            let exponent = Int(random.next() % 56) - 32
            let sign = allowsNegative && random.next() % 2 == 0 ? "-" : ""
            let value = try #require(Double("\(sign)\(mantissa)e\(exponent)"))
            let quantity = Quantity<D>(siValue: value)
            #expect(try Quantity<D>(parsing: quantity.description) == quantity, "\(value) → \(quantity)")
        }
    }

    private func checkFullPrecisionRoundTrip<D: PhysicalDimension>(_: D.Type, allowsNegative: Bool, seed: UInt64) throws {
        var random = SplitMix64(seed: seed ^ 0xF00D)
        var checked = 0
        while checked < 3_000 {
            let bits = random.next()
            let value = Double(bitPattern: allowsNegative ? bits : bits & ~(1 << 63))
            guard value.isFinite else { continue }
            checked += 1
            let quantity = Quantity<D>(siValue: value)
            let text = quantity.formatted(significantDigits: 17)
            #expect(try Quantity<D>(parsing: text) == quantity, "\(value) → \(text)")
        }
    }

    @Test("Readable times read back", arguments: [0.5, 1, 1.5, 2, 7, 12.5, 30, 45])
    func readableTimes(amount: Double) throws {
        for time in [Time.minutes(amount), .hours(amount), .days(amount), .seconds(amount * 60 + 1)] {
            #expect(try Time(parsing: time.description) == time)
        }
    }

    @Test("Quantity is LosslessStringConvertible")
    func lossless() {
        func roundTrip<T: LosslessStringConvertible & Equatable>(_ value: T) -> Bool { T(value.description) == value }
        #expect(roundTrip(Voltage.millivolts(-1.5)))
        #expect(roundTrip(Temperature.millikelvin(12.3)))
        #expect(roundTrip(Time.hours(4)))
    }
}
