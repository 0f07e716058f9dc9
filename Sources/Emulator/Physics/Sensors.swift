import Foundation

/// A ruthenium-oxide thermometer with a variable-range-hopping characteristic,
/// R(T) = R₀·exp((T₀/T)^p) (Mott VRH, p = ½ for Efros–Shklovskii hopping, as fitted to RuOx chips).
public struct RuOxSensor: Sendable, Hashable {
    /// R₀ in ohms.
    public var r0: Double
    /// T₀ in kelvin.
    public var t0: Double
    /// The hopping exponent p.
    public var exponent: Double

    public init(r0: Double, t0: Double, exponent: Double = 0.5) {
        self.r0 = r0
        self.t0 = t0
        self.exponent = exponent
    }

    /// Resistance at `kelvin`, in ohms.
    public func resistance(at kelvin: Double) -> Double {
        r0 * exp(pow(t0 / max(kelvin, 1e-6), exponent))
    }

    /// Temperature for a resistance, in kelvin (the inverse calibration curve); nil at or below R₀.
    public func temperature(forResistance ohms: Double) -> Double? {
        guard ohms > r0 else { return nil }
        return t0 / pow(log(ohms / r0), 1 / exponent)
    }
}

/// A pressure gauge whose reading follows a stage's temperature and the circulation:
/// p = base·(T/T_ref)^k + c·ṅ[µmol/s], in mbar. An OVC gauge cryopumps as the fridge cools (k > 0);
/// a gas-handling gauge (P1–P6-like) rises with the circulation.
public struct PressureGaugeSpec: Sendable, Hashable {
    public var id: String
    public var baseMillibar: Double
    public var stage: StageID
    public var referenceKelvin: Double
    public var exponent: Double
    public var millibarPerMicromolePerSecond: Double
    /// The gauge's measuring range, in mbar; readings outside are under- or over-range.
    public var minimumMillibar: Double
    public var maximumMillibar: Double

    public init(
        id: String, baseMillibar: Double, stage: StageID, referenceKelvin: Double, exponent: Double,
        millibarPerMicromolePerSecond: Double, minimumMillibar: Double, maximumMillibar: Double
    ) {
        self.id = id
        self.baseMillibar = baseMillibar
        self.stage = stage
        self.referenceKelvin = referenceKelvin
        self.exponent = exponent
        self.millibarPerMicromolePerSecond = millibarPerMicromolePerSecond
        self.minimumMillibar = minimumMillibar
        self.maximumMillibar = maximumMillibar
    }

    func millibar(stageKelvin: Double, circulation ndot: Double) -> Double {
        baseMillibar * pow(max(stageKelvin, 1e-6) / referenceKelvin, exponent) + millibarPerMicromolePerSecond * ndot * 1e6
    }
}

/// The magnetic field at the sample: a static vector plus white Gaussian noise on each axis, in tesla.
public struct MagneticFieldSpec: Sendable, Hashable {
    public var x: Double
    public var y: Double
    public var z: Double
    /// Standard deviation of the noise on each axis, in tesla.
    public var noise: Double

    public init(x: Double, y: Double, z: Double, noise: Double) {
        self.x = x
        self.y = y
        self.z = z
        self.noise = noise
    }
}
