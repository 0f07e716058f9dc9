import Foundation
import Glibc
import HAL
import Testing

@testable import Drivers

/// Reads from `transport` until `count` bytes have arrived.
func read(_ count: Int, from transport: some ByteTransport, timeout: Duration = .seconds(10)) throws(TransportError) -> [UInt8] {
    var received: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while received.count < count {
        let result = chunk.withUnsafeMutableBytes { buffer in
            Result { () throws(TransportError) in
                try transport.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<(count - received.count)]), timeout: timeout)
            }
        }
        received += chunk[..<(try result.get())]
    }
    return received
}

/// A server that echoes every byte back.
func echoServer(port: UInt16 = 0) throws -> TestServer {
    try TestServer(port: port) { connection in
        while let byte = connection.read(count: 1) { connection.send(byte) }
    }
}

@Suite("TCP transport", .timeLimit(.minutes(1)))
struct TCPTransportTests {
    @Test("Bytes written come back from an echo server; connecting is lazy")
    func echo() throws {
        let server = try echoServer()
        let transport = TCPTransport(host: "127.0.0.1", port: server.port)
        #expect(!transport.isConnected)
        #expect(server.connectionCount == 0)
        try transport.write(Array("hello\n".utf8), timeout: .seconds(5))
        #expect(transport.isConnected)
        #expect(try read(6, from: transport) == Array("hello\n".utf8))
        #expect(transport.resource.description == "TCPIP0::127.0.0.1::\(server.port)::SOCKET")
        #expect(transport.recentConnectAttempts == [.init(backoff: .zero, failureErrno: nil)])
    }

    @Test("A host name resolves through getaddrinfo")
    func resolvesNames() throws {
        let server = try echoServer()
        let transport = TCPTransport(host: "localhost", port: server.port)
        try transport.write(Array("x".utf8), timeout: .seconds(5))
        #expect(try read(1, from: transport) == Array("x".utf8))
    }

    @Test("A read with nothing to read times out, naming the resource")
    func readTimeout() throws {
        let server = try TestServer { connection in _ = connection.read(count: 1) }
        let transport = TCPTransport(host: "127.0.0.1", port: server.port)
        let error = #expect(throws: TransportError.self) { try read(1, from: transport, timeout: .milliseconds(50)) }
        #expect(error?.kind == .timeout)
        #expect(error?.resource == transport.resource)
        #expect(transport.isConnected)
    }

    @Test("Connecting to a port nobody listens on fails with ECONNREFUSED")
    func connectionRefused() throws {
        let port = try closedPort()
        let transport = TCPTransport(host: "127.0.0.1", port: port)
        let error = #expect(throws: TransportError.self) { try transport.connect() }
        guard case .connectFailed(let code, let message) = error?.kind else {
            Issue.record("expected connectFailed, got \(String(describing: error))")
            return
        }
        #expect(code == ECONNREFUSED)
        #expect(message.contains("connect"))
        #expect(error?.description.contains("127.0.0.1 port \(port)") == true)
    }

    @Test("A connect that gets no answer gives up after the connect timeout")
    func connectTimeout() throws {
        // With a backlog of 0 and nobody accepting, Linux queues one connection and then drops SYNs.
        let server = try TestServer(backlog: 0, accepting: false)
        let first = TCPTransport(host: "127.0.0.1", port: server.port)
        try first.connect()
        let options = TCPTransport.Options(connectTimeout: .milliseconds(100))
        let second = TCPTransport(host: "127.0.0.1", port: server.port, options: options)
        let error = #expect(throws: TransportError.self) { try second.connect() }
        guard case .connectFailed(let code, let message) = error?.kind else {
            Issue.record("expected connectFailed, got \(String(describing: error))")
            return
        }
        #expect(code == ETIMEDOUT)
        #expect(message.contains("connect timeout"))
    }

    @Test("The peer closing the connection is .disconnected, and writes to it never raise SIGPIPE")
    func peerClose() throws {
        let server = try TestServer { connection in
            connection.send("bye")
        }
        let transport = TCPTransport(host: "127.0.0.1", port: server.port)
        #expect(try read(3, from: transport) == Array("bye".utf8))
        let error = #expect(throws: TransportError.self) { try read(1, from: transport) }
        #expect(error?.kind == .disconnected)
        #expect(!transport.isConnected)

        // Writing into a connection the peer closed: the first send may still succeed, a later one gets
        // EPIPE or ECONNRESET. Without MSG_NOSIGNAL the process would die here.
        let closing = try TestServer { connection in connection.close() }
        let writer = TCPTransport(host: "127.0.0.1", port: closing.port)
        try writer.connect()
        var failure: TransportError?
        for _ in 0..<200 where failure == nil {
            do {
                try writer.write([UInt8](repeating: 0x41, count: 1024), timeout: .seconds(1))
                Thread.sleep(forTimeInterval: 0.005)
            } catch {
                failure = error
            }
        }
        #expect(failure?.kind == .disconnected)
    }

    @Test("After the server restarts on the same port, the next operations reconnect")
    func reconnectsAfterRestart() throws {
        let options = TCPTransport.Options(initialBackoff: .milliseconds(1), maximumBackoff: .milliseconds(8))
        var server = try echoServer()
        let port = server.port
        let transport = TCPTransport(host: "127.0.0.1", port: port, options: options)
        try transport.write(Array("a".utf8), timeout: .seconds(5))
        #expect(try read(1, from: transport) == Array("a".utf8))

        server.stop()
        let lost = #expect(throws: TransportError.self) { try read(1, from: transport) }
        #expect(lost?.kind == .disconnected)
        let refused = #expect(throws: TransportError.self) { try transport.connect() }
        #expect(refused?.errno == ECONNREFUSED)

        server = try echoServer(port: port)
        var echoed: [UInt8]?
        for _ in 0..<2000 where echoed == nil {
            do {
                try transport.write(Array("b".utf8), timeout: .seconds(5))
                echoed = try read(1, from: transport)
            } catch {
                Thread.sleep(forTimeInterval: 0.001)
            }
        }
        #expect(echoed == Array("b".utf8))
        #expect(server.connectionCount == 1)
        #expect(transport.recentConnectAttempts.last?.failureErrno == nil)
        #expect(transport.recentConnectAttempts.dropFirst().first?.failureErrno == ECONNREFUSED)
    }

    @Test("The wait between failed connects doubles up to the maximum")
    func backoffGrows() throws {
        let port = try closedPort()
        let options = TCPTransport.Options(initialBackoff: .milliseconds(1), maximumBackoff: .milliseconds(8))
        let transport = TCPTransport(host: "127.0.0.1", port: port, options: options)
        for _ in 0..<5000 where transport.recentConnectAttempts.count < 7 {
            #expect(throws: TransportError.self) { try transport.connect() }
            Thread.sleep(forTimeInterval: 0.0005)
        }
        let attempts = transport.recentConnectAttempts
        #expect(attempts.map(\.backoff) == [0, 1, 2, 4, 8, 8, 8].map { .milliseconds($0) })
        #expect(attempts.allSatisfy { $0.failureErrno == ECONNREFUSED })
        #expect(options.backoff(afterFailures: 1000) == .milliseconds(8))
    }

    @Test("Inside the backoff window an operation fails at once without a connect attempt")
    func failsFastDuringBackoff() throws {
        let port = try closedPort()
        let options = TCPTransport.Options(initialBackoff: .seconds(30), maximumBackoff: .seconds(60))
        let transport = TCPTransport(host: "127.0.0.1", port: port, options: options)
        #expect(throws: TransportError.self) { try transport.connect() }
        let error = #expect(throws: TransportError.self) {
            try transport.write(Array("x".utf8), timeout: .seconds(1))
        }
        guard case .connectFailed(let code, let message) = error?.kind else {
            Issue.record("expected connectFailed, got \(String(describing: error))")
            return
        }
        #expect(code == ECONNREFUSED)
        #expect(message.contains("backoff"))
        #expect(transport.recentConnectAttempts.count == 1)
    }

    @Test("Megabytes written in one call arrive whole", arguments: [1, 4 << 20])
    func largeWrite(size: Int) throws {
        let server = try TestServer { connection in
            guard let data = connection.read(count: size) else { return }
            let sum = data.reduce(UInt64(0)) { $0 &* 31 &+ UInt64($1) }
            connection.send("\(data.count) \(sum)\n")
        }
        let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ $0 >> 9) }
        let expectedSum = payload.reduce(UInt64(0)) { $0 &* 31 &+ UInt64($1) }
        let transport = TCPTransport(host: "127.0.0.1", port: server.port)
        try transport.write(payload, timeout: .seconds(30))
        let expected = Array("\(size) \(expectedSum)\n".utf8)
        #expect(try read(expected.count, from: transport) == expected)
    }

    @Test("A write the peer does not take times out and drops the half-sent connection")
    func writeTimeout() throws {
        let server = try TestServer { connection in connection.idle() }
        let transport = TCPTransport(host: "127.0.0.1", port: server.port)
        let error = #expect(throws: TransportError.self) {
            try transport.write([UInt8](repeating: 0x55, count: 64 << 20), timeout: .milliseconds(200))
        }
        #expect(error?.kind == .timeout)
        #expect(error?.operation == "write 67108864 bytes")
        #expect(!transport.isConnected)
        try transport.write(Array("x".utf8), timeout: .seconds(5))
        #expect(transport.recentConnectAttempts.count == 2)
    }

    @Test("discardInput drops bytes that arrived unread, without blocking")
    func discardsInput() throws {
        let server = try TestServer { connection in
            connection.send("stale reply that nobody waits for\n")
            while let message = connection.readMessage() {
                connection.send(String(decoding: message, as: UTF8.self) + "!\n")
            }
        }
        let transport = TCPTransport(host: "127.0.0.1", port: server.port)
        #expect(try read(1, from: transport) == Array("s".utf8))
        try transport.discardInput()
        try transport.discardInput()
        try transport.write(Array("ping\n".utf8), timeout: .seconds(5))
        #expect(try read(6, from: transport) == Array("ping!\n".utf8))
    }

    @Test("After close every operation throws .closed")
    func closed() throws {
        let server = try echoServer()
        let transport = TCPTransport(host: "127.0.0.1", port: server.port)
        try transport.connect()
        transport.close()
        let error = #expect(throws: TransportError.self) { try transport.write(Array("x".utf8), timeout: .seconds(1)) }
        #expect(error?.kind == .closed)
        #expect(throws: TransportError.self) { try read(1, from: transport) }
    }
}
