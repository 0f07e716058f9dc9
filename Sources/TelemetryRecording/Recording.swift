import Foundation
import GRDB
import Telemetry

/// What went wrong with a recording file.
public struct RecordingError: Error, Sendable, CustomStringConvertible {
    /// The recording file.
    public var path: String
    /// What we were doing, e.g. "committing 512 messages".
    public var operation: String
    /// SQLite's or GRDB's own words.
    public var reason: String

    public var description: String { "recording \(path): \(operation): \(reason)" }
}

/// One message of a recording: the bus frames as received, and when.
public struct RecordedMessage: Sendable, Equatable {
    /// The row id: the order of arrival.
    public var id: Int64
    /// The recorder's CLOCK_MONOTONIC at arrival, in ns: replay paces by it.
    public var receivedMonotonicNs: Int64
    /// The recorder's CLOCK_REALTIME at arrival, in ns: retention cuts by it.
    public var receivedWallNs: Int64
    public var topic: String
    public var publisherID: String
    public var sequence: UInt64
    /// The header and payload frames, byte for byte.
    public var header: [UInt8]
    public var payload: [UInt8]
}

/// The SQLite layout of a recording (GRDB migrations).
enum RecordingSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE message (
                    id INTEGER PRIMARY KEY,
                    received_monotonic_ns INTEGER NOT NULL,
                    received_wall_ns INTEGER NOT NULL,
                    topic TEXT NOT NULL,
                    publisher TEXT NOT NULL,
                    sequence INTEGER NOT NULL,
                    header BLOB NOT NULL,
                    payload BLOB NOT NULL);
                CREATE INDEX message_received_wall_ns ON message(received_wall_ns);
                """)
        }
        return migrator
    }
}

/// Writes bus messages to a SQLite file through GRDB, one transaction per batch.
///
/// The file is in WAL mode: a crash or `kill -9` loses at most the batch not yet committed,
/// and SQLite never leaves a torn file behind. Messages older than `retention` are deleted
/// after commits (at most once a second).
public final class TelemetryRecorder {
    public let path: String
    public let retention: Duration?
    private let database: DatabaseQueue
    private var pending: [RecordedMessage] = []
    private var lastPrune: ContinuousClock.Instant?

    /// Opens (or creates) the recording at `path`. A `retention` must be positive.
    public init(path: String, retention: Duration? = nil) throws(RecordingError) {
        if let retention, retention <= .zero {
            throw RecordingError(path: path, operation: "opening for recording", reason: "the retention must be positive, got \(retention)")
        }
        self.path = path
        self.retention = retention
        var configuration = Configuration()
        configuration.journalMode = .wal
        // A reader may hold the file for a moment (a replay, a check); wait for it, don't fail.
        configuration.busyMode = .timeout(5)
        do {
            database = try DatabaseQueue(path: path, configuration: configuration)
            try RecordingSchema.migrator.migrate(database)
        } catch {
            throw RecordingError(path: path, operation: "opening for recording", reason: "\(error)")
        }
    }

    /// Messages appended but not yet committed.
    public var pendingCount: Int { pending.count }

    /// Queues `message` for the next commit, stamped with the recorder's clocks now. Its frames
    /// are stored as received; from a subscriber that did not keep them, they are re-encoded.
    public func append(_ message: TelemetryMessage) {
        // proto3 messages have no required fields, so serialization cannot fail.
        let header = message.headerFrame ?? (try! message.header.serializedBytes())
        let payload = message.payloadFrame ?? (try! message.payload.serializedBytes())
        pending.append(RecordedMessage(
            id: 0, receivedMonotonicNs: monotonicNanoseconds(), receivedWallNs: wallNanoseconds(),
            topic: message.topic, publisherID: message.header.publisherID, sequence: message.header.sequence,
            header: header, payload: payload))
    }

    /// Writes the queued messages in one transaction, then applies the retention.
    public func commit() throws(RecordingError) {
        if !pending.isEmpty {
            let batch = pending
            do {
                try database.write { db in
                    let insert = try db.cachedStatement(sql: """
                        INSERT INTO message (received_monotonic_ns, received_wall_ns, topic, publisher, sequence, header, payload)
                        VALUES (?, ?, ?, ?, ?, ?, ?)
                        """)
                    for message in batch {
                        try insert.execute(arguments: [
                            message.receivedMonotonicNs, message.receivedWallNs, message.topic, message.publisherID,
                            Int64(bitPattern: message.sequence), Data(message.header), Data(message.payload),
                        ])
                    }
                }
            } catch {
                throw RecordingError(path: path, operation: "committing \(batch.count) messages", reason: "\(error)")
            }
            pending.removeAll(keepingCapacity: true)
        }
        try prune()
    }

    private func prune() throws(RecordingError) {
        guard let retention else { return }
        let now = ContinuousClock.now
        if let lastPrune, now - lastPrune < .seconds(1) { return }
        lastPrune = now
        let (cutoff, overflow) = wallNanoseconds().subtractingReportingOverflow(nanoseconds(retention))
        if overflow { return }
        do {
            try database.write { db in
                try db.execute(sql: "DELETE FROM message WHERE received_wall_ns < ?", arguments: [cutoff])
            }
        } catch {
            throw RecordingError(path: path, operation: "deleting messages older than \(retention)", reason: "\(error)")
        }
    }
}

/// Reads a recording.
public struct TelemetryRecording: Sendable {
    public let path: String
    private let database: DatabaseQueue

    /// Opens `path` read-only.
    public init(path: String) throws(RecordingError) {
        self.path = path
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(5)
        do {
            database = try DatabaseQueue(path: path, configuration: configuration)
        } catch {
            throw RecordingError(path: path, operation: "opening for reading", reason: "\(error)")
        }
    }

    /// SQLite's `PRAGMA integrity_check`: "ok" for an intact file.
    public func integrityCheck() throws(RecordingError) -> String {
        try read("checking integrity") { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") ?? "" }
    }

    /// How many messages the recording holds.
    public func count() throws(RecordingError) -> Int {
        try read("counting messages") { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM message") ?? 0 }
    }

    /// Up to `limit` messages after row `id`, whose topic starts with one of `prefixes`
    /// (all when empty), in order of arrival.
    public func messages(after id: Int64 = 0, prefixes: [String] = [], limit: Int = 1000) throws(RecordingError) -> [RecordedMessage] {
        let filter = prefixes.isEmpty ? "" : " AND (" + prefixes.map { _ in "substr(topic, 1, length(?)) = ?" }.joined(separator: " OR ") + ")"
        var arguments: [any DatabaseValueConvertible] = [id]
        for prefix in prefixes { arguments += [prefix, prefix] }
        arguments.append(limit)
        let sql = "SELECT \(Self.columns.joined(separator: ", ")) FROM message WHERE id > ?\(filter) ORDER BY id LIMIT ?"
        let operation = "reading messages after row \(id)"
        return try read(operation) { db in
            try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map { row throws(RecordingError) in
                try message(Array(row.databaseValues), operation: operation)
            }
        }
    }

    /// The columns `messages` selects, in the order ``message(_:operation:)`` reads them.
    private static let columns = ["id", "received_monotonic_ns", "received_wall_ns", "topic", "publisher", "sequence", "header", "payload"]

    /// One row of ``columns`` as a message; a NULL or a value of the wrong type (a damaged or
    /// foreign file) throws, naming the row and the column.
    private func message(_ values: [DatabaseValue], operation: String) throws(RecordingError) -> RecordedMessage {
        func value<T: DatabaseValueConvertible>(_ index: Int, _ type: T.Type, rowID: String) throws(RecordingError) -> T {
            guard let converted = T.fromDatabaseValue(values[index]) else {
                throw RecordingError(
                    path: path, operation: operation,
                    reason: "row \(rowID), column \(Self.columns[index]): \(values[index]) is not \(T.self)")
            }
            return converted
        }
        let id = try value(0, Int64.self, rowID: "\(values[0])")
        let rowID = "\(id)"
        return RecordedMessage(
            id: id, receivedMonotonicNs: try value(1, Int64.self, rowID: rowID), receivedWallNs: try value(2, Int64.self, rowID: rowID),
            topic: try value(3, String.self, rowID: rowID), publisherID: try value(4, String.self, rowID: rowID),
            sequence: UInt64(bitPattern: try value(5, Int64.self, rowID: rowID)),
            header: [UInt8](try value(6, Data.self, rowID: rowID)), payload: [UInt8](try value(7, Data.self, rowID: rowID)))
    }

    private func read<T>(_ operation: String, _ body: (Database) throws -> T) throws(RecordingError) -> T {
        do {
            return try database.read(body)
        } catch let error as RecordingError {
            throw error
        } catch {
            throw RecordingError(path: path, operation: operation, reason: "\(error)")
        }
    }
}

func monotonicNanoseconds() -> Int64 { clockNanoseconds(CLOCK_MONOTONIC) }
func wallNanoseconds() -> Int64 { clockNanoseconds(CLOCK_REALTIME) }

private func clockNanoseconds(_ clock: clockid_t) -> Int64 {
    var time = timespec()
    clock_gettime(clock, &time)
    return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
}

/// A duration in whole nanoseconds, clamped to Int64.
func nanoseconds(_ duration: Duration) -> Int64 {
    let (seconds, attoseconds) = duration.components
    let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
    if overflow { return seconds < 0 ? .min : .max }
    return scaled &+ attoseconds / 1_000_000_000
}
