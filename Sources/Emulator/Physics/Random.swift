import Foundation

/// A small, seedable pseudo-random generator (SplitMix64, Steele, Lea & Flood, OOPSLA 2014), so every
/// noisy trajectory and injected fault can be replayed from its seed.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform number in [0, 1).
    public mutating func unit() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// A standard normal number (Box–Muller).
    public mutating func gaussian() -> Double {
        let u1 = max(unit(), 0x1.0p-53)
        let u2 = unit()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}


/// wyrand (Wang Yi, the generator of wyhash; Go's runtime and Zig's standard library use it): a Weyl
/// sequence mixed by one 64 × 64 → 128-bit multiplication, which its author reports passes BigCrush and
/// PractRand. Its one word of state stays in a register in the qubit testbed's shot loop, two shots at a
/// time, where every shot has its own stream (a 2⁶⁴-long cycle entered at a hashed point).
/// Its `gaussian()` is a 256-layer ziggurat (Marsaglia & Tsang, J. Stat. Softw. 5 (8) (2000)) that
/// costs one 64-bit draw almost every time.
public struct WyRand: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator whose state is seeded through SplitMix64 (`SeededGenerator`).
    public init(seed: UInt64) {
        var seeder = SeededGenerator(seed: seed)
        state = seeder.next()
    }

    /// Stream `stream` of `seed`: a generator seeded through SplitMix64 from a hash of both, so that
    /// stream n can be made without drawing the streams before it (one stream per shot, on any thread).
    public init(seed: UInt64, stream: UInt64) {
        var key = SeededGenerator(seed: seed)
        var mixer = SeededGenerator(seed: stream)
        self.init(seed: key.next() ^ mixer.next())
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        state &+= 0xA076_1D64_78BD_642F
        let product = state.multipliedFullWidth(by: state ^ 0xE703_7ED1_A0B4_28DB)
        return product.high ^ product.low
    }

    /// A uniform number in [0, 1).
    @inline(__always)
    public mutating func unit() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// A standard normal number: ziggurat layer from the low 8 bits, sign from the next, a 52-bit
    /// abscissa from the top; the wedges and the tail (beyond r) are sampled exactly.
    public mutating func gaussian() -> Double {
        Ziggurat.shared.table.withUnsafeBufferPointer { gaussian($0.baseAddress!) }
    }

    /// `gaussian()` with the ziggurat's table at hand (`Ziggurat.shared.table`), for hot loops: the low
    /// 9 bits pick a signed layer, so the sign costs nothing; branch-free but for the rare (about 1 in
    /// 100) draw outside the layer's inner rectangle.
    @inline(__always)
    mutating func gaussian(_ table: UnsafePointer<Double>) -> Double {
        let bits = next()
        let index = Int(truncatingIfNeeded: bits & 0x1FF)
        // Below 2⁵², so the signed conversion is exact and needs no unsigned fix-up.
        let magnitude = Double(Int64(bitPattern: bits >> 12))
        let x = magnitude * table[index]
        if _fastPath(magnitude < table[Ziggurat.signedLayers + index]) { return x }
        // The state goes in and out by value, so it never needs an address and stays in registers.
        let (value, state) = Self.gaussianSlowPath(self, layer: index & 0xFF, x: x)
        self = state
        return value
    }

    @inline(never)
    private static func gaussianSlowPath(_ generator: Self, layer: Int, x: Double) -> (Double, Self) {
        var generator = generator
        let value = generator.gaussianSlowPath(layer: layer, x: x.magnitude, negative: x.sign == .minus)
        return (value, generator)
    }

    private mutating func gaussianSlowPath(layer: Int, x: Double, negative: Bool) -> Double {
        let table = Ziggurat.shared
        var layer = layer, x = x, negative = negative
        while true {
            if layer == 0 {
                // The tail beyond r (Marsaglia, Ann. Math. Stat. 35 (1964)).
                let r = Ziggurat.r
                while true {
                    let e = -log(1 - unit()) / r
                    let y = -log(1 - unit())
                    if 2 * y > e * e { return negative ? -(r + e) : r + e }
                }
            }
            // The wedge between layer `layer`'s rectangle and the curve.
            let f0 = table.density[layer], f1 = table.density[layer + 1]
            if f0 + unit() * (f1 - f0) < exp(-0.5 * x * x) { return negative ? -x : x }
            let bits = next()
            layer = Int(truncatingIfNeeded: bits & 0xFF)
            negative = bits & 0x100 != 0
            let magnitude = Double(Int64(bitPattern: bits >> 12))
            x = magnitude * table.table[layer]
            if magnitude < table.table[Ziggurat.signedLayers + layer] { return negative ? -x : x }
        }
    }
}

/// Two generators side by side, one per lane of the shot loop's SIMD2 vectors: lane i draws exactly
/// what its generator would alone, so a shot's numbers do not depend on which shot shares its vector.
struct WyRandPair {
    var lanes: (WyRand, WyRand)

    @inline(__always)
    mutating func unit() -> SIMD2<Double> {
        SIMD2(lanes.0.unit(), lanes.1.unit())
    }

    @inline(__always)
    mutating func gaussian(_ table: UnsafePointer<Double>) -> SIMD2<Double> {
        SIMD2(lanes.0.gaussian(table), lanes.1.gaussian(table))
    }
}

/// The ziggurat's 256 layers of equal area v under exp(−x²/2): layer i spans 0…x[i] (x[0] = v/f(r) covers
/// the base strip and the tail, x[1] = r, x[256] = 0).
struct Ziggurat: Sendable {
    static let layers = 256
    static let r = 3.6541528853610088
    static let v = 0.00492867323399
    static let shared = Ziggurat()

    /// Entries above it in `table`: the signed layers.
    static let signedLayers = 2 * layers

    /// What the fast path reads, by the 9 bits i = sign·256 + layer: entries 0..<512 are ±x[layer] / 2⁵²
    /// (turn a 52-bit integer into a signed abscissa in the layer; negative for i ≥ 256), entries
    /// 512 + i are ⌊2⁵²·x[layer+1]/x[layer]⌋ (an integer below it puts the point inside the next
    /// layer's rectangle, under the curve).
    let table: [Double]
    /// exp(−x[i]²/2), i = 0…256.
    let density: [Double]

    private init() {
        let n = Self.layers, r = Self.r, v = Self.v
        var x = [Double](repeating: 0, count: n + 1)
        x[0] = v / exp(-0.5 * r * r)
        x[1] = r
        for i in 1..<(n - 1) {
            x[i + 1] = (-2 * log(v / x[i] + exp(-0.5 * x[i] * x[i]))).squareRoot()
        }
        x[n] = 0
        let two52 = 0x1.0p52
        let scale = (0..<n).map { x[$0] / two52 }, accept = (0..<n).map { (two52 * x[$0 + 1] / x[$0]).rounded(.down) }
        table = scale + scale.map { -$0 } + accept + accept
        density = x.map { exp(-0.5 * $0 * $0) }
    }
}
