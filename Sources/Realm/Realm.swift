import Allocation
import Foundation
import Ledger
import Quantities
import Synchronization

/// One realm process: quotes and grants allocations for its clients, writing every grant, release and
/// node event to the shared ledger. Several processes may serve one realm (a PostgreSQL ledger): the
/// ledger's conditional appends make sure no two of them grant the same resource.
public actor Realm {
    public nonisolated let ledger: Ledger<RealmState>
    private let clock: @Sendable () -> Timestamp
    /// Quotes issued here, by id: open until they expire, and once confirmed, kept (holding their resources
    /// for other quotes) until a state that includes the grant is what quotes are made from. Quotes are
    /// made inside the ledger's writer (`withState`), so the table is shared under a lock.
    private let openQuotes = QuoteBook()
    /// When this process last read other writers' entries.
    private var lastCatchUp = ContinuousClock.now - .seconds(1)
    /// Called after an allocation is confirmed or ends: the node links reserve and release on the nodes.
    private var observers: [@Sendable (RealmChange) async -> Void] = []
    /// How long a round of one-step allocates collects before it is admitted, in fair-share order. Zero
    /// by default: a round is what arrived while the one before it was admitted.
    public nonisolated let admissionWindow: Duration
    /// One-step allocates waiting for the next admission round.
    private var waiting: [WaitingAllocate] = []
    private var admitting = false
    private var submissions = 0
    /// The clients' effective usages that admission rounds rank by, and when they were computed: they are
    /// recomputed once a second (a sum over every allocation; fair share changes over hours).
    private var usages: (at: ContinuousClock.Instant, byClient: [String: Double])?
    /// Auctions this process is closing: they take no more bids here.
    var closingAuctions: Set<String> = []

    private struct WaitingAllocate: Sendable {
        var pending: PendingRequest
        var maxPrice: Int64
        var signed: SignedRequest
        var action: ClientAction
        var continuation: CheckedContinuation<Result<Allocation, RealmError>, Never>
    }

    public init(ledger: Ledger<RealmState>, admissionWindow: Duration = .zero,
                clock: @escaping @Sendable () -> Timestamp = { .now() }) {
        self.ledger = ledger
        self.admissionWindow = admissionWindow
        self.clock = clock
    }

    /// The allocation contract's state, as of the last entry this process has seen.
    public var state: AllocationState {
        get async { await ledger.state.allocation }
    }

    /// Registers `observer` for allocation changes.
    public func onChange(_ observer: @escaping @Sendable (RealmChange) async -> Void) {
        observers.append(observer)
    }

    /// Prices `request` for `client`: the resources, nodes, start time and price the contract would grant.
    /// Pure: nothing is written until the client confirms.
    public func quote(_ request: AllocationRequest, client: String) async throws(RealmError) -> Quote {
        try checkClient(client)
        try await catchUpNow()
        let outcome = await ledger.withState { [openQuotes, clock] (state, head) -> Result<Quote, AllocationError> in
            // Synchronous from here: the held set and the new quote see every other quote. Another writer's
            // clock may run ahead of ours; its entries' times are the contract's "now" then.
            let now = max(clock(), state.allocation.clock)
            // A quote holds its resources softly: other quotes avoid them while they can.
            let held = openQuotes.held(seen: head?.sequence ?? -1, now: now) { $0.client != client }
            do throws(AllocationError) {
                let quote = try state.allocation.quote(request, client: client, at: now, avoiding: held)
                openQuotes.withLock { $0[quote.id] = (quote, nil) }
                return .success(quote)
            } catch {
                return .failure(error)
            }
        }
        switch outcome {
        case .success(let quote): return quote
        case .failure(let error): throw .allocation(error)
        }
    }

    /// Confirms a quote: `signed` is the client's signed `ClientAction.confirm`. Returns the allocation.
    public nonisolated func confirm(_ signed: SignedRequest) async throws(RealmError) -> Allocation {
        let action = try Self.action(in: signed)
        guard case .confirm(let id) = action else {
            throw .badRequest("confirm needs a signed {\"confirm\": {\"quote\": …}} action")
        }
        guard let (quote, confirmedAt) = openQuotes.withLock({ $0[id] }), confirmedAt == nil, quote.client == signed.client else {
            throw .unknownQuote(id)
        }
        return try await confirm(quote, signed: signed, action: action)
    }

    /// Writes the grant of `quote`, which `signed` (decoded: `action`) accepts. Off the actor, on any
    /// thread: the entry's JSON is encoded there, and the quote book and the ledger are shared safely.
    @concurrent
    private nonisolated func confirm(_ quote: Quote, signed: SignedRequest, action: ClientAction) async throws(RealmError) -> Allocation {
        let id = quote.id
        // Confirming: no second confirm, and still held. Checked and set at once, so two confirms cannot both pass.
        guard openQuotes.withLock({ open -> Bool in
            guard open[id]?.confirmedAt == nil else { return false }
            open[id]?.confirmedAt = .max
            return true
        }) else { throw .unknownQuote(id) }
        let (entry, granted): (LedgerEntry, Allocation?)
        do {
            (entry, granted) = try await submit(.confirmed(quote), request: signed, action: action) { state in
                state.allocation.allocations.last { $0.quote == quote.id }
            }
        } catch {
            openQuotes.withLock { $0[id]?.confirmedAt = nil }
            throw error
        }
        openQuotes.withLock { $0[id]?.confirmedAt = entry.sequence }
        guard let allocation = granted else { throw .badRequest("quote \(id) was confirmed but granted no allocation") }
        await notify(.confirmed(allocation))
        return allocation
    }

    /// Quotes and confirms in one step: `signed` is the client's signed `ClientAction.allocate`; the grant is
    /// refused when the realm's price is above the client's `maxPrice`.
    ///
    /// One-step allocates are admitted in rounds: those that arrive while the round before is admitted (and
    /// within `admissionWindow`) are ordered by the contract's scheduling priority (fair share, priority
    /// class, age) and quoted in that order, each around the ones before it (`AllocationState.admit`), so
    /// when they compete for the same resources the higher priority is served first and the rest backfill.
    ///
    /// The signed body is decoded in the caller's task, not on the realm's actor, which admits rounds.
    public nonisolated func allocate(_ signed: SignedRequest) async throws(RealmError) -> Allocation {
        let action = try Self.action(in: signed)
        guard case .allocate(let request, let maxPrice) = action else {
            throw .badRequest("allocate needs a signed {\"allocate\": {\"request\": …, \"maxPrice\": …}} action")
        }
        try checkClient(signed.client)
        return try await admit(request, maxPrice: maxPrice, signed: signed, action: action).get()
    }

    /// Queues a decoded one-step allocate for the next admission round, and waits for its outcome.
    private func admit(_ request: AllocationRequest, maxPrice: Int64, signed: SignedRequest,
                       action: ClientAction) async -> Result<Allocation, RealmError> {
        await withCheckedContinuation { continuation in
            submissions += 1
            waiting.append(WaitingAllocate(
                pending: PendingRequest(id: "allocate-\(submissions)", client: signed.client, request: request, submittedAt: clock()),
                maxPrice: maxPrice, signed: signed, action: action, continuation: continuation))
            if !admitting {
                admitting = true
                Task { await self.admitRounds() }
            }
        }
    }

    /// Admits the waiting one-step allocates, a round at a time, and confirms each admitted quote.
    private func admitRounds() async {
        while !waiting.isEmpty {
            if admissionWindow > .zero { try? await Task.sleep(for: admissionWindow) }
            let batch = waiting
            waiting = []
            do { try await catchUpNow() } catch {
                for item in batch { item.continuation.resume(returning: .failure(error)) }
                continue
            }
            let recent = usages.flatMap { ContinuousClock.now - $0.at < .seconds(1) ? $0.byClient : nil }
            let (admissions, used) = await ledger.withState { [openQuotes, clock] (state, head) -> ([Admission], [String: Double]) in
                let now = max(clock(), state.allocation.clock)
                let used = recent ?? state.allocation.effectiveUsages(at: now)
                // Quotes still open, and grants on their way to the ledger, hold their resources softly.
                let held = openQuotes.held(seen: head?.sequence ?? -1, now: now) { _ in true }
                let admissions = state.allocation.admit(batch.map(\.pending), at: now, avoiding: held, usages: used)
                openQuotes.withLock { open in
                    for case .success(let quote) in admissions.map(\.outcome) { open[quote.id] = (quote, nil) }
                }
                return (admissions, used)
            }
            if recent == nil { usages = (.now, used) }
            let items = Dictionary(uniqueKeysWithValues: batch.map { ($0.pending.id, $0) })
            for admission in admissions {
                let item = items[admission.request.id]!
                switch admission.outcome {
                case .failure(let error):
                    item.continuation.resume(returning: .failure(.allocation(error)))
                case .success(let quote):
                    Task { item.continuation.resume(returning: await self.confirmAdmitted(quote, item)) }
                }
            }
        }
        admitting = false
    }

    /// Confirms an admitted quote for the client that signed `item`, within its price limit.
    @concurrent
    private nonisolated func confirmAdmitted(_ quote: Quote, _ item: WaitingAllocate) async -> Result<Allocation, RealmError> {
        guard quote.price <= item.maxPrice else {
            openQuotes.withLock { $0[quote.id] = nil }
            return .failure(.allocation(.quoteMismatch(
                quote: quote.id, reason: "its price \(quote.price) µcredits is above the client's limit of \(item.maxPrice)")))
        }
        do { return .success(try await confirm(quote, signed: item.signed, action: item.action)) } catch {
            openQuotes.withLock { $0[quote.id] = nil }
            return .failure(error)
        }
    }

    /// Throws unless `client` is registered with the client role.
    private nonisolated func checkClient(_ client: String) throws(RealmError) {
        guard ledger.registration(client)?.has(.client) == true else {
            throw .ledger(.invalidRequest(client: client, reason: "no client key \"\(client)\" is registered in this realm"))
        }
    }

    /// Reads other realm processes' grants when the last read is more than 100 ms old: a quote made on an
    /// older state is refused at confirmation (the grant is re-checked against the latest entries), never
    /// granted twice.
    private func catchUpNow() async throws(RealmError) {
        if ContinuousClock.now - lastCatchUp > .milliseconds(100) {
            lastCatchUp = .now
            do { try await ledger.catchUp() } catch { throw RealmError(error) }
        }
    }

    /// Releases an allocation: `signed` is the client's signed `ClientAction.release`.
    public func release(_ signed: SignedRequest) async throws(RealmError) -> Allocation {
        let action = try Self.action(in: signed)
        guard case .release(let id) = action else {
            throw .badRequest("release needs a signed {\"release\": {\"allocation\": …}} action")
        }
        let allocation = try await submit(.released(allocation: id, by: signed.client), request: signed, action: action) { state in
            try? state.allocation.allocation(id)
        }.value
        guard let allocation else { throw .allocation(.unknownAllocation(id)) }
        await notify(.ended(allocation))
        return allocation
    }

    /// Shares an allocation with other parties: `signed` is the client's signed `ClientAction.share`.
    public func share(_ signed: SignedRequest) async throws(RealmError) -> Allocation {
        let action = try Self.action(in: signed)
        guard case .share(let id, let grants) = action else {
            throw .badRequest("share needs a signed {\"share\": {\"allocation\": …, \"grants\": …}} action")
        }
        let allocation = try await submit(.groupShared(allocation: id, by: signed.client, grants: grants), request: signed, action: action) { state in
            try? state.allocation.allocation(id)
        }.value
        guard let allocation else { throw .allocation(.unknownAllocation(id)) }
        return allocation
    }

    /// The allocation `id` as the ledger has it.
    public func allocation(_ id: String) async throws(RealmError) -> Allocation {
        do { try await ledger.catchUp() } catch { throw RealmError(error) }
        do { return try await ledger.state.allocation.allocation(id) } catch { throw .allocation(error) }
    }

    /// Sets each particle type's price to what utilisation and demand suggest now
    /// (`AllocationState.suggestedPrice`, from the configured default price), writing a `.priceUpdated`
    /// entry for each price that changes. Returns every type's price per resource-second, in micro-credits.
    @discardableResult
    public func reprice() async throws(RealmError) -> [ParticleType: Int64] {
        do { try await ledger.catchUp() } catch { throw RealmError(error) }
        let changes = await ledger.withState { [clock] (state, _) -> [ParticleType: Int64] in
            let allocation = state.allocation
            let now = max(clock(), allocation.clock)
            var changes: [ParticleType: Int64] = [:]
            for (type, current) in allocation.inventoryPrices {
                let price = allocation.suggestedPrice(for: type, base: allocation.configuration.defaultPricePerSecond, at: now)
                if price != current { changes[type] = price }
            }
            return changes
        }
        for (type, price) in changes.sorted(by: { $0.key < $1.key }) {
            try await record(.priceUpdated(type: type, microCreditsPerSecond: price))
        }
        return await ledger.withState { (state, _) in state.allocation.inventoryPrices }
    }

    /// Writes one of the realm's own events: a node announced, lost or observed, a limit or a price set, a
    /// resource retired. When a node is lost, the allocations that held its resources are reported lost to
    /// the observers; when a resource is retired, the observers hear of it so that its node resets it.
    @discardableResult
    public func record(_ event: AllocationEvent) async throws(RealmError) -> LedgerEntry {
        try await record(event, authorizedBy: nil, action: nil)
    }

    /// Writes `event`, carrying `signed` (an authority's request, decoded: `action`) when there is one.
    @discardableResult
    func record(_ event: AllocationEvent, authorizedBy signed: SignedRequest?, action: ClientAction?) async throws(RealmError) -> LedgerEntry {
        if case .retired(let resource) = event {
            let (entry, node) = try await submit(event, request: signed, action: action) { state in state.allocation.resources[resource]?.node }
            if let node { await notify(.retired(resource: resource, node: node)) }
            return entry
        }
        guard case .nodeLost(let node) = event else { return try await submit(event, request: signed, action: action) { _ in () }.entry }
        let hit = await ledger.state.allocation.allocations.filter { $0.status.isLive && $0.nodes.contains(node) }.map(\.id)
        let (entry, lost) = try await submit(event, request: nil, action: nil) { state in hit.compactMap { try? state.allocation.allocation($0) } }
        for allocation in lost { await notify(.lost(allocation)) }
        return entry
    }

    /// Retires a resource for good: `signed` is an authority's signed `ClientAction.retire`, which the entry
    /// carries. Its node resets it (`NodeLinks`), and the realm records that.
    public func retire(_ signed: SignedRequest) async throws(RealmError) -> LedgerEntry {
        let action = try await authorityAction(in: signed)
        guard case .retire(let resource) = action else {
            throw .badRequest("retire needs a signed {\"retire\": {\"resource\": …}} action")
        }
        return try await record(.retired(resource: resource), authorizedBy: signed, action: action)
    }

    /// The action in `signed`, once its signature verifies against a registered key with the authority role.
    func authorityAction(in signed: SignedRequest) async throws(RealmError) -> ClientAction {
        let action = try Self.action(in: signed)
        try await checkSignature(signed, role: .authority)
        return action
    }

    /// Throws unless `signed` verifies against `signed.client`'s registered key, and that key has `role`.
    func checkSignature(_ signed: SignedRequest, role: Role) async throws(RealmError) {
        guard let registration = ledger.registration(signed.client), registration.has(role) else {
            throw .ledger(.invalidRequest(client: signed.client, reason: "no key \"\(signed.client)\" with the \(role.rawValue) role is registered in this realm"))
        }
        guard registration.publicKey.isValidSignature(signed.signature, for: signed.digest) else {
            throw .ledger(.invalidRequest(client: signed.client, reason: "the signature does not verify against its registered ML-DSA-65 key"))
        }
    }

    /// The contract's "now": this process's clock.
    func now() -> Timestamp { clock() }

    /// Submits `event`, on behalf of `request`'s client (whose body decodes to `action`) when there is one.
    nonisolated func submit<Value: Sendable>(_ event: AllocationEvent, request: SignedRequest?, action: ClientAction?,
                                             reading: @escaping @Sendable (RealmState) -> Value) async throws(RealmError) -> (entry: LedgerEntry, value: Value) {
        do {
            return try await ledger.submit(contract: RealmState.allocationContract, kind: event.kind, payload: canonicalJSON(event),
                                           request: request, prepared: .init(event: event, action: action), reading: reading)
        } catch {
            throw RealmError(error)
        }
    }

    static func action(in signed: SignedRequest) throws(RealmError) -> ClientAction {
        do { return try JSONDecoder().decode(ClientAction.self, from: signed.body) } catch {
            throw .badRequest("the signed body is not a client action (confirm, release or share): \(error)")
        }
    }

    private func notify(_ change: RealmChange) async {
        for observer in observers { await observer(change) }
    }
}

/// An allocation change the nodes must hear about.
public enum RealmChange: Sendable {
    case confirmed(Allocation)
    case ended(Allocation)
    case lost(Allocation)
    /// A resource was taken out of service: its node must reset it.
    case retired(resource: String, node: String)
}

/// The realm's open quotes, shared between the realm and the ledger's writer under a lock. New quotes
/// are made only inside the writer (`Ledger.withState`), one at a time, so the lock need not be held while
/// one is made: only while the table is read or changed.
private final class QuoteBook: Sendable {
    private let table = Mutex<[String: (quote: Quote, confirmedAt: Int64?)]>([:])

    func withLock<Value>(_ body: (inout [String: (quote: Quote, confirmedAt: Int64?)]) -> Value) -> Value {
        table.withLock { body(&$0) }
    }

    /// The resources of the live quotes that `including` selects. Drops first the quotes that expired
    /// unconfirmed, and the confirmed ones whose grant is in the state as of entry `seen`.
    func held(seen: Int64, now: Timestamp, including: (Quote) -> Bool) -> Set<String> {
        table.withLock { open in
            open = open.filter { _, entry in entry.confirmedAt.map { $0 > seen } ?? (entry.quote.expiry > now) }
            var held: Set<String> = []
            for entry in open.values where including(entry.quote) { held.formUnion(entry.quote.resources) }
            return held
        }
    }
}
