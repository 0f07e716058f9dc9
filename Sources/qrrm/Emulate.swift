import ArgumentParser
import Emulator
import Foundation
import Quantities

/// `qrrm emulate --profile <file>`: serves a profile's emulated instruments on TCP, each on its
/// documented or configured port, with the physics running in simulated time, until SIGINT/SIGTERM.
struct Emulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve a hardware profile's emulated instruments on TCP.",
        discussion: """
            Prints one line per instrument: its id, model and host:port, and the VISA resource name \
            a driver (ours, QCoDeS, pyvisa) connects to. Runs until interrupted or until --duration passes.
            """)

    @Option(name: .long, help: "The hardware profile (YAML), e.g. HardwareProfiles/bluefors-ld400.yaml.")
    var profile: String

    @Option(name: .long, help: "The address to listen on.")
    var host = "127.0.0.1"

    @Flag(name: .long, help: "Listen on free ports chosen by the kernel instead of the documented ones.")
    var anyPort = false

    @Option(name: .long, help: "Simulated seconds per real second (overrides the profile's speedFactor).")
    var speedFactor: Double?

    @Option(name: .long, help: "Stop after this much real time, e.g. 30s or 5 min.")
    var duration: String?

    func validate() throws {
        if let duration {
            do { _ = try Duration(parsing: duration) } catch { throw ValidationError("--duration: \(error)") }
        }
        if let speedFactor, !(speedFactor > 0 && speedFactor <= HardwareProfile.maximumSpeedFactor) {
            throw ValidationError(
                "--speed-factor must be a positive number of at most \(HardwareProfile.maximumSpeedFactor), got \(speedFactor)")
        }
    }

    func run() throws {
        var loaded = try HardwareProfile(contentsOf: URL(fileURLWithPath: profile))
        if let speedFactor { loaded = try loaded.withSpeedFactor(speedFactor) }
        if anyPort {
            for index in loaded.instruments.indices { loaded.instruments[index].port = 0 }
        }
        let station = EmulatedStation(profile: loaded)
        let endpoints = try station.serveTCP(host: host)
        print("\(loaded.name): simulated time at \(loaded.speedFactor)× real time")
        for endpoint in endpoints {
            print("\(endpoint.id)  \(endpoint.kind.modelName)  \(endpoint.host):\(endpoint.port)  \(endpoint.resource)")
        }
        fflush(nil)
        station.startClock()
        waitForTermination(limit: try duration.map { try Duration(parsing: $0) })
        station.stopClock()
        station.stopServing()
    }
}

extension InstrumentKind {
    /// The instrument's model as its maker names it.
    var modelName: String {
        switch self {
        case .lakeShore372: "Lake Shore 372 AC resistance bridge"
        case .triton: "Oxford Instruments Triton"
        case .tpg366: "Pfeiffer MaxiGauge TPG 366"
        case .f71: "Lake Shore F71 teslameter"
        case .keysight33500B: "Keysight 33500B waveform generator"
        case .awg5200: "Tektronix AWG5200 arbitrary waveform generator"
        case .infiniiVision: "Keysight InfiniiVision oscilloscope (segmented readout)"
        }
    }
}

/// Blocks until SIGINT or SIGTERM arrives (`sigtimedwait` on both, blocked for the process first),
/// or until `limit` passes.
func waitForTermination(limit: Duration?) {
    var signals = sigset_t()
    sigemptyset(&signals)
    sigaddset(&signals, SIGINT)
    sigaddset(&signals, SIGTERM)
    pthread_sigmask(SIG_BLOCK, &signals, nil)
    let deadline = limit.map { ContinuousClock.now + $0 }
    while true {
        var wait = timespec(tv_sec: 1, tv_nsec: 0)
        if let deadline {
            let left = ContinuousClock.now.duration(to: deadline)
            if left <= .zero { return }
            if left < .seconds(1) {
                let (seconds, attoseconds) = left.components
                wait = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
            }
        }
        if sigtimedwait(&signals, nil, &wait) > 0 { return }
    }
}
