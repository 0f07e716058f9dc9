import Foundation
import Quantities

/// Filter functions of a dephasing sequence (REFERENCES.md; Cywiński et al., PRB 77, 174509 (2008)).
///
/// With H = ½[Ω + β(t)]σ_z and the sequence's toggling-frame noise vector ỹ(t) (±ẑ between ideal π
/// pulses, rotating through the transverse plane during finite ones), Y(ω) = ∫₀ᵀ ỹ(t)e^{iωt}dt and
/// F(ωT) = ½ω²|Y(ω)|², so that χ(T) = (1/π)∫₀^∞ S(ω)F(ωT)/ω² dω.
public struct FilterFunction: Sendable {
    public let sequence: DDSequence

    /// Free periods and pulses along the time axis: the toggling-frame vector is constant on a free period,
    /// and turns by the pulse's rotation during a pulse.
    private struct Piece {
        var start: Double
        var end: Double
        /// The toggling-frame vector on a free period, or at a pulse's start.
        var vector: SIMD3<Double>
        /// For a pulse: the frame before it (columns) and the axis it turns about.
        var frame: Frame?
        var axis: SIMD3<Double> = .zero
        var shape: PulseShape = .square
        var angle: Double = 0
    }

    /// A 3×3 rotation as three columns.
    private struct Frame {
        var x, y, z: SIMD3<Double>
        static let identity = Frame(x: [1, 0, 0], y: [0, 1, 0], z: [0, 0, 1])
        func apply(_ v: SIMD3<Double>) -> SIMD3<Double> { x * v.x + y * v.y + z * v.z }
        /// self · R(axis, angle).
        func rotated(about axis: SIMD3<Double>, by angle: Double) -> Frame {
            Frame(x: apply(rotate([1, 0, 0], axis, angle)), y: apply(rotate([0, 1, 0], axis, angle)), z: apply(rotate([0, 0, 1], axis, angle)))
        }
    }

    /// Rodrigues' rotation of `v` about the unit `axis` by `angle`.
    private static func rotate(_ v: SIMD3<Double>, _ axis: SIMD3<Double>, _ angle: Double) -> SIMD3<Double> {
        let c = cos(angle), s = sin(angle)
        let cross = SIMD3(axis.y * v.z - axis.z * v.y, axis.z * v.x - axis.x * v.z, axis.x * v.y - axis.y * v.x)
        let dot = (axis * v).sum()
        return v * c + cross * s + axis * (dot * (1 - c))
    }

    private let pieces: [Piece]
    /// δⱼ of the refocusing pulses.
    private let positions: [Double]
    /// (δ₁, δⱼ₊₁ − δⱼ) when the pulses are equally spaced (CP, CPMG, PDD, the XY families, KDD): then
    /// e^{izδⱼ} is a geometric progression and the sum needs two sines and cosines, not 2N.
    private let uniform: (first: Double, step: Double)?
    /// Whether every pulse is ideal (instantaneous): then the closed general form applies exactly.
    public let isIdeal: Bool

    public init(_ sequence: DDSequence) {
        self.sequence = sequence
        let total = sequence.total.seconds
        let width = sequence.piPulse.duration.seconds
        var pieces: [Piece] = []
        var frame = Frame.identity
        var time = 0.0
        for pulse in sequence.pulses {
            let centre = pulse.position * total
            let start = centre - width / 2
            pieces.append(Piece(start: time, end: start, vector: frame.z))
            let axis = SIMD3(cos(pulse.phase), sin(pulse.phase), 0)
            if width > 0 {
                pieces.append(Piece(start: start, end: start + width, vector: frame.z, frame: frame, axis: axis,
                                    shape: sequence.piPulse.shape, angle: sequence.piPulse.angle))
            }
            frame = frame.rotated(about: axis, by: sequence.piPulse.angle)
            time = start + width
        }
        pieces.append(Piece(start: time, end: total, vector: frame.z))
        self.pieces = pieces
        let deltas = sequence.pulses.map(\.position)
        positions = deltas
        if deltas.count >= 2 {
            let step = deltas[1] - deltas[0]
            let equal = deltas.indices.allSatisfy { abs(deltas[$0] - (deltas[0] + Double($0) * step)) < 1e-13 }
            uniform = equal ? (deltas[0], step) : nil
        } else {
            uniform = nil
        }
        isIdeal = width == 0
    }

    /// Gauss–Legendre nodes and weights on [−1, 1], 16 points.
    private static let legendre: [(x: Double, w: Double)] = {
        let half: [(Double, Double)] = [
            (0.0950125098376374, 0.1894506104550685), (0.2816035507792589, 0.1826034150449236),
            (0.4580167776572274, 0.1691565193950025), (0.6178762444026438, 0.1495959888165767),
            (0.7554044083550030, 0.1246289712555339), (0.8656312023878318, 0.0951585116824928),
            (0.9445750230732326, 0.0622535239386479), (0.9894009349916499, 0.0271524594117541),
        ]
        return half.flatMap { [(-$0.0, $0.1), ($0.0, $0.1)] }
    }()

    /// Y(ω) = ∫₀ᵀ ỹ(t)e^{iωt}dt, each component as (re, im).
    public func transform(_ omega: Double) -> (re: SIMD3<Double>, im: SIMD3<Double>) {
        var re = SIMD3<Double>.zero, im = SIMD3<Double>.zero
        for piece in pieces where piece.end > piece.start {
            if let frame = piece.frame {
                // A pulse: the vector turns from frame·ẑ as the rotation angle builds up; integrate in
                // sub-panels short enough that e^{iωt} turns by at most one radian in each.
                let length = piece.end - piece.start
                let panels = max(1, Int((omega * length).rounded(.up)))
                let step = length / Double(panels)
                for p in 0..<panels {
                    let a = piece.start + Double(p) * step
                    for node in Self.legendre {
                        let t = a + step * (node.x + 1) / 2
                        let x = (t - piece.start) / length
                        let theta = piece.angle * Self.cumulativeArea(piece.shape, x)
                        let v = frame.apply(Self.rotateZ(piece.axis, theta))
                        let weight = node.w * step / 2
                        re += v * (cos(omega * t) * weight)
                        im += v * (sin(omega * t) * weight)
                    }
                }
            } else {
                // A free period: ∫ₐᵇ e^{iωt}dt = (e^{iωb} − e^{iωa})/(iω), or b − a at ω = 0.
                let (a, b) = (piece.start, piece.end)
                if omega * (b - a) < 1e-6 {
                    re += piece.vector * (b - a) * cos(omega * (a + b) / 2)
                    im += piece.vector * (b - a) * sin(omega * (a + b) / 2)
                } else {
                    re += piece.vector * ((sin(omega * b) - sin(omega * a)) / omega)
                    im += piece.vector * ((cos(omega * a) - cos(omega * b)) / omega)
                }
            }
        }
        return (re, im)
    }

    /// ẑ turned about an in-plane `axis` by `angle` (Rodrigues with axis ⟂ ẑ).
    private static func rotateZ(_ axis: SIMD3<Double>, _ angle: Double) -> SIMD3<Double> {
        SIMD3(axis.y * sin(angle), -axis.x * sin(angle), cos(angle))
    }

    /// The fraction of a pulse's rotation done at x ∈ [0, 1] of its duration.
    private static func cumulativeArea(_ shape: PulseShape, _ x: Double) -> Double {
        switch shape {
        case .square: return x
        case let .gaussian(truncation), let .drag(truncation, _):
            let edge = exp(-truncation * truncation / 2)
            let erfAt = { (u: Double) in erf(u / 2.squareRoot()) }
            let u = (x - 0.5) * 2 * truncation
            let gaussPart = (erfAt(u) + erfAt(truncation)) / (2 * erfAt(truncation))
            // Envelope (g − edge)/(1 − edge): its integral is the Gaussian part minus a linear ramp.
            let gaussTotal = (2 * Double.pi).squareRoot() * erfAt(truncation)
            let area = gaussPart * gaussTotal - edge * x * 2 * truncation
            return area / (gaussTotal - edge * 2 * truncation)
        }
    }

    /// |Y(ω)|², summed over the three components of the toggling-frame vector.
    public func spectralWeight(_ omega: Double) -> Double {
        let z = omega * sequence.total.seconds
        if isIdeal, z > 1e-3 { return 2 * idealValue(z) / (omega * omega) }
        let (re, im) = transform(omega)
        return (re * re).sum() + (im * im).sum()
    }

    /// F(z) at z = ωT, by the general form: ½ω²|Y(ω)|²; for ideal pulses, the closed sum
    /// ½|1 + (−1)^{N+1}e^{iz} + 2Σⱼ(−1)ʲe^{izδⱼ}|².
    public func value(at z: Double) -> Double {
        if isIdeal { return idealValue(z) }
        let omega = z / sequence.total.seconds
        return 0.5 * omega * omega * spectralWeight(omega)
    }

    /// The ideal-pulse form at z. Equally spaced pulses sum −2Σⱼ rʲe^{izδ₁} with r = −e^{iz·step} in closed
    /// form, (1 − rᴺ)/(1 − r), which needs four sines and cosines; term by term where |1 − r| < ¼, so the
    /// division never loses more than two bits.
    private func idealValue(_ z: Double) -> Double {
        guard let uniform else { return Self.idealForm(z, positions: positions) }
        let n = positions.count
        let endSign = n % 2 == 0 ? -1.0 : 1.0
        var re = 1 + endSign * cos(z), im = endSign * sin(z)
        let tr = -2 * cos(z * uniform.first), ti = -2 * sin(z * uniform.first)
        let sr = -cos(z * uniform.step), si = -sin(z * uniform.step)
        let (dr, di) = (1 - sr, -si)
        let gap = dr * dr + di * di
        if gap >= 1.0 / 16 {
            // rᴺ = (−1)ᴺe^{izN·step}; the sum is term·(1 − rᴺ)/(1 − r).
            let angle = z * uniform.step * Double(n)
            let nr = 1 - endSign * -cos(angle), ni = endSign * sin(angle)
            let (qr, qi) = ((nr * dr + ni * di) / gap, (ni * dr - nr * di) / gap)
            re += tr * qr - ti * qi
            im += tr * qi + ti * qr
        } else {
            var (ar, ai) = (tr, ti)
            for _ in 0..<n {
                re += ar
                im += ai
                (ar, ai) = (ar * sr - ai * si, ar * si + ai * sr)
            }
        }
        return 0.5 * (re * re + im * im)
    }

    /// For ideal pulses, F(z) = mean + Σ weight·cos(z·lag) with lag > 0: the closed sum ½|Σₖcₖe^{izδₖ}|² over
    /// the nodes 0, 1 and δⱼ (c = 1, (−1)^{N+1}, ∓2) expanded in pairs. Equally spaced pulses group their pairs
    /// by lag, 3N terms; otherwise one term per pair.
    func cosineSeries() -> (mean: Double, terms: [(lag: Double, weight: Double)]) {
        let n = positions.count
        let endSign = n % 2 == 0 ? -1.0 : 1.0
        let weights = positions.indices.map { $0 % 2 == 0 ? -2.0 : 2.0 }
        var mean = 0.5 * (2 + weights.reduce(0) { $0 + $1 * $1 })
        var terms: [(lag: Double, weight: Double)] = []
        func add(_ lag: Double, _ weight: Double) {
            if lag > 0 { terms.append((lag, weight)) } else { mean += weight }
        }
        add(1, endSign)
        for (delta, c) in zip(positions, weights) {
            add(delta, c)
            add(1 - delta, c * endSign)
        }
        if let uniform {
            for m in stride(from: 1, to: n, by: 1) { add(Double(m) * uniform.step, Double(n - m) * (m % 2 == 0 ? 4 : -4)) }
        } else {
            for k in positions.indices {
                for l in (k + 1)..<n { add(abs(positions[l] - positions[k]), weights[k] * weights[l]) }
            }
        }
        return (mean, terms)
    }

    /// ½|1 + (−1)^{N+1}e^{iz} + 2Σⱼ(−1)ʲe^{izδⱼ}|² (Cywiński et al., eq. for ideal π pulses).
    public static func idealForm(_ z: Double, positions: [Double]) -> Double {
        let n = positions.count
        let endSign = n % 2 == 0 ? -1.0 : 1.0
        var re = 1 + endSign * cos(z), im = endSign * sin(z)
        positions.withUnsafeBufferPointer { deltas in
            var sign = -2.0
            for index in 0..<deltas.count {
                re += sign * cos(z * deltas[index])
                im += sign * sin(z * deltas[index])
                sign = -sign
            }
        }
        return 0.5 * (re * re + im * im)
    }

    /// The closed forms of REFERENCES.md, where the family has one: FID, Hahn echo, CPMG-N (and CP, XY4/8/16
    /// and KDD, which share CPMG's timing) and UDD-N. Nil for PDD and CDD.
    public static func closedForm(_ family: DDFamily, pulses n: Int, at z: Double) -> Double? {
        switch family {
        case .fid:
            let s = sin(z / 2)
            return 2 * s * s
        case .hahn:
            let s = sin(z / 4)
            return 8 * s * s * s * s
        case .cpmg, .cp, .xy4, .xy8, .xy16, .kdd:
            let s = sin(z / Double(4 * n))
            let c = cos(z / Double(2 * n))
            let outer = n % 2 == 0 ? sin(z / 2) : cos(z / 2)
            guard abs(c) > 1e-300 else { return nil }
            return 8 * s * s * s * s * outer * outer / (c * c)
        case .udd:
            var re = 0.0, im = 0.0
            for k in (-n - 1)...n {
                let sign = k % 2 == 0 ? 1.0 : -1.0
                let phase = z / 2 * cos(Double.pi * Double(k) / Double(n + 1))
                re += sign * cos(phase)
                im += sign * sin(phase)
            }
            return 0.5 * (re * re + im * im)
        case .pdd, .cdd:
            return nil
        }
    }
}
