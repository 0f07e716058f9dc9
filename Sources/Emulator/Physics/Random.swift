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


/// xoshiro256** (Blackman & Vigna, ACM TOMS 47 (2021)): a fast generator with 256 bits of state for the
/// qubit testbed's shot loop, seeded through SplitMix64 as its authors recommend. Its `gaussian()` is a
/// 256-layer ziggurat (Marsaglia & Tsang, J. Stat. Softw. 5 (8) (2000)) that costs one 64-bit draw
/// almost every time.
public struct Xoshiro256StarStar: RandomNumberGenerator, Sendable {
    private var s0, s1, s2, s3: UInt64

    public init(seed: UInt64) {
        var seeder = SeededGenerator(seed: seed)
        s0 = seeder.next(); s1 = seeder.next(); s2 = seeder.next(); s3 = seeder.next()
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
        let result = Self.rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = Self.rotl(s3, 45)
        return result
    }

    @inline(__always)
    private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 {
        (x << k) | (x >> (64 - k))
    }

    /// A uniform number in [0, 1).
    @inline(__always)
    public mutating func unit() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// A standard normal number: ziggurat layer from the low 8 bits, sign from the next, a 52-bit
    /// abscissa from the rest; the wedges and the tail (beyond r) are sampled exactly.
    @inline(__always)
    public mutating func gaussian() -> Double {
        Ziggurat.shared.layers.withUnsafeBufferPointer { gaussian($0.baseAddress!) }
    }

    /// `gaussian()` with the ziggurat's layers at hand (`Ziggurat.shared.layers`), for hot loops:
    /// branch-free but for the rare (about 1 in 100) draw outside the layer's inner rectangle.
    @inline(__always)
    mutating func gaussian(_ layers: UnsafePointer<Ziggurat.Layer>) -> Double {
        let bits = next()
        let layer = Int(truncatingIfNeeded: bits & 0xFF)
        let magnitude = (bits >> 12) & 0x000F_FFFF_FFFF_FFFF
        let entry = layers[layer]
        // magnitude < 2⁵², so the signed conversion is exact and needs no unsigned fix-up.
        let x = Double(Int64(bitPattern: magnitude)) * entry.scale
        if _fastPath(magnitude < entry.accept) {
            return Double(bitPattern: x.bitPattern ^ ((bits & 0x100) << 55))
        }
        // The state goes in and out by value, so it never needs an address and stays in registers.
        let (value, state) = Self.gaussianSlowPath(self, layer: layer, x: x, negative: bits & 0x100 != 0)
        self = state
        return value
    }

    @inline(never)
    private static func gaussianSlowPath(_ generator: Self, layer: Int, x: Double, negative: Bool) -> (Double, Self) {
        var generator = generator
        let value = generator.gaussianSlowPath(layer: layer, x: x, negative: negative)
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
            layer = Int(bits & 0xFF)
            negative = bits & 0x100 != 0
            let magnitude = (bits >> 12) & 0x000F_FFFF_FFFF_FFFF
            x = Double(magnitude) * table.scale[layer]
            if magnitude < table.accept[layer] { return negative ? -x : x }
        }
    }
}

/// The ziggurat's 256 layers of equal area v under exp(−x²/2): layer i spans 0…x[i] (x[0] = v/f(r) covers
/// the base strip and the tail, x[1] = r, x[256] = 0).
struct Ziggurat: Sendable {
    static let layers = 256
    static let r = 3.6541528853610088
    static let v = 0.00492867323399
    static let shared = Ziggurat()

    /// What the fast path reads of layer i, side by side: x[i] / 2⁵² (turns a 52-bit integer into an
    /// abscissa in layer i) and 2⁵²·x[i+1]/x[i] (below it a point lies inside the next layer's
    /// rectangle, under the curve).
    struct Layer: Sendable {
        var scale: Double
        var accept: UInt64
    }

    let layers: [Layer]
    /// x[i] / 2⁵², to turn a 52-bit integer into an abscissa in layer i.
    let scale: [Double]
    /// 2⁵²·x[i+1]/x[i]: below it a point lies inside the next layer's rectangle, under the curve.
    let accept: [UInt64]
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
        scale = (0..<n).map { x[$0] / two52 }
        accept = (0..<n).map { UInt64(two52 * x[$0 + 1] / x[$0]) }
        density = x.map { exp(-0.5 * $0 * $0) }
        layers = zip(scale, accept).map { Layer(scale: $0, accept: $1) }
    }
}
