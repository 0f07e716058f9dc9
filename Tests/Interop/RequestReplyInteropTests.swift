import Testing
import ZeroMQ

@Suite("pyzmq interop: REQ/REP")
struct RequestReplyInteropTests {
    @Test("Python REP ↔ Swift REQ: five round trips with multipart requests and replies")
    func pythonReplierSwiftRequester() throws {
        let peer = try PythonPeer("REP", ["rep"])
        defer { peer.kill() }
        let endpoint = try #require(try peer.waitFor("bound").endpoint)

        let context = try ZMQContext()
        let requester = try context.socket(.req)
        try requester.connect(endpoint)
        var sent: [[[UInt8]]] = []
        for sequence in 0..<5 {
            let request: [[UInt8]] = [Array("MEAS:TEMP?".utf8), Array("\(sequence)".utf8), [0x00, 0xFF, UInt8(sequence)], []]
            try requester.send(multipart: request, wait: .timeout(.seconds(5)))
            sent.append(request)
            let reply = try #require(try requester.receiveMultipart(wait: .timeout(.seconds(10))),
                                     "no reply to request \(sequence)")
            // zmq_peer.py answers [f0, f1, ...] with ["ack", seq, ..., f1, f0].
            #expect(reply == [Array("ack".utf8), Array("\(sequence)".utf8)] + request.reversed(),
                    "reply \(sequence) is \(describe(reply))")
        }
        try peer.finish()
        #expect(peer.events("request").map { $0.frames ?? [] } == sent)
        #expect(peer.events("done").first?.integers["served"] == 5)
    }

    @Test("Swift REP ↔ Python REQ: five round trips with multipart requests and replies")
    func swiftReplierPythonRequester() throws {
        let context = try ZMQContext()
        let replier = try context.socket(.rep)
        let endpoint = try replier.bind("tcp://127.0.0.1:*")
        let peer = try PythonPeer("REQ", ["req", "--connect", endpoint, "--count", "5"])
        defer { peer.kill() }

        var replies: [[[UInt8]]] = []
        for sequence in 0..<5 {
            let request = try #require(try replier.receiveMultipart(wait: .timeout(.seconds(10))),
                                       "request \(sequence) never arrived")
            // zmq_peer.py sends ["*IDN?", seq, [seq, 0x00, 0xFF]].
            #expect(request == [Array("*IDN?".utf8), Array("\(sequence)".utf8), [UInt8(sequence), 0x00, 0xFF]],
                    "request \(sequence) is \(describe(request))")
            let reply: [[UInt8]] = [Array("LSCI".utf8), Array("MODEL372".utf8), request[1], [0xFF, 0x00, UInt8(sequence)], []]
            try replier.send(multipart: reply, wait: .timeout(.seconds(5)))
            replies.append(reply)
        }
        try peer.waitFor("done")
        try peer.finish()
        #expect(peer.events("reply").map { $0.frames ?? [] } == replies)
    }
}
