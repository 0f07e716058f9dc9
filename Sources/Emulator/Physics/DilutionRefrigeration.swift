/// Formulas of the ³He/⁴He dilution refrigerator (Pobell, *Matter and Methods at Low Temperatures*, ch. 7).
public enum DilutionRefrigeration {
    /// Enthalpy coefficient of ³He in the dilute phase, 95 J mol⁻¹ K⁻² (Pobell: H_d ≈ 94.5 T²).
    public static let diluteEnthalpyCoefficient = 95.0
    /// Enthalpy coefficient of pure (concentrated) ³He, 11 J mol⁻¹ K⁻² (Pobell: H₃ ≈ 11 T²).
    public static let concentratedEnthalpyCoefficient = 11.0
    /// The tri-critical temperature (0.867 K) above which the mixture does not phase-separate.
    public static let phaseSeparationTemperature = 0.867

    /// Mixing-chamber cooling power Q̇ = ṅ(95 T_mc² − 11 T_in²) in watts, with ṅ in mol/s and the
    /// mixing-chamber and incoming-³He temperatures in kelvin (Pobell eq. 7.26).
    public static func mixingChamberCoolingPower(
        circulation ndot: Double, mixingChamber tmc: Double, incoming tin: Double
    ) -> Double {
        ndot * (diluteEnthalpyCoefficient * tmc * tmc - concentratedEnthalpyCoefficient * tin * tin)
    }

    /// How much of the dilution cooling acts at `kelvin`: 1 below 0.667 K, falling linearly to 0 at the
    /// tri-critical point 0.867 K, above which there is no phase boundary to cross.
    public static func phaseSeparationFraction(at kelvin: Double) -> Double {
        min(1, max(0, (phaseSeparationTemperature - kelvin) / 0.2))
    }
}

/// A cooling-power curve given as (temperature, power) points, interpolated linearly and held
/// constant beyond the last point; below the first point (the no-load base temperature, where the
/// power is zero) it is zero.
/// Pulse-tube stages are described this way, from the manufacturer's load map.
public struct CoolingCurve: Sendable, Hashable {
    public struct Point: Sendable, Hashable {
        public var kelvin: Double
        public var watts: Double
        public init(kelvin: Double, watts: Double) {
            self.kelvin = kelvin
            self.watts = watts
        }
    }

    /// Points sorted by temperature.
    public let points: [Point]

    /// Creates a curve; points are sorted by temperature.
    public init(_ points: [Point]) {
        self.points = points.sorted { $0.kelvin < $1.kelvin }
    }

    /// Cooling power at `kelvin`, in watts.
    public func power(at kelvin: Double) -> Double {
        guard let first = points.first, let last = points.last else { return 0 }
        if kelvin < first.kelvin { return 0 }
        if kelvin >= last.kelvin { return last.watts }
        var lower = first
        for point in points.dropFirst() {
            if kelvin <= point.kelvin {
                let fraction = (kelvin - lower.kelvin) / (point.kelvin - lower.kelvin)
                return lower.watts + fraction * (point.watts - lower.watts)
            }
            lower = point
        }
        return last.watts
    }
}
