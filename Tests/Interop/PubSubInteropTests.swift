import Testing
import ZeroMQ

@Suite("pyzmq interop: PUB/SUB")
struct PubSubInteropTests {
    @Test("Python PUB → Swift SUB: exactly the node1/fridge/ messages, frame for frame")
    func pythonPublisherSwiftSubscriber() throws {
        let peer = try PythonPeer("PUB", ["pub"])
        defer { peer.kill() }
        let endpoint = try #require(try peer.waitFor("bound").endpoint)

        let context = try ZMQContext()
        let subscriber = try context.socket(.sub)
        try subscriber.subscribe("node1/fridge/")
        try subscriber.connect(endpoint)

        // Slow joiner: the subscription reaches the publisher a little after connect, and what
        // is published before then is dropped. Ask for rounds until one gets through.
        var received: [[[UInt8]]] = []
        var rounds = 0
        while received.isEmpty && rounds < 400 {
            peer.send("round")
            rounds += 1
            if let message = try subscriber.receiveMultipart(wait: .timeout(.milliseconds(25))) {
                received.append(message)
            }
        }
        try #require(!received.isEmpty, "nothing arrived while Python published \(rounds) rounds")

        peer.send("rounds 5")
        rounds += 5
        received += try receive(subscriber, through: lastMessage(ofRound: rounds, prefix: "node1/fridge/"))
        #expect(try subscriber.receiveMultipart(wait: .timeout(.milliseconds(200))) == nil)
        checkSubscription(received, prefix: "node1/fridge/", lastRound: rounds)

        try peer.finish()
        #expect(peer.events("done").first?.integers["rounds"] == rounds)
    }

    @Test("Swift PUB → Python SUB: exactly the node1/ messages, frame for frame")
    func swiftPublisherPythonSubscriber() throws {
        let context = try ZMQContext()
        let publisher = try context.socket(.pub)
        let endpoint = try publisher.bind("tcp://127.0.0.1:*")
        let peer = try PythonPeer("SUB", ["sub", "--connect", endpoint, "--subscribe", "node1/"])
        defer { peer.kill() }
        try peer.waitFor("ready")

        var rounds = 0
        var joined = false
        while !joined && rounds < 400 {
            rounds += 1
            try publishRound(publisher, rounds)
            joined = try peer.poll("a first message", timeout: .milliseconds(25)) {
                $0.contains { $0.event == "message" }
            } != nil
        }
        try #require(joined, "Python received nothing while Swift published \(rounds) rounds")

        for _ in 0..<5 {
            rounds += 1
            try publishRound(publisher, rounds)
        }
        let last = lastMessage(ofRound: rounds, prefix: "node1/")
        try peer.wait(for: "the last message of round \(rounds)") {
            $0.contains { $0.event == "message" && $0.frames == last }
        }
        try peer.finish()

        let received = peer.events("message").map { $0.frames ?? [] }
        checkSubscription(received, prefix: "node1/", lastRound: rounds)
        #expect(peer.events("done").first?.integers["received"] == received.count)
    }
}
