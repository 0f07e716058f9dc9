import Foundation
import Quantities

/// A realm's writer: appends signed entries to a shared store and keeps the replayed state current.
///
/// Submissions are committed in groups: while one group is being signed and stored, the next collects,
/// so the store sees one transaction per group rather than per entry. The writer signs the last entry of
/// each group; its hash covers every earlier entry of the group through the chain (as a signed tree head
/// does in Certificate Transparency), so one ML-DSA signature, about a millisecond here, serves a group. Each entry is applied to the
/// state before it is stored (a contract that refuses it fails only that submission); when another
/// writer got there first, the group is undone, the ledger catches up, and the group is tried again
/// against the new state.
public actor Ledger<State: LedgerState> {
    public nonisolated let store: any LedgerStore
    public nonisolated let signer: LedgerSigningKey
    private var replica: LedgerReplica<State>
    private let clock: @Sendable () -> Timestamp
    private var queue: [Submission] = []
    private var draining = false
    /// The most entries one transaction carries.
    public let maximumGroup: Int

    private struct Submission {
        var contract: String
        var kind: String
        var payload: Data
        var request: SignedRequest?
        /// Reads what the caller wants to know from the state just after the entry is applied.
        var reading: @Sendable (State) -> any Sendable
        var continuation: CheckedContinuation<Result<(LedgerEntry, any Sendable), LedgerError>, Never>
    }

    /// Opens the ledger in `store`, replaying and checking every entry, to write as `signer`
    /// (which must be registered with the realm role).
    public init(store: any LedgerStore, signer: LedgerSigningKey, maximumGroup: Int = 512,
                clock: @escaping @Sendable () -> Timestamp = { Timestamp.now() }) async throws(LedgerError) {
        self.store = store
        self.signer = signer
        self.clock = clock
        self.maximumGroup = maximumGroup
        replica = try await LedgerReplica<State>.replay(store)
        guard replica.head != nil else {
            throw .genesis("\(store.backend) has no genesis entry: create the realm first (`Ledger.create`)")
        }
        guard replica.keys.registration(signer.id)?.has(.realm) == true else {
            throw .invalidKey(source: signer.id, reason: "is not registered in this ledger with the realm role")
        }
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

    /// The registration of key `id` (without copying the whole registry).
    public func registration(_ id: String) -> KeyRegistration? { replica.keys.registration(id) }

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
    public nonisolated func submit<Value: Sendable>(
        contract: String, kind: String, payload: Data, request: SignedRequest? = nil,
        reading: @escaping @Sendable (State) -> Value
    ) async throws(LedgerError) -> (entry: LedgerEntry, value: Value) {
        if let request {
            guard let registration = await registration(request.client) else {
                throw .invalidRequest(client: request.client, reason: "no such key is registered")
            }
            guard registration.publicKey.isValidSignature(request.signature, for: request.digest) else {
                throw .invalidRequest(client: request.client, reason: "the signature does not verify against its registered ML-DSA-65 key")
            }
        }
        let (entry, value) = try await enqueue(contract: contract, kind: kind, payload: payload, request: request, reading: reading).get()
        return (entry, value as! Value)  // `reading` produced it
    }

    private func enqueue(contract: String, kind: String, payload: Data, request: SignedRequest?,
                         reading: @escaping @Sendable (State) -> any Sendable) async -> Result<(LedgerEntry, any Sendable), LedgerError> {
        await withCheckedContinuation { continuation in
            queue.append(Submission(contract: contract, kind: kind, payload: payload, request: request, reading: reading,
                                    continuation: continuation))
            if !draining {
                draining = true
                Task { await self.drain() }
            }
        }
    }

    private func drain() async {
        while !queue.isEmpty {
            let group = Array(queue.prefix(maximumGroup))
            queue.removeFirst(group.count)
            await commit(group)
        }
        draining = false
    }

    /// Applies, signs and stores one group; when another writer was first, undoes it, catches up and
    /// tries again what the new state still accepts.
    private func commit(_ group: [Submission], attempt: Int = 0) async {
        let before = replica
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
                try replica.apply(entry, signaturesVerified: true)
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
            signed[signed.count - 1].signature = try signer.sign(signed[signed.count - 1].hash)
            try await store.append(signed, after: before.head)
            replica.coverUnsignedRun()
            for (index, submission) in accepted.enumerated() {
                submission.continuation.resume(returning: .success((signed[index], values[index])))
            }
        } catch {
            replica = before
            var failure = error
            if case .conflict = error, attempt < 1000 {
                do {
                    try await catchUpReplica()
                    return await commit(accepted, attempt: attempt + 1)
                } catch { failure = error }
            }
            for submission in accepted { submission.continuation.resume(returning: .failure(failure)) }
        }
    }
}
