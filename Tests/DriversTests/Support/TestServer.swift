import Dispatch
import Foundation
import Glibc
import HAL
import Synchronization

/// A failed libc call in the test fixtures.
struct FixtureError: Error, CustomStringConvertible {
    let description: String
}

/// Runs a libc call that returns -1 on failure, retrying EINTR, throwing a FixtureError otherwise.
@discardableResult
func fixtureCall<Value: FixedWidthInteger>(_ what: String, _ call: () -> Value) throws -> Value {
    while true {
        let value = call()
        if value != -1 { return value }
        if errno != EINTR { throw FixtureError(description: "\(what): \(String(cString: strerror(errno)))") }
    }
}

/// A TCP server on 127.0.0.1 for the tests: it accepts one connection at a time on its own thread and hands
/// each to `handler`. Port 0 picks a free port; passing an earlier server's port restarts "the same"
/// instrument (SO_REUSEADDR). With `accepting: false` it only listens, so that connects queue up.
final class TestServer: Sendable {
    let port: UInt16
    private let listener: Int32
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let accepting: Bool
    private let acceptedCount = Atomic<Int>(0)

    init(
        port: UInt16 = 0, backlog: Int32 = 16, accepting: Bool = true,
        handler: @escaping @Sendable (ServerConnection) -> Void = { _ in }
    ) throws {
        let descriptor = try fixtureCall("socket") {
            socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        }
        var one: Int32 = 1
        try fixtureCall("setsockopt") {
            setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        try withUnsafePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                _ = try fixtureCall("bind") {
                    bind(descriptor, generic, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        try fixtureCall("listen") { listen(descriptor, backlog) }
        var bound = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &bound) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                _ = try fixtureCall("getsockname") { getsockname(descriptor, generic, &length) }
            }
        }
        self.port = UInt16(bigEndian: bound.sin_port)
        listener = descriptor
        self.accepting = accepting
        if accepting {
            Thread.detachNewThread { [self] in
                serve(handler)
                finished.signal()
            }
        }
    }

    /// How many connections the server has accepted.
    var connectionCount: Int { acceptedCount.load(ordering: .acquiring) }

    var isStopping: Bool { stopping.load(ordering: .acquiring) }

    /// Stops accepting, ends the current connection's handler (its reads return nil) and closes the port.
    func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        if accepting { _ = finished.wait(timeout: .now() + 10) }
        close(listener)
    }

    deinit {
        stop()
    }

    private func serve(_ handler: @Sendable (ServerConnection) -> Void) {
        while !isStopping {
            var entry = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 20) > 0 else { continue }
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { continue }
            acceptedCount.add(1, ordering: .releasing)
            let peer = ServerConnection(descriptor: connection, server: self)
            handler(peer)
            peer.close()
        }
    }
}

/// The server's end of one connection. Reads give up (nil) when the peer closes or the server stops.
final class ServerConnection {
    private var descriptor: Int32
    private unowned let server: TestServer
    private var buffer: [UInt8] = []

    init(descriptor: Int32, server: TestServer) {
        self.descriptor = descriptor
        self.server = server
    }

    /// Receives more bytes into the buffer; false on end of stream or when the server stops.
    private func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while !server.isStopping && descriptor >= 0 {
            var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 20) > 0 else { continue }
            let count = recv(descriptor, &chunk, chunk.count, 0)
            if count > 0 {
                buffer += chunk[..<count]
                return true
            }
            if count == 0 || errno != EINTR { return false }
        }
        return false
    }

    /// Exactly `count` bytes, or nil.
    func read(count: Int) -> [UInt8]? {
        while buffer.count < count {
            guard fill() else { return nil }
        }
        defer { buffer.removeFirst(count) }
        return Array(buffer[..<count])
    }

    /// One program message up to "\n", read the way an IEEE 488.2 parser does: the data of a definite
    /// block `#<n><length>` is skipped over, so a "\n" inside it does not end the message. Without the
    /// terminator; nil at end of stream.
    func readMessage() -> [UInt8]? {
        var index = 0
        while true {
            while index >= buffer.count {
                guard fill() else { return nil }
            }
            let byte = buffer[index]
            if byte == UInt8(ascii: "\n") {
                let message = Array(buffer[..<index])
                buffer.removeFirst(index + 1)
                return message
            }
            if byte == UInt8(ascii: "#") {
                while buffer.count < index + 2 {
                    guard fill() else { return nil }
                }
                let digits = Int(buffer[index + 1]) - Int(UInt8(ascii: "0"))
                if (1...9).contains(digits) {
                    while buffer.count < index + 2 + digits {
                        guard fill() else { return nil }
                    }
                    let length = Int(String(decoding: buffer[(index + 2)..<(index + 2 + digits)], as: UTF8.self)) ?? 0
                    index += 2 + digits + length
                    continue
                }
            }
            index += 1
        }
    }

    /// Holds the connection open without reading from it, until the server stops.
    func idle() {
        while !server.isStopping { usleep(5000) }
    }

    func send(_ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count && descriptor >= 0 {
            let count = bytes[sent...].withUnsafeBytes {
                Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if count < 0 && errno != EINTR { return }
            if count > 0 { sent += count }
        }
    }

    func send(_ text: String) {
        send(Array(text.utf8))
    }

    func close() {
        if descriptor >= 0 { Glibc.close(descriptor) }
        descriptor = -1
    }
}

/// A port on 127.0.0.1 that nothing listens on: bound, then closed.
func closedPort() throws -> UInt16 {
    let server = try TestServer(accepting: false)
    let port = server.port
    server.stop()
    return port
}

/// Runs `body` on `count` threads at once and waits for all; false if they did not finish within
/// `seconds` (a hang guard, not a speed check).
func runOnThreads(_ count: Int, seconds: Double = 30, _ body: @escaping @Sendable (Int) -> Void) -> Bool {
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        Thread.detachNewThread {
            body(index)
            group.leave()
        }
    }
    return group.wait(timeout: .now() + seconds) == .success
}

/// Runs a throwing call on its own thread; ``result(seconds:)`` waits for it (a hang guard).
final class Background<Value: Sendable>: Sendable {
    private let outcome = Mutex<Result<Value, InstrumentError>?>(nil)
    private let done = DispatchSemaphore(value: 0)

    init(_ body: @escaping @Sendable () throws(InstrumentError) -> Value) {
        Thread.detachNewThread { [self] in
            let result = Result { () throws(InstrumentError) in try body() }
            outcome.withLock { $0 = result }
            done.signal()
        }
    }

    /// The call's result, or nil if it has not finished within `seconds`.
    func result(seconds: Double = 20) -> Result<Value, InstrumentError>? {
        guard done.wait(timeout: .now() + seconds) == .success else { return nil }
        return outcome.withLock { $0 }
    }
}
