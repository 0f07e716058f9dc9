import Foundation
import Quantities
import Synchronization

/// A realm's writer: appends signed entries to a shared store and keeps the replayed state current.
///
/// Submissions are committed in groups, so the store sees one transaction per group rather than per
/// entry. While one group is signed and stored, the next collects; a group also waits up to
/// `gatherWindow` for submissions whose client signatures are still being checked. The writer signs the
/// last entry of each group; its hash covers every earlier entry of the group through the chain (as a
/// signed tree head does in Certificate Transparency), so one ML-DSA signature, about a millisecond here,
/// serves a group.
///
/// Each entry is applied to the state before it is stored (a contract that refuses it fails only that
/// submission). When another writer got there first, the group is undone, the ledger catches up, and the
/// group is tried again against the new state. Undoing needs the replica as it was, and a copy costs as
/// much as the state is large: so a writer keeps one only while other writers are active (for 30 s after a
/// conflict), and otherwise undoes by replaying the store, which holds exactly what was committed.
public actor Ledger<State: LedgerState> {
    public nonisolated let store: any LedgerStore
    public nonisolated let signer: LedgerSigningKey
    private var replica: LedgerReplica<State> {
        didSet { if replica.keys.lastChange != publishedChange { publishKeys() } }
    }
    /// The replica's key registry, readable without waiting for the actor: every request checks its signer.
    private nonisolated let publishedKeys = Mutex(KeyRegistry())
    private var publishedChange: Data?
    private let clock: @Sendable () -> Timestamp
    private var queue: [Submission] = []
    private var draining = false
    /// The most entries one transaction carries.
    public let maximumGroup: Int
    /// How long a group waits for submissions still being checked, at most.
    public let gatherWindow: Duration
    /// Submissions between their signature check and the queue.
    private let arriving = Atomic<Int>(0)
    /// Until when commits keep a copy of the replica to undo a conflict with: set by each conflict.
    private var contendedUntil = ContinuousClock.now
    /// Set when a failed commit could not be undone: the replica must be replayed from the store first.
    private var needsReplay = false

    private struct Submission {
        var contract: String
        var kind: String
        var payload: Data
        var request: SignedRequest?
        var prepared: State.Prepared?
        /// Reads what the caller wants to know from the state just after the entry is applied.
        var reading: @Sendable (State) -> any Sendable
        var continuation: CheckedContinuation<Result<(LedgerEntry, any Sendable), LedgerError>, Never>
    }

    /// Opens the ledger in `store`, replaying and checking every entry, to write as `signer`
    /// (which must be registered with the realm role).
    public init(store: any LedgerStore, signer: LedgerSigningKey, maximumGroup: Int = 512, gatherWindow: Duration = .milliseconds(5),
                clock: @escaping @Sendable () -> Timestamp = { Timestamp.now() }) async throws(LedgerError) {
        self.store = store
        self.signer = signer
        self.clock = clock
        self.maximumGroup = maximumGroup
        self.gatherWindow = gatherWindow
        replica = try await LedgerReplica<State>.replay(store)
        guard replica.head != nil else {
            throw .genesis("\(store.backend) has no genesis entry: create the realm first (`Ledger.create`)")
        }
        guard replica.keys.registration(signer.id)?.has(.realm) == true else {
            throw .invalidKey(source: signer.id, reason: "is not registered in this ledger with the realm role")
        }
        publishKeys()
    }

    private func publishKeys() {
        let keys = replica.keys
        publishedChange = keys.lastChange
        publishedKeys.withLock { $0 = keys }
    }

    /// Writes the genesis entry of a new realm into an empty store: `authority` signs it and is
    /// registered with the authority and realm roles.
    @discardableResult
    public static func create(realm: String, in store: any LedgerStore, authority: LedgerSigningKey,
                              at time: Timestamp = .now()) async throws(LedgerError) -> LedgerEntry {
        guard try await store.head() == nil else {
            throw .genesis("\(store.backend) already holds a ledger")
        }
        let genesis = KeyRegistry.Genesis(
            realm: realm, authority: KeyRegistration(id: authority.id, publicKey: authority.publicKey, roles: [.authority, .realm]))
        var entry = LedgerEntry(sequence: 0, previousHash: LedgerEntry.zeroHash, timestamp: time, contract: KeyRegistry.contract,
                                kind: "genesis", payload: canonicalJSON(genesis), author: authority.id, request: nil)
        entry.signature = try authority.sign(entry.hash)
        do {
            try await store.append([entry], after: nil)
        } catch {
            if case .conflict = error { throw .genesis("\(store.backend) already holds a ledger") }
            throw error
        }
        return entry
    }

    /// The contracts' state, as of the last entry this writer has seen.
    public var state: State { replica.state }
    public var keys: KeyRegistry { replica.keys }
    /// The realm's name, from the genesis entry.
    public var realmName: String? { replica.keys.realm }

    /// The registration of key `id`, as of the last entry applied, without waiting for the actor.
    public nonisolated func registration(_ id: String) -> KeyRegistration? { publishedKeys.withLock { $0.registration(id) } }

    /// Runs `body` on the state and the head it is the state after, inside the writer: nothing can change
    /// them meanwhile, and no copy of the state is made (a copy held while entries apply would make every
    /// apply copy the whole state).
    public func withState<Value: Sendable, Failure: Error>(
        _ body: @Sendable (State, LedgerHead?) throws(Failure) -> Value
    ) throws(Failure) -> Value {
        try body(replica.state, replica.head)
    }
    public var head: LedgerHead? { replica.head }

    /// Applies what other writers have appended since. While this writer is committing a group, the
    /// group's own commit catches up instead (and only when it has to).
    public func catchUp() async throws(LedgerError) {
        guard !draining else { return }
        // Commits wait meanwhile: the replica is replaced when the catch-up ends, and nothing may change it before.
        draining = true
        let result: Result<Void, LedgerError>
        do { try await catchUpReplica(); result = .success(()) } catch { result = .failure(error) }
        if queue.isEmpty {
            draining = false
        } else {
            Task { await self.drain() }
        }
        try result.get()
    }

    private func catchUpReplica() async throws(LedgerError) {
        if needsReplay {
            replica = try await LedgerReplica<State>.replay(store)
            needsReplay = false
            return
        }
        var copy = replica
        try await copy.catchUp(with: store)
        replica = copy
    }

    /// Registers a key (only an authority may).
    @discardableResult
    public func register(_ registration: KeyRegistration) async throws(LedgerError) -> LedgerEntry {
        guard replica.keys.registration(signer.id)?.has(.authority) == true else {
            throw .invalidKey(source: signer.id, reason: "lacks the authority role, so it cannot register keys")
        }
        return try await submit(contract: KeyRegistry.contract, kind: "key.register", payload: canonicalJSON(registration))
    }

    /// Appends one entry of `contract` with `payload` (canonical JSON), on behalf of `request`'s client when
    /// there is one, and returns it as stored. The request's signature is checked before queueing, outside
    /// the actor, so many clients' signatures verify at once; its key, role and nonce when it is applied.
    @discardableResult
    public nonisolated func submit(contract: String, kind: String, payload: Data,
                                   request: SignedRequest? = nil) async throws(LedgerError) -> LedgerEntry {
        try await submit(contract: contract, kind: kind, payload: payload, request: request) { _ in () }.entry
    }

    /// Appends one entry as `submit(contract:kind:payload:request:)` does, and also returns `reading` of the
    /// state just after the entry was applied (and before any later entry), e.g. the grant it made.
    /// `prepared`, when given, is what the state would decode from `payload` and the request: the caller's
    /// own values, which it encoded `payload` from, so this writer need not decode them again.
    public nonisolated func submit<Value: Sendable>(
        contract: String, kind: String, payload: Data, request: SignedRequest? = nil, prepared: State.Prepared? = nil,
        reading: @escaping @Sendable (State) -> Value
    ) async throws(LedgerError) -> (entry: LedgerEntry, value: Value) {
        if let request {
            arriving.add(1, ordering: .relaxed)
            guard let registration = registration(request.client) else {
                arriving.subtract(1, ordering: .relaxed)
                throw .invalidRequest(client: request.client, reason: "no such key is registered")
            }
            guard registration.publicKey.isValidSignature(request.signature, for: request.digest) else {
                arriving.subtract(1, ordering: .relaxed)
                throw .invalidRequest(client: request.client, reason: "the signature does not verify against its registered ML-DSA-65 key")
            }
        }
        let (entry, value) = try await enqueue(contract: contract, kind: kind, payload: payload, request: request,
                                               prepared: prepared, reading: reading).get()
        return (entry, value as! Value)  // `reading` produced it
    }

    private func enqueue(contract: String, kind: String, payload: Data, request: SignedRequest?, prepared: State.Prepared?,
                         reading: @escaping @Sendable (State) -> any Sendable) async -> Result<(LedgerEntry, any Sendable), LedgerError> {
        await withCheckedContinuation { continuation in
            queue.append(Submission(contract: contract, kind: kind, payload: payload, request: request, prepared: prepared,
                                    reading: reading, continuation: continuation))
            if request != nil { arriving.subtract(1, ordering: .relaxed) }
            if !draining {
                draining = true
                Task { await self.drain() }
            }
        }
    }

    private func drain() async {
        while !queue.isEmpty {
            // Submissions whose signatures are being checked join this group if they come soon: the group's
            // one signature, about a millisecond, then serves them too.
            let deadline = ContinuousClock.now + gatherWindow
            while queue.count < maximumGroup, arriving.load(ordering: .relaxed) > 0, ContinuousClock.now < deadline {
                try? await Task.sleep(for: .microseconds(100))
            }
            let group = Array(queue.prefix(maximumGroup))
            queue.removeFirst(group.count)
            await commit(group)
        }
        draining = false
    }

    /// Signs `hash` as this writer, off the actor: quotes and submissions go on meanwhile.
    private nonisolated func seal(_ hash: Data) async throws(LedgerError) -> Data {
        try signer.sign(hash)
    }

    /// Applies, signs and stores one group; when another writer was first, undoes it, catches up and
    /// tries again what the new state still accepts.
    private func commit(_ group: [Submission], attempt: Int = 0) async {
        if needsReplay {
            do { try await catchUpReplica() } catch {
                for submission in group { submission.continuation.resume(returning: .failure(error)) }
                return
            }
        }
        let head = replica.head
        let undo: LedgerReplica<State>? = ContinuousClock.now < contendedUntil ? replica : nil
        var accepted: [Submission] = []
        var entries: [LedgerEntry] = []
        var values: [any Sendable] = []
        for submission in group {
            let previous = replica.head!
            let now = clock()
            let entry = LedgerEntry(sequence: previous.sequence + 1, previousHash: previous.hash,
                                    timestamp: max(now, replica.lastTimestamp ?? now), contract: submission.contract,
                                    kind: submission.kind, payload: submission.payload, author: signer.id, request: submission.request)
            do {
                // The client's key and nonce, as the client's own error (the signature was checked in `submit`).
                if let request = submission.request { try replica.keys.checkRequest(request, verifySignature: false) }
                try replica.apply(entry, signaturesVerified: true, prepared: submission.prepared)
                accepted.append(submission)
                entries.append(entry)
                values.append(submission.reading(replica.state))
            } catch {
                submission.continuation.resume(returning: .failure(error))
            }
        }
        guard !accepted.isEmpty else { return }
        do {
            // One signature per group, on its last entry: its hash chains to every entry before it.
            var signed = entries
            signed[signed.count - 1].signature = try await seal(signed[signed.count - 1].hash)
            try await store.append(signed, after: head)
            replica.coverUnsignedRun()
            for (index, submission) in accepted.enumerated() {
                submission.continuation.resume(returning: .success((signed[index], values[index])))
            }
        } catch {
            var failure = error
            let conflict: Bool
            if case .conflict = error { conflict = true } else { conflict = false }
            if conflict { contendedUntil = .now + .seconds(30) }
            if let undo { replica = undo } else { needsReplay = true }
            if conflict, attempt < 1000 {
                do {
                    try await catchUpReplica()
                    return await commit(accepted, attempt: attempt + 1)
                } catch { failure = error }
            } else if needsReplay {
                // Drop the group's entries from the replica now, if the store answers (else before the next commit).
                try? await catchUpReplica()
            }
            for submission in accepted { submission.continuation.resume(returning: .failure(failure)) }
        }
    }
}
