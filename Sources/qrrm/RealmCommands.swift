import Allocation
import ArgumentParser
import Foundation
import Ledger
import Logging
import Quantities
import Realm
import ServiceLifecycle

/// `qrrm realm …`: serve a realm, and use one as a client.
struct RealmCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "realm", abstract: "Serve a realm over its nodes, or allocate from one.",
        subcommands: [Serve.self, Allocate.self, Release.self, Status.self, Retire.self, AuctionCommand.self])

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve the realm's endpoint, watch its nodes, and write every grant to the ledger.",
            discussion: """
                Each --node is telemetry=<endpoint>,snapshot=<endpoint>[,commands=<endpoint>][,location=<site>]: the realm \
                announces the node's advertised qubits from its snapshot, records it lost when its heartbeats stop, and \
                holds a lease on the node for every qubit it grants. Client actions are signed (ML-DSA-65). The endpoint \
                uses CURVE with an allow-list of client keys (--secret-key-file, --allow) unless --plaintext; the same \
                key pair reaches the nodes given a server-key= over CURVE.
                """)

        @OptionGroup var location: LedgerLocation

        @Option(name: .long, help: "This realm process's private key (registered with the realm role).")
        var key: String

        @Option(name: .long, help: "Create the realm first, named so, with --key as its authority, when the ledger is empty.")
        var create: String?

        @Option(name: .long, help: "The realm's endpoint.")
        var endpoint = "tcp://127.0.0.1:6100"

        @Option(name: .customLong("node"), help: "A node to serve (repeatable).")
        var nodes: [String] = []

        @Option(name: .long, help: "A node silent this long is recorded lost, e.g. 3s.")
        var lossTimeout = "3s"

        @Option(name: .long, help: "Reprice each particle type from utilisation and demand this often, e.g. 60s; 0 never.")
        var repriceEvery = "60s"

        @Option(name: .long, help: "Register a client's public key file (from ledger keygen) before serving (repeatable).")
        var client: [String] = []

        @OptionGroup var curve: CurveServerOptions

        func run() async throws {
            let signer = try LedgerSigningKey(contentsOf: key)
            let store = try await location.open()
            if let create, try await store.head() == nil {
                try await Ledger<RealmState>.create(realm: create, in: store, authority: signer)
            }
            let timeout: Duration, reprice: Duration
            do { timeout = try Duration(parsing: lossTimeout) } catch { throw ValidationError("--loss-timeout: \(error)") }
            do { reprice = repriceEvery == "0" ? .zero : try Duration(parsing: repriceEvery) } catch {
                throw ValidationError("--reprice-every: \(error)")
            }
            let endpoints = try nodes.map { text throws in try NodeEndpoints(parsing: text) }
            let ledger = try await Ledger<RealmState>(store: store, signer: signer)
            for path in client {
                let file = try PublicKeyFile(contentsOf: path)
                if await ledger.keys.registration(file.id) == nil {
                    try await ledger.register(KeyRegistration(id: file.id, publicKey: file.publicKey, roles: [.client]))
                }
            }
            let realm = Realm(ledger: ledger)
            let links = try NodeLinks(realm: realm, nodes: endpoints, curveKeys: try curve.keys(), lossTimeout: timeout)
            let server = try RealmServer(realm: realm, endpoint: endpoint, security: try curve.security())
            // Unbuffered: scripts and tests wait for this line to know the endpoint.
            FileHandle.standardOutput.write(Data("realm \(await ledger.realmName ?? "?") serving \(server.endpoint), ledger \(store.backend), \(endpoints.count) node(s)\n".utf8))
            let logger = Logger(label: "qrrm.realm")
            let group = ServiceGroup(configuration: ServiceGroupConfiguration(
                services: [.init(service: RealmService(realm: realm, links: links, server: server, repriceEvery: reprice))],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
            print("realm stopped; ledger head \(await ledger.head?.sequence ?? -1)")
        }
    }

    /// Watches the nodes, reprices every `repriceEvery` (never when zero) and closes auctions when they
    /// are due (also those opened before a restart) until a graceful shutdown (SIGTERM, SIGINT), then stops
    /// serving.
    struct RealmService: Service {
        let realm: Realm
        let links: NodeLinks
        let server: RealmServer
        let repriceEvery: Duration

        func run() async throws {
            await links.start()
            await withTaskGroup(of: Void.self) { group in
                group.addTask { [realm] in
                    repeat { _ = try? await realm.closeDueAuctions() } while (try? await Task.sleep(for: .seconds(1))) != nil
                }
                if repriceEvery > .zero {
                    group.addTask { [realm, repriceEvery] in
                        while (try? await Task.sleep(for: repriceEvery)) != nil {
                            _ = try? await realm.reprice()
                        }
                    }
                }
                try? await gracefulShutdown()
                group.cancelAll()
            }
            server.stop()
            links.stop()
        }
    }

    struct Allocate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Ask the realm for a quote and (with --confirm) accept it; prints JSON.")

        @OptionGroup var client: RealmClientOptions

        @Option(name: .customLong("particles"), help: "Types and counts, e.g. qubit=50,qudit=10,photon-pair=15.")
        var particles = "qubit=1"

        @Option(name: .long, help: "Minimum coherence time, e.g. 500us.")
        var minCoherenceTime: String?

        @Option(name: .long, help: "Minimum fidelity, e.g. 0.995.")
        var minFidelity: Double?

        @Flag(name: .long, help: "Only entanglement-ready resources.")
        var entanglementReady = false

        @Option(name: .long, help: "Purpose: \(Purpose.allCases.map(\.rawValue).joined(separator: ", ")).")
        var purpose = "research"

        @Option(name: .long, help: "Priority: \(Priority.allCases.map(\.rawValue).joined(separator: ", ")).")
        var priority = "normal"

        @Option(name: .long, help: "How long, e.g. 4h.")
        var duration = "1h"

        @Option(name: .long, help: "The earliest start, RFC 3339, e.g. 2026-12-08T14:30:00Z (default: as soon as possible).")
        var at: String?

        @Flag(name: .long, help: "Confirm the quote.")
        var confirm = false

        func run() async throws {
            var counts: [ParticleType: Int] = [:]
            for part in particles.split(separator: ",") {
                let pair = part.split(separator: "=")
                guard pair.count == 2, let count = Int(pair[1]) else { throw ValidationError("--particles: \"\(part)\" is not type=count") }
                counts[ParticleType(String(pair[0])), default: 0] += count
            }
            guard let purpose = Purpose(rawValue: purpose) else { throw ValidationError("--purpose \(self.purpose): unknown") }
            guard let priority = Priority(rawValue: priority) else { throw ValidationError("--priority \(self.priority): unknown") }
            let minimums = ResourceRequirements(minCoherenceTime: minCoherenceTime.map { DurationText($0) }, minFidelity: minFidelity,
                                                entanglementReady: entanglementReady)
            let start: TimestampText? = at.map { TimestampText($0) }
            let request = AllocationRequest(particleTypes: counts, properties: minimums, purpose: purpose, priority: priority,
                                            duration: DurationText(duration), reservationTime: start)
            let pending = try await client.system().allocateQuantumParticles(request)
            if confirm {
                printJSON(try await pending.confirm().allocation)
            } else {
                printJSON(pending.quote)
            }
        }
    }

    struct Release: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Release an allocation; prints it as JSON.")

        @OptionGroup var client: RealmClientOptions

        @Argument(help: "The allocation, e.g. alloc-3.")
        var allocation: String

        func run() async throws {
            printJSON(try await client.system().release(allocation))
        }
    }

    struct Retire: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take a resource out of service for good (an authority's key); its node resets it.")

        @OptionGroup var client: RealmClientOptions

        @Argument(help: "The resource, e.g. node-1/q0.")
        var resource: String

        func run() async throws {
            let sequence = try await client.system().retire(resource)
            print("retired \(resource) as entry \(sequence); its node is asked to reset it")
        }
    }

    /// `qrrm realm auction …`: sealed-bid auctions.
    struct AuctionCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "auction", abstract: "Open, bid in, close and list sealed-bid auctions.",
            subcommands: [Open.self, Bid.self, Close.self, List.self])

        struct Open: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Open an auction (an authority's key); prints its notice.")

            @OptionGroup var client: RealmClientOptions

            @Option(name: .long, help: "The auction's id, e.g. night-q3.")
            var id: String

            @Option(name: .long, help: "vickrey (one item, second price) or double (units; providers ask, clients bid).")
            var kind: String

            @Option(name: .long, help: "What is sold (vickrey) or what one unit is (double), e.g. qubit-hour.")
            var item: String

            @Option(name: .long, help: "Who sells the item (vickrey).")
            var seller: String?

            @Option(name: .long, help: "The least the seller accepts, in micro-credits (vickrey).")
            var reserve: Int64 = 0

            @Option(name: .long, help: "When bidding ends, RFC 3339, e.g. 2026-12-08T22:00:00Z.")
            var closes: String

            func run() async throws {
                guard let kind = AuctionNotice.Kind(rawValue: kind) else { throw ValidationError("--kind \(kind): vickrey or double") }
                let closes: Timestamp
                do { closes = try Timestamp(parsing: self.closes) } catch { throw ValidationError("--closes \(self.closes): \(error)") }
                printJSON(try await client.system().openAuction(
                    AuctionNotice(id: id, kind: kind, item: item, seller: seller, reserve: reserve, closes: closes)))
            }
        }

        struct Bid: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Place a sealed bid (or, with --ask, a provider's ask); prints the receipt.")

            @OptionGroup var client: RealmClientOptions

            @Option(name: .long, help: "The auction's id.")
            var auction: String

            @Option(name: .long, help: "The amount, in micro-credits.")
            var amount: Int64

            @Flag(name: .long, help: "An ask: offer a unit in a double auction.")
            var ask = false

            func run() async throws {
                printJSON(try await client.system().bid(amount, in: auction, side: ask ? .ask : .bid))
            }
        }

        struct Close: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Close an auction whose closing time has passed (an authority's key); prints its clearing.")

            @OptionGroup var client: RealmClientOptions

            @Option(name: .long, help: "The auction's id.")
            var auction: String

            func run() async throws {
                printJSON(try await client.system().closeAuction(auction))
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "The open auctions and the cleared ones, as JSON.")

            @OptionGroup var client: RealmClientOptions

            func run() async throws {
                printJSON(try await client.system().auctions())
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The realm's nodes and allocations, as JSON.")

        @Option(name: .long, help: "The realm's endpoint.")
        var endpoint = "tcp://127.0.0.1:6100"

        @OptionGroup var curve: CurveClientOptions

        func run() async throws {
            let realm = try RemoteRealm(endpoint: endpoint, security: try curve.security(), timeout: .seconds(10))
            let reply = try await realm.call(RealmRequest(id: "status", op: .status))
            guard reply.ok, let status = reply.status else {
                throw RealmError.remote(code: reply.error?.code ?? .transport, message: reply.error?.message ?? "no status")
            }
            printJSON(status)
        }
    }
}

/// How a realm client command reaches the realm and signs: its endpoint, the key it signs with, and CURVE.
struct RealmClientOptions: ParsableArguments {
    @Option(name: .long, help: "The realm's endpoint.")
    var endpoint = "tcp://127.0.0.1:6100"

    @Option(name: .long, help: "Your private key file (registered in the realm).")
    var key: String

    @OptionGroup var curve: CurveClientOptions

    func system() throws -> RealmSystem {
        try RealmSystem(endpoint: endpoint, key: try LedgerSigningKey(contentsOf: key), security: try curve.security())
    }
}

private func printJSON(_ value: some Encodable) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
    if let data = try? encoder.encode(value) { print(String(decoding: data, as: UTF8.self)) }
}

