import ArgumentParser
import Foundation
import Ledger
import Realm

/// Where a ledger lives, as every `qrrm ledger` and `qrrm realm` command takes it.
struct LedgerLocation: ParsableArguments {
    @Option(name: .long, help: "The ledger's SQLite file (the default backend).")
    var sqlite: String?

    @Option(name: .long, help: "A PostgreSQL URL, postgres://user:password@host:port/database, for a ledger shared by several realm processes.")
    var postgres: String?

    @Option(name: .long, help: "The PostgreSQL table (one realm per table).")
    var table = "ledger_entry"

    func validate() throws {
        guard (sqlite == nil) != (postgres == nil) else { throw ValidationError("give exactly one of --sqlite <file> and --postgres <url>") }
    }

    func open() async throws(LedgerError) -> any LedgerStore {
        if let sqlite { return try SQLiteLedgerStore(path: sqlite) }
        return try await PostgresLedgerStore(url: postgres!, table: table)
    }
}

/// `qrrm ledger …`: keys, a new realm's genesis, key registration, and verification.
struct LedgerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger", abstract: "Create, extend and verify a realm's signed, hash-chained ledger.",
        subcommands: [Keygen.self, Init.self, Register.self, Verify.self, Report.self])

    struct Keygen: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Generate an ML-DSA-65 key: <out> (private, mode 600) and <out>.pub.")

        @Option(name: .long, help: "The key's id: the client, realm or authority name.")
        var id: String

        @Option(name: .long, help: "The private key file to write.")
        var out: String

        func run() throws {
            let key = try LedgerSigningKey(id: id)
            try key.write(to: out)
            guard FileManager.default.createFile(atPath: out + ".pub", contents: PublicKeyFile(key).contents()) else {
                throw ValidationError("could not write \(out).pub")
            }
            print("wrote \(out) and \(out).pub (ML-DSA-65, id \(id))")
        }
    }

    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a new realm's genesis entry; the authority key signs it and may then register keys and write entries.")

        @Option(name: .long, help: "The realm's name.")
        var realm: String

        @Option(name: .long, help: "The authority's private key file.")
        var authority: String

        @OptionGroup var location: LedgerLocation

        func run() async throws {
            let key = try LedgerSigningKey(contentsOf: authority)
            let store = try await location.open()
            let entry = try await Ledger<NoContracts>.create(realm: realm, in: store, authority: key)
            print("realm \(realm): genesis entry written to \(store.backend), hash \(entry.hash.hexString)")
        }
    }

    struct Register: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a public key with roles, signed by the authority.")

        @Option(name: .long, help: "The authority's private key file.")
        var authority: String

        @Option(name: .customLong("key"), help: "The public key file to register (from keygen: <file>.pub).")
        var publicKey: String

        @Option(name: .customLong("role"), help: "A role: \(Role.allCases.map(\.rawValue).joined(separator: ", ")) (repeatable).")
        var roles: [String]

        @OptionGroup var location: LedgerLocation

        func run() async throws {
            let parsed = try roles.map { text in
                guard let role = Role(rawValue: text) else {
                    throw ValidationError("--role \(text): expected one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return role
            }
            guard !parsed.isEmpty else { throw ValidationError("give at least one --role") }
            let file = try PublicKeyFile(contentsOf: publicKey)
            let ledger = try await Ledger<NoContracts>(store: try await location.open(), signer: try LedgerSigningKey(contentsOf: authority))
            let entry = try await ledger.register(KeyRegistration(id: file.id, publicKey: file.publicKey, roles: parsed))
            print("registered \(file.id) (\(parsed.map(\.rawValue).joined(separator: ", "))) as entry \(entry.sequence)")
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the chain, every signature and every contract rule; report the first bad entry.",
            discussion: "Exits 0 when the whole ledger verifies, 1 at the first bad entry.")

        @OptionGroup var location: LedgerLocation

        func run() async throws {
            let store = try await location.open()
            let report = try await LedgerVerifier.verify(store, state: RealmState.self)
            if let bad = report.firstBadEntry {
                print("\(store.backend): entry \(bad.sequence) is bad: \(bad.reason) (\(report.verifiedEntries) entries before it verify)")
                throw ExitCode.failure
            }
            print("\(store.backend): \(report.verifiedEntries) entries verify; head \(report.head!.sequence) \(report.head!.hash.hexString)")
        }
    }

    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Usage by client, purpose and resource (qubit-seconds, joules), replayed from the ledger alone; CSV.")

        @OptionGroup var location: LedgerLocation

        @Flag(name: .long, help: "JSON instead of CSV.")
        var json = false

        func run() async throws {
            let replica = try await LedgerReplica<RealmState>.replay(try await location.open())
            let state = replica.state.allocation
            let report = try state.usageReport(at: max(.now(), state.clock))
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
            } else {
                print(report.csv, terminator: report.csv.hasSuffix("\n") ? "" : "\n")
            }
        }
    }
}

extension Data {
    var hexString: String { map { String(format: "%02x", $0) }.joined() }
}
