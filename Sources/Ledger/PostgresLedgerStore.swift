import Foundation
import Logging
import PostgresNIO
import Quantities

/// A ledger in PostgreSQL through postgres-nio: for several realm processes, on several machines, sharing one realm.
///
/// Every append is one `SERIALIZABLE` transaction that first reads the head; a second writer racing for
/// the same sequence fails on the primary key or on serialization (SQLSTATE 23505 or 40001), gets
/// `.conflict`, catches up and tries again. So the chain never forks, and no contract decision is
/// made on a stale state.
public final class PostgresLedgerStore: LedgerStore {
    public let backend: String
    /// The table the entries live in: one realm per table.
    public let table: String
    private let client: PostgresClient
    private let runner: Task<Void, Never>
    private let logger: Logger

    /// Connects to `url`, `postgres://user:password@host:port/database`, and creates `table` when missing.
    public init(url: String, table: String = "ledger_entry",
                logger: Logger = Logger(label: "qrrm.ledger.postgres")) async throws(LedgerError) {
        guard let first = table.unicodeScalars.first, first == "_" || ("a"..."z").contains(first),
              table.unicodeScalars.allSatisfy({ $0 == "_" || ("a"..."z").contains($0) || ("0"..."9").contains($0) }), table.count <= 56
        else {
            throw .storage(backend: "postgresql", operation: "opening table \"\(table)\"",
                           reason: "a table name is 1–56 characters of a–z, 0–9 and _, not starting with a digit (its sealed records go in <table>_sealed)")
        }
        self.table = table
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? ""),
              let host = components.host, !host.isEmpty, let user = components.user
        else {
            throw .storage(backend: "postgresql", operation: "parsing the URL \"\(url)\"",
                           reason: "expected postgres://user:password@host:port/database")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        let port = components.port ?? 5432
        backend = "postgresql \(host):\(port)/\(database) table \(table)"
        let configuration = PostgresClient.Configuration(
            host: host, port: port, username: user, password: components.password,
            database: database.isEmpty ? nil : database, tls: .disable)
        let client = PostgresClient(configuration: configuration)
        self.client = client
        self.logger = logger
        runner = Task { await client.run() }
        do {
            try await client.query(PostgresQuery(unsafeSQL: """
                CREATE TABLE IF NOT EXISTS \(table) (
                    sequence BIGINT PRIMARY KEY,
                    previous_hash BYTEA NOT NULL,
                    hash BYTEA NOT NULL,
                    timestamp_ns BIGINT NOT NULL,
                    contract TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    payload BYTEA NOT NULL,
                    author TEXT NOT NULL,
                    signature BYTEA NOT NULL,
                    request_client TEXT,
                    request_nonce BIGINT,
                    request_body BYTEA,
                    request_signature BYTEA)
                """), logger: logger)
            try await client.query(PostgresQuery(unsafeSQL: """
                CREATE TABLE IF NOT EXISTS \(table)_sealed (
                    scope TEXT NOT NULL, key TEXT NOT NULL, value BYTEA NOT NULL, PRIMARY KEY (scope, key))
                """), logger: logger)
        } catch {
            // Two processes creating the table at once: one of them loses the race on the catalog; the table exists.
            if Self.sqlState(error) != "23505" {
                runner.cancel()
                throw .storage(backend: backend, operation: "creating the ledger table", reason: Self.describe(error))
            }
        }
    }

    deinit { runner.cancel() }

    /// Stops the connection pool.
    public func close() {
        runner.cancel()
    }

    public func head() async throws(LedgerError) -> LedgerHead? {
        do {
            return try await client.withConnection { connection in try await Self.head(connection, table: table, logger: logger) }
        } catch {
            throw .storage(backend: backend, operation: "reading the head", reason: Self.describe(error))
        }
    }

    private static func head(_ connection: PostgresConnection, table: String, logger: Logger) async throws -> LedgerHead? {
        let rows = try await connection.query(PostgresQuery(unsafeSQL: "SELECT sequence, hash FROM \(table) ORDER BY sequence DESC LIMIT 1"), logger: logger)
        for try await (sequence, hash) in rows.decode((Int64, Data).self) {
            return LedgerHead(sequence: sequence, hash: hash)
        }
        return nil
    }

    public func append(_ entries: [LedgerEntry], after head: LedgerHead?) async throws(LedgerError) {
        guard !entries.isEmpty else { return }
        let logger = logger
        let table = table
        let outcome: Result<Void, LedgerError>
        do {
            outcome = try await client.withConnection { connection in
                try await connection.query("BEGIN ISOLATION LEVEL SERIALIZABLE", logger: logger)
                do {
                    let found = try await Self.head(connection, table: table, logger: logger)
                    guard found == head else {
                        try await connection.query("ROLLBACK", logger: logger)
                        return .failure(.conflict(expectedHead: head?.sequence, found: found?.sequence))
                    }
                    // 13 parameters a row; PostgreSQL takes at most 65,535 a statement.
                    for start in stride(from: 0, to: entries.count, by: 1000) {
                        try await connection.query(try Self.insert(entries[start..<min(start + 1000, entries.count)], into: table), logger: logger)
                    }
                    try await connection.query("COMMIT", logger: logger)
                    return .success(())
                } catch {
                    _ = try? await connection.query("ROLLBACK", logger: logger)
                    throw error
                }
            }
        } catch {
            if let state = Self.sqlState(error), state == "40001" || state == "23505" {
                throw .conflict(expectedHead: head?.sequence, found: nil)
            }
            throw .storage(backend: backend, operation: "appending entries \(entries[0].sequence)…\(entries[entries.count - 1].sequence)",
                           reason: Self.describe(error))
        }
        try outcome.get()
    }

    private static func insert(_ entries: ArraySlice<LedgerEntry>, into table: String) throws -> PostgresQuery {
        var bindings = PostgresBindings(capacity: entries.count * 13)
        var rows: [String] = []
        for entry in entries {
            let first = bindings.count + 1
            rows.append("(" + (first..<first + 13).map { "$\($0)" }.joined(separator: ", ") + ")")
            bindings.append(entry.sequence)
            try bindings.append(entry.previousHash)
            try bindings.append(entry.hash)
            bindings.append(entry.timestamp.nanosecondsSinceEpoch)
            bindings.append(entry.contract)
            bindings.append(entry.kind)
            try bindings.append(entry.payload)
            bindings.append(entry.author)
            try bindings.append(entry.signature)
            bindings.append(entry.request?.client)
            bindings.append(entry.request.map { Int64(bitPattern: $0.nonce) })
            try bindings.append(entry.request?.body)
            try bindings.append(entry.request?.signature)
        }
        return PostgresQuery(unsafeSQL: "INSERT INTO \(table) (\(LedgerColumns.names)) VALUES " + rows.joined(separator: ", "),
                             binds: bindings)
    }

    public func entries(from sequence: Int64, limit: Int) async throws(LedgerError) -> [LedgerEntry] {
        do {
            let rows = try await client.query(
                "SELECT \(unescaped: LedgerColumns.names) FROM \(unescaped: table) WHERE sequence >= \(sequence) ORDER BY sequence LIMIT \(limit)",
                logger: logger)
            var entries: [LedgerEntry] = []
            for try await row in rows {
                let cells = row.makeRandomAccess()
                var request: SignedRequest?
                if let client = try cells["request_client"].decode(String?.self) {
                    request = SignedRequest(
                        client: client, nonce: UInt64(bitPattern: try cells["request_nonce"].decode(Int64.self)),
                        body: try cells["request_body"].decode(Data.self),
                        signature: try cells["request_signature"].decode(Data.self))
                }
                entries.append(LedgerEntry(
                    sequence: try cells["sequence"].decode(Int64.self),
                    previousHash: try cells["previous_hash"].decode(Data.self),
                    timestamp: Timestamp(nanosecondsSinceEpoch: try cells["timestamp_ns"].decode(Int64.self)),
                    contract: try cells["contract"].decode(String.self),
                    kind: try cells["kind"].decode(String.self),
                    payload: try cells["payload"].decode(Data.self),
                    author: try cells["author"].decode(String.self), request: request,
                    hash: try cells["hash"].decode(Data.self),
                    signature: try cells["signature"].decode(Data.self)))
            }
            return entries
        } catch {
            throw .storage(backend: backend, operation: "reading entries from \(sequence)", reason: Self.describe(error))
        }
    }

    public func putSealed(scope: String, key: String, value: Data) async throws(LedgerError) {
        do {
            try await client.query(
                "INSERT INTO \(unescaped: table)_sealed (scope, key, value) VALUES (\(scope), \(key), \(value)) ON CONFLICT (scope, key) DO UPDATE SET value = EXCLUDED.value",
                logger: logger)
        } catch {
            throw .storage(backend: backend, operation: "sealing \(scope) \(key)", reason: Self.describe(error))
        }
    }

    public func sealed(scope: String) async throws(LedgerError) -> [(key: String, value: Data)] {
        do {
            let rows = try await client.query("SELECT key, value FROM \(unescaped: table)_sealed WHERE scope = \(scope) ORDER BY key", logger: logger)
            var records: [(key: String, value: Data)] = []
            for try await (key, value) in rows.decode((String, Data).self) { records.append((key, value)) }
            return records
        } catch {
            throw .storage(backend: backend, operation: "reading the sealed records of \(scope)", reason: Self.describe(error))
        }
    }

    public func removeSealed(scope: String) async throws(LedgerError) {
        do { try await client.query("DELETE FROM \(unescaped: table)_sealed WHERE scope = \(scope)", logger: logger) } catch {
            throw .storage(backend: backend, operation: "removing the sealed records of \(scope)", reason: Self.describe(error))
        }
    }

    /// Drops the table and every entry in it: for throwaway ledgers (benchmarks, tests). The store is unusable after.
    public func dropTable() async throws(LedgerError) {
        do { try await client.query(PostgresQuery(unsafeSQL: "DROP TABLE IF EXISTS \(table), \(table)_sealed"), logger: logger) } catch {
            throw .storage(backend: backend, operation: "dropping the table", reason: Self.describe(error))
        }
    }

    /// Runs raw SQL: for tests that tamper with a stored entry, or drop the table between runs.
    package func execute(sql: String) async throws {
        try await client.query(PostgresQuery(unsafeSQL: sql), logger: logger)
    }

    private static func sqlState(_ error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }

    /// PSQLError hides the server's message from `description`; give it back.
    private static func describe(_ error: any Error) -> String {
        guard let error = error as? PSQLError, let info = error.serverInfo else { return "\(error)" }
        return "\(info[.message] ?? "\(error.code)") (SQLSTATE \(info[.sqlState] ?? "?"))"
    }
}
