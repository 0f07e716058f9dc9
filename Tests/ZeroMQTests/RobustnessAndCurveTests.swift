import Foundation
import Testing
@testable import ZeroMQ

@Suite("Shutdown, high-water marks and CURVE")
struct RobustnessAndCurveTests {
    @Test("A receive blocked forever ends with ETERM when the context shuts down")
    func blockedReceiveEndsAtShutdown() throws {
        let context = try ZMQContext()
        let ready = DispatchSemaphore(value: 0)
        let receiver = try Background { () -> ZMQError? in
            do {
                let socket = try context.socket(.pull)
                try socket.bind("inproc://blocked")
                ready.signal()
                _ = try socket.receiveFrame(wait: .forever)
                return nil
            } catch let error as ZMQError {
                return error
            } catch {
                return nil
            }
        }
        #expect(ready.wait(timeout: .now() + 10) == .success)
        Thread.sleep(forTimeInterval: 0.05)
        context.shutdown()
        let outcome = receiver.wait()
        #expect(outcome??.isContextTerminated == true)
    }

    @Test("PUB drops at its high-water mark instead of blocking")
    func pubDropsAtHighWaterMark() throws {
        let context = try ZMQContext()
        let publisher = try context.socket(.pub)
        try publisher.set(.sendHighWaterMark, 10)
        try publisher.bind("inproc://hwm-pub")
        let subscriber = try context.socket(.sub)
        try subscriber.set(.receiveHighWaterMark, 10)
        try subscriber.subscribe("")
        try subscriber.connect("inproc://hwm-pub")
        try awaitSubscription(publisher, subscriber, probe: "probe")
        for i in 0..<1_000 {
            try publisher.send([UInt8(truncatingIfNeeded: i)], wait: .dontWait)  // never throws EAGAIN
        }
        var received = 0
        while try subscriber.receiveFrame(wait: .timeout(.milliseconds(100))) != nil { received += 1 }
        #expect(received > 0)
        #expect(received <= 40, "inproc queues hold SNDHWM + RCVHWM messages; \(received) arrived")
    }

    @Test("XPUB with XPUB_NODROP reports would-block at its high-water mark")
    func xpubNoDropReportsWouldBlock() throws {
        let context = try ZMQContext()
        let publisher = try context.socket(.xpub)
        try publisher.set(.xpubNoDrop, true)
        try publisher.set(.sendHighWaterMark, 10)
        try publisher.bind("inproc://hwm-xpub")
        let subscriber = try context.socket(.sub)
        try subscriber.set(.receiveHighWaterMark, 10)
        try subscriber.subscribe("")
        try subscriber.connect("inproc://hwm-xpub")
        #expect(try publisher.receiveFrame(wait: .timeout(.seconds(5))) == [1])  // the subscription
        var accepted = 0
        var wouldBlock: ZMQError?
        for _ in 0..<1_000 {
            do {
                try publisher.send([7], wait: .dontWait)
                accepted += 1
            } catch {
                wouldBlock = error
                break
            }
        }
        #expect(wouldBlock?.isWouldBlock == true)
        #expect(accepted >= 10 && accepted <= 40)
        do {
            try publisher.send([7], wait: .timeout(.milliseconds(30)))
            Issue.record("a full XPUB_NODROP queue should time out")
        } catch {
            #expect(error.isWouldBlock)
        }
    }

    @Test("CURVE keys round-trip through Z85 and malformed keys are refused")
    func curveKeys() throws {
        let pair = try CurveKeyPair.generate()
        #expect(pair.publicKey.z85.count == 40)
        #expect(try CurveKey(z85: pair.publicKey.z85) == pair.publicKey)
        #expect(try CurveKeyPair(secretKey: pair.secretKey).publicKey == pair.publicKey)
        #expect(throws: ZMQError.self) { try CurveKey(z85: "short") }
        #expect(throws: ZMQError.self) { try CurveKey(z85: String(repeating: "~", count: 40)) }
        #expect(throws: ZMQError.self) { try CurveKey(bytes: [1, 2, 3]) }
        do { _ = try CurveKey(z85: "short") } catch { #expect(error.description.contains("40 Z85 characters")) }
    }

    @Test("A CURVE PUB with a ZAP allow-list serves listed clients and refuses the rest")
    func curveAllowList() throws {
        let context = try ZMQContext()
        let server = try CurveKeyPair.generate()
        let listed = try CurveKeyPair.generate()
        let unlisted = try CurveKeyPair.generate()
        let authenticator = try ZAPAuthenticator(context: context, allowedClientKeys: [listed.publicKey])
        defer { authenticator.stop() }

        let publisher = try context.socket(.pub)
        try publisher.makeCurveServer(secretKey: server.secretKey)
        let monitor = try ZMQSocketMonitor(publisher, events: .handshakeFailedAuth)
        let endpoint = try publisher.bind("tcp://127.0.0.1:*")

        let good = try context.socket(.sub)
        try good.makeCurveClient(serverKey: server.publicKey, keys: listed)
        try good.subscribe("")
        try good.connect(endpoint)
        let bad = try context.socket(.sub)
        try bad.makeCurveClient(serverKey: server.publicKey, keys: unlisted)
        try bad.subscribe("")
        try bad.connect(endpoint)

        try awaitSubscription(publisher, good, probe: "telemetry")
        let refusal = try #require(try monitor.waitFor(.handshakeFailedAuth, timeout: .seconds(5)))
        #expect(refusal.value == 400)
        for _ in 0..<20 { try publisher.send("telemetry") }
        #expect(try bad.receiveFrame(wait: .timeout(.milliseconds(300))) == nil)
        #expect(authenticator.decisions.accepted >= 1)
        #expect(authenticator.decisions.refused >= 1)
    }

    @Test("Releasing the authenticator does not open the door: an unlisted client is still refused")
    func authenticatorFailsClosed() throws {
        let context = try ZMQContext()
        defer { context.shutdown() }  // ends the handler thread that outlives its authenticator
        let server = try CurveKeyPair.generate()
        let unlisted = try CurveKeyPair.generate()
        var authenticator: ZAPAuthenticator? = try ZAPAuthenticator(context: context, allowedClientKeys: [])
        authenticator = nil
        #expect(authenticator == nil)
        let publisher = try context.socket(.pub)
        try publisher.makeCurveServer(secretKey: server.secretKey)
        let monitor = try ZMQSocketMonitor(publisher, events: .handshakeFailedAuth)
        let endpoint = try publisher.bind("tcp://127.0.0.1:*")
        let client = try context.socket(.sub)
        try client.makeCurveClient(serverKey: server.publicKey, keys: unlisted)
        try client.subscribe("")
        try client.connect(endpoint)
        #expect(try monitor.waitFor(.handshakeFailedAuth, timeout: .seconds(5))?.value == 400)
        for _ in 0..<10 { try publisher.send("secret telemetry") }
        #expect(try client.receiveFrame(wait: .timeout(.milliseconds(200))) == nil)
    }

    @Test("Printing a key pair never shows the secret key")
    func keyPairRedactsSecret() throws {
        let pair = try CurveKeyPair.generate()
        for text in ["\(pair)", String(reflecting: pair), String(describing: Mirror(reflecting: pair).children.map(\.value))] {
            #expect(!text.contains(pair.secretKey.z85))
        }
        #expect("\(pair)".contains(pair.publicKey.z85))
    }

    @Test("Binary subscription prefixes filter like text ones")
    func binarySubscription() throws {
        let context = try ZMQContext()
        let publisher = try context.socket(.pub)
        try publisher.bind("inproc://binary-topics")
        let subscriber = try context.socket(.sub)
        try subscriber.subscribe([0x00, 0xFF])
        try subscriber.connect("inproc://binary-topics")
        try publisher.send([0x01, 0xFF, 1])
        try publisher.send([0x00, 0xFF, 2])
        #expect(try subscriber.receiveFrame(wait: .timeout(.seconds(5))) == [0x00, 0xFF, 2])
        try subscriber.unsubscribe([0x00, 0xFF])
        try publisher.send([0x00, 0xFF, 3])
        #expect(try subscriber.receiveFrame(wait: .timeout(.milliseconds(100))) == nil)
    }

    @Test("The ZAP handler answers malformed and non-CURVE requests with refusals")
    func zapReplies() {
        let key = [UInt8](repeating: 3, count: 32)
        let policy = ZAPPolicy(allowed: [CurveKey(validatedBytes: key)], domain: "lab")
        let request: ([UInt8], String, String, [UInt8]?) -> [[UInt8]] = { id, domain, mechanism, credential in
            var frames = [Array("1.0".utf8), id, Array(domain.utf8), Array("127.0.0.1".utf8), [], Array(mechanism.utf8)]
            if let credential { frames.append(credential) }
            return frames
        }
        #expect(policy.reply(to: request([1], "lab", "CURVE", key))[2] == Array("200".utf8))
        #expect(policy.reply(to: request([2], "other", "CURVE", key))[2] == Array("400".utf8))
        #expect(policy.reply(to: request([3], "lab", "NULL", nil))[2] == Array("400".utf8))
        #expect(policy.reply(to: request([4], "lab", "CURVE", [UInt8](repeating: 9, count: 32)))[2] == Array("400".utf8))
        let malformed = policy.reply(to: [Array("2.0".utf8), [5]])
        #expect(malformed[1] == [5])
        #expect(malformed[2] == Array("500".utf8))
        #expect(policy.counters.withLock { $0 } == (accepted: 1, refused: 4))
    }
}
