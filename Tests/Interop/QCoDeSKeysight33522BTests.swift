@testable import Emulator
import Foundation
import HAL
import Synchronization
import Testing

/// A qubit bench that keeps what the emulated generator played.
private final class PlayLog: QubitBench {
    private let plays = Mutex<[(program: PulseProgram, shots: Int)]>([])

    var played: [(program: PulseProgram, shots: Int)] { plays.withLock { $0 } }

    func play(_ program: PulseProgram, generator: String, shots: Int) {
        plays.withLock { $0.append((program, shots)) }
    }

    func takeRecords(readout: String, maximum: Int) -> [MeasurementRecord] { [] }
    func pendingRecords(readout: String) -> Int { 0 }
}

/// QCoDeS's own Keysight 33522B driver (PyPI `qcodes`, over `pyvisa-py`) drives our emulated 33522B through
/// `TCPIP::127.0.0.1::<port>::SOCKET`, exactly as it would drive the instrument.
@Suite("QCoDeS drives the emulated Keysight 33522B")
struct QCoDeSKeysight33522BTests {
    @Test("Unmodified QCoDeS identifies it, sets it up, uploads and plays an arb, and sees its range errors")
    func qcodesDrivesTheGenerator() throws {
        let log = PlayLog()
        let profile = InstrumentProfile(id: "awg", kind: .keysight33500B, port: 0, serialNumber: "MY52600694", firmware: "4.00-1.19-2.00-58-00")
        let twin = Keysight33500BTwin(profile: profile, bench: log, model: "33522B")
        let server = try TCPInstrumentServer(twin: twin, faults: FaultInjector(profile: FaultProfile(), seed: 1), host: "127.0.0.1", port: 0)
        defer { server.stop() }

        let peer = try PythonPeer(
            "qcodes-33522b", ["--address", "TCPIP::127.0.0.1::\(server.port)::SOCKET"],
            script: PythonPeer.folder.appendingPathComponent("qcodes_33522b.py"), deadline: .seconds(40))
        _ = try peer.waitFor("done", timeout: .seconds(45))
        try peer.finish()

        let identity = try #require(peer.events("identity").first)
        #expect(identity.strings["vendor"] == "Keysight Technologies")
        #expect(identity.strings["model"] == "33522B")
        #expect(identity.strings["serial"] == "MY52600694")

        let settings = try #require(peer.events("settings").first)
        #expect(settings.strings["function"] == "SIN")
        #expect(settings.numbers["frequency"] == 12345)
        #expect(settings.numbers["amplitude"] == 1)
        #expect(settings.strings["unit"] == "VPP")
        #expect(settings.line.contains("\"error\": [0, \"No error\"]"), "\(settings)")

        let arb = try #require(peer.events("arb").first)
        #expect(arb.strings["catalog1"] == "\"QCARB\"")
        #expect(arb.strings["catalog2"] == "\"QCASCII\"")
        #expect(arb.strings["selected"] == "\"QCARB\"")
        #expect(arb.numbers["sample_rate"] == 1e6)
        #expect(arb.integers["free"] == 1_048_576 - 200)
        #expect(arb.line.contains("\"error\": [0, \"No error\"]"), "\(arb)")
        let codes = try #require(arb.lists["codes"]).compactMap(Int16.init)
        #expect(codes.count == 200)

        // The binary block QCoDeS's pyvisa sent is what the bench played, and the ASCII copy holds the same codes.
        let played = try #require(peer.events("played").first)
        #expect(played.line.contains("\"error\": [0, \"No error\"]"), "\(played)")
        #expect(played.integers["burst"] == 3)
        let play = try #require(log.played.first)
        #expect(log.played.count == 1 && play.shots == 3)
        #expect(play.program.sampleRate == .samplesPerSecond(1e6))
        #expect(play.program.channels == [.init(number: 1, amplitude: .volts(0.5))])
        #expect(play.program.segments.first?.waveforms[1] == .samples(codes.map { Float($0) / 32767 }))
        #expect(twin.makeSession().receive(Array("SOUR2:FUNC:ARB QCASCII;:SYST:ERR?\n".utf8)) == Array("+0,\"No error\"\n".utf8))

        // Out of range, as on the instrument: clipped to the limit, with -222 queued.
        let frequency = try #require(peer.events("frequency_error").first)
        #expect(frequency.integers["code"] == -222)
        #expect(frequency.strings["message"] == "Data out of range;value clipped to upper limit")
        #expect(frequency.numbers["frequency"] == 30e6)
        #expect(frequency.line.contains("\"next\": [0, \"No error\"]"), "\(frequency)")
        let rate = try #require(peer.events("sample_rate_error").first)
        #expect(rate.integers["code"] == -222)
        #expect(rate.strings["message"] == "Data out of range;value clipped to upper limit")
        #expect(rate.numbers["sample_rate"] == 250e6)
    }
}
