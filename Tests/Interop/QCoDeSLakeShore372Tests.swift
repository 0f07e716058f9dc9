import Emulator
import Foundation
import HAL
import Testing

/// QCoDeS's own Lake Shore 372 driver (PyPI `qcodes`, over `pyvisa-py`) drives our emulated 372
/// through `TCPIP::127.0.0.1::<port>::SOCKET`, exactly as it would drive the instrument.
@Suite("QCoDeS drives the emulated Lake Shore 372")
struct QCoDeSLakeShore372Tests {
    static let profile = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("HardwareProfiles/bluefors-ld400.yaml")

    @Test("Unmodified QCoDeS reads every enabled channel, sets up the sample heater, and sees the MXC settle")
    func qcodesSettlesMixingChamber() throws {
        var profile = try HardwareProfile(contentsOf: Self.profile)
        profile.speedFactor = 100  // 100 simulated seconds per real second
        for index in profile.instruments.indices { profile.instruments[index].port = 0 }
        let station = EmulatedStation(profile: profile)
        let endpoints = try station.serveTCP()
        defer { station.stopClock(); station.stopServing() }
        let bridge = try #require(endpoints.first { $0.kind == .lakeShore372 })
        let thermometers = try #require(profile.instruments.first { $0.id == bridge.id }).thermometers
        // Base temperatures before anything heats: QCoDeS reads the channels before it turns the heater on.
        let base = Dictionary(uniqueKeysWithValues: thermometers.map { ($0.channel, station.model.temperature(of: $0.stage)) })
        station.startClock()

        let setpoint = 0.050
        let peer = try PythonPeer(
            "qcodes-ls372",
            ["--address", "TCPIP::127.0.0.1::\(bridge.port)::SOCKET", "--setpoint", "\(setpoint)",
             "--control-channel", "6", "--range", "3.16mA", "--pid", "2", "20", "0",
             "--tolerance", "0.02", "--settled-samples", "5"],
            script: PythonPeer.folder.appendingPathComponent("qcodes_ls372.py"), deadline: .seconds(80))
        let done = try peer.waitFor("done", timeout: .seconds(85))
        try peer.finish()

        let identity = try #require(peer.events("identity").first)
        #expect(identity.strings["vendor"] == "LSCI")
        #expect(identity.strings["model"]?.hasSuffix("372") == true)  // QCoDeS strips the "MODEL" prefix
        #expect(identity.strings["serial"] == "LSA2B3C")

        // Every channel the profile wires, and only those, is enabled and read, with a temperature where its stage is.
        func qcodesName(_ channel: String) -> String { "ch" + String(repeating: "0", count: max(0, 2 - channel.count)) + channel }
        let channels = peer.events("channel")
        #expect(Set(channels.compactMap { $0.strings["name"] }) == Set(thermometers.map { qcodesName($0.channel) }))
        for reading in channels {
            let name = try #require(reading.strings["name"])
            let thermometer = try #require(thermometers.first { qcodesName($0.channel) == name })
            let kelvin = try #require(reading.numbers["kelvin"])
            let ohms = try #require(reading.numbers["ohms"])
            let modelKelvin = try #require(base[thermometer.channel])
            #expect(reading.strings["status"] == "OK", "\(name)")
            #expect(ohms > 0, "\(name)")
            // The RuOx curve inverts to the stage temperature; a factor of two separates every stage from the next.
            #expect(kelvin > modelKelvin / 2 && kelvin < modelKelvin * 2, "\(name): QCoDeS \(kelvin) K, model \(modelKelvin) K")
        }

        let heater = try #require(peer.events("heater").first)
        #expect(heater.strings["mode"] == "closed_loop")
        #expect(heater.integers["input"] == 6)
        #expect(heater.strings["range"] == "3.16mA")
        #expect(heater.numbers["P"] == 2)
        #expect(heater.numbers["setpoint"] == setpoint)

        // Settled, as QCoDeS saw it and as the physics has it.
        let final = try #require(done.numbers["kelvin"])
        #expect(abs(final - setpoint) <= 0.02 * setpoint)
        #expect(abs(station.model.temperature(of: .mixingChamber) - setpoint) <= 0.02 * setpoint)
        #expect(peer.events("sample").contains { ($0.numbers["heater_percent"] ?? 0) > 0 }, "the heater must have been driving")
    }
}
