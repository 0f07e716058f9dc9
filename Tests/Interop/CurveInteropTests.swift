import Testing
import ZeroMQ

@Suite("pyzmq interop: CURVE-secured PUB/SUB with allow-lists")
struct CurveInteropTests {
    @Test("Swift CURVE PUB + ZAPAuthenticator → Python SUBs: the listed key receives, the unlisted key nothing")
    func swiftCurvePublisherPythonSubscribers() throws {
        let context = try ZMQContext()
        let server = try CurveKeyPair.generate()
        let listed = try CurveKeyPair.generate()
        let unlisted = try CurveKeyPair.generate()
        let authenticator = try ZAPAuthenticator(context: context, allowedClientKeys: [listed.publicKey])
        defer { authenticator.stop() }
        let publisher = try context.socket(.pub)
        try publisher.makeCurveServer(secretKey: server.secretKey)
        let endpoint = try publisher.bind("tcp://127.0.0.1:*")

        // The keys travel to Python as Z85 text, which pyzmq hands to libzmq as-is. They are
        // passed as `--option=KEY` because a Z85 key may begin with "-", which argparse would
        // otherwise take for an option.
        func subscriber(_ name: String, _ keys: CurveKeyPair) throws -> PythonPeer {
            try PythonPeer(name, [
                "sub", "--connect", endpoint, "--subscribe", "node1/fridge/", "--monitor",
                "--curve-serverkey=\(server.publicKey.z85)",
                "--curve-publickey=\(keys.publicKey.z85)", "--curve-secretkey=\(keys.secretKey.z85)",
            ])
        }
        let good = try subscriber("listed SUB", listed)
        defer { good.kill() }
        let bad = try subscriber("unlisted SUB", unlisted)
        defer { bad.kill() }
        try good.waitFor("ready")
        try bad.waitFor("ready")

        // Publish until the listed client receives and the unlisted one has tried and been
        // refused, so "receives nothing" below is about a client that really was connecting.
        let isRefusal: (PeerEvent) -> Bool = { $0.event == "monitor" && $0.strings["name"] == "HANDSHAKE_FAILED_AUTH" }
        var rounds = 0
        while rounds < 400 {
            let received = good.hasPrinted("message"), refused = bad.events.contains(where: isRefusal)
            if (received && refused) || bad.hasPrinted("message") { break }
            rounds += 1
            try publishRound(publisher, rounds)
            if !received {
                _ = try good.poll("a first message", timeout: .milliseconds(25)) { $0.contains { $0.event == "message" } }
            } else {
                _ = try bad.poll("a refused handshake", timeout: .milliseconds(25)) { $0.contains(where: isRefusal) }
            }
        }
        try #require(!bad.hasPrinted("message"), "\(bad.failure("received a message with an unlisted key"))")
        try #require(good.hasPrinted("message"), "\(good.failure("received nothing in \(rounds) rounds"))")
        let refusal = try #require(bad.events.first(where: isRefusal), "\(bad.failure("never reported a refused handshake"))")
        #expect(refusal.integers["value"] == 400, "ZAP status \(refusal.line)")

        for _ in 0..<5 {
            rounds += 1
            try publishRound(publisher, rounds)
        }
        let last = lastMessage(ofRound: rounds, prefix: "node1/fridge/")
        try good.wait(for: "the last message of round \(rounds)") {
            $0.contains { $0.event == "message" && $0.frames == last }
        }
        // The unlisted client gets a further window in which nothing may arrive.
        _ = try bad.poll("any message", timeout: .milliseconds(300)) { $0.contains { $0.event == "message" } }
        try good.finish()
        try bad.finish()

        checkSubscription(good.events("message").map { $0.frames ?? [] }, prefix: "node1/fridge/", lastRound: rounds)
        #expect(bad.events("message").isEmpty, "the unlisted client received \(bad.events("message").count) messages")
        #expect(bad.events("done").first?.integers["received"] == 0)
        #expect(!good.hasPrinted("monitor") { $0.strings["name"]?.hasPrefix("HANDSHAKE_FAILED") == true })
        let decisions = authenticator.decisions
        #expect(decisions.accepted >= 1)
        #expect(decisions.refused >= 1)
    }

    @Test(
        "Python CURVE PUB + zmq.auth ThreadAuthenticator → Swift SUBs: the listed key receives, the unlisted key nothing",
        arguments: ["certs", "callback"])
    func pythonCurvePublisherSwiftSubscribers(authMode: String) throws {
        let listed = try CurveKeyPair.generate()
        let unlisted = try CurveKeyPair.generate()
        let alsoListed = try CurveKeyPair.generate()  // so the allow-list holds more than one key
        // The server key pair is made by pyzmq (zmq.curve_keypair) and read back from Z85 here.
        // "certs" lists the keys as *.key files for configure_curve; "callback" uses configure_curve_callback.
        let peer = try PythonPeer("CURVE PUB (\(authMode))", [
            "pub", "--curve-server", "--auth-mode", authMode,
            "--allow=\(alsoListed.publicKey.z85)", "--allow=\(listed.publicKey.z85)",  // "=": a key may start with "-"
        ])
        defer { peer.kill() }
        let bound = try peer.waitFor("bound")
        let endpoint = try #require(bound.endpoint)
        let serverKey = try CurveKey(z85: try #require(bound.strings["server_key"]))

        let context = try ZMQContext()
        func subscriber(_ keys: CurveKeyPair) throws -> ZMQSocket {
            let socket = try context.socket(.sub)
            try socket.makeCurveClient(serverKey: serverKey, keys: keys)
            try socket.subscribe("node1/fridge/")
            return socket
        }
        let good = try subscriber(listed)
        let goodMonitor = try ZMQSocketMonitor(good, events: .handshakeFailed)
        let bad = try subscriber(unlisted)
        let badMonitor = try ZMQSocketMonitor(bad, events: .handshakeFailed)
        try good.connect(endpoint)
        try bad.connect(endpoint)

        var received: [[[UInt8]]] = []
        var refusal: MonitorEvent?
        var leaked: [[[UInt8]]] = []  // whatever reaches the unlisted client
        var rounds = 0
        while rounds < 400 && (received.isEmpty || refusal == nil) && leaked.isEmpty {
            peer.send("round")
            rounds += 1
            // Wait on whichever is still missing; later rounds queue up for `receive` below.
            if received.isEmpty, let message = try good.receiveMultipart(wait: .timeout(.milliseconds(25))) {
                received.append(message)
            }
            if refusal == nil {
                refusal = try badMonitor.next(wait: received.isEmpty ? .dontWait : .timeout(.milliseconds(25)))
            }
            if let message = try bad.receiveMultipart(wait: .dontWait) {
                leaked.append(message)
            }
        }
        try #require(leaked.isEmpty, "the unlisted client received \(leaked.map(describe))")
        try #require(!received.isEmpty, "the listed Swift client received nothing in \(rounds) rounds")
        let failure = try #require(refusal, "the unlisted Swift client was never refused")
        #expect(failure.event == .handshakeFailedAuth, "\(failure)")
        #expect(failure.value == 400, "\(failure)")

        peer.send("rounds 5")
        rounds += 5
        received += try receive(good, through: lastMessage(ofRound: rounds, prefix: "node1/fridge/"))
        checkSubscription(received, prefix: "node1/fridge/", lastRound: rounds)
        // The unlisted client gets a further window in which nothing may arrive.
        let late = try bad.receiveMultipart(wait: .timeout(.milliseconds(300)))
        #expect(late == nil, "the unlisted client received \(late.map(describe) ?? "")")
        #expect(try goodMonitor.next(wait: .dontWait) == nil, "the listed client's handshake failed")
        try peer.finish()
    }
}
