import Foundation
import Quantities

/// The state of a realm's contracts: a deterministic state machine, rebuilt by replaying the log.
///
/// `apply` sees every entry that is not the ledger's own (keys), in order. It must give the same
/// result on every machine: no clocks (use `entry.timestamp`), no randomness, no dependence on
/// `Dictionary` order. It must throw before changing anything, so a refused entry leaves no trace.
public protocol LedgerState: Sendable {
    associatedtype Failure: Error & Sendable
    /// What `apply` decodes from an entry, when the writer already holds it decoded (see `Ledger.submit`).
    associatedtype Prepared: Sendable = Never
    init()
    mutating func apply(_ entry: LedgerEntry, keys: KeyRegistry) throws(Failure)
    /// Applies `entry` using `prepared`, which must be exactly what `apply(_:keys:)` would decode from it,
    /// so the result is the same: only the decoding is saved.
    mutating func apply(_ entry: LedgerEntry, keys: KeyRegistry, prepared: Prepared) throws(Failure)
}

extension LedgerState where Prepared == Never {
    public mutating func apply(_ entry: LedgerEntry, keys: KeyRegistry, prepared: Never) throws(Failure) {}
}

/// Keys only: for tools that check the chain and signatures without knowing any contract.
public struct NoContracts: LedgerState, Equatable {
    public struct UnknownContract: Error, Sendable, CustomStringConvertible {
        public var contract: String
        public var description: String { "no contract \"\(contract)\" is known here" }
    }

    public var ignoresUnknownContracts: Bool

    public init() { ignoresUnknownContracts = true }

    public func apply(_ entry: LedgerEntry, keys: KeyRegistry) throws(UnknownContract) {
        if !ignoresUnknownContracts { throw UnknownContract(contract: entry.contract) }
    }
}

/// A chain replayed entry by entry, every check made: sequence, link, hash, timestamps, author, role,
/// signatures, client requests, and the contracts' own rules.
public struct LedgerReplica<State: LedgerState>: Sendable {
    public private(set) var state: State
    public private(set) var keys: KeyRegistry
    public private(set) var head: LedgerHead?
    /// The last entry's timestamp: the next may not be earlier.
    public private(set) var lastTimestamp: Timestamp?
    /// The first of the entries since the last signed one, and their author: a signed entry by the same
    /// author must follow, its signature covering them through the hash chain.
    public private(set) var unsignedRun: (first: Int64, author: String)?

    public init(state: State = State()) {
        self.state = state
        keys = KeyRegistry()
    }

    /// Checks `entry` against the chain so far and applies it. Throws, changing nothing, when it does
    /// not belong: `.invalidEntry` for the chain and keys, `.rejected` for a contract's refusal.
    ///
    /// `signaturesVerified` skips the ML-DSA checks for entries this process has just signed itself
    /// (and whose request it verified before): everything else is still checked.
    public mutating func apply(_ entry: LedgerEntry, signaturesVerified: Bool = false,
                               prepared: State.Prepared? = nil) throws(LedgerError) {
        let expected = (head?.sequence ?? -1) + 1
        guard entry.sequence == expected else {
            throw .invalidEntry(sequence: entry.sequence, reason: "expected entry \(expected) here: the chain has a gap or a repeat")
        }
        guard entry.previousHash == (head?.hash ?? LedgerEntry.zeroHash) else {
            throw .invalidEntry(sequence: entry.sequence, reason: "its previous-hash does not match entry \(expected - 1)'s hash: the chain is broken")
        }
        guard entry.hash == entry.computedHash() else {
            throw .invalidEntry(sequence: entry.sequence, reason: "its contents do not match its hash: the entry was altered")
        }
        if let lastTimestamp, entry.timestamp < lastTimestamp {
            throw .invalidEntry(sequence: entry.sequence, reason: "its timestamp \(entry.timestamp) is earlier than the previous entry's \(lastTimestamp)")
        }
        if entry.signature.isEmpty, entry.sequence == 0 {
            throw .invalidEntry(sequence: 0, reason: "the genesis entry is not signed")
        }
        if let run = unsignedRun, run.author != entry.author {
            throw .invalidEntry(sequence: run.first, reason: "not covered by a signature: the next signed entry is by \(entry.author), not by its author \(run.author)")
        }
        let change = try keys.validate(entry, verifySignatures: !signaturesVerified)
        if entry.contract != KeyRegistry.contract {
            do {
                if let prepared { try state.apply(entry, keys: keys, prepared: prepared) } else { try state.apply(entry, keys: keys) }
            } catch {
                throw .rejected(contract: entry.contract, kind: entry.kind, reason: error)
            }
        }
        keys.commit(change, of: entry)
        head = LedgerHead(sequence: entry.sequence, hash: entry.hash)
        lastTimestamp = entry.timestamp
        if entry.signature.isEmpty {
            if unsignedRun == nil { unsignedRun = (entry.sequence, entry.author) }
        } else {
            unsignedRun = nil
        }
    }

    /// Marks the unsigned run as covered: the writer has just signed its last entry itself.
    mutating func coverUnsignedRun() { unsignedRun = nil }

    /// Throws when the chain ends in entries no signature covers (the store was cut or altered).
    public func checkCovered() throws(LedgerError) {
        if let run = unsignedRun {
            throw .invalidEntry(sequence: run.first, reason: "not covered by any signature: the chain ends in unsigned entries")
        }
    }

    /// Replays a whole store from the genesis entry, checking everything.
    public static func replay(_ store: any LedgerStore, state: State = State()) async throws(LedgerError) -> LedgerReplica {
        var replica = LedgerReplica(state: state)
        try await replica.catchUp(with: store)
        return replica
    }

    /// Applies what the store holds beyond `head`.
    public mutating func catchUp(with store: any LedgerStore) async throws(LedgerError) {
        var copy = self
        self = LedgerReplica(state: State())  // release our storage so `copy` mutates in place
        defer { self = copy }
        try await store.forEachEntry(from: (copy.head?.sequence ?? -1) + 1) { (entry) throws(LedgerError) in
            try copy.apply(entry)
        }
        try copy.checkCovered()
    }
}

/// What `LedgerVerifier` found.
public struct VerificationReport: Sendable {
    /// Entries that verified, from the genesis entry on.
    public var verifiedEntries: Int64
    /// The first entry that does not, and why; nil when the whole chain verifies.
    public var firstBadEntry: (sequence: Int64, reason: String)?
    public var head: LedgerHead?

    public var isValid: Bool { firstBadEntry == nil }
}

/// `qrrm ledger verify`: checks the chain and every signature, replaying the contracts, and reports the first bad entry.
public enum LedgerVerifier {
    public static func verify<State: LedgerState>(_ store: any LedgerStore, state: State.Type) async throws(LedgerError) -> VerificationReport {
        var replica = LedgerReplica<State>()
        var verified: Int64 = 0
        var bad: (Int64, String)?
        do {
            try await store.forEachEntry { (entry) throws(LedgerError) in
                try replica.apply(entry)
                verified += 1
            }
        } catch {
            switch error {
            case .invalidEntry(let sequence, let reason): bad = (sequence, reason)
            case .rejected: bad = ((replica.head?.sequence ?? -1) + 1, error.description)
            default: throw error
            }
        }
        if bad == nil, verified == 0 { bad = (0, "the ledger is empty: it has no genesis entry") }
        if bad == nil, let run = replica.unsignedRun {
            bad = (run.first, "not covered by any signature: the chain ends in unsigned entries")
        }
        return VerificationReport(verifiedEntries: verified, firstBadEntry: bad, head: replica.head)
    }
}
