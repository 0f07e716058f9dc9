import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why an interop test could not go on: a peer failed, timed out or printed something
/// unexpected. The description carries what the peer printed, so a failure explains itself.
struct InteropFailure: Error, CustomStringConvertible {
    let description: String
}

/// One JSON line a Python peer printed, such as `{"event": "bound", "endpoint": "tcp://…"}`.
struct PeerEvent: Sendable, CustomStringConvertible {
    /// The line as printed.
    let line: String
    /// Its `event` field; "unparsed" for a line that is not a JSON object with one.
    let event: String
    let strings: [String: String]
    let integers: [String: Int]
    let numbers: [String: Double]
    let lists: [String: [String]]

    init(line: String) {
        self.line = line
        var strings: [String: String] = [:], integers: [String: Int] = [:], lists: [String: [String]] = [:]
        var numbers: [String: Double] = [:]
        let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        for (key, value) in object ?? [:] {
            if let text = value as? String {
                strings[key] = text
            } else if let list = value as? [String] {
                lists[key] = list
            } else if let number = value as? NSNumber {
                numbers[key] = number.doubleValue
                if let integer = value as? Int, Double(integer) == number.doubleValue { integers[key] = integer }
            }
        }
        event = strings["event"] ?? "unparsed"
        self.strings = strings
        self.integers = integers
        self.numbers = numbers
        self.lists = lists
    }

    var endpoint: String? { strings["endpoint"] }
    /// The `frames` field, decoded from hex.
    var frames: [[UInt8]]? { lists["frames"]?.map { bytes(hex: $0) } }
    /// The `identity` field, decoded from hex.
    var identity: [UInt8]? { strings["identity"].map { bytes(hex: $0) } }

    var description: String { line }
}

/// A `python3 Tests/Interop/python/<script> …` child process (zmq_peer.py unless named).
///
/// Its stdout is read on a thread of its own into a list of ``PeerEvent``s that the test waits
/// on with a deadline. Every wait is bounded, the script has a hard deadline of its own
/// (`--timeout`), and the process is killed when the peer is released or ``kill()``ed, so a
/// wedged peer fails its test instead of hanging the run.
final class PythonPeer: @unchecked Sendable {
    let name: String
    private let process = Process()
    private let input = Pipe()
    private let output: Output

    /// The folder of the peer scripts, found next to this file whatever the working directory.
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("python")
    /// The pyzmq peer script.
    static let script = folder.appendingPathComponent("zmq_peer.py")

    /// Starts `script` (zmq_peer.py by default) with `arguments` (a subcommand and its options).
    /// `deadline` bounds the whole life of the peer: the script stops itself after it.
    init(_ name: String, _ arguments: [String], script: URL = PythonPeer.script, deadline: Duration = .seconds(25)) throws {
        try PythonPeer.requirePyzmq()
        self.name = name
        let stdout = Pipe(), stderr = Pipe()
        output = Output()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-B", "-u", script.path,
                             "--timeout", "\(deadline.components.seconds)"] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(
            ["PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"]) { _, new in new }
        process.standardInput = input
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        output.read(stdout.fileHandleForReading, isStdout: true)
        output.read(stderr.fileHandleForReading, isStdout: false)
    }

    deinit { kill() }

    // MARK: Commands

    /// Writes one command line to the peer's stdin (ignored once the peer has gone).
    func send(_ command: String) {
        try? input.fileHandleForWriting.write(contentsOf: Data((command + "\n").utf8))
    }

    // MARK: Events

    /// Everything the peer printed so far.
    var events: [PeerEvent] { output.snapshot().events }

    /// The events named `event` printed so far.
    func events(_ event: String) -> [PeerEvent] { events.filter { $0.event == event } }

    /// Waits until `condition` holds for what the peer printed, and returns those events.
    /// Throws, with everything the peer printed, when it does not hold within `timeout`,
    /// when the peer exits first, or when the peer reports an error.
    @discardableResult
    func wait(
        for what: String, timeout: Duration = .seconds(10), until condition: ([PeerEvent]) -> Bool
    ) throws -> [PeerEvent] {
        guard let events = try poll(what, timeout: timeout, until: condition) else {
            throw failure("did not report \(what) within \(timeout)")
        }
        return events
    }

    /// Like ``wait(for:timeout:until:)`` but returns nil when `timeout` runs out: for short
    /// waits in a retry loop. Still throws when the peer exits or reports an error.
    func poll(
        _ what: String, timeout: Duration, until condition: ([PeerEvent]) -> Bool
    ) throws -> [PeerEvent]? {
        let deadline = ContinuousClock.now + timeout
        while true {
            let seen = output.snapshot()
            if let error = seen.events.first(where: { $0.event == "error" }) {
                throw failure("reported an error while waiting for \(what): \(error.line)")
            }
            if condition(seen.events) { return seen.events }
            if seen.stdoutClosed { throw failure("exited while waiting for \(what)") }
            let left = deadline - ContinuousClock.now
            if left <= .zero { return nil }
            output.waitForChange(upTo: min(left, .milliseconds(100)))
        }
    }

    /// Waits for the first event named `event` and returns it.
    @discardableResult
    func waitFor(_ event: String, timeout: Duration = .seconds(10)) throws -> PeerEvent {
        let events = try wait(for: "\"\(event)\"", timeout: timeout) { $0.contains { $0.event == event } }
        return events.first { $0.event == event }!
    }

    /// Whether the peer printed an event named `event` matching `condition`, without waiting.
    func hasPrinted(_ event: String, where condition: (PeerEvent) -> Bool = { _ in true }) -> Bool {
        events.contains { $0.event == event && condition($0) }
    }

    // MARK: Ending

    /// Tells the peer to quit (a "quit" line, then end of stdin), waits for it to exit and for
    /// all its output, and throws unless it exited with status 0 after printing "done".
    /// A peer that has not exited within `timeout` is killed.
    func finish(timeout: Duration = .seconds(10)) throws {
        send("quit")
        try? input.fileHandleForWriting.close()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.01)
        }
        if process.isRunning {
            kill()
            throw failure("did not exit within \(timeout) of being told to quit, and was killed")
        }
        while !output.snapshot().stdoutClosed && ContinuousClock.now < deadline + .seconds(2) {
            output.waitForChange(upTo: .milliseconds(100))
        }
        let status = process.terminationStatus
        let exitedCleanly = process.terminationReason == .exit && status == 0
        if !exitedCleanly || !hasPrinted("done") || hasPrinted("error") {
            throw failure("ended badly (\(process.terminationReason == .exit ? "exit" : "signal") \(status))")
        }
    }

    /// Kills the peer (SIGKILL) if it is still running. The hang guard of every test.
    func kill() {
        try? input.fileHandleForWriting.close()
        guard process.isRunning else { return }
        #if canImport(Glibc)
        _ = Glibc.kill(process.processIdentifier, SIGKILL)
        #else
        _ = Darwin.kill(process.processIdentifier, SIGKILL)
        #endif
        process.waitUntilExit()
    }

    /// A failure that quotes what the peer printed on stdout and stderr.
    func failure(_ what: String) -> InteropFailure {
        let seen = output.snapshot()
        let stdout = seen.events.suffix(40).map { "  " + $0.line }.joined(separator: "\n")
        let stderr = String(decoding: seen.stderr.suffix(4000), as: UTF8.self)
        return InteropFailure(description: """
            python peer "\(name)" \(what).
            stdout (last 40 lines):
            \(stdout.isEmpty ? "  (nothing)" : stdout)
            stderr:
            \(stderr.isEmpty ? "  (nothing)" : stderr)
            """)
    }

    // MARK: Python and pyzmq

    /// Fails with directions when python3 or pyzmq is missing: these tests must never pass by
    /// skipping their peer.
    static func requirePyzmq() throws {
        if case .failure(let failure) = availability { throw failure }
    }

    /// The outcome of `python3 -c "import zmq"`, checked once per test run.
    private static let availability: Result<String, InteropFailure> = {
        // A peer that exits early must not kill the test run when we next write to its stdin.
        signal(SIGPIPE, SIG_IGN)
        let advice = """
            The interop tests drive the ZeroMQ module with pyzmq and need `python3` with the \
            `zmq` package on PATH. `make test` installs pyzmq (CI installs it too); by hand: \
            `python3 -m pip install pyzmq`.
            """
        guard FileManager.default.fileExists(atPath: script.path) else {
            return .failure(InteropFailure(description: "The peer script \(script.path) is missing."))
        }
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = ["python3", "-B", "-c", "import zmq, zmq.auth.thread; print(zmq.pyzmq_version(), zmq.zmq_version())"]
        let out = Pipe(), err = Pipe()
        probe.standardOutput = out
        probe.standardError = err
        probe.standardInput = FileHandle.nullDevice
        do {
            try probe.run()
        } catch {
            return .failure(InteropFailure(description: "Could not start /usr/bin/env python3: \(error). \(advice)"))
        }
        // Read both pipes to the end before waiting, so a chatty failure cannot fill a pipe.
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        probe.waitUntilExit()
        guard probe.terminationReason == .exit, probe.terminationStatus == 0 else {
            return .failure(InteropFailure(description: """
                `python3 -c "import zmq"` failed (status \(probe.terminationStatus)): \
                \(String(decoding: stderr, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
                \(advice)
                """))
        }
        return .success(String(decoding: stdout, as: UTF8.self))
    }()
}

/// What a peer printed, filled by reader threads and waited on by the test.
private final class Output: @unchecked Sendable {
    struct Seen {
        var events: [PeerEvent] = []
        var stderr: [UInt8] = []
        var stdoutClosed = false
    }

    private let condition = NSCondition()
    private var seen = Seen()
    private var generation = 0

    func snapshot() -> Seen {
        condition.lock()
        defer { condition.unlock() }
        return seen
    }

    /// Returns when something new arrives or after `limit`.
    func waitForChange(upTo limit: Duration) {
        condition.lock()
        defer { condition.unlock() }
        let start = generation
        let until = Date(timeIntervalSinceNow: Double(limit.components.seconds)
            + Double(limit.components.attoseconds) / 1e18)
        while generation == start && condition.wait(until: until) {}
    }

    private func update(_ body: (inout Seen) -> Void) {
        condition.lock()
        body(&seen)
        generation += 1
        condition.broadcast()
        condition.unlock()
    }

    /// Reads `handle` to its end on a thread of its own: lines of stdout become events.
    func read(_ handle: FileHandle, isStdout: Bool) {
        let thread = Thread { [self] in
            var pending: [UInt8] = []
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                if !isStdout {
                    update { $0.stderr += chunk }
                    continue
                }
                pending += chunk
                var lines: [PeerEvent] = []
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: pending[..<newline], as: UTF8.self)
                    pending.removeSubrange(...newline)
                    if !line.isEmpty { lines.append(PeerEvent(line: line)) }
                }
                if !lines.isEmpty { update { $0.events += lines } }
            }
            if isStdout {
                let rest = String(decoding: pending, as: UTF8.self)
                update {
                    if !rest.isEmpty { $0.events.append(PeerEvent(line: rest)) }
                    $0.stdoutClosed = true
                }
            }
        }
        thread.start()
    }
}

// MARK: Bytes

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

/// Bytes from hex text; an odd or invalid digit gives an empty result, which no test expects.
func bytes(hex text: String) -> [UInt8] {
    let digits = Array(text.utf8)
    guard digits.count % 2 == 0 else { return [] }
    var result: [UInt8] = []
    result.reserveCapacity(digits.count / 2)
    var index = 0
    while index < digits.count {
        guard let byte = UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16) else { return [] }
        result.append(byte)
        index += 2
    }
    return result
}

/// A message for failure messages: UTF-8 frames as text, the others as hex.
func describe(_ frames: [[UInt8]]) -> String {
    "[" + frames.map { frame in
        if let text = String(validating: frame, as: UTF8.self), !text.isEmpty,
           text.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value < 0x7F }) {
            return "\"\(text)\""
        }
        return "0x" + hex(frame)
    }.joined(separator: ", ") + "]"
}
