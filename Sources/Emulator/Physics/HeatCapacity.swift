/// Molar heat capacity of a solid, C = γT + βT³ at low temperature (Pobell, *Matter and Methods at
/// Low Temperatures*, ch. 3: electronic plus Debye-phonon terms).
///
/// The Debye T³ law holds only far below the Debye temperature; above it the lattice term saturates
/// at the Dulong–Petit value 3R. The phonon term is therefore combined with 3R as a harmonic sum,
/// `βT³·3R / (βT³ + 3R)`, which equals βT³ to better than 2 ppm below 1 K and tends to 3R at room
/// temperature (24.9 J mol⁻¹K⁻¹, against 24.4 measured for copper at 298 K).
public struct HeatCapacityModel: Sendable, Hashable {
    /// Electronic coefficient γ in J mol⁻¹ K⁻².
    public var gamma: Double
    /// Lattice (Debye) coefficient β in J mol⁻¹ K⁻⁴.
    public var beta: Double

    public init(gamma: Double, beta: Double) {
        self.gamma = gamma
        self.beta = beta
    }

    /// Copper: γ = 0.69 mJ mol⁻¹K⁻², β = 0.048 mJ mol⁻¹K⁻⁴ (REFERENCES.md, after Pobell).
    public static let copper = HeatCapacityModel(gamma: 0.69e-3, beta: 0.048e-3)

    /// 3R, the Dulong–Petit limit, in J mol⁻¹ K⁻¹.
    public static let dulongPetit = 3 * 8.314462618

    /// Molar heat capacity at `kelvin`, in J mol⁻¹ K⁻¹.
    public func molar(at kelvin: Double) -> Double {
        let t = max(kelvin, 0)
        let phonon = beta * t * t * t
        return gamma * t + phonon * Self.dulongPetit / (phonon + Self.dulongPetit)
    }

    /// The low-temperature form γT + βT³ exactly, in J mol⁻¹ K⁻¹ (valid well below the Debye temperature).
    public func lowTemperatureMolar(at kelvin: Double) -> Double {
        gamma * kelvin + beta * kelvin * kelvin * kelvin
    }
}
