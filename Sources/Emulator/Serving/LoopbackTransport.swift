import Foundation
import HAL

/// An in-process connection to an emulated instrument (`LOOPBACK::<id>`): what is written goes
/// straight into the twin's session, and its replies (after any injected faults) are read back.
/// Like every transport it is used by one session at a time.
public final class LoopbackTransport: ByteTransport {
    public let resource: ResourceName
    private let session: any TwinSession
    private let faults: FaultInjector
    private let clock = ContinuousClock()
    private var pending: [(bytes: [UInt8], at: ContinuousClock.Instant)] = []
    private var closed = false
    private var disconnected = false
    /// Replies this connection has produced (the fault profile counts per connection).
    private var replies = 0

    init(id: String, session: any TwinSession, faults: FaultInjector) {
        resource = ResourceName(.loopback(id: id))
        self.session = session
        self.faults = faults
    }

    private func check(_ operation: String) throws(TransportError) {
        if closed { throw TransportError(resource: resource, operation: operation, kind: .closed) }
        if disconnected { throw TransportError(resource: resource, operation: operation, kind: .disconnected) }
    }

    /// Hands the bytes to the twin; its reply becomes readable after the injected latency.
    public func write(_ bytes: UnsafeRawBufferPointer, timeout: Duration) throws(TransportError) {
        try check("write")
        let reply = session.receive(Array(bytes))
        guard !reply.isEmpty else { return }
        replies += 1
        let delivery = faults.deliver(reply, replyNumber: replies)
        if delivery.disconnect {
            disconnected = true
            pending.removeAll()
            return
        }
        if !delivery.bytes.isEmpty { pending.append((delivery.bytes, clock.now.advanced(by: delivery.delay))) }
    }

    /// Reads what the twin has replied, waiting up to `timeout` for a (delayed) reply to arrive.
    public func read(into buffer: UnsafeMutableRawBufferPointer, timeout: Duration) throws(TransportError) -> Int {
        try check("read")
        let deadline = clock.now.advanced(by: timeout)
        guard let first = pending.first, first.at <= deadline else {
            sleep(until: deadline)
            throw TransportError(resource: resource, operation: "read", kind: .timeout)
        }
        sleep(until: first.at)
        let count = min(buffer.count, first.bytes.count)
        for i in 0..<count { buffer[i] = first.bytes[i] }
        if count == first.bytes.count {
            pending.removeFirst()
        } else {
            pending[0].bytes.removeFirst(count)
        }
        return count
    }

    /// Drops replies that arrived but were not read.
    public func discardInput() throws(TransportError) {
        try check("discard input")
        pending.removeAll { $0.at <= clock.now }
    }

    private func sleep(until instant: ContinuousClock.Instant) {
        let remaining = clock.now.duration(to: instant)
        if remaining > .zero { Thread.sleep(forTimeInterval: remaining.seconds) }
    }

    public func close() {
        closed = true
        pending.removeAll()
    }
}

extension Duration {
    /// The duration in seconds, as a Double.
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) * 1e-18
    }
}
