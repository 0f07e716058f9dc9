import Allocation
import Foundation
import Ledger
import Quantities
import Realm
import Telemetry
import Testing
import ZeroMQ

@Suite("The realm: allocation through RealmSystem, in-process and over ZeroMQ")
struct RealmTests {
    @Test("Allocate, confirm, look up and release, as the issue's usage reads")
    func roundTrip() async throws {
        let fixture = try await RealmFixture()
        let system = fixture.system(fixture.alice)
        let request = try await system.allocateQuantumParticles(
            .init(particleTypes: [.qubit: 3], properties: .init(minCoherenceTime: "500μs", minFidelity: 0.995, entanglementReady: true),
                  purpose: .quantumMachineLearning, priority: .high, duration: "4h"))
        // Only node-a's qubits live 1 ms; node-b's 200 µs are below the minimum.
        #expect(request.quote.nodes == ["node-a"])
        let allocation = try await request.confirm()
        #expect(allocation.nodeIdentifiers == ["node-a"])
        #expect(allocation.resources.count == 3)
        let group = try await system.getQuantumResource(allocation.resourceId)
        #expect(group.client == "alice")
        #expect(group.status == .active)
        let released = try await system.release(allocation.resourceId)
        #expect(released.status == .released)
        let status = try await system.status()
        #expect(status.totalAllocations == 1)
        #expect(status.liveAllocations == 0)
        #expect(status.nodes.map(\.id) == ["node-a", "node-b"])
    }

    @Test("Each invalid request gets a typed error")
    func typedErrors() async throws {
        let fixture = try await RealmFixture()
        let alice = fixture.system(fixture.alice)
        // Impossible properties: no qubit anywhere lives 10 ms.
        await expectRealmError(.impossibleProperties) {
            _ = try await alice.allocateQuantumParticles(.init(particleTypes: [.qubit: 1], properties: .init(minCoherenceTime: "10ms"),
                                                                purpose: .research, duration: "1h"))
        }
        await expectRealmError(.invalidProperty, containing: "minCoherenceTime") {
            _ = try await alice.allocateQuantumParticles(.init(particleTypes: [.qubit: 1], properties: .init(minCoherenceTime: "10 parsecs"),
                                                                purpose: .research, duration: "1h"))
        }
        // Over the limit.
        try await fixture.realm.record(.limitsSet(client: "alice", maxResources: 2))
        await expectRealmError(.overLimit) {
            _ = try await alice.allocateQuantumParticles(.init(particleTypes: [.qubit: 3], purpose: .research, duration: "1h"))
        }
        // An expired reservation.
        await expectRealmError(.reservationExpired) {
            _ = try await alice.allocateQuantumParticles(.init(particleTypes: [.qubit: 1], purpose: .research, duration: "1h",
                                                                reservationTime: "2023-08-15T14:30:00Z"))
        }
        // A bad signature: a client whose key the realm does not know, then one signing with the wrong key.
        let mallory = RealmSystem(realm: fixture.realm, key: try LedgerSigningKey(id: "mallory"))
        await expectRealmError(.invalidRequest, containing: "mallory") {
            _ = try await mallory.allocateQuantumParticles(.init(particleTypes: [.qubit: 1], purpose: .research, duration: "1h"))
        }
        let quote = try await alice.allocateQuantumParticles(.init(particleTypes: [.qubit: 1], purpose: .research, duration: "1h")).quote
        let forger = try LedgerSigningKey(id: "alice")  // claims to be alice, with another key
        let forged = try SignedRequest(signing: ClientAction.confirm(quote: quote.id).body, nonce: 1, with: forger)
        let reply = await fixture.realm.handle(RealmRequest(id: "1", op: .confirm, signed: forged))
        #expect(reply.error?.code == .invalidRequest)
        #expect(reply.error?.message.contains("signature does not verify") == true)
        // Bob cannot release alice's allocation.
        let granted = try await alice.allocateQuantumParticles(quote.request).confirm().resourceId
        await expectRealmError(.notPermitted) { try await fixture.system(fixture.bob).release(granted) }
        await expectRealmError(.unknownAllocation) { _ = try await alice.getQuantumResource("alloc-999") }
    }

    @Test("Over ZeroMQ, the same calls and the same typed errors")
    func remote() async throws {
        let fixture = try await RealmFixture()
        let server = try RealmServer(realm: fixture.realm, endpoint: "tcp://127.0.0.1:*", security: .plaintext)
        defer { server.stop() }
        let system = try RealmSystem(endpoint: server.endpoint, key: fixture.bob, timeout: .seconds(20))
        let pending = try await system.allocateQuantumParticles(.init(particleTypes: [.qubit: 2], purpose: .education, duration: "30min"))
        let allocation = try await pending.confirm()
        #expect(allocation.resources.count == 2)
        #expect(try await system.getQuantumResource(allocation.resourceId).client == "bob")
        await expectRealmError(.impossibleProperties) {
            _ = try await system.allocateQuantumParticles(.init(particleTypes: [.qubit: 1], properties: .init(minFidelity: 0.9999),
                                                                 purpose: .research, duration: "1h"))
        }
        // Garbage on the wire gets a bad-request reply, and the realm carries on.
        let context = try ZMQContext()
        let socket = try context.socket(.dealer)
        try socket.connect(server.endpoint)
        try socket.send(multipart: [[], Array("not json".utf8)])
        let reply = try #require(try socket.receiveMultipart(wait: .timeout(.seconds(20)))?.last)
        let decoded = try JSONDecoder().decode(RealmReply.self, from: Data(reply))
        #expect(decoded.ok == false)
        #expect(decoded.error?.code == .badRequest)
        #expect(try await system.status().totalAllocations == 1)
    }

    @Test("A node lost mid-allocation: its resources are lost, the allocation is marked, nothing is granted twice")
    func nodeLost() async throws {
        let fixture = try await RealmFixture(nodes: [("node-a", 2, .milliseconds(1)), ("node-b", 2, .milliseconds(1))])
        let alice = fixture.system(fixture.alice)
        let first = try await alice.allocateQuantumParticles(.init(particleTypes: [.qubit: 2], purpose: .research, duration: "1h")).confirm()
        let lostNode = try #require(first.nodeIdentifiers.first)
        try await fixture.realm.record(.nodeLost(node: lostNode))
        let state = await fixture.realm.state
        #expect(try state.allocation(first.resourceId).status == .lost)
        for resource in first.resources { #expect(try state.status(of: resource) == .lost) }
        // Two more qubits exist, on the other node: they can be granted, the lost ones never again.
        let second = try await fixture.system(fixture.bob).allocateQuantumParticles(
            .init(particleTypes: [.qubit: 2], purpose: .research, duration: "1h")).confirm()
        #expect(Set(second.resources).isDisjoint(with: first.resources))
        // With every live qubit held, the next quote waits for bob's window to end, and never offers a lost qubit.
        let later = try await alice.allocateQuantumParticles(.init(particleTypes: [.qubit: 1], purpose: .research, duration: "1h")).quote
        #expect(Set(later.resources).isDisjoint(with: first.resources))
        #expect(later.start >= second.allocation.end)
    }

    @Test("A replay of the ledger reproduces the state exactly, and verify checks every contract rule")
    func replay() async throws {
        let fixture = try await RealmFixture()
        let alice = fixture.system(fixture.alice)
        let bob = fixture.system(fixture.bob)
        var held: [String] = []
        for index in 0..<6 {
            let system = index.isMultiple(of: 2) ? alice : bob
            held.append(try await system.allocateQuantumParticles(.init(particleTypes: [.qubit: 1], purpose: .research, duration: "2h")).confirm().resourceId)
        }
        try await alice.release(held[0])
        try await fixture.realm.record(.nodeLost(node: "node-b"))
        let replayed = try await LedgerReplica<RealmState>.replay(fixture.store)
        #expect(replayed.state == (await fixture.ledger.state))
        #expect(canonicalJSON(replayed.state.allocation) == canonicalJSON(await fixture.realm.state))
        let report = try await LedgerVerifier.verify(fixture.store, state: RealmState.self)
        #expect(report.isValid)
    }

    @Test("A one-step allocate, signed before any quote exists, is granted at or under its price limit")
    func oneStep() async throws {
        let fixture = try await RealmFixture()
        let system = fixture.system(fixture.alice)
        let request = AllocationRequest(particleTypes: [.qubit: 2], purpose: .research, duration: "1h")
        let signed = try system.signAllocation(request, maxPrice: 10_000_000)
        let granted = try await system.allocate(signed: signed)
        #expect(granted.resources.count == 2)
        #expect(granted.allocation.price <= 10_000_000)
        await expectRealmError(.quoteMismatch, containing: "above the client's limit") {
            _ = try await system.allocateAndConfirm(request, maxPrice: 1)
        }
        // The same signed action cannot be replayed.
        await expectRealmError(.invalidRequest, containing: "already used") { _ = try await system.allocate(signed: signed) }
        #expect(try await LedgerVerifier.verify(fixture.store, state: RealmState.self).isValid)
    }

    @Test("One-step allocates that compete in one admission round are served in fair-share order")
    func fairShareAdmission() async throws {
        let fixture = try await RealmFixture(nodes: [("node-a", 1, .milliseconds(1))])
        // Alice has used the realm's only qubit; Bob has not.
        let used = try await fixture.system(fixture.alice).allocateAndConfirm(.init(particleTypes: [.qubit: 1], purpose: .research, duration: "1h"))
        try await fixture.system(fixture.alice).release(used.resourceId)
        // The premise, as the round will be ranked: Bob, who has used nothing, has the higher fair-share factor.
        // (Later, Bob's own grant counts against him, the longer the slower the machine.)
        let before = await fixture.realm.state
        #expect(before.fairShareFactor(of: "bob", at: before.clock) > before.fairShareFactor(of: "alice", at: before.clock))
        // A realm whose rounds collect for 2 s (a loaded machine may take long to start the second request):
        // Alice asks first, Bob 50 ms later, in the same round.
        let realm = Realm(ledger: fixture.ledger, admissionWindow: .seconds(2))
        let request = AllocationRequest(particleTypes: [.qubit: 1], purpose: .research, duration: "1h")
        let alice = Task { try await RealmSystem(realm: realm, key: fixture.alice).allocateAndConfirm(request).allocation }
        try await Task.sleep(for: .milliseconds(50))
        let bob = try await RealmSystem(realm: realm, key: fixture.bob).allocateAndConfirm(request).allocation
        let aliceAllocation = try await alice.value
        // Bob's fair-share factor is 1, Alice's ¼: Bob gets the qubit now, Alice when Bob's hour ends.
        #expect(abs(bob.start.nanosecondsSinceEpoch - bob.confirmedAt.nanosecondsSinceEpoch) < 60_000_000_000)  // now, not in an hour
        #expect(aliceAllocation.start == bob.end)
        #expect(aliceAllocation.resources == bob.resources)
        #expect(try await LedgerVerifier.verify(fixture.store, state: RealmState.self).isValid)
    }

    @Test("Repricing follows utilisation and demand, writes each change to the ledger, and quotes use it")
    func repricing() async throws {
        let fixture = try await RealmFixture()
        let system = fixture.system(fixture.alice)
        #expect(try await fixture.realm.reprice() == [.qubit: 100])  // idle: the default price
        let head = await fixture.ledger.head?.sequence
        _ = try await system.allocateAndConfirm(.init(particleTypes: [.qubit: 6], purpose: .research, duration: "1h"))
        // 6 of 8 qubits held (750 ‰), all granted within the demand window (750 ‰): 100 × (1000 + 750 + 375) / 1000.
        #expect(try await fixture.realm.reprice() == [.qubit: 212])
        #expect(try await system.status().prices == ["qubit": 212])
        let entries = try await fixture.store.entries(from: (head ?? 0) + 1, limit: 100)
        #expect(entries.map(\.kind) == ["allocation.confirmed", "allocation.priceUpdated"])
        // Unchanged, no entry; and the next quote is priced at 212 µcredits per qubit-second.
        let after = await fixture.ledger.head?.sequence
        #expect(try await fixture.realm.reprice() == [.qubit: 212])
        #expect(await fixture.ledger.head?.sequence == after)
        let quote = try await system.allocateQuantumParticles(.init(particleTypes: [.qubit: 1], purpose: .research, duration: "10s")).quote
        #expect(quote.price == 2120)
        #expect(try await LedgerVerifier.verify(fixture.store, state: RealmState.self).isValid)
    }

    @Test("Open quotes hold their resources: concurrent clients are offered different qubits, and all confirm")
    func quotesHold() async throws {
        let fixture = try await RealmFixture(nodes: [("node-a", 8, .milliseconds(1))])
        var clients = [fixture.alice, fixture.bob]
        for index in 0..<6 {
            let key = try LedgerSigningKey(id: "client-\(index)")
            try await fixture.ledger.register(KeyRegistration(id: key.id, publicKey: key.publicKey, roles: [.client]))
            clients.append(key)
        }
        var pending: [PendingAllocation] = []
        for key in clients {
            pending.append(try await fixture.system(key).allocateQuantumParticles(.init(particleTypes: [.qubit: 1], purpose: .research, duration: "1h")))
        }
        #expect(Set(pending.flatMap(\.quote.resources)).count == 8)
        let confirmed = try await withThrowingTaskGroup(of: String.self) { group in
            for quote in pending { group.addTask { try await quote.confirm().resources[0] } }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(Set(confirmed).count == 8)
    }

    @Test("Two realm processes sharing one PostgreSQL ledger never grant a resource twice")
    func twoRealms() async throws {
        let fixture = try await RealmFixture(postgres: true, nodes: [("node-a", 6, .milliseconds(1))])
        let secondKey = try LedgerSigningKey(id: "realm-2")
        try await fixture.ledger.register(KeyRegistration(id: "realm-2", publicKey: secondKey.publicKey, roles: [.realm]))
        let second = Realm(ledger: try await Ledger<RealmState>(store: fixture.store, signer: secondKey))
        // 12 clients' worth of single-qubit requests, half at each realm, for 6 qubits.
        let outcomes = try await withThrowingTaskGroup(of: String?.self) { group in
            for index in 0..<12 {
                let realm = index.isMultiple(of: 2) ? fixture.realm : second
                let key = index.isMultiple(of: 4) || index % 4 == 1 ? fixture.alice : fixture.bob
                group.addTask {
                    let system = RealmSystem(realm: realm, key: key)
                    do {
                        return try await system.allocateQuantumParticles(.init(particleTypes: [.qubit: 1], purpose: .research, duration: "1h"))
                            .confirm().resources[0]
                    } catch let error as RealmError where [.alreadyGranted, .insufficientResources, .unavailable].contains(error.code) {
                        return nil
                    }
                }
            }
            return try await group.reduce(into: [String]()) { if let resource = $1 { $0.append(resource) } }
        }
        #expect(outcomes.count == Set(outcomes).count)
        #expect(outcomes.count <= 6)
        let replayed = try await LedgerReplica<RealmState>.replay(fixture.store)
        #expect(replayed.state.allocation.allocations.count == outcomes.count)
        #expect(try await LedgerVerifier.verify(fixture.store, state: RealmState.self).isValid)
    }
}
