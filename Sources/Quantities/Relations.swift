// Physically meaningful products and quotients across dimensions.
// Divisors must be non-zero: a non-finite result traps like an integer division by zero.

extension Quantity where D == VoltageDimension {
    /// Electrical power P = V · I.
    public static func * (voltage: Self, current: Current) -> Power { Power(siValue: voltage.siValue * current.siValue) }
    /// Ohm's law I = V / R.
    public static func / (voltage: Self, resistance: Resistance) -> Current {
        Current(siValue: voltage.siValue / resistance.siValue)
    }
    /// Ohm's law R = V / I.
    public static func / (voltage: Self, current: Current) -> Resistance {
        Resistance(siValue: voltage.siValue / current.siValue)
    }
}

extension Quantity where D == CurrentDimension {
    /// Electrical power P = I · V.
    public static func * (current: Self, voltage: Voltage) -> Power { voltage * current }
    /// Ohm's law V = I · R.
    public static func * (current: Self, resistance: Resistance) -> Voltage {
        Voltage(siValue: current.siValue * resistance.siValue)
    }
}

extension Quantity where D == ResistanceDimension {
    /// Ohm's law V = R · I.
    public static func * (resistance: Self, current: Current) -> Voltage { current * resistance }
}

extension Quantity where D == TimeDimension {
    /// The frequency 1 / t.
    public var reciprocal: Frequency { 1 / self }
    /// The frequency n / t, e.g. `1 / Time.microseconds(1)` is 1 MHz.
    public static func / (count: Double, time: Self) -> Frequency { Frequency(siValue: count / time.siValue) }
    /// The number of cycles t · f.
    public static func * (time: Self, frequency: Frequency) -> Double { time.siValue * frequency.siValue }
    /// The number of samples t · r.
    public static func * (time: Self, sampleRate: SampleRate) -> Double { time.siValue * sampleRate.siValue }
}

extension Quantity where D == FrequencyDimension {
    /// The period 1 / f.
    public var period: Time { 1 / self }
    /// The time n / f, e.g. the duration of n cycles.
    public static func / (count: Double, frequency: Self) -> Time { Time(siValue: count / frequency.siValue) }
    /// The number of cycles f · t.
    public static func * (frequency: Self, time: Time) -> Double { time * frequency }
}

extension Quantity where D == SampleRateDimension {
    /// The number of samples r · t.
    public static func * (sampleRate: Self, time: Time) -> Double { time * sampleRate }
}
