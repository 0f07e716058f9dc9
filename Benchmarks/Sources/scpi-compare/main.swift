// scpi-compare: SCPI query round trips per second from our driver stack (SCPISession over
// TCPTransport) to the emulated Lake Shore 372 served on TCP, against the physical limit of that
// path: a minimal C server (Anchors/line_echo_server.c) that answers each line with a reply of the
// same length. The same client code talks to both, in interleaved rounds of one invocation.
//
// Usage: scpi-compare [--anchor PATH] [--profile PATH] [--rounds N] [--queries N] [--min-ratio R]
//   --anchor     the compiled line server (default .build/anchors/line_echo_server)
//   --profile    the hardware profile whose 372 is served (default ../HardwareProfiles/bluefors-ld400.yaml)
//   --rounds     rounds of emulator-then-anchor (default 5)
//   --queries    `KRDG? 6` queries per run (default 20000)
//   --min-ratio  exit 1 if the median emulator/anchor ratio is below this (default: report only)
import Drivers
import Emulator
import CompareSupport
import Foundation
import HAL

struct Options {
    var anchor = ".build/anchors/line_echo_server"
    var profile = "../HardwareProfiles/bluefors-ld400.yaml"
    var rounds = 5
    var queries = 20_000
    var minRatio: Double?
}

/// Ends the program with `message` (exit status 2).
func fail(_ message: String) -> Never {
    CommandLineFlags(tool: "scpi-compare").fail(message)
}

func parseOptions() -> Options {
    var options = Options()
    var flags = CommandLineFlags(tool: "scpi-compare")
    while let flag = flags.next() {
        switch flag {
        case "--anchor": options.anchor = flags.value(flag)
        case "--profile": options.profile = flags.value(flag)
        case "--rounds": options.rounds = flags.count(flag)
        case "--queries": options.queries = flags.count(flag)
        case "--min-ratio": options.minRatio = flags.number(flag) as Double
        default: flags.fail("unknown argument \(flag)")
        }
    }
    return options
}

let command = "KRDG? 6"

/// Opens a session the way a driver does: TCP transport, CR LF terminators, a 2 s timeout.
func session(port: UInt16, name: String) -> SCPISession {
    SCPISession(
        transport: TCPTransport(host: "127.0.0.1", port: port), instrument: name,
        writeTerminator: "\r\n", readTerminator: "\r\n", timeout: .seconds(2))
}

/// Query round trips per second over `queries` queries, after a warm-up.
func roundTrips(_ session: SCPISession, queries: Int) throws -> Double {
    for _ in 0..<500 { _ = try session.query(command) }
    let clock = ContinuousClock()
    let start = clock.now
    for _ in 0..<queries { _ = try session.query(command) }
    let elapsed = start.duration(to: clock.now)
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    return Double(queries) / seconds
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

let options = parseOptions()
do {
    var profile = try HardwareProfile(contentsOf: URL(fileURLWithPath: options.profile))
    for index in profile.instruments.indices { profile.instruments[index].port = 0 }
    let station = EmulatedStation(profile: profile)
    let endpoints = try station.serveTCP()
    guard let bridge = endpoints.first(where: { $0.kind == .lakeShore372 }) else {
        fail("\(options.profile) has no Lake Shore 372")
    }
    let emulated = session(port: bridge.port, name: "emulated Lake Shore 372")
    let replyBytes = try emulated.query(command).utf8.count + 2

    let anchor = Process()
    anchor.executableURL = URL(fileURLWithPath: options.anchor)
    anchor.arguments = ["\(replyBytes)"]
    let output = Pipe()
    anchor.standardOutput = output
    try anchor.run()
    defer { anchor.terminate(); anchor.waitUntilExit() }
    var line = [UInt8]()
    while let byte = try output.fileHandleForReading.read(upToCount: 1)?.first, byte != UInt8(ascii: "\n") {
        line.append(byte)
    }
    let announced = String(decoding: line, as: UTF8.self)
    guard announced.hasPrefix("PORT "), let port = UInt16(announced.dropFirst(5)) else {
        fail("the anchor printed \"\(announced)\", expected PORT <n>")
    }
    let echo = session(port: port, name: "C line server")

    print("\(command) round trips over TCP loopback; reply \(replyBytes) bytes, \(options.queries) queries per run")
    print("round  emulator q/s   C server q/s   emulator/C")
    var ratios: [Double] = [], ours: [Double] = [], theirs: [Double] = []
    for round in 1...options.rounds {
        let a = try roundTrips(emulated, queries: options.queries)
        let b = try roundTrips(echo, queries: options.queries)
        ours.append(a); theirs.append(b); ratios.append(a / b)
        print(String(format: "%5d  %12.0f   %12.0f   %10.3f", round, a, b, a / b))
    }
    let ratio = median(ratios)
    print(String(format: "med.   %12.0f   %12.0f   %10.3f", median(ours), median(theirs), ratio))
    print(String(format: "median ratio emulator/C, round trips per second: %.3f (min %.3f, max %.3f over %d rounds)",
                 ratio, ratios.min()!, ratios.max()!, options.rounds))
    station.stopServing()
    if let minRatio = options.minRatio, ratio < minRatio {
        print(String(format: "below the required %.2f", minRatio))
        exit(1)
    }
} catch {
    fail("\(error)")
}
