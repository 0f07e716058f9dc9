import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Runtime
import Telemetry
import Testing

@Suite("Experiment results as JSON, telemetry and SVG")
struct ResultOutputTests {
    static let points: [DataPoint] = {
        var points: [DataPoint] = []
        for k in 1...6 {
            let x = Double(k) * 2e-5
            let y = 0.5 + 0.5 * exp(-pow(Double(k) / 3, 2))
            points.append(DataPoint(series: "N=4", x: x, y: y, sigma: 0.02))
        }
        points.append(DataPoint(series: "N<16>", x: 1e-4, y: 0.8, sigma: 0.03))
        return points
    }()

    static let result = ExperimentResult(
        kind: .cpmg, qubit: "q<0>&\"1\"", status: .completed, started: Date(timeIntervalSince1970: 1_700_000_000),
        finished: Date(timeIntervalSince1970: 1_700_000_012.5), axes: PlotAxes(x: "T (s)", y: "P(1)", logX: true),
        points: points,
        curves: [FittedCurve(series: "N=4", model: .stretchedDecay, parameters: [0.5, 6e-5, 2, 0.5])],
        values: [FittedValue(name: "T2 N=4", value: 6e-5, uncertainty: 2e-6, unit: "s")],
        summary: "q0 CPMG: T₂ = 60 ± 2 µs & <more>")

    /// Collects the elements of an SVG.
    final class Collector: NSObject, XMLParserDelegate {
        var elements: [(name: String, attributes: [String: String])] = []
        var text = ""
        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
            elements.append((name, attributes))
        }
        func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }
    }

    @Test("The SVG is well-formed XML with every point, its error bar, the fitted curve, ticks and escaped text")
    func svg() throws {
        let svg = SVGPlot().render(Self.result)
        let parser = XMLParser(data: Data(svg.utf8))
        let collector = Collector()
        parser.delegate = collector
        #expect(parser.parse(), "not well-formed: \(parser.parserError.map { "\($0)" } ?? "")")
        let points = collector.elements.filter { $0.name == "circle" && $0.attributes["class"] == "point" }
        #expect(points.count == Self.result.points.count)
        let xs: [Double] = points.compactMap { element in element.attributes["data-x"].flatMap { Double($0) } }
        #expect(Set(xs) == Set(Self.points.map { $0.x }))
        #expect(points.contains { $0.attributes["data-series"] == "N<16>" })
        #expect(collector.elements.filter { $0.attributes["class"] == "error" }.count == Self.result.points.count)
        #expect(collector.elements.contains { $0.name == "polyline" && $0.attributes["class"] == "fit" })
        #expect(collector.text.contains("q<0>&\"1\"") && collector.text.contains("0.0001"), "a decade tick on the log axis")
    }

    @Test("JSON round-trips and the telemetry message carries the values and times")
    func encodings() throws {
        let encoder = JSONEncoder()
        let decoder = JSONDecoder()
        let json = try encoder.encode(Self.result)
        let decoded = try decoder.decode(ExperimentResult.self, from: json)
        #expect(decoded == Self.result)
        let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        #expect(object["kind"] as? String == "cpmg" && object["status"] as? String == "completed")
        let wire = Self.result.telemetry(experimentID: "run-1")
        #expect(wire.experimentID == "run-1" && wire.kind == "cpmg" && wire.status == "completed")
        #expect(wire.values.count == 1 && wire.values[0].name == "T2 N=4" && wire.values[0].uncertainty == 2e-6 && wire.values[0].unit == "s")
        #expect(wire.startedNs == 1_700_000_000_000_000_000 && wire.finishedNs == 1_700_000_012_500_000_000)
    }
}
