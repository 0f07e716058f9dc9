import Foundation
import Synchronization
import Testing
@testable import ZeroMQ

@Suite("Message ownership, options, poller and monitor")
struct OwnershipAndOptionsTests {
    let context: ZMQContext

    init() throws { context = try ZMQContext() }

    @Test("A million messages through send and receive leave resident memory flat")
    func churnDoesNotLeak() throws {
        let push = try context.socket(.push)
        try push.bind("inproc://churn")
        let pull = try context.socket(.pull)
        try pull.connect("inproc://churn")
        let payload = [UInt8](repeating: 0xA5, count: 100)  // above libzmq's 33-byte inline size
        var inbox = ZMQMessage()
        var total = 0
        func run(_ count: Int) throws {
            for i in 0..<count {
                if i % 3 == 0 {
                    try push.send(ZMQMessage(copying: payload))
                } else {
                    try push.send(payload)
                }
                #expect(try pull.receive(into: &inbox), "message \(i)")
                total += inbox.count
            }
        }
        try run(100_000)
        // Resident memory is the whole process's, and other suites run alongside (some allocate hundreds of
        // MB for a while), so measure three windows of 300,000 messages: a leak grows every one of them, a
        // neighbour's allocation at most some. A leaked zmq_msg_t content per message would cost over 30 MB
        // per window.
        var growths: [Int] = []
        for _ in 0..<3 {
            let before = residentBytes()
            try run(300_000)
            growths.append(residentBytes() - before)
        }
        #expect(total == 1_000_000 * payload.count)
        #expect(growths.min()! < 8 << 20, "resident memory grew by \(growths) bytes in each window")
    }

    @Test("A zero-copy message is sent from the caller's buffer and released exactly once")
    func zeroCopy() throws {
        let releases = Atomic<Int>(0)
        let size = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
        for i in 0..<size { buffer[i] = UInt8(truncatingIfNeeded: i &* 31) }
        let expected = Array(buffer)
        let push = try context.socket(.push)
        try push.bind("inproc://zero-copy")
        let pull = try context.socket(.pull)
        try pull.connect("inproc://zero-copy")
        try push.send(ZMQMessage(noCopy: buffer, release: { released in
            released.deallocate()
            releases.add(1, ordering: .relaxed)
        }))
        var inbox = ZMQMessage()
        #expect(try pull.receive(into: &inbox, wait: .timeout(.seconds(5))))
        let received = inbox.bytes
        #expect(received == expected)
        #expect(releases.load(ordering: .relaxed) == 0, "inproc hands over the same buffer; it is still in use")
        inbox = ZMQMessage()
        #expect(releases.load(ordering: .relaxed) == 1)
    }

    @Test("A message that is never sent is closed by its owner, releasing its buffer")
    func unsentMessageIsReleased() throws {
        let releases = Atomic<Int>(0)
        do {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 8)
            let message = try ZMQMessage(noCopy: buffer, release: { $0.deallocate(); releases.add(1, ordering: .relaxed) })
            _ = consume message
        }
        #expect(releases.load(ordering: .relaxed) == 1)
    }

    @Test("Options read back what was set")
    func optionsRoundTrip() throws {
        let socket = try context.socket(.sub)
        try socket.set(.sendHighWaterMark, 123)
        #expect(try socket.get(.sendHighWaterMark) == 123)
        try socket.set(.receiveHighWaterMark, 0)
        #expect(try socket.get(.receiveHighWaterMark) == 0)
        #expect(try socket.get(.linger) == ZMQSocket.defaultLinger)
        try socket.set(.linger, nil)
        #expect(try socket.get(.linger) == nil)
        try socket.set(.linger, .milliseconds(250))
        #expect(try socket.get(.linger) == .milliseconds(250))
        try socket.set(.receiveTimeout, .milliseconds(1500))
        #expect(try socket.get(.receiveTimeout) == .milliseconds(1500))
        try socket.set(.heartbeatInterval, .milliseconds(500))
        #expect(try socket.get(.heartbeatInterval) == .milliseconds(500))
        try socket.set(.heartbeatTTL, .seconds(3))
        #expect(try socket.get(.heartbeatTTL) == .seconds(3))
        try socket.set(.heartbeatTimeout, .seconds(2))
        #expect(try socket.get(.heartbeatTimeout) == .seconds(2))
        try socket.set(.immediate, true)
        #expect(try socket.get(.immediate))
        try socket.set(.tcpKeepalive, true)
        #expect(try socket.get(.tcpKeepalive))
        try socket.set(.tcpKeepaliveIdle, 30)
        #expect(try socket.get(.tcpKeepaliveIdle) == 30)
        try socket.set(.tcpKeepaliveInterval, 5)
        #expect(try socket.get(.tcpKeepaliveInterval) == 5)
        try socket.set(.tcpKeepaliveCount, 4)
        #expect(try socket.get(.tcpKeepaliveCount) == 4)
        try socket.set(.maxMessageSize, 1 << 20)
        #expect(try socket.get(.maxMessageSize) == 1 << 20)
        try socket.set(.reconnectInterval, .milliseconds(100))
        #expect(try socket.get(.reconnectInterval) == .milliseconds(100))
        try socket.set(.conflate, true)
        #expect(try socket.get(.events) == [])
    }

    @Test("Setting a read-only option is an error naming it")
    func readOnlyOption() throws {
        let socket = try context.socket(.pull)
        #expect(throws: ZMQError.self) { try socket.set(.events, .readable) }
        do { try socket.set(.events, .readable) } catch { #expect(error.description.contains("ZMQ_EVENTS")) }
    }

    @Test("Timeouts round up to whole milliseconds and never become infinite")
    func millisecondConversion() {
        #expect(milliseconds(.zero) == 0)
        #expect(milliseconds(.microseconds(1)) == 1)
        #expect(milliseconds(.milliseconds(250)) == 250)
        #expect(milliseconds(.seconds(-3)) == 0)
        #expect(milliseconds(.seconds(Int64.max)) == Int(Int32.max))
    }

    @Test("The poller reports which socket or file descriptor is ready")
    func poller() throws {
        let a = try context.socket(.pull)
        try a.bind("inproc://poll-a")
        let b = try context.socket(.pull)
        try b.bind("inproc://poll-b")
        let pushB = try context.socket(.push)
        try pushB.connect("inproc://poll-b")
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }

        var poller = ZMQPoller()
        let ia = poller.add(a)
        let ib = poller.add(b)
        let ip = poller.add(fileDescriptor: fds[0])
        #expect(poller.count == 3)
        #expect(try poller.poll(timeout: .milliseconds(20)) == 0)

        try pushB.send("x")
        #expect(try poller.poll(timeout: .seconds(5)) == 1)
        #expect(poller.events(at: ia) == [])
        #expect(poller.events(at: ib) == .readable)
        _ = try b.receiveFrame()
        var byte: UInt8 = 1
        #expect(write(fds[1], &byte, 1) == 1)
        #expect(try poller.poll(timeout: .seconds(5)) == 1)
        #expect(poller.events(at: ip).contains(.readable))
    }

    @Test("The monitor reports listening, accepted, connected and disconnected")
    func monitor() throws {
        let server = try context.socket(.rep)
        let serverMonitor = try ZMQSocketMonitor(server, events: [.listening, .accepted, .disconnected])
        let endpoint = try server.bind("tcp://127.0.0.1:*")
        let listening = try #require(try serverMonitor.waitFor(.listening, timeout: .seconds(5)))
        #expect(try serverMonitor.waitFor(.listening, timeout: .zero) == nil, "only one listening event")
        #expect(listening.endpoint == endpoint)

        var client: ZMQSocket? = try context.socket(.req)
        let clientMonitor = try ZMQSocketMonitor(client!, events: .connected)
        try client!.connect(endpoint)
        #expect(try clientMonitor.waitFor(.connected, timeout: .seconds(5))?.endpoint == endpoint)
        #expect(try serverMonitor.waitFor(.accepted, timeout: .seconds(5)) != nil)
        try client!.set(.linger, .zero)
        _ = consume clientMonitor
        client = nil
        #expect(try serverMonitor.waitFor(.disconnected, timeout: .seconds(5)) != nil)
    }

    @Test("Monitor frames that are not 6 bytes are a typed error")
    func malformedMonitorFrame() {
        #expect(throws: ZMQError.self) { try MonitorEvent.decode([1, 0, 0], []) }
        let event = try? MonitorEvent.decode([0x01, 0x00, 0x2A, 0, 0, 0], Array("tcp://x:1".utf8))
        #expect(event == MonitorEvent(event: .connected, value: 42, endpoint: "tcp://x:1"))
    }
}
