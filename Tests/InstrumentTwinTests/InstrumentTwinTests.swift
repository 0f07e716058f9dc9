import Drivers
import Emulator
import Foundation
import HAL
import Quantities
import Testing

/// The shipped emulator profiles (copied from the emulator's HardwareProfiles).
enum Fixture {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("HardwareProfiles")

    static func station(_ file: String) throws -> EmulatedStation {
        try EmulatedStation(profile: directory.appendingPathComponent(file))
    }
}

/// How a driver reaches its twin: in process, or over the twin's TCP server.
enum Link: String, CaseIterable, CustomTestStringConvertible {
    case loopback, tcp
    var testDescription: String { rawValue }

    /// A transport to instrument `id`.
    func transport(_ station: EmulatedStation, _ id: String) throws -> any ByteTransport {
        switch self {
        case .loopback: return try station.loopbackTransport(for: id)
        case .tcp:
            let endpoint = try #require(try station.serveTCP(host: "127.0.0.1").first { $0.id == id })
            return TCPTransport(host: endpoint.host, port: endpoint.port)
        }
    }
}

/// Every driver's station is served on port 0 so parallel tests never collide.
func freePortProfile(_ file: String) throws -> EmulatedStation {
    var text = try String(contentsOf: Fixture.directory.appendingPathComponent(file), encoding: .utf8)
    text = text.replacingOccurrences(of: "    port: 7778\n", with: "")
    text = text.replacingOccurrences(of: "  - id: ", with: "  - port: 0\n    id: ")
    return EmulatedStation(profile: try HardwareProfile(yaml: text, file: file))
}

@Suite struct LakeShore372TwinTests {
    @Test(arguments: Link.allCases)
    func identifyAndReadTheMixingChamber(link: Link) throws {
        let station = try freePortProfile("bluefors-ld400.yaml")
        defer { station.stopServing() }
        let bridge = LakeShore372(transport: try link.transport(station, "ls372"))
        #expect(try bridge.identify().serialNumber == "LSA2B3C")
        let reading = try bridge.reading(channel: "6")
        let kelvin = try #require(reading.temperature).kelvin
        #expect(abs(kelvin - 0.010) < 0.002)
        #expect(reading.resistance != nil && reading.isValid)
        #expect(try bridge.scanner().channel.count <= 2)
        #expect(try bridge.errorQueue().isEmpty)
    }

    @Test func settingsRoundTrip() throws {
        let station = try freePortProfile("bluefors-ld400.yaml")
        let bridge = LakeShore372(transport: try station.loopbackTransport(for: "ls372"))
        try bridge.setPID(PIDGains(proportional: 10, integral: 30, derivative: 0), for: 0)
        #expect(try bridge.pid(for: 0) == PIDGains(proportional: 10, integral: 30, derivative: 0))
        try bridge.setRamp(SetpointRamp(enabled: false, kelvinPerMinute: 0.5), for: 0)
        #expect(try bridge.ramp(for: 0) == SetpointRamp(enabled: false, kelvinPerMinute: 0.5))
        try bridge.setName("Mixing chamber", of: "6")
        #expect(try bridge.name(of: "6") == "Mixing chamber")
        try bridge.setTemperatureLimit(.kelvin(2), for: "6")
        #expect(try bridge.temperatureLimit(for: "6") == .kelvin(2))
        let type = LakeShore372.InputType(
            excitationMode: .current, excitationRange: 4, autorange: .on, resistanceRange: 10, currentSourceShunted: false,
            units: .kelvin)
        try bridge.setInputType(type, channel: "6")
        #expect(try bridge.inputType(channel: "6") == type)
        try bridge.setStillOutputPercent(40)
        #expect(try bridge.stillOutputPercent() == 40)
        #expect(try bridge.heaterSetup(for: 0).resistance == .ohms(100))
        try bridge.setScanner(ScannerState(channel: "6", autoscan: false))
        #expect(try bridge.scanner() == ScannerState(channel: "6", autoscan: false))
        #expect(try bridge.errorQueue().isEmpty)
    }

    @Test func pidBringsTheMixingChamberToItsSetpoint() throws {
        let station = try freePortProfile("bluefors-ld400.yaml")
        let bridge = LakeShore372(transport: try station.loopbackTransport(for: "ls372"))
        try bridge.setHeaterMode(.closedLoop, input: "6", for: 0)
        try bridge.setPID(PIDGains(proportional: 10, integral: 60, derivative: 0), for: 0)
        try bridge.setHeaterRange(5, for: 0)
        try bridge.setSetpoint(.millikelvin(50), for: 0)
        #expect(try bridge.heaterMode(for: 0) == (HeaterMode.closedLoop, "6"))
        #expect(try bridge.setpoint(for: 0) == .millikelvin(50))
        for _ in 0..<60 { station.advance(by: 60) }
        let kelvin = try #require(try bridge.reading(channel: "6").temperature).kelvin
        #expect(abs(kelvin - 0.050) < 0.002, "the mixing chamber is at \(kelvin) K")
        #expect(try bridge.heaterOutputPercent(for: 0) > 0)
        #expect(try bridge.isRamping(output: 0) == false)
    }

    @Test func channelsIncludeTheControlInput() throws {
        let station = try freePortProfile("bluefors-ld400.yaml")
        let bridge = LakeShore372(transport: try station.loopbackTransport(for: "ls372"), timeout: .milliseconds(200))
        let channels = try bridge.channels()
        #expect(channels.map(\.id) == LakeShore372.inputChannels)
        #expect(channels.first { $0.id == "6" }?.name == "MXC")
        // The profile wires no thermometer to the control input: it is disabled and reads as disconnected.
        #expect(channels.first?.enabled == false)
        let control = try bridge.reading(channel: "A")
        #expect(control.temperature == nil && control.resistance == nil && !control.isValid)
        #expect(try bridge.inputType(channel: "A").excitationMode == .current)
        try bridge.setHeaterMode(.closedLoop, input: "A", for: 0)
        #expect(try bridge.heaterMode(for: 0) == (HeaterMode.closedLoop, "A"))
        #expect(try bridge.errorQueue().isEmpty)
    }

    /// HTR? reads watts under the power display (372 manual, HTR?); the driver still returns percent of current,
    /// and the power, (50 % of range 8's 100 mA)² × 100 Ω = 0.25 W, either way.
    @Test func sampleHeaterOutputIsPercentInEitherDisplay() throws {
        let station = try freePortProfile("bluefors-ld400.yaml")
        let bridge = LakeShore372(transport: try station.loopbackTransport(for: "ls372"))
        try bridge.setHeaterMode(.openLoop, input: "6", for: 0)
        try bridge.setHeaterRange(8, for: 0)
        let heater = try #require(station.profile.instruments.first { $0.id == "ls372" }?.heaters["sample"])
        #expect(station.model.withHeater(heater) { h, _ in h.manualPercent = 50 } != nil)
        try bridge.setHeaterSetup(.init(resistance: .ohms(100), maximumCurrent: nil, displaysPower: false), for: 0)
        #expect(try bridge.heaterOutputPercent(for: 0) == 50)
        #expect(abs(try bridge.heaterPowerWatts(for: 0) - 0.25) < 1e-12)
        try bridge.setHeaterSetup(.init(resistance: .ohms(100), maximumCurrent: nil, displaysPower: true), for: 0)
        #expect(try bridge.heaterOutputPercent(for: 0) == 50)
        #expect(abs(try bridge.heaterPowerWatts(for: 0) - 0.25) < 5e-4)
        try bridge.setHeaterRange(0, for: 0)
        #expect(try bridge.heaterOutputPercent(for: 0) == 0)
        #expect(try bridge.heaterPowerWatts(for: 0) == 0)
        #expect(throws: InstrumentError.self) { try bridge.heaterPowerWatts(for: 1) }
        #expect(try bridge.errorQueue().isEmpty)
    }

    @Test func theDriverRefusesWhatTheBridgeWouldSilentlyIgnore() throws {
        let station = try freePortProfile("bluefors-ld400.yaml")
        let bridge = LakeShore372(transport: try station.loopbackTransport(for: "ls372"))
        // HTRSET 1 takes only 25 or 50 Ω; the bridge would ignore 75 Ω silently, so the driver refuses it.
        try bridge.setHeaterRange(1, for: 1)
        #expect(try bridge.heaterRange(for: 1) == 1)
        #expect(throws: InstrumentError.self) {
            try bridge.setHeaterSetup(.init(resistance: .ohms(75), maximumCurrent: nil, displaysPower: false), for: 1)
        }
        #expect(try bridge.errorQueue().isEmpty)
    }
}

@Suite struct OxfordTritonTwinTests {
    @Test(arguments: Link.allCases)
    func temperaturesPressuresAndCirculation(link: Link) throws {
        let station = try freePortProfile("oxford-triton.yaml")
        defer { station.stopServing() }
        let triton = OxfordTriton(transport: try link.transport(station, "triton"))
        #expect(try triton.identify().serialNumber == "TRITON-200-17")
        let mc = try #require(try triton.temperature(of: .mixingChamber).temperature).kelvin
        #expect(abs(mc - 0.012) < 0.003)
        let still = try #require(try triton.temperature(of: .still).temperature).kelvin
        #expect((0.5...1.0).contains(still))
        let pressures = try triton.pressures()
        #expect(pressures.count == 6 && pressures.allSatisfy { $0.status == .ok && $0.pressure != nil })
        #expect(try triton.circulationState() == .circulating)
    }

    @Test func aMissingChannelIsNotFound() throws {
        let station = try freePortProfile("oxford-triton.yaml")
        let triton = OxfordTriton(transport: try station.loopbackTransport(for: "triton"), loopChannel: "T9")
        let read = #expect(throws: InstrumentError.self) { try triton.reading(channel: "T9") }
        #expect(read?.kind == .refused("NOT_FOUND"))
        let set = #expect(throws: InstrumentError.self) { try triton.setLoopSetpoint(.millikelvin(50)) }
        #expect(set?.kind == .refused("NOT_FOUND"))
    }

    @Test func loopControlAndSafeState() throws {
        let station = try freePortProfile("oxford-triton.yaml")
        let triton = OxfordTriton(transport: try station.loopbackTransport(for: "triton"))
        try triton.setLoopPID(PIDGains(proportional: 10, integral: 60, derivative: 0))
        #expect(try triton.loopPID() == PIDGains(proportional: 10, integral: 60, derivative: 0))
        try triton.setLoopHeaterRange(.milliamperes(3.16))
        #expect(try triton.loopHeaterRange() == .milliamperes(3.16))
        try triton.setLoopRamp(SetpointRamp(enabled: false, kelvinPerMinute: 0.1))
        #expect(try triton.loopRamp() == SetpointRamp(enabled: false, kelvinPerMinute: 0.1))
        try triton.setLoopSetpoint(.millikelvin(50))
        #expect(try triton.loopSetpoint() == .millikelvin(50))
        try triton.setLoopEnabled(true)
        #expect(try triton.isLoopEnabled())
        for _ in 0..<60 { station.advance(by: 60) }
        let mc = try #require(try triton.temperature(of: .mixingChamber).temperature).kelvin
        #expect(abs(mc - 0.050) < 0.003, "the mixing chamber is at \(mc) K")
        try triton.enterSafeState()
        #expect(try triton.isLoopEnabled() == false)
        #expect(try triton.loopHeaterRange() == .zero)
    }
}

@Suite struct PfeifferTPG366TwinTests {
    @Test(arguments: Link.allCases)
    func readingsInPascal(link: Link) throws {
        let station = try freePortProfile("bluefors-ld400.yaml")
        defer { station.stopServing() }
        let gauge = PfeifferTPG366(transport: try link.transport(station, "maxigauge"))
        let readings = try gauge.read()
        #expect(readings.count == 6)
        let tank = try #require(readings[4].value)
        #expect(abs(tank - 15_000) < 1_500, "the mixture tank reads \(tank) Pa")
        try gauge.setUnit(.torr)
        #expect(try gauge.unit() == .torr)
        let inTorr = try #require(try gauge.pressure(gauge: 5).pressure).pascals
        #expect(abs(inTorr - tank) / tank < 0.01)
        #expect(try gauge.gaugeTypes() == Array(repeating: "PKR", count: 6))
        #expect(try gauge.errorQueue().isEmpty)
    }

    @Test func identifyAndReset() throws {
        let station = try freePortProfile("bluefors-ld400.yaml")
        let gauge = PfeifferTPG366(transport: try station.loopbackTransport(for: "maxigauge"))
        let identity = try gauge.identify()
        #expect(identity.model == "TPG 366" && identity.serialNumber == "44998061")
        try gauge.reset()
        #expect(try gauge.errorQueue().isEmpty)
    }
}

@Suite struct LakeShoreF71TwinTests {
    @Test(arguments: Link.allCases)
    func fieldVectorInTesla(link: Link) throws {
        let station = try freePortProfile("bluefors-ld400.yaml")
        defer { station.stopServing() }
        let meter = LakeShoreF71(transport: try link.transport(station, "f71"))
        #expect(try meter.identify().serialNumber == "F71-0042")
        let (x, y, z) = try meter.fieldVector()
        #expect(abs(x.teslas) < 1e-7 && abs(y.teslas) < 1e-7 && abs(z.teslas - 5e-5) < 1e-7)
        try meter.setUnit(.gauss)
        #expect(try meter.unit() == .gauss)
        let readings = try meter.read()
        #expect(abs(try #require(readings[2].value) - 5e-5) < 1e-7)
        #expect(abs(try #require(readings[3].value) - 5e-5) < 1e-7)
        #expect(try meter.errorQueue().isEmpty)
        #expect(try meter.probeAxes() == 3)
    }
}
