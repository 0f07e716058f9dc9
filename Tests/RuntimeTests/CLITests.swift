import Foundation
import Testing

/// The node's command line, run as a user runs it: `qrrm station check`, `qrrm experiment` and `qrrm run` with a plan.
@Suite("qrrm station, experiment and run")
struct CLITests {
    static let qrrm = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("qrrm")

    /// Runs qrrm with `arguments`; returns its exit status, stdout and stderr.
    static func run(_ arguments: [String], timeout: Double = 300) throws -> (status: Int32, out: String, err: String) {
        try #require(FileManager.default.isExecutableFile(atPath: qrrm.path), "\(qrrm.path) is missing: build the qrrm product first")
        let process = Process()
        process.executableURL = qrrm
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let timer = DispatchSource.makeTimerSource()
        timer.schedule(deadline: .now() + timeout)
        timer.setEventHandler { process.terminate() }
        timer.resume()
        let output = out.fileHandleForReading.readDataToEndOfFile(), errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        timer.cancel()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self), String(decoding: errors, as: UTF8.self))
    }

    /// A copy of the demo station in a temporary folder, with `old` replaced by `new` and the profile path made absolute.
    static func station(_ replacements: [(String, String)]) throws -> URL {
        var text = try String(contentsOf: StationTests.demo, encoding: .utf8)
            .replacingOccurrences(of: "../transmon-demo.yaml", with: NodeTests.profile.deletingLastPathComponent().appendingPathComponent("transmon-demo.yaml").path)
            .replacingOccurrences(of: "tcp://127.0.0.1:5556", with: "tcp://127.0.0.1:*")
            .replacingOccurrences(of: "tcp://127.0.0.1:5557", with: "tcp://127.0.0.1:*")
            .replacingOccurrences(of: "tcp://127.0.0.1:5558", with: "tcp://127.0.0.1:*")
        for (old, new) in replacements {
            precondition(text.contains(old), "the demo station no longer contains \(old)")
            text = text.replacingOccurrences(of: old, with: new)
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("qrrm-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let file = folder.appendingPathComponent("station.yaml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    @Test("station check accepts the demo station and reports a bad one at its file, line and key")
    func stationCheck() throws {
        let good = try Self.run(["station", "check", StationTests.demo.path, "--connect"])
        #expect(good.status == 0 && good.out.contains("demo.yaml is valid"), "\(good)")
        #expect(good.out.contains("TEKTRONIX AWG5204"), "--connect identifies the instruments: \(good.out)")
        let file = try Self.station([("above: 100mK", "above: 100mbar")])
        let bad = try Self.run(["station", "check", file.path])
        #expect(bad.status == 1)
        #expect(bad.err.contains("station.yaml:") && bad.err.contains("interlocks[0].above"), "\(bad.err)")
        let step = try Self.station([("shots: 1000}", "shots: 1000, wobble: 3}")])
        let badStep = try Self.run(["station", "check", step.path])
        #expect(badStep.status == 1 && badStep.err.contains("unknown parameter \"wobble\""), "\(badStep.err)")
    }

    @Test("experiment prints its result as JSON, and refuses an unknown experiment or parameter")
    func experiment() throws {
        let zeno = try Self.run(["experiment", "zeno", "--set", "measurements=1,4", "--set", "shots=300", "--set", "duration=400ns"])
        #expect(zeno.status == 0, "\(zeno.err)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(zeno.out.utf8)) as? [String: Any], "\(zeno.out)")
        #expect(json["kind"] as? String == "zeno" && json["status"] as? String == "completed" && json["qubit"] as? String == "q0")
        #expect((json["points"] as? [Any])?.isEmpty == false)
        let unknown = try Self.run(["experiment", "wiggle"])
        #expect(unknown.status != 0 && unknown.err.contains("unknown step \"wiggle\""), "\(unknown.err)")
        let badValue = try Self.run(["experiment", "t1", "--set", "shots=many"])
        #expect(badValue.status != 0 && badValue.err.contains("shots"), "\(badValue.err)")
    }

    @Test("run executes a plan: cool-down check, an experiment, results as JSON and SVG, and a summary")
    func runPlan() throws {
        let file = try Self.station([
            ("  - cpmgSweep: {qubit: q0, pulses: [1, 2, 4, 8, 16], shots: 400, from: 10us, to: 3ms}\n", ""),
            ("  - refresh: {qubit: q0, threshold: 0.85, horizon: 60us, shots: 400, from: 2us, to: 400us}\n", ""),
            ("measurements: [1, 2, 4, 8], duration: 400ns, shots: 1000", "measurements: [1, 2], duration: 400ns, shots: 300"),
        ])
        let results = file.deletingLastPathComponent().appendingPathComponent("results")
        let run = try Self.run(["run", "--station", file.path, "--results", results.path, "--plain"])
        #expect(run.status == 0, "\(run.out)\n\(run.err)")
        #expect(run.out.contains("cool-down check passed") && run.out.contains("summary"), "\(run.out)")
        let folders = try FileManager.default.contentsOfDirectory(at: results, includingPropertiesForKeys: nil)
        let folder = try #require(folders.first)
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        #expect(files == ["2-zeno-q0.json", "2-zeno-q0.svg", "summary.txt"], "\(files)")
        let summary = try String(contentsOf: folder.appendingPathComponent("summary.txt"), encoding: .utf8)
        #expect(summary.contains("control loop:") && summary.contains("q0 Zeno"), "\(summary)")
    }

    @Test("run --serve --metrics serves the node's channels on Prometheus /metrics and stops cleanly on SIGTERM")
    func metrics() throws {
        let file = try Self.station([])
        let port = 20_000 + Int.random(in: 0..<20_000)
        let process = Process()
        process.executableURL = Self.qrrm
        process.arguments = ["run", "--station", file.path, "--serve", "--no-plan", "--plain", "--metrics", "127.0.0.1:\(port)"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        var exposition = ""
        let end = Date().addingTimeInterval(30)
        while Date() < end, !exposition.contains("mxc") {
            Thread.sleep(forTimeInterval: 0.5)
            let fetch = Process()
            fetch.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            fetch.arguments = ["python3", "-c", "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:\(port)/metrics', timeout=5).read().decode())"]
            let body = Pipe()
            fetch.standardOutput = body
            fetch.standardError = FileHandle.nullDevice
            try fetch.run()
            exposition = String(decoding: body.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            fetch.waitUntilExit()
        }
        #expect(exposition.contains("mxc") && exposition.contains("demo-node"), "\(exposition)")
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }
}
