import Foundation
import GRDB
import Telemetry
@testable import TelemetryRecording
import Testing

/// A recording file written by hand, as a damaged or foreign file could be: `message` with
/// the recorder's columns but no NOT NULL constraints, holding `rows` (SQL value lists).
func handMadeRecording(_ name: String, rows: [String]) throws -> String {
    let path = temporaryRecording(name)
    let database = try DatabaseQueue(path: path)
    try database.write { db in
        try db.execute(sql: """
            CREATE TABLE message (id INTEGER PRIMARY KEY, received_monotonic_ns INTEGER, received_wall_ns INTEGER,
                                  topic TEXT, publisher TEXT, sequence INTEGER, header BLOB, payload BLOB)
            """)
        for row in rows { try db.execute(sql: "INSERT INTO message VALUES (\(row))") }
    }
    try database.close()
    return path
}

/// Runs the built `qrrm` with `arguments`; returns its exit status.
func runQRRM(_ arguments: [String]) throws -> Int32 {
    let qrrm = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("qrrm")
    try #require(FileManager.default.isExecutableFile(atPath: qrrm.path), "\(qrrm.path) is missing: build the qrrm product first")
    let process = Process()
    process.executableURL = qrrm
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    let deadline = ContinuousClock.now + .seconds(20)
    while process.isRunning && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.01) }
    if process.isRunning {
        process.terminate()
        Issue.record("qrrm \(arguments.joined(separator: " ")) still ran after 20 s")
    }
    process.waitUntilExit()
    #expect(process.terminationReason == .exit, "qrrm \(arguments.joined(separator: " ")) ended by a signal")
    return process.terminationStatus
}

@Suite("Malformed recordings and out-of-range arguments")
struct MalformedRecordingTests {
    @Test("a column holding TEXT or NULL where the recorder writes an integer throws, naming the row and the column",
          arguments: ["'seven'", "NULL"])
    func badSequence(_ sequence: String) throws {
        let path = try handMadeRecording("bad-sequence.sqlite", rows: [
            "1, 10, 20, 'n/i/a', 'p', 1, x'01', x'02'",
            "2, 11, 21, 'n/i/a', 'p', \(sequence), x'01', x'02'",
        ])
        let recording = try TelemetryRecording(path: path)
        #expect(try recording.messages(limit: 1).map(\.sequence) == [1])
        let error = try #require(throws: RecordingError.self) { try recording.messages() }
        #expect(error.reason.contains("row 2, column sequence"), "\(error)")
        #expect(error.operation == "reading messages after row 0")
    }

    @Test("a missing header blob throws instead of trapping")
    func missingBlob() throws {
        let path = try handMadeRecording("missing-blob.sqlite", rows: ["5, 10, 20, 'n/i/a', 'p', 1, NULL, x'02'"])
        let error = try #require(throws: RecordingError.self) { try TelemetryRecording(path: path).messages() }
        #expect(error.reason.contains("row 5, column header"), "\(error)")
    }

    @Test("a retention that is not positive is refused", arguments: [Duration.zero, .seconds(-1), .seconds(Int64.min)])
    func nonPositiveRetention(_ retention: Duration) {
        #expect(throws: RecordingError.self) { try TelemetryRecorder(path: temporaryRecording("retention.sqlite"), retention: retention) }
    }

    @Test("a replay speed that is not finite and positive throws", arguments: [0, -1, Double.nan, Double.infinity])
    func badSpeed(_ speed: Double) throws {
        let path = try handMadeRecording("speed.sqlite", rows: ["1, 10, 20, 'n/i/a', 'p', 1, x'01', x'02'"])
        let replayer = try TelemetryReplayer(endpoint: "tcp://127.0.0.1:*", security: .plaintext)
        #expect(throws: TelemetryError.self) { try replayer.replay(TelemetryRecording(path: path), speed: speed) }
    }

    @Test("recorded clocks at the ends of Int64 replay paced, without trapping")
    func hostileClocks() throws {
        let path = try handMadeRecording("clocks.sqlite", rows: [
            "1, \(Int64.max), 0, 'n/i/a', 'p', 1, x'01', x'02'",
            "2, \(Int64.min), 0, 'n/i/a', 'p', 2, x'01', x'02'",
            "3, \(Int64.max), 0, 'n/i/a', 'p', 3, x'01', x'02'",
        ])
        let replayer = try TelemetryReplayer(endpoint: "tcp://127.0.0.1:*", security: .plaintext)
        #expect(try replayer.replay(TelemetryRecording(path: path), speed: 1e6) == 3)
    }

    @Test("qrrm replay refuses a --speed that is not within 1e-6…1e6", arguments: ["1e-300", "1e-7", "0", "1e7", "nan", "inf"])
    func cliSpeed(_ speed: String) throws {
        let path = try handMadeRecording("cli-speed.sqlite", rows: [
            "1, 0, 0, 'n/i/a', 'p', 1, x'01', x'02'",
            "2, 1000, 0, 'n/i/a', 'p', 2, x'01', x'02'",
        ])
        let status = try runQRRM(["replay", path, "--endpoint", "tcp://127.0.0.1:*", "--plaintext",
                                  "--wait-for-subscribers", "0s", "--speed", speed])
        #expect(status == 64, "ArgumentParser's validation exit code")
    }

    @Test("qrrm record refuses a --retention that is not positive", arguments: ["-1s", "0s"])
    func cliRetention(_ retention: String) throws {
        let status = try runQRRM(["record", "--connect", "tcp://127.0.0.1:1", "--plaintext", "--to", temporaryRecording("cli.sqlite"),
                                  "--retention", retention, "--duration", "50ms"])
        #expect(status == 64, "ArgumentParser's validation exit code")
    }
}
