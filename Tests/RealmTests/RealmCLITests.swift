import Foundation
import Ledger
import Testing

/// `qrrm ledger …` and `qrrm realm …` as programs: exit status, output, and errors for bad arguments.
@Suite("qrrm ledger and qrrm realm on the command line")
struct RealmCLITests {
    let folder: URL

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("qrrm-realm-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    /// Runs qrrm with `arguments` in the test folder; returns the exit status and stdout + stderr.
    func qrrm(_ arguments: String...) throws -> (status: Int32, output: String) { try qrrm(arguments) }

    func qrrm(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("qrrm")
        try #require(FileManager.default.isExecutableFile(atPath: binary.path), "\(binary.path) is missing: build the qrrm product first")
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.currentDirectoryURL = folder
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }

    @Test("keygen, init, register and verify; a tampered entry makes verify name it and exit 1")
    func ledgerLifecycle() throws {
        #expect(try qrrm("ledger", "keygen", "--id", "authority", "--out", "authority.key").status == 0)
        #expect(try qrrm("ledger", "keygen", "--id", "alice", "--out", "alice.key").status == 0)
        let created = try qrrm("ledger", "init", "--realm", "lab", "--authority", "authority.key", "--sqlite", "realm.sqlite")
        #expect(created.status == 0 && created.output.contains("genesis entry written"), "\(created.output)")
        let registered = try qrrm("ledger", "register", "--authority", "authority.key", "--key", "alice.key.pub", "--role", "client",
                                  "--sqlite", "realm.sqlite")
        #expect(registered.status == 0 && registered.output.contains("registered alice (client) as entry 1"), "\(registered.output)")
        let verified = try qrrm("ledger", "verify", "--sqlite", "realm.sqlite")
        #expect(verified.status == 0 && verified.output.contains("2 entries verify"), "\(verified.output)")
        let report = try qrrm("ledger", "report", "--sqlite", "realm.sqlite")
        #expect(report.status == 0 && report.output == "client,purpose,allocation,resource,node,type,qubit_seconds,energy_joules\n",
                "\(report.output)")

        try SQLiteLedgerStore(path: folder.appendingPathComponent("realm.sqlite").path)
            .execute(sql: "UPDATE ledger_entry SET payload = X'7B7D' WHERE sequence = 1")
        let tampered = try qrrm("ledger", "verify", "--sqlite", "realm.sqlite")
        #expect(tampered.status == 1)
        #expect(tampered.output.contains("entry 1 is bad: its contents do not match its hash"), "\(tampered.output)")
    }

    @Test("Bad arguments get errors that name the option, the file or the field", arguments: [
        (["ledger", "verify"], "give exactly one of --sqlite"),
        (["ledger", "init", "--realm", "r", "--authority", "missing.key", "--sqlite", "x.sqlite"], "missing.key: no such file"),
        (["ledger", "register", "--authority", "missing.key", "--key", "k.pub", "--role", "wizard", "--sqlite", "x.sqlite"],
         "--role wizard: expected one of"),
        (["realm", "serve", "--sqlite", "x.sqlite", "--key", "missing.key", "--plaintext"], "missing.key"),
        (["realm", "serve", "--sqlite", "x.sqlite", "--key", "realm.key"], "give --secret-key-file (and --allow keys) for CURVE, or --plaintext"),
        (["realm", "status", "--server-key", "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", "--secret-key-file", "missing.curve"],
         "--secret-key-file missing.curve"),
        (["realm", "allocate", "--key", "missing.key", "--particles", "qubit", "--plaintext"], "--particles: \"qubit\" is not type=count"),
        (["realm", "status", "--server-key", "abc"], "give --server-key and --secret-key-file for CURVE, or --plaintext"),
        (["ledger", "verify", "--postgres", "mysql://nowhere"], "expected postgres://user:password@host:port/database"),
    ])
    func badArguments(arguments: [String], fragment: String) throws {
        let result = try qrrm(arguments)
        #expect(result.status != 0)
        #expect(result.output.contains(fragment), "\(result.output)")
    }

    @Test("A malformed --node is refused, naming the part", arguments: [
        ("telemetry=tcp://a:1", "telemetry= and snapshot= are required"),
        ("telemetry=tcp://a:1,snapshot=tcp://a:2,colour=blue", "\"colour=blue\" is not one of"),
        ("telemetry=tcp://a:1,telemetry=tcp://a:3,snapshot=tcp://a:2", "(each once)"),
        ("telemetry=tcp://a:1,snapshot=tcp://a:2,server-key=tooshort", "server-key="),
        ("telemetry=tcp://a:1,snapshot=tcp://a:2,server-key=rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", "needs a CURVE key pair"),
    ])
    func badNode(spec: String, fragment: String) throws {
        #expect(try qrrm("ledger", "keygen", "--id", "realm", "--out", "realm.key").status == 0)
        let result = try qrrm("realm", "serve", "--sqlite", "realm.sqlite", "--key", "realm.key", "--create", "r", "--node", spec, "--plaintext")
        #expect(result.status != 0)
        #expect(result.output.contains(fragment), "\(result.output)")
    }

    @Test("A served realm on the command line: an auction opened, bid in and cleared; retire refused without authority")
    func auctionAndRetire() async throws {
        #expect(try qrrm("ledger", "keygen", "--id", "realm", "--out", "realm.key").status == 0)
        #expect(try qrrm("ledger", "keygen", "--id", "alice", "--out", "alice.key").status == 0)
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("qrrm")
        let server = Process()
        server.executableURL = binary
        server.arguments = ["realm", "serve", "--sqlite", "realm.sqlite", "--key", "realm.key", "--create", "lab", "--client", "alice.key.pub",
                            "--endpoint", "tcp://127.0.0.1:*", "--plaintext"]
        server.currentDirectoryURL = folder
        let pipe = Pipe()
        server.standardOutput = pipe
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { server.terminate(); server.waitUntilExit() }
        let banner = String(decoding: pipe.fileHandleForReading.availableData, as: UTF8.self)
        // "realm lab serving tcp://127.0.0.1:40213, ledger sqlite realm.sqlite, 0 node(s)"
        let endpoint = try #require(banner.split(separator: " ").first { $0.hasPrefix("tcp://") }.map { String($0.dropLast()) }, "\(banner)")
        func realm(_ arguments: String...) throws -> (status: Int32, output: String) {
            try qrrm(["realm"] + arguments + ["--endpoint", endpoint, "--plaintext"])
        }

        let formatter = ISO8601DateFormatter()
        let closes = formatter.string(from: Date().addingTimeInterval(20))  // time to bid even on a loaded machine
        let opened = try realm("auction", "open", "--key", "realm.key", "--id", "night-q0", "--kind", "vickrey", "--item", "node-1/q0 tonight",
                               "--seller", "lab", "--reserve", "10", "--closes", closes)
        #expect(opened.status == 0 && opened.output.contains("\"night-q0\""), "\(opened.output)")
        let bid = try realm("auction", "bid", "--key", "alice.key", "--auction", "night-q0", "--amount", "50")
        #expect(bid.status == 0 && bid.output.contains("\"party\" : \"alice\""), "\(bid.output)")
        let unknown = try realm("auction", "bid", "--key", "alice.key", "--auction", "nope", "--amount", "50")
        #expect(unknown.status != 0 && unknown.output.contains("No auction nope is open"), "\(unknown.output)")
        let english = try realm("auction", "open", "--key", "realm.key", "--id", "x", "--kind", "english", "--item", "i", "--closes", closes)
        #expect(english.status != 0 && english.output.contains("vickrey or double"), "\(english.output)")
        let tomorrow = try realm("auction", "open", "--key", "realm.key", "--id", "x", "--kind", "double", "--item", "i", "--closes", "tomorrow")
        #expect(tomorrow.status != 0 && tomorrow.output.contains("--closes tomorrow"), "\(tomorrow.output)")
        let notAuthority = try realm("retire", "--key", "alice.key", "node-1/q0")
        #expect(notAuthority.status != 0 && notAuthority.output.contains("authority role"), "\(notAuthority.output)")
        let noResource = try realm("retire", "--key", "realm.key", "node-1/q0")
        #expect(noResource.status != 0 && noResource.output.contains("node-1/q0"), "\(noResource.output)")

        // The realm closes the auction by itself once its time has come: alice wins at the reserve.
        var cleared = ""
        for _ in 0..<60 where !cleared.contains("\"buyerPays\" : 10") {
            try await Task.sleep(for: .seconds(1))
            cleared = try realm("auction", "list", "--key", "alice.key").output
        }
        #expect(cleared.contains("\"buyer\" : \"alice\"") && cleared.contains("\"buyerPays\" : 10"), "\(cleared)")
    }
}
