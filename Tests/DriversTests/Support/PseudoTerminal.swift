import Glibc

/// A pseudo-terminal pair for the serial tests: the test talks on the master side, the transport opens the
/// slave path (/dev/pts/N) as if it were /dev/ttyUSB0.
///
/// posix_openpt, grantpt, unlockpt and ptsname_r are XSI functions that Swift's Glibc module does not
/// import (glibc declares them only under _XOPEN_SOURCE), so they are looked up with dlsym.
final class PseudoTerminal {
    private(set) var master: Int32
    let slavePath: String

    private typealias DescriptorCall = @convention(c) (Int32) -> Int32
    private typealias NameCall = @convention(c) (Int32, UnsafeMutablePointer<CChar>?, Int) -> Int32

    init() throws {
        let openMaster: DescriptorCall = try Self.function("posix_openpt")
        let grant: DescriptorCall = try Self.function("grantpt")
        let unlock: DescriptorCall = try Self.function("unlockpt")
        let name: NameCall = try Self.function("ptsname_r")
        let master = try fixtureCall("posix_openpt") { openMaster(O_RDWR | O_NOCTTY | O_CLOEXEC) }
        do {
            try fixtureCall("grantpt") { grant(master) }
            try fixtureCall("unlockpt") { unlock(master) }
            var path = [CChar](repeating: 0, count: 256)
            let status = name(master, &path, path.count)
            guard status == 0 else { throw FixtureError(description: "ptsname_r: \(String(cString: strerror(status)))") }
            slavePath = String(decoding: path.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        } catch {
            Glibc.close(master)
            throw error
        }
        self.master = master
    }

    deinit {
        closeMaster()
    }

    private static func function<Function>(_ name: String) throws -> Function {
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), name) else {
            throw FixtureError(description: "dlsym(\(name)) found nothing")
        }
        return unsafeBitCast(symbol, to: Function.self)
    }

    /// Writes `text` to the master side: the transport reads it.
    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        let written = try fixtureCall("write") { write(master, bytes, bytes.count) }
        guard written == bytes.count else { throw FixtureError(description: "short write to the pty master") }
    }

    /// Reads `count` bytes from the master side (what the transport wrote), waiting up to 10 s.
    func receive(_ count: Int) throws -> [UInt8] {
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while received.count < count {
            var entry = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
            guard try fixtureCall("poll", { poll(&entry, 1, 10_000) }) > 0 else {
                throw FixtureError(description: "nothing arrived on the pty master")
            }
            let n = try fixtureCall("read") { read(master, &chunk, min(chunk.count, count - received.count)) }
            received += chunk[..<n]
        }
        return received
    }

    /// The slave's termios as a separate descriptor of the same terminal reads it back (tcgetattr).
    func slaveAttributes() throws -> termios {
        let slave = try openSlave()
        defer { close(slave) }
        var attributes = termios()
        try fixtureCall("tcgetattr") { tcgetattr(slave, &attributes) }
        return attributes
    }

    /// Waits until input written to the master is readable on the slave side (the kernel moves it there
    /// asynchronously), without reading it.
    func waitUntilSlaveReadable() throws {
        let slave = try openSlave()
        defer { close(slave) }
        var entry = pollfd(fd: slave, events: Int16(POLLIN), revents: 0)
        guard try fixtureCall("poll", { poll(&entry, 1, 10_000) }) > 0 else {
            throw FixtureError(description: "the pty slave never became readable")
        }
    }

    private func openSlave() throws -> Int32 {
        try fixtureCall("open") { open(slavePath, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC) }
    }

    /// Hangs up the terminal: the slave side sees the line go away.
    func closeMaster() {
        if master >= 0 { close(master) }
        master = -1
    }
}
