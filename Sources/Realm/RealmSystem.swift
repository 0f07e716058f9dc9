import Allocation
import Foundation
import Ledger
import Quantities
import Synchronization
import Telemetry
import ZeroMQ

/// How a `RealmSystem` reaches its realm: in this process, or over ZeroMQ.
public protocol RealmTransport: Sendable {
    func call(_ request: RealmRequest) async throws(RealmError) -> RealmReply
}

/// The realm as a client uses it:
/// ```
/// let request = try await system.allocateQuantumParticles(.init(particleTypes: [.qubit: 50], …))
/// let allocation = try await request.confirm()
/// let group = try await system.getQuantumResource(allocation.resourceId)
/// ```
/// Every action that changes the realm is signed with the client's ML-DSA-65 key.
public final class RealmSystem: Sendable {
    public let key: LedgerSigningKey
    private let transport: any RealmTransport
    private let counter: Atomic<UInt64>

    public init(transport: any RealmTransport, key: LedgerSigningKey) {
        self.transport = transport
        self.key = key
        // Nonces must never repeat for a key, across runs too: start from the wall clock in ns.
        counter = Atomic(UInt64(max(0, Timestamp.now().nanosecondsSinceEpoch)))
    }

    /// A client of `realm` in this process.
    public convenience init(realm: Realm, key: LedgerSigningKey) {
        self.init(transport: InProcessRealm(realm: realm), key: key)
    }

    /// A client of the realm served at `endpoint` (`qrrm realm serve`).
    public convenience init(endpoint: String, key: LedgerSigningKey, security: TelemetryClientSecurity = .plaintext,
                            timeout: Duration = .seconds(30)) throws(RealmError) {
        self.init(transport: try RemoteRealm(endpoint: endpoint, security: security, timeout: timeout), key: key)
    }

    /// Asks for a quote: which resources on which nodes, the start time and the price.
    public func allocateQuantumParticles(_ request: AllocationRequest) async throws(RealmError) -> PendingAllocation {
        let reply = try await call(RealmRequest(id: nextID(), op: .quote, client: key.id, request: request))
        guard let quote = reply.quote else { throw .transport(endpoint: "realm", reason: "a quote reply without a quote") }
        return PendingAllocation(quote: quote, system: self)
    }

    /// Quotes and confirms in one step, at no more than `maxPrice` micro-credits.
    public func allocateAndConfirm(_ request: AllocationRequest, maxPrice: Int64 = .max) async throws(RealmError) -> ConfirmedAllocation {
        try await allocate(signed: signAllocation(request, maxPrice: maxPrice))
    }

    /// The signed one-step allocate action, for a client that signs ahead (or elsewhere) and sends later.
    public func signAllocation(_ request: AllocationRequest, maxPrice: Int64 = .max) throws(RealmError) -> SignedRequest {
        try sign(.allocate(request: request, maxPrice: maxPrice))
    }

    /// Sends a signed allocate action (from `signAllocation`).
    public func allocate(signed: SignedRequest) async throws(RealmError) -> ConfirmedAllocation {
        ConfirmedAllocation(try await allocationReply(RealmRequest(id: nextID(), op: .allocate, signed: signed)))
    }

    /// The allocation `id`: its resources, nodes, window, status and shares.
    public func getQuantumResource(_ id: String) async throws(RealmError) -> Allocation {
        try await allocationReply(RealmRequest(id: nextID(), op: .allocation, allocation: id))
    }

    /// Places a sealed bid (or, as a provider in a double auction, an ask) of `amount` micro-credits in
    /// auction `auction`. No one sees it until the auction closes.
    @discardableResult
    public func bid(_ amount: Int64, in auction: String, side: BidSide = .bid) async throws(RealmError) -> SealedBidReceipt {
        let reply = try await call(RealmRequest(id: nextID(), op: .bid, signed: sign(.bid(auction: auction, side: side, amount: amount))))
        guard let receipt = reply.receipt else { throw .transport(endpoint: "realm", reason: "a bid reply without a receipt") }
        return receipt
    }

    /// Opens an auction (this client's key must have the authority role).
    @discardableResult
    public func openAuction(_ notice: AuctionNotice) async throws(RealmError) -> AuctionNotice {
        let reply = try await call(RealmRequest(id: nextID(), op: .openAuction, signed: sign(.openAuction(notice))))
        guard let notice = reply.notice else { throw .transport(endpoint: "realm", reason: "an openAuction reply without its notice") }
        return notice
    }

    /// Closes an auction whose closing time has passed, and returns what it cleared (authority role).
    public func closeAuction(_ id: String) async throws(RealmError) -> AuctionRecord {
        let reply = try await call(RealmRequest(id: nextID(), op: .closeAuction, signed: sign(.closeAuction(auction: id))))
        guard let record = reply.cleared else { throw .transport(endpoint: "realm", reason: "a closeAuction reply without the clearing") }
        return record
    }

    /// The open auctions (with how many sealed bids each holds) and the cleared ones.
    public func auctions() async throws(RealmError) -> AuctionBook {
        let reply = try await call(RealmRequest(id: nextID(), op: .auctions))
        guard let book = reply.auctions else { throw .transport(endpoint: "realm", reason: "an auctions reply without the auctions") }
        return book
    }

    /// Takes resource `id` out of service for good; its node resets it (this client's key must have the
    /// authority role). Returns the sequence number of the ledger entry that retired it.
    @discardableResult
    public func retire(_ id: String) async throws(RealmError) -> Int64 {
        let reply = try await call(RealmRequest(id: nextID(), op: .retire, signed: sign(.retire(resource: id))))
        guard let sequence = reply.sequence else { throw .transport(endpoint: "realm", reason: "a retire reply without its entry") }
        return sequence
    }

    /// Releases allocation `id` before its window ends.
    @discardableResult
    public func release(_ id: String) async throws(RealmError) -> Allocation {
        try await allocationReply(RealmRequest(id: nextID(), op: .release, signed: sign(.release(allocation: id))))
    }

    /// Shares allocation `id` with other parties, each with its rights.
    @discardableResult
    public func share(_ id: String, with grants: [PartyRights]) async throws(RealmError) -> Allocation {
        try await allocationReply(RealmRequest(id: nextID(), op: .share, signed: sign(.share(allocation: id, grants: grants))))
    }

    /// The realm's nodes and allocations.
    public func status() async throws(RealmError) -> RealmStatus {
        let reply = try await call(RealmRequest(id: nextID(), op: .status))
        guard let status = reply.status else { throw .transport(endpoint: "realm", reason: "a status reply without a status") }
        return status
    }

    func confirm(_ quote: Quote) async throws(RealmError) -> Allocation {
        try await allocationReply(RealmRequest(id: nextID(), op: .confirm, signed: sign(.confirm(quote: quote.id))))
    }

    private func sign(_ action: ClientAction) throws(RealmError) -> SignedRequest {
        do { return try SignedRequest(signing: action.body, nonce: counter.add(1, ordering: .relaxed).newValue, with: key) } catch {
            throw .ledger(error)
        }
    }

    private func nextID() -> String { String(counter.add(1, ordering: .relaxed).newValue) }

    private func allocationReply(_ request: RealmRequest) async throws(RealmError) -> Allocation {
        let reply = try await call(request)
        guard let allocation = reply.allocation else { throw .transport(endpoint: "realm", reason: "a reply without an allocation") }
        return allocation
    }

    private func call(_ request: RealmRequest) async throws(RealmError) -> RealmReply {
        let reply = try await transport.call(request)
        if !reply.ok {
            throw .remote(code: reply.error?.code ?? .transport, message: reply.error?.message ?? "the realm refused without a reason")
        }
        return reply
    }
}

/// A quote, to confirm before it expires.
public struct PendingAllocation: Sendable {
    public let quote: Quote
    let system: RealmSystem

    /// Accepts the quote: the realm re-checks every term and writes the grant to its ledger.
    public func confirm() async throws(RealmError) -> ConfirmedAllocation {
        ConfirmedAllocation(try await system.confirm(quote))
    }
}

/// A granted allocation.
public struct ConfirmedAllocation: Sendable {
    public let allocation: Allocation
    public var resourceId: String { allocation.id }
    public var nodeIdentifiers: [String] { allocation.nodes }
    public var resources: [String] { allocation.resources }

    init(_ allocation: Allocation) { self.allocation = allocation }
}

/// The realm in this process: the same request handling as `qrrm realm serve`, without the socket.
public struct InProcessRealm: RealmTransport {
    public let realm: Realm
    public init(realm: Realm) { self.realm = realm }

    public func call(_ request: RealmRequest) async throws(RealmError) -> RealmReply {
        await realm.handle(request)
    }
}

/// A realm over ZeroMQ: one DEALER socket on its own thread, replies matched to callers by request id.
public final class RemoteRealm: RealmTransport {
    public let endpoint: String
    private let context: ZMQContext
    private let loop: SocketLoop
    private let waiting: Waiting
    private let timeout: Duration

    public init(endpoint: String, security: TelemetryClientSecurity, timeout: Duration) throws(RealmError) {
        self.endpoint = endpoint
        self.timeout = timeout
        let socket: ZMQSocket
        do {
            context = try ZMQContext()
            socket = try context.socket(.dealer)
            if case .curve(let serverKey, let clientKeys) = security {
                try socket.makeCurveClient(serverKey: serverKey, keys: clientKeys)
            }
            try socket.set(.linger, .milliseconds(0))
            try socket.connect(endpoint)
        } catch {
            throw .transport(endpoint: endpoint, reason: "could not connect: \(error)")
        }
        let waiting = Waiting()
        self.waiting = waiting
        loop = SocketLoop(name: "qrrm-realm-client", socket: socket) { frames, _ in
            guard let body = frames.last, let reply = try? JSONDecoder().decode(RealmReply.self, from: Data(body)) else { return }
            waiting.resume(reply.id, with: .success(reply))
        }
    }

    deinit {
        loop.stop()
        context.shutdown()
    }

    public func call(_ request: RealmRequest) async throws(RealmError) -> RealmReply {
        let body: Data
        do { body = try JSONEncoder().encode(request) } catch { throw .badRequest("could not encode the request: \(error)") }
        let (endpoint, timeout, waiting, loop) = (self.endpoint, self.timeout, self.waiting, self.loop)
        let result = await withCheckedContinuation { continuation in
            waiting.add(request.id, continuation)
            loop.send([[], Array(body)])
            Task {
                try? await Task.sleep(for: timeout)
                waiting.resume(request.id, with: .failure(.transport(endpoint: endpoint, reason: "no reply within \(timeout)")))
            }
        }
        return try result.get()
    }

    /// Callers waiting for their reply, by request id.
    private final class Waiting: Sendable {
        private let table = Mutex<[String: CheckedContinuation<Result<RealmReply, RealmError>, Never>]>([:])

        func add(_ id: String, _ continuation: CheckedContinuation<Result<RealmReply, RealmError>, Never>) {
            table.withLock { $0[id] = continuation }
        }

        func resume(_ id: String, with result: Result<RealmReply, RealmError>) {
            table.withLock { $0.removeValue(forKey: id) }?.resume(returning: result)
        }
    }
}
