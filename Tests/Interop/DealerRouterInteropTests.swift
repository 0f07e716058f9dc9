import Testing
import ZeroMQ

@Suite("pyzmq interop: DEALER/ROUTER")
struct DealerRouterInteropTests {
    @Test("Python ROUTER ↔ Swift DEALERs: the router sees each routing id and answers the right dealer")
    func pythonRouterSwiftDealers() throws {
        let peer = try PythonPeer("ROUTER", ["router"])
        defer { peer.kill() }
        let endpoint = try #require(try peer.waitFor("bound").endpoint)

        let context = try ZMQContext()
        let identities: [[UInt8]] = [Array("awg-1".utf8), [0xA5, 0xFF, 0x00, 0x42]]  // text and binary ids
        let dealers = try identities.map { identity in
            let dealer = try context.socket(.dealer)
            try dealer.set(.routingID, identity)
            try dealer.connect(endpoint)
            return dealer
        }
        for (index, dealer) in dealers.enumerated() {
            try dealer.send(multipart: [Array("ARM".utf8), [UInt8(index), 0x00, 0xFF]], wait: .timeout(.seconds(5)))
        }
        for (index, dealer) in dealers.enumerated() {
            let reply = try #require(try dealer.receiveMultipart(wait: .timeout(.seconds(10))),
                                     "dealer \(describe([identities[index]])) got no reply")
            // zmq_peer.py answers [id, f...] with [id, "seen", id, f...]; the id frame is routing only.
            #expect(reply == [Array("seen".utf8), identities[index], Array("ARM".utf8), [UInt8(index), 0x00, 0xFF]],
                    "dealer \(index) got \(describe(reply))")
        }
        try peer.finish()
        let requests = peer.events("request")
        #expect(Set(requests.compactMap(\.identity)) == Set(identities))
        for request in requests {
            let index = try #require(identities.firstIndex { $0 == request.identity })
            #expect(request.frames == [Array("ARM".utf8), [UInt8(index), 0x00, 0xFF]])
        }
    }

    @Test("Swift ROUTER ↔ Python DEALERs: each identity arrives as the routing frame and gets its own reply")
    func swiftRouterPythonDealers() throws {
        let context = try ZMQContext()
        let router = try context.socket(.router)
        try router.set(.routerMandatory, true)
        let endpoint = try router.bind("tcp://127.0.0.1:*")
        let names = ["py-dealer-1", "py-dealer-2", "py-dealer-3"]
        let peer = try PythonPeer("DEALER", ["dealer", "--connect", endpoint] + names.flatMap { ["--identity", $0] })
        defer { peer.kill() }

        var seen: Set<String> = []
        for _ in names {
            let request = try #require(try router.receiveMultipart(wait: .timeout(.seconds(10))),
                                       "only \(seen.sorted()) reached the router")
            // zmq_peer.py's dealers send ["hello", own id]: the router's routing frame must match it.
            try #require(request.count == 3, "request \(describe(request))")
            #expect(request[0] == request[2], "routing frame \(describe([request[0]])) for a dealer named \(describe([request[2]]))")
            #expect(request[1] == Array("hello".utf8))
            seen.insert(String(decoding: request[0], as: UTF8.self))
            try router.send(multipart: [request[0], Array("welcome".utf8), request[0], [0x00, 0xFF]], wait: .timeout(.seconds(5)))
        }
        #expect(seen == Set(names))
        do {
            try router.send(multipart: [Array("nobody".utf8), Array("hello".utf8)], wait: .timeout(.seconds(1)))
            Issue.record("ROUTER_MANDATORY should refuse an identity no Python dealer has")
        } catch {
            #expect(error.isHostUnreachable)
        }

        try peer.waitFor("done")
        try peer.finish()
        let replies = peer.events("reply")
        #expect(replies.count == names.count)
        for reply in replies {
            let identity = try #require(reply.identity)
            #expect(reply.frames == [Array("welcome".utf8), identity, [0x00, 0xFF]],
                    "dealer \(String(decoding: identity, as: UTF8.self)) got \(reply.line)")
        }
    }
}
