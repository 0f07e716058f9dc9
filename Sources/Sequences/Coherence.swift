import Foundation
import Quantities

/// χ(T) and the coherence e^{−χ} a sequence keeps under a noise PSD, with a bound on the numerical error.
public struct CoherencePrediction: Sendable, Hashable {
    /// χ(T) = (1/π)∫₀^∞ S(ω)F(ωT)/ω² dω.
    public var chi: Double
    /// The error of the computed χ: QUADPACK's Gauss–Kronrod error estimate for the integrated range plus
    /// rigorous bounds on the truncated low- and high-frequency ends.
    public var errorBound: Double
    /// e^{−χ}: the remaining coherence (the Bloch vector's length along the refocused axis).
    public var coherence: Double { exp(-chi) }
}

extension DDSequence {
    /// χ(T) for `noise`, to an absolute accuracy of about `tolerance` (the achieved error is returned).
    ///
    /// Method: the white part is exact by Parseval, χ_white = (S₀/2)∫₀ᵀ|ỹ|²dt = S₀T/2. For the rest,
    /// χ = (1/2π)∫₀^∞ S(ω)|Y(ω)|²dω is integrated with adaptive Gauss–Kronrod (7/15 points) on panels
    /// two periods of e^{iωT} wide (the fastest oscillation of |Y|² has one), with geometric panels
    /// towards ω = 0 and the PSD's cutoffs as panel ends, bisecting the worst panel until the summed error
    /// estimate is within half of `tolerance`. The ends are cut where their rigorous bounds fall
    /// below a quarter of `tolerance` each: below ε, |Y|² ≤ (|Y(0)| + ωT²/2)²; above Ω, |Y|² ≤ C²/ω² with
    /// C = √3(2 + Nθ) from integrating by parts (θ the refocusing angle). For ideal pulses under a PSD
    /// with S/ω² convex between its breakpoints (power laws, Lorentzians and their sums), panels stop much
    /// earlier, at Ω_s: above it F is its mean plus cosines, each integrated in closed form by parts twice
    /// with a rigorous bound on what is left (see below). Throws when the integral
    /// diverges (1/f^α with α ≥ 1 and no low cutoff under a sequence that does not refocus, e.g. FID).
    public func predict(noise: NoisePSD, tolerance: Double = 1e-8) throws(SequenceError) -> CoherencePrediction {
        try noise.validate()
        let total = self.total.seconds
        var chi = noise.whiteLevel * total / 2
        let coloured = noise.colouredTerms
        guard !coloured.isEmpty else { return CoherencePrediction(chi: chi, errorBound: 0) }
        let psd = coloured.count == 1 ? coloured[0] : NoisePSD.sum(coloured)
        let filter = FilterFunction(self)
        let quarter = tolerance / 4

        // Low end: [0, ε] bounded, never integrated.
        let (re0, im0) = filter.transform(0)
        let y0 = ((re0 * re0).sum() + (im0 * im0).sum()).squareRoot()
        let refocused = y0 < 1e-9 * total
        let moment = total * total / 2
        var epsilon = Double.pi / total
        var headError = Double.infinity
        for _ in 0..<200 {
            headError = refocused
                ? moment * moment * psd.headBound(below: epsilon, power: 2) / (2 * .pi)
                : (y0 + epsilon * moment) * (y0 + epsilon * moment) * psd.headBound(below: epsilon, power: 0) / (2 * .pi)
            if headError <= quarter { break }
            epsilon /= 4
        }
        guard headError.isFinite else {
            throw SequenceError(
                "χ diverges at low frequency: \(family.rawValue)-\(order) does not refocus static noise and the PSD grows as fast as 1/ω or faster; give the 1/f noise a low cutoff")
        }

        // High end: above Ω bounded.
        let angle = max(piPulse.angle, .pi)
        let c = 3.squareRoot() * (2 + Double(pulses.count) * angle)
        let period = 2 * Double.pi / total  // one period of e^{iωT}, the fastest turn of |Y|²
        var omegaMax = max(40 * period * Double(pulses.count + 1), (psd.breakpoints.max() ?? 0) * 1.0001)
        let maximumPanels = 100_000.0
        var tailError = c * c * psd.tailBound(above: omegaMax) / (2 * .pi)
        while tailError > quarter, omegaMax / period < maximumPanels {
            omegaMax *= 2
            tailError = c * c * psd.tailBound(above: omegaMax) / (2 * .pi)
        }

        // Ideal pulses under a PSD with g = S/ω² convex between its breakpoints: F(ωT) = F̄ + Σ w·cos(ωTℓ)
        // exactly, so above Ω_s the mean gives (F̄/π)∫g, and each cosine, integrated by parts twice on every
        // stretch [p, q] between breakpoints, gives [g·sin(kω)/k + g′·cos(kω)/k²] from p to q (k = Tℓ), up to
        // (1/k²)∫g″cos(kω), at most (g′(q) − g′(p))/k² as g″ ≥ 0. Ω_s grows by a quarter at a time from a few
        // multiples of the sequence's structure until the summed bound is below a quarter of the tolerance.
        var meanTail = 0.0, remainderBound = 0.0
        if filter.isIdeal, psd.exactTail(above: omegaMax) != nil {
            let series = filter.cosineSeries()
            let curvature = series.terms.reduce(0) { $0 + abs($1.weight) / (total * $1.lag * total * $1.lag) }
            let breaks = psd.breakpoints.sorted()
            /// The ends of the smooth stretches above ω (ω from above, each breakpoint from below and above) with
            /// sign +1 for an upper end and −1 for a lower one, and g, g′ there; ∞ adds nothing.
            func edges(above omega: Double) -> [(omega: Double, sign: Double, g: Double, slope: Double)]? {
                var ends = [(omega, -1.0, true)]
                for b in breaks where b > omega { ends += [(b, 1, false), (b, -1, true)] }
                var edges: [(omega: Double, sign: Double, g: Double, slope: Double)] = []
                for (w, sign, fromAbove) in ends {
                    guard let k = psd.kernel(at: w, fromAbove: fromAbove) else { return nil }
                    edges.append((w, sign, k.value, k.slope))
                }
                return edges
            }
            func bound(_ edges: [(omega: Double, sign: Double, g: Double, slope: Double)]) -> Double {
                curvature * edges.reduce(0) { $0 + $1.sign * $1.slope } / .pi
            }
            var split = 4 * period * Double(pulses.count + 1)
            var splitEdges = edges(above: split)
            while let current = splitEdges, bound(current) > quarter, split < omegaMax {
                split *= 1.25
                splitEdges = edges(above: split)
            }
            if split < omegaMax, let splitEdges, let tail = psd.exactTail(above: split) {
                var boundary = 0.0
                for edge in splitEdges {
                    var sum = 0.0
                    for term in series.terms {
                        let k = total * term.lag
                        sum += term.weight * (edge.g * sin(k * edge.omega) / k + edge.slope * cos(k * edge.omega) / (k * k))
                    }
                    boundary += edge.sign * sum
                }
                meanTail = (series.mean * tail + boundary) / .pi
                remainderBound = bound(splitEdges)
                omegaMax = split
                tailError = 0
            }
        }

        // Panel ends: octaves from ε to one period, then panels of two periods up to 10⁵ of them (GK15 resolves
        // two turns of e^{iωT} well enough that few panels need bisecting; one-period panels cost more in all),
        // then panels growing by 2 % to Ω (far above the sequence's structure, where the error estimate drives
        // any refinement), plus the PSD's breakpoints.
        var ends: [Double] = []
        var edge = epsilon
        while edge < period {
            ends.append(edge)
            edge *= 2
        }
        let panel = 2 * period
        let linearCount = Int(min((omegaMax / panel).rounded(.up), maximumPanels))
        for k in 1...max(linearCount, 1) { ends.append(min(Double(k) * panel, omegaMax)) }
        edge = Double(linearCount) * panel
        while edge < omegaMax {
            edge = min(edge * 1.02, omegaMax)
            ends.append(edge)
        }
        ends += psd.breakpoints.filter { $0 > epsilon && $0 < omegaMax }
        ends.sort()
        let integrand = { (omega: Double) -> Double in psd.value(at: omega) * filter.spectralWeight(omega) / (2 * .pi) }
        let (value, quadratureError) = GaussKronrod.integrate(integrand, ends: ends, tolerance: 2 * quarter)
        chi += value + meanTail
        return CoherencePrediction(chi: chi, errorBound: headError + tailError + remainderBound + quadratureError)
    }

    /// T₂ for this family and pulse count: the total time at which χ(T) = 1 (coherence 1/e). The bracket
    /// starts at `guess` and doubles or halves until it holds the crossing, then bisects in log T to 1e-6
    /// relative; nil when χ stays below 1 up to `upper`.
    public func coherenceTime(
        noise: NoisePSD, guess: Time = .seconds(1e-6), upper: Time = .seconds(100)
    ) throws(SequenceError) -> Time? {
        func chi(at seconds: Double) throws(SequenceError) -> Double {
            try DDSequence(family, pulses: order == 0 ? 1 : order, total: .seconds(seconds), piPulse: piPulse)
                .predict(noise: noise, tolerance: 1e-6).chi
        }
        var lo = guess.seconds, hi = guess.seconds
        if try chi(at: lo) >= 1 {
            while try chi(at: lo) >= 1 {
                guard lo > 1e-15 else { return .seconds(lo) }
                lo /= 2
            }
            hi = lo * 2
        } else {
            while try chi(at: hi) < 1 {
                guard hi < upper.seconds else { return nil }
                hi *= 2
            }
            lo = hi / 2
        }
        for _ in 0..<40 where hi / lo > 1 + 1e-6 {
            let mid = (lo * hi).squareRoot()
            if try chi(at: mid) >= 1 { hi = mid } else { lo = mid }
        }
        return .seconds((lo * hi).squareRoot())
    }
}

/// Globally adaptive Gauss–Kronrod quadrature (7-point Gauss, 15-point Kronrod), as QUADPACK's QAG does it.
enum GaussKronrod {
    private static let kronrod: [(x: Double, w: Double)] = [
        (0.991455371120812639, 0.022935322010529225), (0.949107912342758525, 0.063092092629978553),
        (0.864864423359769073, 0.104790010322250184), (0.741531185599394440, 0.140653259715525919),
        (0.586087235467691130, 0.169004726639267903), (0.405845151377397167, 0.190350578064785410),
        (0.207784955007898468, 0.204432940075298892),
    ]
    private static let kronrodCentre = 0.209482141084727828
    private static let gauss: [Double] = [0.129484966168869693, 0.279705391489276668, 0.381830050505118945]
    private static let gaussCentre = 0.417959183673469388

    /// ∫ₐᵇ f by the Kronrod rule, with QUADPACK's error estimate: resasc·min(1, (200|K − G|/resasc)^1.5),
    /// where resasc ≈ ∫|f − mean| on the panel (Piessens et al., QUADPACK (1983), §2.2).
    static func rule(_ f: (Double) -> Double, _ a: Double, _ b: Double) -> (value: Double, error: Double) {
        let centre = (a + b) / 2, half = (b - a) / 2
        let fc = f(centre)
        return withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * kronrod.count) { values in
            var k = kronrodCentre * fc, g = gaussCentre * fc
            for index in 0..<kronrod.count {
                let node = kronrod[index]
                let left = f(centre - half * node.x), right = f(centre + half * node.x)
                values[2 * index] = left
                values[2 * index + 1] = right
                k += node.w * (left + right)
                if index % 2 == 1 { g += gauss[index / 2] * (left + right) }
            }
            let mean = k / 2
            var resasc = kronrodCentre * abs(fc - mean)
            for index in 0..<kronrod.count {
                resasc += kronrod[index].w * (abs(values[2 * index] - mean) + abs(values[2 * index + 1] - mean))
            }
            resasc *= abs(half)
            var error = abs((k - g) * half)
            if resasc > 0, error > 0 { error = resasc * min(1, pow(200 * error / resasc, 1.5)) }
            return (k * half, error)
        }
    }

    /// ∫ over the panels between consecutive `ends`, bisecting in rounds every panel whose error estimate
    /// exceeds its even share of `tolerance`, until the summed estimate is within `tolerance` or `rounds` pass.
    static func integrate(
        _ f: (Double) -> Double, ends: [Double], tolerance: Double, rounds: Int = 30
    ) -> (value: Double, error: Double) {
        var panels: [(a: Double, b: Double, value: Double, error: Double)] = []
        for (a, b) in zip(ends, ends.dropFirst()) where b > a {
            let (value, error) = rule(f, a, b)
            panels.append((a, b, value, error))
        }
        for _ in 0..<rounds {
            let total = panels.reduce(0) { $0 + $1.error }
            guard total > tolerance, !panels.isEmpty else { break }
            let share = tolerance / Double(panels.count)
            var next: [(a: Double, b: Double, value: Double, error: Double)] = []
            next.reserveCapacity(panels.count)
            for panel in panels {
                let mid = (panel.a + panel.b) / 2
                guard panel.error > share, mid > panel.a, mid < panel.b else {
                    next.append(panel)
                    continue
                }
                let left = rule(f, panel.a, mid), right = rule(f, mid, panel.b)
                next.append((panel.a, mid, left.value, left.error))
                next.append((mid, panel.b, right.value, right.error))
            }
            panels = next
        }
        // Sum small terms first, for accuracy.
        let value = panels.map(\.value).sorted { abs($0) < abs($1) }.reduce(0, +)
        return (value, panels.reduce(0) { $0 + $1.error })
    }
}
