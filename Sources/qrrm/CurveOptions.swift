import ArgumentParser
import Foundation
import Telemetry
import ZeroMQ

/// How a client reaches a CURVE endpoint (a node's or the realm's), or `--plaintext` for one configured
/// without CURVE: shared by the telemetry and realm client commands.
struct CurveClientOptions: ParsableArguments {
    @Option(name: .long, help: "The server's CURVE public key (40 characters of Z85): the node's or the realm's.")
    var serverKey: String?

    @Option(name: .long, help: "A file holding this client's CURVE secret key (Z85); its public key must be on the server's allow-list.")
    var secretKeyFile: String?

    @Flag(name: .long, help: "Talk to a server configured without CURVE (only when it says so).")
    var plaintext = false

    func validate() throws {
        switch (plaintext, serverKey, secretKeyFile) {
        case (true, nil, nil), (false, .some, .some): break
        case (true, _, _): throw ValidationError("--plaintext excludes --server-key and --secret-key-file")
        default: throw ValidationError("give --server-key and --secret-key-file for CURVE, or --plaintext")
        }
    }

    func security() throws -> TelemetryClientSecurity {
        guard let serverKey, let secretKeyFile else { return .plaintext }
        let keys = try readCurveKeyPair(secretKeyFile)
        let server: CurveKey
        do { server = try CurveKey(z85: serverKey) } catch { throw ValidationError("--server-key: \(error)") }
        return .curve(serverKey: server, clientKeys: keys)
    }
}

/// How a server endpoint (a replay's, the realm's) is secured: its CURVE secret key and the client keys it
/// admits, or `--plaintext`.
struct CurveServerOptions: ParsableArguments {
    @Option(name: .long, help: "A file holding the endpoint's CURVE secret key (Z85).")
    var secretKeyFile: String?

    @Option(name: .long, help: "A client public key (Z85) to admit; repeat for several.")
    var allow: [String] = []

    @Flag(name: .long, help: "Serve without CURVE (only when everyone on the network may listen).")
    var plaintext = false

    func validate() throws {
        if plaintext == (secretKeyFile != nil) {
            throw ValidationError("give --secret-key-file (and --allow keys) for CURVE, or --plaintext")
        }
    }

    /// The endpoint's key pair, when it uses CURVE.
    func keys() throws -> CurveKeyPair? {
        try secretKeyFile.map(readCurveKeyPair)
    }

    func security() throws -> TelemetryServerSecurity {
        guard let keys = try keys() else { return .plaintext }
        var allowed: Set<CurveKey> = []
        for key in allow {
            do { allowed.insert(try CurveKey(z85: key)) } catch { throw ValidationError("--allow \(key): \(error)") }
        }
        return .curve(serverKeys: keys, allowedClients: allowed)
    }
}

/// The key pair whose secret key (Z85, from `qrrm telemetry keygen`) is in `path`.
private func readCurveKeyPair(_ path: String) throws -> CurveKeyPair {
    let text: String
    do { text = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) } catch {
        throw ValidationError("--secret-key-file \(path): \(error.localizedDescription)")
    }
    do { return try CurveKeyPair(secretKey: try CurveKey(z85: text)) } catch {
        throw ValidationError("--secret-key-file \(path): \(error)")
    }
}
