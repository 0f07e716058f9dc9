import Foundation
import HAL
import Testing
@testable import Emulator
#if canImport(Glibc)
import Glibc
#endif

/// A plain blocking TCP client, so the server is tested with a real socket.
final class SocketClient {
    let fd: Int32

    init(port: UInt16) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(result == 0)
    }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Reads until CR LF, the peer closes (nil), or 5 s pass without data (nil).
    func line() -> String? {
        var data: [UInt8] = []
        var byte: UInt8 = 0
        while !(data.count >= 2 && data.suffix(2) == [0x0D, 0x0A]) {
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 5000) > 0, recv(fd, &byte, 1, 0) == 1 else { return nil }
            data.append(byte)
        }
        return String(decoding: data.dropLast(2), as: UTF8.self)
    }

    deinit { close(fd) }
}

/// Reads one CR LF line through a transport.
func readLine(_ transport: some ByteTransport, timeout: Duration = .seconds(2)) throws(TransportError) -> String {
    var data: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 256)
    while !(data.count >= 2 && data.suffix(2) == [0x0D, 0x0A]) {
        let result: Result<Int, TransportError> = buffer.withUnsafeMutableBytes { raw in
            Result { () throws(TransportError) in try transport.read(into: raw, timeout: timeout) }
        }
        let count = try result.get()
        data += buffer[0..<count]
    }
    return String(decoding: data.dropLast(2), as: UTF8.self)
}

@Suite("Serving: loopback and TCP")
struct ServingTests {
    @Test func loopbackTransportAnswersLikeTheInstrument() throws {
        let station = try station("bluefors-ld400.yaml")
        let transport = try station.loopbackTransport(for: "ls372")
        #expect(transport.resource.description == "LOOPBACK::ls372")
        try transport.write(Array("*IDN?\r\n".utf8), timeout: .seconds(1))
        #expect(try readLine(transport) == "LSCI,MODEL372,LSA2B3C,1.6")
        try transport.write(Array("SETP 0,0.05\r\n".utf8), timeout: .seconds(1))
        #expect(throws: TransportError(resource: transport.resource, operation: "read", kind: .timeout)) {
            try readLine(transport, timeout: .milliseconds(1))
        }
        transport.close()
        #expect(throws: TransportError(resource: transport.resource, operation: "write", kind: .closed)) {
            try transport.write(Array("*IDN?\r\n".utf8), timeout: .seconds(1))
        }
    }

    @Test func unknownInstrumentIsNamed() throws {
        let station = try station("bluefors-ld400.yaml")
        #expect(throws: StationError.unknownInstrument(id: "ls370", known: ["ls372", "maxigauge", "f71"])) {
            try station.loopbackTransport(for: "ls370")
        }
        #expect(StationError.unknownInstrument(id: "x", known: ["a"]).description == "the station has no instrument \"x\"; its instruments are a")
    }

    @Test func tcpServesSeveralClientsAndShutsDown() throws {
        var profile = try Profiles.load("bluefors-ld400.yaml")
        for index in profile.instruments.indices { profile.instruments[index].port = 0 }
        let station = EmulatedStation(profile: profile)
        let endpoints = try station.serveTCP()
        #expect(endpoints.map(\.id) == ["ls372", "maxigauge", "f71"])
        #expect(endpoints.allSatisfy { $0.port != 0 })
        let port372 = endpoints[0].port
        #expect(endpoints[0].resource.description == "TCPIP0::127.0.0.1::\(port372)::SOCKET")
        let a = try SocketClient(port: port372), b = try SocketClient(port: port372)
        a.send("*IDN?\r\n")
        b.send("KRDG? 6\r\n")
        #expect(a.line() == "LSCI,MODEL372,LSA2B3C,1.6")
        #expect(b.line() == "+10.0000E-03")
        a.send("KRDG?")
        a.send(" 1\r\n")
        #expect(a.line() == "+37.5000E+00")
        let gauge = try SocketClient(port: endpoints[1].port)
        gauge.send("PR5\r\n")
        #expect(gauge.line() == "\u{06}")
        gauge.send("\u{05}")
        #expect(gauge.line() == "0,1.5000E+02")
        let f71 = try SocketClient(port: endpoints[2].port)
        f71.send("*IDN?\n")
        #expect(f71.line() == "Lake Shore,F71,F71-0042,1.0")
        station.stopServing()
        #expect(a.line() == nil)
    }

    @Test func busyPortIsReportedWithTheInstrument() throws {
        var profile = try Profiles.load("bluefors-ld400.yaml")
        profile.instruments = [profile.instruments[0]]
        profile.instruments[0].port = 0
        let first = EmulatedStation(profile: profile)
        let port = try first.serveTCP()[0].port
        profile.instruments[0].port = port
        let second = EmulatedStation(profile: profile)
        do {
            _ = try second.serveTCP()
            Issue.record("a second server on port \(port) should fail")
        } catch let .serve(error) {
            #expect(error.instrument == "ls372" && error.port == port && error.call == "bind" && error.errno == EADDRINUSE)
            #expect(error.description.contains("cannot serve instrument \"ls372\" on 127.0.0.1:\(port): bind failed"))
        } catch {
            Issue.record("unexpected \(error)")
        }
        first.stopServing()
    }
}

@Suite("Fault injection")
struct FaultTests {
    static func station(faults: FaultProfile) throws -> EmulatedStation {
        let station = try EmulatedStationFactory.bluefors()
        try station.setFaults(faults, for: "ls372")
        return station
    }

    @Test func droppedRepliesNeverArrive() throws {
        var faults = FaultProfile()
        faults.dropProbability = 1
        let transport = try Self.station(faults: faults).loopbackTransport(for: "ls372")
        try transport.write(Array("*IDN?\r\n".utf8), timeout: .seconds(1))
        #expect(throws: TransportError.self) { try readLine(transport, timeout: .milliseconds(1)) }
    }

    @Test func truncatedRepliesLoseTheirTerminator() {
        var faults = FaultProfile()
        faults.truncateProbability = 1
        let delivery = FaultInjector(profile: faults, seed: 1).deliver(Array("LSCI,MODEL372,LSA2B3C,1.6\r\n".utf8), replyNumber: 1)
        #expect(delivery.bytes == Array("LSCI,MODEL372".utf8))
    }

    @Test func garbledRepliesDifferButKeepTheirLengthAndTerminator() {
        var faults = FaultProfile()
        faults.garbleProbability = 1
        let reply = Array("+10.0000E-03\r\n".utf8)
        let delivery = FaultInjector(profile: faults, seed: 7).deliver(reply, replyNumber: 1)
        #expect(delivery.bytes.count == reply.count && delivery.bytes != reply)
        #expect(delivery.bytes.suffix(2) == [0x0D, 0x0A])
        #expect(FaultInjector(profile: faults, seed: 7).deliver(reply, replyNumber: 1) == delivery)
    }

    @Test func latencyIsDrawnFromTheDistribution() {
        var faults = FaultProfile()
        faults.latency = .fixed(milliseconds: 250)
        #expect(FaultInjector(profile: faults, seed: 1).deliver([0x31], replyNumber: 1).delay == .milliseconds(250))
        faults.latency = .uniform(minimumMilliseconds: 10, maximumMilliseconds: 20)
        let uniform = FaultInjector(profile: faults, seed: 3)
        for _ in 0..<100 {
            let delay = uniform.deliver([0x31], replyNumber: 1).delay
            #expect(delay >= .milliseconds(10) && delay <= .milliseconds(20))
        }
        faults.latency = .exponential(meanMilliseconds: 5)
        let exponential = FaultInjector(profile: faults, seed: 4)
        let mean = (0..<2000).map { _ in exponential.deliver([0x31], replyNumber: 1).delay.seconds }.reduce(0, +) / 2000
        #expect(abs(mean - 0.005) < 0.0005)
    }

    @Test func latencyLongerThanTheTimeoutTimesOut() throws {
        var faults = FaultProfile()
        faults.latency = .fixed(milliseconds: 60_000)
        let transport = try Self.station(faults: faults).loopbackTransport(for: "ls372")
        try transport.write(Array("*IDN?\r\n".utf8), timeout: .seconds(1))
        #expect(throws: TransportError(resource: transport.resource, operation: "read", kind: .timeout)) {
            try readLine(transport, timeout: .milliseconds(1))
        }
    }

    @Test func disconnectAfterReplies() throws {
        var faults = FaultProfile()
        faults.disconnectAfterReplies = 1
        let transport = try Self.station(faults: faults).loopbackTransport(for: "ls372")
        try transport.write(Array("*IDN?\r\n".utf8), timeout: .seconds(1))
        #expect(try readLine(transport) == "LSCI,MODEL372,LSA2B3C,1.6")
        try transport.write(Array("*IDN?\r\n".utf8), timeout: .seconds(1))
        #expect(throws: TransportError(resource: transport.resource, operation: "read", kind: .disconnected)) {
            try readLine(transport)
        }
    }

    @Test func disconnectClosesTheTCPConnection() throws {
        var profile = try Profiles.load("bluefors-ld400.yaml")
        profile.instruments = [profile.instruments[0]]
        profile.instruments[0].port = 0
        profile.instruments[0].faults.disconnectAfterReplies = 1
        let station = EmulatedStation(profile: profile)
        let port = try station.serveTCP()[0].port
        let client = try SocketClient(port: port)
        client.send("*IDN?\r\n")
        #expect(client.line() == "LSCI,MODEL372,LSA2B3C,1.6")
        client.send("*IDN?\r\n")
        #expect(client.line() == nil)
        station.stopServing()
    }

    @Test func profileFaultsLoadAndOpenCircuitChannelsStartOpen() throws {
        let yaml = try String(contentsOf: Profiles.directory.appendingPathComponent("bluefors-ld400.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "    heaters: {sample: mxc, warmup: warmup, still: still}", with: """
                heaters: {sample: mxc, warmup: warmup, still: still}
                faults:
                  latency: {distribution: uniform, milliseconds: 1, maximumMilliseconds: 2}
                  dropProbability: 0.1
                  garbleProbability: 0.01
                  truncateProbability: 0.01
                  disconnectAfterReplies: 1000
                  openCircuitChannels: ["5"]
            """)
        let profile = try HardwareProfile(yaml: yaml, file: "faulty.yaml")
        let faults = profile.instruments[0].faults
        #expect(faults.latency == .uniform(minimumMilliseconds: 1, maximumMilliseconds: 2))
        #expect(faults.dropProbability == 0.1 && faults.disconnectAfterReplies == 1000)
        let station = EmulatedStation(profile: profile)
        #expect(exchange(station.session("ls372"), "RDGST? 5\r\n") == "016\r\n")
    }

    @Test func scheduledQuenchAndSpikeFireAtTheirTimes() throws {
        var profile = try Profiles.load("bluefors-ld400.yaml")
        profile.events = [
            ScheduledEvent(at: 3600, action: .quench(stage: .mixingChamber, joules: 0.01, seconds: 1)),
            ScheduledEvent(at: 7200, action: .pressureSpike(factor: 1000, decaySeconds: 60)),
            ScheduledEvent(at: 7300, action: .openCircuit(sensor: "ls372/6", open: true)),
        ]
        let station = EmulatedStation(profile: profile)
        station.advance(by: 3599)
        #expect(station.model.temperature(of: .mixingChamber) < 0.015)
        station.advance(by: 2)
        #expect(station.model.temperature(of: .mixingChamber) > 0.05)
        station.advance(by: 3600)
        #expect(try #require(station.model.pressure(gauge: "P1")).millibar > 100 * 1e-8)
        station.advance(by: 200)
        #expect(exchange(station.session("ls372"), "RDGST? 6\r\n") == "016\r\n")
    }

    @Test func backgroundClockAdvancesSimulatedTime() throws {
        var profile = try Profiles.load("bluefors-ld400.yaml")
        profile.speedFactor = 1000
        let station = EmulatedStation(profile: profile)
        station.startClock()
        let clock = ContinuousClock()
        let start = clock.now
        while station.model.time < 1, clock.now - start < .seconds(20) { Thread.sleep(forTimeInterval: 0.005) }
        station.stopClock()
        let stopped = station.model.time
        #expect(stopped >= 1)
        Thread.sleep(forTimeInterval: 0.05)
        #expect(station.model.time == stopped)
    }
}
