import Drivers
import Emulator
import Foundation
import HAL

/// A station instrument, opened through its driver.
public enum StationDriver: Sendable {
    case temperatureController(LakeShore372)
    case cryostat(OxfordTriton)
    case sensor(any Sensor)
    case generator(any PulseGenerator)
    case readout(KeysightInfiniiVision)

    public var instrument: any Instrument {
        switch self {
        case let .temperatureController(d): d
        case let .cryostat(d): d
        case let .sensor(d): d
        case let .generator(d): d
        case let .readout(d): d
        }
    }
}

/// A station's instruments could not be opened or used as the file says.
public struct StationStartError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// The station's instruments, opened: each through the transport its resource names (TCP, serial, USBTMC),
/// or in this process from the emulator for `LOOPBACK::` resources. With `emulator: {serve: tcp}` the emulator
/// first serves every profile instrument on its TCP port, so TCPIP resources reach it over real sockets.
public final class StationInstruments: Sendable {
    public let station: Station
    /// The emulated hardware, when the station has an `emulator:` section.
    public let emulator: EmulatedStation?
    /// The drivers, in the station's instrument order.
    public let drivers: [StationDriver]

    public init(_ station: Station) throws(StationStartError) {
        self.station = station
        var emulator: EmulatedStation?
        if let setting = station.emulator {
            let emulated: EmulatedStation
            do { emulated = try EmulatedStation(profile: setting.profile) } catch { throw StationStartError("emulator profile: \(error)") }
            if setting.serving == .tcp {
                do { _ = try emulated.serveTCP() } catch { throw StationStartError("cannot serve the emulator on TCP: \(error)") }
            }
            emulated.startClock()
            emulator = emulated
        }
        self.emulator = emulator
        var drivers: [StationDriver] = []
        for entry in station.instruments {
            do { drivers.append(try Self.open(entry, emulator: emulator)) } catch {
                emulator?.stopClock()
                emulator?.stopServing()
                throw error
            }
        }
        self.drivers = drivers
    }

    deinit {
        emulator?.stopClock()
        emulator?.stopServing()
    }

    public func driver(_ id: String) -> StationDriver? {
        station.instruments.firstIndex { $0.id == id }.map { drivers[$0] }
    }

    private static func transport(_ entry: Station.InstrumentEntry, emulator: EmulatedStation?) throws(StationStartError) -> any ByteTransport {
        if case let .loopback(id) = entry.resource.address {
            guard let emulator else { throw StationStartError("\(entry.id): \(entry.resource) needs the station's emulator") }
            do { return try emulator.loopbackTransport(for: id) } catch { throw StationStartError("\(entry.id): \(error)") }
        }
        do { return try openTransport(entry.resource) } catch { throw StationStartError("\(entry.id) at \(entry.resource): \(error)") }
    }

    private static func open(_ entry: Station.InstrumentEntry, emulator: EmulatedStation?) throws(StationStartError) -> StationDriver {
        let transport = try transport(entry, emulator: emulator)
        do {
            switch entry.kind {
            case .lakeShore372: return .temperatureController(LakeShore372(transport: transport))
            case .triton: return .cryostat(OxfordTriton(transport: transport))
            case .tpg366: return .sensor(PfeifferTPG366(transport: transport))
            case .f71: return .sensor(LakeShoreF71(transport: transport))
            case .keysight33500B: return .generator(try Keysight33500B(transport: transport))
            case .awg5200: return .generator(try TektronixAWG5200(transport: transport))
            case .infiniiVision:
                return .readout(KeysightInfiniiVision(
                    transport: transport,
                    configuration: .init(tones: entry.tones.map { .init(frequency: $0) }, windowLength: entry.window, verticalRange: entry.verticalRange)))
            }
        } catch {
            throw StationStartError("\(entry.id): \(error)")
        }
    }

    /// Reads one channel through its driver, in the channel's SI unit.
    public func read(_ channel: Station.ChannelEntry) throws(InstrumentError) -> Double {
        guard let driver = driver(channel.instrument) else { preconditionFailure("validated station names no instrument \(channel.instrument)") }
        switch (channel.reading, driver) {
        case let (.input(input), .temperatureController(d)): return try d.reading(channel: input).temperature?.siValue ?? .nan
        case let (.heater(output), .temperatureController(d)): return try d.heaterOutputPercent(for: output)
        case let (.heaterPower(output), .temperatureController(d)): return try d.heaterPowerWatts(for: output)
        case let (.stage(stage), .cryostat(d)): return try d.temperature(of: stage).temperature?.siValue ?? .nan
        case let (.sensor(name), .sensor(d)):
            guard let reading = try d.read().first(where: { $0.channel.name == name }) else {
                throw InstrumentError(
                    instrument: "\(channel.instrument)", command: nil,
                    kind: .invalidArgument("has no sensor channel \"\(name)\"; it has \(d.sensorChannels.map(\.name).joined(separator: ", "))"))
            }
            return reading.value ?? .nan
        default: preconditionFailure("validated station pairs \(channel.reading) with \(channel.instrument)")
        }
    }

    /// Drives one safe-state action through its driver.
    public func apply(_ action: Station.SafeAction) throws(InstrumentError) {
        switch action {
        case let .outputsOff(id):
            guard case let .generator(g)? = driver(id) else { return }
            try g.stop()
            for channel in 1...g.capabilities.channels { try g.setOutput(channel, enabled: false) }
        case let .heaterOff(id, output):
            guard case let .temperatureController(t)? = driver(id) else { return }
            try t.setHeaterRange(0, for: output)
        case .line:
            return  // GPIO outputs are driven by the loop itself, in the trip's cycle.
        }
    }
}
