import Foundation
import Synchronization
import ZeroMQ

#if canImport(Glibc)
import Glibc
#endif

/// A thread that owns one ZeroMQ socket: it hands every message received to `onMessage`, and sends what
/// other threads queue with `send`, woken through a pipe (libzmq sockets must stay on one thread).
final class SocketLoop: Sendable {
    private let outbox = Mutex<[[[UInt8]]]>([])
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let wakeRead: Int32
    private let wakeWrite: Int32

    /// Starts the thread; `socket` moves to it. `onMessage` runs on the thread and must not block.
    init(name: String, socket: sending ZMQSocket, onMessage: @escaping @Sendable ([[UInt8]], String?) -> Void) {
        var fds: [Int32] = [0, 0]
        precondition(pipe(&fds) == 0, "pipe() failed: \(errno)")  // only when out of file descriptors
        _ = fcntl(fds[0], F_SETFL, O_NONBLOCK)
        wakeRead = fds[0]
        wakeWrite = fds[1]
        let box = SocketHandoff(socket)
        let thread = Thread { [self] in
            run(box.take(), onMessage)
            finished.signal()
        }
        thread.name = name
        thread.start()
    }

    /// Queues `frames` to be sent from the socket's thread.
    func send(_ frames: [[UInt8]]) {
        outbox.withLock { $0.append(frames) }
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    /// Stops the thread and waits for it; the socket closes with it.
    func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        send([])
        finished.wait()
        close(wakeRead)
        close(wakeWrite)
    }

    private func run(_ socket: ZMQSocket, _ onMessage: @Sendable ([[UInt8]], String?) -> Void) {
        var poller = ZMQPoller()
        _ = poller.add(socket)
        _ = poller.add(fileDescriptor: wakeRead)
        var drain = [UInt8](repeating: 0, count: 256)
        while !stopping.load(ordering: .acquiring) {
            do {
                guard try poller.poll(timeout: .milliseconds(200)) > 0 else { continue }
                while read(wakeRead, &drain, drain.count) > 0 {}
                for frames in outbox.withLock({ box in defer { box.removeAll() }; return box }) where !frames.isEmpty {
                    try socket.send(multipart: frames, wait: .timeout(.seconds(1)))
                }
                while let (frames, user) = try socket.receiveMultipartWithUser(wait: .dontWait) { onMessage(frames, user) }
            } catch {
                if error.isContextTerminated { break }
            }
        }
    }
}

/// Moves a socket into the loop's thread exactly once.
private final class SocketHandoff: @unchecked Sendable {
    private var socket: ZMQSocket?
    init(_ socket: sending ZMQSocket) { self.socket = socket }
    func take() -> sending ZMQSocket {
        defer { socket = nil }
        return socket!
    }
}
