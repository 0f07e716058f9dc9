// realm-compare: confirmed allocations per second through the realm, with the ledger on SQLite and on
// PostgreSQL, against the cryptography the realm cannot avoid, in the same run.
//
// Clients sign one-step allocate actions ahead (as clients on other machines would; their ML-DSA-65
// signing is not the realm's work), then send them all at once; the realm verifies each signature,
// quotes, applies the allocation contract, and commits the grants in groups, one ML-DSA signature a
// group. The anchor is the same number of ML-DSA-65 verifications alone, on every core, as the realm makes
// them (MLDSA65Verifier, each key prepared once): the ratio says how much of that ceiling the rest of the
// realm (contract, JSON, SQL, the signature per group) leaves. A second anchor is the same verifications
// through swift-crypto's `MLDSA65.PublicKey.isValidSignature` (BoringSSL), which the realm used before. Likewise
// the signing of one core: a ledger key (MLDSA65Signer, the key prepared once) against swift-crypto's signing.
// Then the quote latency (p50/p99) with 10,000 resources across 100 nodes, half of them held, against a
// plain scan of an array for the same number of free, eligible resources. Last, fairness under contention:
// 8 clients each send 50 one-step allocates at once for the first 100 qubits' worth of immediate grants;
// Jain's index over the grants each client got now (1 is perfectly even).
//
// Usage: realm-compare [--rounds N] [--allocations N] [--clients N] [--postgres URL] [--nodes N] [--qubits N]
import Allocation
import CompareSupport
import Crypto
import Foundation
import Ledger
import Quantities
import Realm

var rounds = 3, allocations = 4000, clients = 32, nodes = 100, qubitsPerNode = 100
var postgres: String? = ProcessInfo.processInfo.environment["QRRM_TEST_POSTGRES_URL"]
var flags = CommandLineFlags(tool: "realm-compare")
while let flag = flags.next() {
    switch flag {
    case "--rounds": rounds = flags.count(flag)
    case "--allocations": allocations = flags.count(flag)
    case "--clients": clients = flags.count(flag)
    case "--nodes": nodes = flags.count(flag)
    case "--qubits": qubitsPerNode = flags.count(flag)
    case "--postgres": postgres = flags.value(flag)
    default: flags.fail("unknown argument \(flag); usage: realm-compare [--rounds N] [--allocations N] [--clients N] [--postgres URL] [--nodes N] [--qubits N]")
    }
}
guard rounds >= 1, allocations >= clients, clients >= 1, nodes >= 1, qubitsPerNode >= 1 else {
    flags.fail("--rounds ≥ 1, --allocations ≥ --clients ≥ 1, --nodes ≥ 1, --qubits ≥ 1")
}

func seconds(_ duration: Duration) -> Double { Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18 }

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1))]
}

/// A fresh realm with `nodes` × `qubitsPerNode` qubits and `clients` registered clients.
@MainActor func makeRealm(_ store: any LedgerStore) async throws -> (Realm, [LedgerSigningKey]) {
    try await makeRealm(store, nodes: nodes, qubits: qubitsPerNode, clients: clients)
}

/// A fresh realm of the given size on a new SQLite file.
@MainActor func makeRealmSized(nodes: Int, qubits: Int, clients: Int) async throws -> (Realm, [LedgerSigningKey]) {
    try await makeRealm(try SQLiteLedgerStore(path: folder.appendingPathComponent("sized-\(UUID().uuidString).sqlite").path),
                        nodes: nodes, qubits: qubits, clients: clients)
}

@MainActor func makeRealm(_ store: any LedgerStore, nodes: Int, qubits qubitsPerNode: Int, clients: Int) async throws -> (Realm, [LedgerSigningKey]) {
    let authority = try LedgerSigningKey(id: "realm")
    try await Ledger<RealmState>.create(realm: "bench", in: store, authority: authority)
    let ledger = try await Ledger<RealmState>(store: store, signer: authority)
    let keys = try (0..<clients).map { try LedgerSigningKey(id: "client-\($0)") }
    for key in keys { try await ledger.register(KeyRegistration(id: key.id, publicKey: key.publicKey, roles: [.client])) }
    let realm = Realm(ledger: ledger)
    for node in 0..<nodes {
        let id = "node-\(node)"
        var resources: [AnnouncedResource] = []
        for q in 0..<qubitsPerNode {
            let coherence = Int64(100_000 + (node * 7919 + q * 104_729) % 900_000)
            let properties = ResourceProperties(coherenceTimeNanoseconds: coherence, fidelity: 0.99 + Double(q % 10) / 1000,
                                                entanglementReady: q % 2 == 0)
            resources.append(AnnouncedResource(id: "\(id)/q\(q)", type: .qubit, properties: properties))
        }
        try await realm.record(.nodeAnnounced(NodeAnnouncement(node: id, location: "site-\(node % 4)", resources: resources)))
    }
    return (realm, keys)
}

/// Confirmed allocations per second: every client's pre-signed one-step allocates, sent concurrently.
@MainActor func allocationRate(_ store: any LedgerStore) async throws -> Double {
    let (realm, keys) = try await makeRealm(store)
    let request = AllocationRequest(particleTypes: [.qubit: 1], properties: .init(minCoherenceTime: "200μs", minFidelity: 0.99),
                                    purpose: .research, duration: "10min")
    let perClient = allocations / clients
    let work = try keys.map { key in
        let system = RealmSystem(realm: realm, key: key)
        return (system, try (0..<perClient).map { _ in try system.signAllocation(request) })
    }
    let cpuBefore = processCPUSeconds()
    let start = ContinuousClock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        for (system, signed) in work {
            group.addTask {
                for action in signed { _ = try await system.allocate(signed: action) }
            }
        }
        try await group.waitForAll()
    }
    let wall = seconds(ContinuousClock.now - start)
    let rate = Double(perClient * clients) / wall
    coresBusy.append((processCPUSeconds() - cpuBefore) / wall)
    let report = try await LedgerVerifier.verify(store, state: RealmState.self)
    let granted = await realm.state.allocations.count
    precondition(report.isValid && granted == perClient * clients, "the run's ledger does not verify")
    let replayed = try await LedgerReplica<RealmState>.replay(store).state
    let live = await realm.ledger.state
    precondition(live == replayed, "a replay of the run's ledger does not reproduce the realm's state")
    let entries = try await store.entries(from: 0, limit: Int(Int32.max))
    groupSizes.append(Double(entries.count) / Double(entries.count { !$0.signature.isEmpty }))
    return rate
}

/// Entries per ledger signature in each run: how well groups formed.
var groupSizes: [Double] = []
/// The cores the process kept busy during each run (CPU time over wall time).
var coresBusy: [Double] = []

/// User and system CPU time of the whole process so far (getrusage).
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

/// ML-DSA-65 verifications of the same number of client signatures, on every core: through the ledger's own
/// keys (the realm's ceiling) and through swift-crypto's.
@MainActor func verifyRates() async throws -> (ledger: Double, swiftCrypto: Double) {
    let keys = try (0..<clients).map { try LedgerSigningKey(id: "client-\($0)") }
    let perClient = allocations / clients
    let signed = try keys.map { key in
        try (0..<perClient).map { index in try SignedRequest(signing: Data("{\"allocate\":\(index)}".utf8), nonce: UInt64(index), with: key) }
    }
    func rate(_ verify: @escaping @Sendable (Int, SignedRequest) -> Bool) async throws -> Double {
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, requests) in signed.enumerated() {
                group.addTask {
                    for request in requests where !verify(index, request) {
                        throw LedgerError.invalidRequest(client: request.client, reason: "did not verify")
                    }
                }
            }
            try await group.waitForAll()
        }
        return Double(perClient * clients) / seconds(ContinuousClock.now - start)
    }
    let ledgerKeys = keys.map(\.publicKey)
    let cryptoKeys = try ledgerKeys.map { try MLDSA65.PublicKey(rawRepresentation: $0.rawRepresentation) }
    let context = Data("qrrm-ledger".utf8)
    let ledger = try await rate { ledgerKeys[$0].isValidSignature($1.signature, for: $1.digest) }
    let swiftCrypto = try await rate { cryptoKeys[$0].isValidSignature($1.signature, for: $1.digest, context: context) }
    return (ledger, swiftCrypto)
}

/// ML-DSA-65 signatures a second on one core, of 32-byte digests in the ledger's context: through a ledger key
/// (its prepared MLDSA65Signer, what signs every group) and through swift-crypto's
/// `MLDSA65.PrivateKey.signature(for:context:)` (BoringSSL), which the ledger used before; the same key.
func signRates(count: Int = 150) throws -> (ledger: Double, swiftCrypto: Double) {
    let key = try MLDSA65.PrivateKey()
    let ledgerKey = try LedgerSigningKey(id: "realm", seed: key.seedRepresentation)
    let digest = Data((0..<32).map { UInt8($0) }), context = Data("qrrm-ledger".utf8)
    _ = try ledgerKey.sign(digest)
    var start = ContinuousClock.now
    for _ in 0..<count { _ = try ledgerKey.sign(digest) }
    let ledger = Double(count) / seconds(ContinuousClock.now - start)
    start = ContinuousClock.now
    for _ in 0..<count { _ = try key.signature(for: digest, context: context) }
    return (ledger, Double(count) / seconds(ContinuousClock.now - start))
}

let folder = FileManager.default.temporaryDirectory.appendingPathComponent("realm-compare-\(getpid())")
try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: folder) }

print("realm-compare: \(rounds) rounds of \(allocations) allocations by \(clients) clients; \(nodes) nodes × \(qubitsPerNode) qubits; \(ProcessInfo.processInfo.activeProcessorCount) cores")
var rates: [String: [Double]] = [:], ratios: [String: [Double]] = [:], verifyRatios: [Double] = [], signRatios: [Double] = []
for round in 1...rounds {
    let (ceiling, swiftCrypto) = try await verifyRates()
    verifyRatios.append(ceiling / swiftCrypto)
    let signing = try signRates()
    signRatios.append(signing.ledger / signing.swiftCrypto)
    var line = String(format: "round %d: ML-DSA-65 verify ceiling %.0f/s (swift-crypto %.0f/s); signing %.0f/s on one core (swift-crypto %.0f/s)",
                      round, ceiling, swiftCrypto, signing.ledger, signing.swiftCrypto)
    let sqliteRate = try await allocationRate(try SQLiteLedgerStore(path: folder.appendingPathComponent("round-\(round).sqlite").path))
    rates["sqlite", default: []].append(sqliteRate)
    ratios["sqlite", default: []].append(sqliteRate / ceiling)
    line += String(format: "  sqlite %.0f/s (%.2f×)", sqliteRate, sqliteRate / ceiling)
    if let postgres {
        let store = try await PostgresLedgerStore(url: postgres, table: "bench_\(getpid())_\(round)")
        let postgresRate = try await allocationRate(store)
        try await store.dropTable()
        rates["postgresql", default: []].append(postgresRate)
        ratios["postgresql", default: []].append(postgresRate / ceiling)
        line += String(format: "  postgresql %.0f/s (%.2f×)", postgresRate, postgresRate / ceiling)
    }
    print(line)
}
print(String(format: "entries per signature: median %.1f (runs %.1f–%.1f); cores busy while allocating: median %.2f of %d",
             percentile(groupSizes, 0.5), groupSizes.min()!, groupSizes.max()!, percentile(coresBusy, 0.5),
             ProcessInfo.processInfo.activeProcessorCount))
print(String(format: "ML-DSA-65 verification, MLDSA65Verifier over swift-crypto: median %.2f× (rounds %.2f–%.2f)",
             percentile(verifyRatios, 0.5), verifyRatios.min()!, verifyRatios.max()!))
print(String(format: "ML-DSA-65 signing, MLDSA65Signer over swift-crypto: median %.2f× (rounds %.2f–%.2f)",
             percentile(signRatios, 0.5), signRatios.min()!, signRatios.max()!))
for backend in rates.keys.sorted() {
    print(String(format: "%@: median %.0f confirmed allocations/s, %.2f× the verify ceiling (rounds %.2f–%.2f)", backend,
                 percentile(rates[backend]!, 0.5), percentile(ratios[backend]!, 0.5), ratios[backend]!.min()!, ratios[backend]!.max()!))
}

// Quote latency with the full inventory, half of it held.
let (realm, keys) = try await makeRealm(try SQLiteLedgerStore(path: folder.appendingPathComponent("quotes.sqlite").path))
let holder = RealmSystem(realm: realm, key: keys[0])
for _ in 0..<(nodes * qubitsPerNode / 2 / 50) {
    _ = try await holder.allocateAndConfirm(.init(particleTypes: [.qubit: 50], purpose: .research, duration: "1h"))
}
let state = await realm.state
let request = AllocationRequest(particleTypes: [.qubit: 8], properties: .init(minCoherenceTime: "500μs", minFidelity: 0.995),
                                purpose: .research, duration: "1h")
struct Plain { var id: String; var coherence: Int64; var fidelity: Double; var free: Bool }
let plain = state.resources.values.map { Plain(id: $0.id, coherence: $0.measured.coherenceTimeNanoseconds, fidelity: $0.measured.fidelity,
                                               free: (try? state.status(of: $0.id)) == .available) }
var ours: [Double] = [], anchor: [Double] = []
for _ in 0..<2000 {
    let t0 = ContinuousClock.now
    let quote = try state.quote(request, client: "client-1", at: .now())
    let t1 = ContinuousClock.now
    let picked = Array(plain.lazy.filter { $0.free && $0.coherence >= 500_000 && $0.fidelity >= 0.995 }.prefix(8).map(\.id))
    let t2 = ContinuousClock.now
    precondition(picked.count == 8 && quote.resources.count == 8)
    ours.append(seconds(t1 - t0) * 1e6)
    anchor.append(seconds(t2 - t1) * 1e6)
}
print(String(format: "quote of 8 qubits among %d resources on %d nodes (half held): p50 %.0f µs, p99 %.0f µs; plain scan p50 %.0f µs, p99 %.0f µs; p99 ratio %.1f×",
             nodes * qubitsPerNode, nodes, percentile(ours, 0.5), percentile(ours, 0.99), percentile(anchor, 0.5), percentile(anchor, 0.99),
             percentile(ours, 0.99) / percentile(anchor, 0.99)))

// Fairness under contention: 8 clients, 50 requests each, for 100 qubits; who gets one now, and who later.
do {
    let (realm, keys) = try await makeRealmSized(nodes: 10, qubits: 10, clients: 8)
    let request = AllocationRequest(particleTypes: [.qubit: 1], purpose: .research, duration: "1h")
    let work = try keys.map { key in
        let system = RealmSystem(realm: realm, key: key)
        return (key.id, system, try (0..<50).map { _ in try system.signAllocation(request) })
    }
    let granted = try await withThrowingTaskGroup(of: (String, Int).self) { group in
        for (client, system, signed) in work {
            group.addTask {
                var now = 0
                for action in signed {
                    let allocation = try await system.allocate(signed: action).allocation
                    if allocation.start.nanosecondsSinceEpoch - allocation.confirmedAt.nanosecondsSinceEpoch < 1_000_000_000 { now += 1 }
                }
                return (client, now)
            }
        }
        var results: [(String, Int)] = []
        for try await result in group { results.append(result) }
        return results
    }.sorted { $0.0 < $1.0 }
    print("contention: 8 clients × 50 requests for 100 qubits; granted now: " + granted.map { "\($0.1)" }.joined(separator: " ")
          + String(format: "; Jain's fairness index %.3f", jainFairnessIndex(granted.map { Double($0.1) })))
}
