import Foundation
import GRDB
import Quantities

/// A ledger in one SQLite file through GRDB: the embedded default.
///
/// WAL mode, and every append in one `BEGIN IMMEDIATE` transaction that first checks the head, so
/// several processes may share the file; a crash loses at most the transaction in flight.
public final class SQLiteLedgerStore: LedgerStore {
    public let path: String
    public var backend: String { "sqlite \(path)" }
    private let pool: DatabasePool

    /// Opens (or creates) the ledger at `path`.
    public init(path: String) throws(LedgerError) {
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            try pool.write { db in
                try db.execute(sql: """
                    CREATE TABLE IF NOT EXISTS ledger_entry (
                        sequence INTEGER PRIMARY KEY,
                        previous_hash BLOB NOT NULL,
                        hash BLOB NOT NULL,
                        timestamp_ns INTEGER NOT NULL,
                        contract TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        payload BLOB NOT NULL,
                        author TEXT NOT NULL,
                        signature BLOB NOT NULL,
                        request_client TEXT,
                        request_nonce INTEGER,
                        request_body BLOB,
                        request_signature BLOB)
                    """)
                try db.execute(sql: """
                    CREATE TABLE IF NOT EXISTS sealed_record (
                        scope TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (scope, key))
                    """)
            }
        } catch {
            throw .storage(backend: "sqlite \(path)", operation: "opening the ledger", reason: "\(error)")
        }
    }

    public func head() async throws(LedgerError) -> LedgerHead? {
        do {
            return try await pool.read { db in try Self.head(db) }
        } catch {
            throw .storage(backend: backend, operation: "reading the head", reason: "\(error)")
        }
    }

    private static func head(_ db: Database) throws -> LedgerHead? {
        try Row.fetchOne(db, sql: "SELECT sequence, hash FROM ledger_entry ORDER BY sequence DESC LIMIT 1")
            .map { LedgerHead(sequence: try $0.decode(Int64.self, forColumn: "sequence"), hash: try $0.decode(Data.self, forColumn: "hash")) }
    }

    public func append(_ entries: [LedgerEntry], after head: LedgerHead?) async throws(LedgerError) {
        guard !entries.isEmpty else { return }
        let result: Result<Void, LedgerError>
        do {
            result = try await pool.writeWithoutTransaction { db in
                var outcome: Result<Void, LedgerError> = .success(())
                try db.inTransaction(.immediate) {
                    let found = try Self.head(db)
                    guard found == head else {
                        outcome = .failure(.conflict(expectedHead: head?.sequence, found: found?.sequence))
                        return .rollback
                    }
                    let statement = try db.cachedStatement(sql: """
                        INSERT INTO ledger_entry (\(LedgerColumns.names)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """)
                    for entry in entries {
                        try statement.execute(arguments: [
                            entry.sequence, entry.previousHash, entry.hash, entry.timestamp.nanosecondsSinceEpoch,
                            entry.contract, entry.kind, entry.payload, entry.author, entry.signature,
                            entry.request?.client, entry.request.map { Int64(bitPattern: $0.nonce) },
                            entry.request?.body, entry.request?.signature,
                        ])
                    }
                    return .commit
                }
                return outcome
            }
        } catch {
            throw .storage(backend: backend, operation: "appending entries \(entries[0].sequence)…\(entries[entries.count - 1].sequence)", reason: "\(error)")
        }
        try result.get()
    }

    public func putSealed(scope: String, key: String, value: Data) async throws(LedgerError) {
        do {
            try await pool.write { db in
                try db.execute(sql: "INSERT OR REPLACE INTO sealed_record (scope, key, value) VALUES (?, ?, ?)", arguments: [scope, key, value])
            }
        } catch {
            throw .storage(backend: backend, operation: "sealing \(scope) \(key)", reason: "\(error)")
        }
    }

    public func sealed(scope: String) async throws(LedgerError) -> [(key: String, value: Data)] {
        do {
            return try await pool.read { db in
                try Row.fetchAll(db, sql: "SELECT key, value FROM sealed_record WHERE scope = ? ORDER BY key", arguments: [scope]).map {
                    (key: try $0.decode(String.self, forColumn: "key"), value: try $0.decode(Data.self, forColumn: "value"))
                }
            }
        } catch {
            throw .storage(backend: backend, operation: "reading the sealed records of \(scope)", reason: "\(error)")
        }
    }

    public func removeSealed(scope: String) async throws(LedgerError) {
        do {
            try await pool.write { db in try db.execute(sql: "DELETE FROM sealed_record WHERE scope = ?", arguments: [scope]) }
        } catch {
            throw .storage(backend: backend, operation: "removing the sealed records of \(scope)", reason: "\(error)")
        }
    }

    public func entries(from sequence: Int64, limit: Int) async throws(LedgerError) -> [LedgerEntry] {
        do {
            return try await pool.read { db in
                try Row.fetchAll(db, sql: "SELECT \(LedgerColumns.names) FROM ledger_entry WHERE sequence >= ? ORDER BY sequence LIMIT ?",
                                 arguments: [sequence, limit]).map(Self.entry)
            }
        } catch {
            throw .storage(backend: backend, operation: "reading entries from \(sequence)", reason: "\(error)")
        }
    }

    /// An entry from its row; a value of the wrong type (a damaged or hand-edited file) throws, naming the column.
    private static func entry(_ row: Row) throws -> LedgerEntry {
        var request: SignedRequest?
        if let client = try row.decode(String?.self, forColumn: "request_client") {
            request = SignedRequest(
                client: client, nonce: UInt64(bitPattern: try row.decode(Int64.self, forColumn: "request_nonce")),
                body: try row.decode(Data.self, forColumn: "request_body"),
                signature: try row.decode(Data.self, forColumn: "request_signature"))
        }
        return LedgerEntry(
            sequence: try row.decode(Int64.self, forColumn: "sequence"),
            previousHash: try row.decode(Data.self, forColumn: "previous_hash"),
            timestamp: Timestamp(nanosecondsSinceEpoch: try row.decode(Int64.self, forColumn: "timestamp_ns")),
            contract: try row.decode(String.self, forColumn: "contract"),
            kind: try row.decode(String.self, forColumn: "kind"),
            payload: try row.decode(Data.self, forColumn: "payload"),
            author: try row.decode(String.self, forColumn: "author"), request: request,
            hash: try row.decode(Data.self, forColumn: "hash"),
            signature: try row.decode(Data.self, forColumn: "signature"))
    }

    /// Runs raw SQL on the file: for tests that tamper with a stored entry, as an attacker with file access would.
    package func execute(sql: String) throws {
        try pool.write { db in try db.execute(sql: sql) }
    }
}
