import Foundation
import Testing
@testable import ZeroMQ

@Suite("Messaging patterns")
struct MessagingTests {
    let context: ZMQContext

    init() throws { context = try ZMQContext() }

    @Test("PUB/SUB delivers multipart messages only for subscribed prefixes")
    func pubSubFiltering() throws {
        let publisher = try context.socket(.pub)
        let endpoint = try publisher.bind("tcp://127.0.0.1:*")
        #expect(endpoint.hasPrefix("tcp://127.0.0.1:"))
        let subscriber = try context.socket(.sub)
        try subscriber.subscribe("node1/fridge/")
        try subscriber.subscribe("probe")
        try subscriber.connect(endpoint)
        try awaitSubscription(publisher, subscriber, probe: "probe")

        try publisher.send(multipart: [Array("node1/awg/ch1".utf8), [1, 2, 3]])
        try publisher.send(multipart: [Array("node1/fridge/mxc".utf8), Array("header".utf8), [0, 255, 7]])
        try publisher.send(multipart: [Array("node2/fridge/mxc".utf8), [9]])
        let frames = try #require(try subscriber.receiveMultipart(wait: .timeout(.seconds(5))))
        #expect(frames == [Array("node1/fridge/mxc".utf8), Array("header".utf8), [0, 255, 7]])
        #expect(try subscriber.receiveMultipart(wait: .timeout(.milliseconds(200))) == nil)

        try subscriber.unsubscribe("node1/fridge/")
        try publisher.send(multipart: [Array("node1/fridge/mxc".utf8), [1]])
        #expect(try subscriber.receiveMultipart(wait: .timeout(.milliseconds(200))) == nil)
    }

    @Test("REQ/REP round trip, and REQ refuses a second request before the reply (EFSM)")
    func requestReply() throws {
        let server = try context.socket(.rep)
        let endpoint = try server.bind("tcp://127.0.0.1:*")
        let client = try context.socket(.req)
        try client.connect(endpoint)
        try client.send("*IDN?")
        #expect(try server.receiveFrame(wait: .timeout(.seconds(5))) == Array("*IDN?".utf8))
        try server.send(multipart: [Array("LSCI".utf8), Array("MODEL372".utf8)])
        #expect(try client.receiveMultipart(wait: .timeout(.seconds(5))) == [Array("LSCI".utf8), Array("MODEL372".utf8)])

        try client.send("again")
        #expect(throws: ZMQError.self) { try client.send("too soon") }
        do { try client.send("too soon") } catch { #expect(error.isWrongState) }
    }

    @Test("DEALER/ROUTER addresses peers by routing id; ROUTER_MANDATORY reports unknown peers")
    func dealerRouter() throws {
        let router = try context.socket(.router)
        try router.set(.routerMandatory, true)
        let endpoint = try router.bind("tcp://127.0.0.1:*")
        let dealer = try context.socket(.dealer)
        try dealer.set(.routingID, Array("awg-1".utf8))
        #expect(try dealer.get(.routingID) == Array("awg-1".utf8))
        try dealer.connect(endpoint)
        try dealer.send(multipart: [Array("ARM".utf8), [42]])
        let request = try #require(try router.receiveMultipart(wait: .timeout(.seconds(5))))
        #expect(request == [Array("awg-1".utf8), Array("ARM".utf8), [42]])
        try router.send(multipart: [Array("awg-1".utf8), Array("OK".utf8)])
        #expect(try dealer.receiveMultipart(wait: .timeout(.seconds(5))) == [Array("OK".utf8)])

        do {
            try router.send(multipart: [Array("nobody".utf8), Array("hello".utf8)])
            Issue.record("ROUTER_MANDATORY should refuse an unknown peer")
        } catch {
            #expect(error.isHostUnreachable)
        }
    }

    @Test("PAIR over inproc, receive timeouts return nil, and dontWait on an empty queue returns nil")
    func pairAndTimeouts() throws {
        let a = try context.socket(.pair)
        try a.bind("inproc://pair-test")
        let b = try context.socket(.pair)
        try b.connect("inproc://pair-test")
        #expect(try b.receiveFrame(wait: .dontWait) == nil)
        #expect(try b.receiveFrame(wait: .timeout(.milliseconds(50))) == nil)
        try a.send([UInt8]())
        #expect(try b.receiveFrame(wait: .timeout(.seconds(5))) == [])
        try a.send("tail", more: false)
        var message = ZMQMessage()
        #expect(try b.receive(into: &message, wait: .timeout(.seconds(5))))
        let text = message.string, count = message.count, more = message.hasMore
        #expect(text == "tail")
        #expect(count == 4)
        #expect(!more)
    }

    @Test("PUSH/PULL fans in from several pushers")
    func pushPull() throws {
        let pull = try context.socket(.pull)
        let endpoint = try pull.bind("tcp://127.0.0.1:*")
        let pushers = try (0..<3).map { _ in try context.socket(.push) }
        for (index, push) in pushers.enumerated() {
            try push.connect(endpoint)
            try push.send([UInt8(index)])
        }
        var seen: Set<UInt8> = []
        for _ in 0..<3 {
            let frame = try #require(try pull.receiveFrame(wait: .timeout(.seconds(5))))
            seen.insert(frame[0])
        }
        #expect(seen == [0, 1, 2])
    }

    @Test("XPUB sees subscriptions and XSUB forwards them")
    func xpubXsub() throws {
        let xpub = try context.socket(.xpub)
        try xpub.set(.xpubVerbose, true)
        try xpub.bind("inproc://xpub-test")
        let xsub = try context.socket(.xsub)
        try xsub.connect("inproc://xpub-test")
        try xsub.send([1] + Array("node1/".utf8))
        #expect(try xpub.receiveFrame(wait: .timeout(.seconds(5))) == [1] + Array("node1/".utf8))
        try xpub.send(multipart: [Array("node1/x".utf8), [5]])
        #expect(try xsub.receiveMultipart(wait: .timeout(.seconds(5))) == [Array("node1/x".utf8), [5]])
    }

    @Test("Errors name the call and the endpoint")
    func errors() throws {
        let socket = try context.socket(.pub)
        do {
            try socket.bind("bogus://nowhere")
            Issue.record("binding a bogus transport should fail")
        } catch {
            #expect(error.code == EPROTONOSUPPORT)
            #expect(error.description.contains("bogus://nowhere"))
            #expect(error.description.contains(error.message))
        }
        let endpoint = try socket.bind("tcp://127.0.0.1:*")
        let other = try context.socket(.pub)
        do {
            try other.bind(endpoint)
            Issue.record("binding a port in use should fail")
        } catch {
            #expect(error.code == EADDRINUSE)
        }
        try socket.unbind(endpoint)
        // The listener closes on libzmq's I/O thread, so the port frees shortly after unbind.
        var rebound = false
        for _ in 0..<200 where !rebound {
            rebound = (try? other.bind(endpoint)) != nil
            if !rebound { Thread.sleep(forTimeInterval: 0.01) }
        }
        #expect(rebound)
    }

    @Test("Every socket type opens and reports its type")
    func allTypes() throws {
        for type in SocketType.allCases {
            let socket = try context.socket(type)
            #expect(socket.type == type)
        }
    }
}
