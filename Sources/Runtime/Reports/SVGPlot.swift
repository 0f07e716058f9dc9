import Foundation

/// An SVG chart of an ``ExperimentResult``: its series as points with ±σ error bars, its fitted curves, axes
/// with ticks (linear, or decades on a log axis), a title and a legend. No dependencies; text is XML-escaped.
public struct SVGPlot: Sendable {
    public var width = 720.0
    public var height = 460.0
    static let margin = (left: 80.0, right: 170.0, top: 50.0, bottom: 60.0)
    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    public init() {}

    /// One axis: the data range mapped onto pixels, linearly or in log₁₀.
    struct Axis {
        var low: Double, high: Double, log: Bool, start: Double, end: Double

        init(values: [Double], log: Bool, start: Double, end: Double) {
            let usable = log ? values.filter { $0 > 0 } : values
            var low = usable.min() ?? 0, high = usable.max() ?? 1
            if log {
                low = Foundation.log10(low > 0 ? low : 1)
                high = Foundation.log10(high > 0 ? high : 10)
            }
            if high - low < 1e-12 * max(abs(high), 1) { low -= 0.5; high += 0.5 }
            let pad = (high - low) * 0.05
            self.low = low - pad
            self.high = high + pad
            self.log = log
            self.start = start
            self.end = end
        }

        func pixel(_ value: Double) -> Double? {
            let v = log ? (value > 0 ? Foundation.log10(value) : .nan) : value
            guard v.isFinite else { return nil }
            return start + (v - low) / (high - low) * (end - start)
        }

        /// Tick values (in data units) and their labels.
        var ticks: [(value: Double, label: String)] {
            if log {
                let decades = Array(Int(floor(low))...Int(ceil(high)))
                var ticks: [(value: Double, label: String)] = []
                for decade in decades where Double(decade) >= low && Double(decade) <= high {
                    ticks.append((value: pow(10.0, Double(decade)), label: String(format: "%g", pow(10.0, Double(decade)))))
                }
                return ticks
            }
            let raw = (high - low) / 6
            let magnitude = pow(10, floor(Foundation.log10(raw)))
            let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
            var ticks: [(Double, String)] = []
            var value = ceil(low / step) * step
            while value <= high + step * 1e-9 {
                ticks.append((value, String(format: "%g", abs(value) < step * 1e-9 ? 0 : value)))
                value += step
            }
            return ticks
        }
    }

    /// Escapes `&`, `<`, `>`, `"` and `'` for XML text and attributes.
    public static func escape(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(c)
            }
        }
        return out
    }

    public func render(_ result: ExperimentResult) -> String {
        let m = Self.margin
        let points = result.points.filter { $0.x.isFinite && $0.y.isFinite }
        let ys = points.flatMap { [$0.y - ($0.sigma.isFinite ? $0.sigma : 0), $0.y + ($0.sigma.isFinite ? $0.sigma : 0)] }
        let x = Axis(values: points.map(\.x), log: result.axes.logX, start: m.left, end: width - m.right)
        let y = Axis(values: ys.isEmpty ? [0, 1] : ys, log: result.axes.logY, start: height - m.bottom, end: m.top)
        var series: [String] = []
        for point in points where !series.contains(point.series) { series.append(point.series) }
        func colour(_ name: String) -> String { Self.palette[(series.firstIndex(of: name) ?? 0) % Self.palette.count] }
        func f(_ v: Double) -> String { String(format: "%.2f", v) }

        var svg = """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(f(width))" height="\(f(height))" viewBox="0 0 \(f(width)) \(f(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(f(width / 2))" y="24" text-anchor="middle" font-size="14">\(Self.escape("\(result.kind.rawValue) — \(result.qubit) (\(result.status.rawValue))"))</text>
        <rect x="\(f(m.left))" y="\(f(m.top))" width="\(f(width - m.left - m.right))" height="\(f(height - m.top - m.bottom))" fill="none" stroke="black"/>

        """
        for tick in x.ticks {
            guard let px = x.pixel(tick.value) else { continue }
            svg += "<line x1=\"\(f(px))\" y1=\"\(f(height - m.bottom))\" x2=\"\(f(px))\" y2=\"\(f(height - m.bottom + 5))\" stroke=\"black\"/>"
            svg += "<text x=\"\(f(px))\" y=\"\(f(height - m.bottom + 18))\" text-anchor=\"middle\">\(Self.escape(tick.label))</text>\n"
        }
        for tick in y.ticks {
            guard let py = y.pixel(tick.value) else { continue }
            svg += "<line x1=\"\(f(m.left - 5))\" y1=\"\(f(py))\" x2=\"\(f(m.left))\" y2=\"\(f(py))\" stroke=\"black\"/>"
            svg += "<text x=\"\(f(m.left - 8))\" y=\"\(f(py + 4))\" text-anchor=\"end\">\(Self.escape(tick.label))</text>\n"
        }
        svg += "<text x=\"\(f((m.left + width - m.right) / 2))\" y=\"\(f(height - 15))\" text-anchor=\"middle\">\(Self.escape(result.axes.x))</text>\n"
        svg += "<text transform=\"translate(18 \(f((m.top + height - m.bottom) / 2))) rotate(-90)\" text-anchor=\"middle\">\(Self.escape(result.axes.y))</text>\n"

        let xs = points.map(\.x).filter { !x.log || $0 > 0 }
        if let lo = xs.min(), let hi = xs.max(), hi > lo {
            for curve in result.curves where series.contains(curve.series) {
                let path = (0...200).compactMap { k -> String? in
                    let t = Double(k) / 200
                    let value = x.log ? lo * pow(hi / lo, t) : lo + (hi - lo) * t
                    guard let px = x.pixel(value), let py = y.pixel(curve.value(at: value)) else { return nil }
                    return "\(f(px)),\(f(min(max(py, m.top), height - m.bottom)))"
                }
                guard path.count > 1 else { continue }
                svg += "<polyline class=\"fit\" fill=\"none\" stroke=\"\(colour(curve.series))\" stroke-width=\"1.5\" points=\"\(path.joined(separator: " "))\"/>\n"
            }
        }
        for point in points {
            guard let px = x.pixel(point.x), let py = y.pixel(point.y) else { continue }
            let c = colour(point.series)
            if point.sigma > 0, point.sigma.isFinite, let top = y.pixel(point.y + point.sigma) {
                let bottom = y.pixel(point.y - point.sigma) ?? (height - m.bottom)
                svg += "<line class=\"error\" x1=\"\(f(px))\" y1=\"\(f(top))\" x2=\"\(f(px))\" y2=\"\(f(bottom))\" stroke=\"\(c)\"/>"
            }
            svg += "<circle class=\"point\" data-series=\"\(Self.escape(point.series))\" data-x=\"\(point.x)\" data-y=\"\(point.y)\" cx=\"\(f(px))\" cy=\"\(f(py))\" r=\"3\" fill=\"\(c)\"/>\n"
        }
        for (index, name) in series.enumerated() {
            let ly = m.top + 10 + Double(index) * 18
            svg += "<circle cx=\"\(f(width - m.right + 15))\" cy=\"\(f(ly))\" r=\"4\" fill=\"\(colour(name))\"/>"
            svg += "<text x=\"\(f(width - m.right + 25))\" y=\"\(f(ly + 4))\">\(Self.escape(name))</text>\n"
        }
        svg += "<text x=\"\(f(m.left))\" y=\"\(f(height - 2))\" font-size=\"10\">\(Self.escape(result.summary))</text>\n"
        svg += "</svg>\n"
        return svg
    }
}
