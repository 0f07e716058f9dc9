import Foundation
import HAL
import Testing
@testable import Emulator
#if canImport(Glibc)
import Glibc
#endif

/// Runs `body` on its own thread and reports whether it returned within `seconds`: a guard against a
/// hang (the bound is generous, never a speed requirement). A body that hangs is left running.
func finishes(within seconds: Double = 60, _ body: @escaping @Sendable () -> Void) -> Bool {
    let done = DispatchSemaphore(value: 0)
    Thread {
        body()
        done.signal()
    }.start()
    return done.wait(timeout: .now() + seconds) == .success
}

@Suite("Bad input from the wire never poisons the model")
struct WireInputTests {
    @Test(arguments: [
        "SETP 0,inf", "SETP 0,INF", "SETP 0,nan", "SETP 0,1e999", "SETP 0,0x1p3", "SETP 0,1000", "SETP 0,-1",
        "PID 0,inf,20,0", "PID 0,0x10,20,0", "PID 0,10,1e999,0", "RAMP 0,1,nan", "RAMP 0,1,0x1",
        "MOUT 0,inf", "STILL 0x32", "TLIMIT 1,inf", "HTRSET 0,0x64,0,0,1",
    ])
    func lakeShore372RejectsNonFiniteAndOutOfRangeNumbers(command: String) throws {
        let session = try station("bluefors-ld400.yaml").session("ls372")
        let before = exchange(session, "SETP? 0;PID? 0;RAMP? 0;MOUT? 0;STILL?;TLIMIT? 1;HTRSET? 0\r\n")
        #expect(exchange(session, command + "\r\n") == "")
        #expect(exchange(session, "*ESR?\r\n") == "16\r\n")
        #expect(exchange(session, "SETP? 0;PID? 0;RAMP? 0;MOUT? 0;STILL?;TLIMIT? 1;HTRSET? 0\r\n") == before)
    }

    @Test func lakeShore372StillAcceptsPlainDecimals() throws {
        let session = try station("bluefors-ld400.yaml").session("ls372")
        #expect(exchange(session, "SETP 0,+5.0E-02;PID 0,10.5,20,0;RAMP 0,1,.5\r\n") == "")
        #expect(exchange(session, "*ESR?;SETP? 0;PID? 0;RAMP? 0\r\n") == "0;+50.0000E-03;+10.500,+20.0,+0.0;1,+0.500\r\n")
    }

    @Test(arguments: ["TSET:INF", "TSET:nan", "TSET:1e999", "TSET:0x1p3", "TSET:5000", "RANGE:1e300", "RANGE:200", "RANGE:INF",
                      "P:inf", "I:1e999", "D:nan", "P:2000", "RAMP:RATE:inf", "RAMP:RATE:0x10"])
    func tritonRepliesInvalidToNonFiniteAndOutOfRangeNumbers(setting: String) throws {
        let session = try station("oxford-triton.yaml").session("triton")
        let before = exchange(session, "READ:DEV:T5:TEMP:LOOP:TSET\r\n") + exchange(session, "READ:DEV:T5:TEMP:LOOP:RANGE\r\n")
        #expect(exchange(session, "SET:DEV:T5:TEMP:LOOP:\(setting)\r\n") == "STAT:SET:DEV:T5:TEMP:LOOP:\(setting):INVALID\r\n")
        #expect(exchange(session, "READ:DEV:T5:TEMP:LOOP:TSET\r\n") + exchange(session, "READ:DEV:T5:TEMP:LOOP:RANGE\r\n") == before)
    }

    @Test func tritonStillAcceptsTheLargestRange() throws {
        let session = try station("oxford-triton.yaml").session("triton")
        #expect(exchange(session, "SET:DEV:T5:TEMP:LOOP:RANGE:100\r\n") == "STAT:SET:DEV:T5:TEMP:LOOP:RANGE:100:VALID\r\n")
    }

    @Test func f71ErrorQueueOverflowsAfterTwentyEntries() throws {
        let session = try station("bluefors-ld400.yaml").session("f71")
        for _ in 0..<25 { _ = exchange(session, "FOO?\n") }
        let errors = (0..<20).map { _ in exchange(session, "SYST:ERR?\n") }
        #expect(errors.dropLast() == Array(repeating: "-113,\"Undefined header\"\r\n", count: 19))
        #expect(errors.last == "-350,\"Queue overflow\"\r\n")
        #expect(exchange(session, "SYST:ERR?\n") == "0,\"No error\"\r\n")
    }
}

@Suite("The physics always makes progress")
struct PhysicsProgressTests {
    @Test func nonFiniteSetpointKeepsHeaterPowerFinite() {
        var loop = HeaterLoop(stage: .mixingChamber, controlStage: .mixingChamber, resistance: 120)
        loop.mode = .closedLoop
        loop.fullScaleCurrent = 0.01
        loop.setSetpoint(.infinity, currentTemperature: 0.01)
        for _ in 0..<3 {
            loop.update(controlTemperature: 0.01, dt: 1)
            #expect(loop.power.isFinite)
        }
        loop.setSetpoint(0.1, currentTemperature: 0.01)
        loop.update(controlTemperature: 0.01, dt: 1)
        #expect(loop.power > 0)
    }

    @Test func nonFiniteHeaterStateCannotStallAdvance() throws {
        let station = try station("bluefors-ld400.yaml")
        let heater = try #require(station.profile.instruments[0].heaters["sample"])
        station.model.withHeater(heater) { h, t in
            h.mode = .closedLoop
            h.fullScaleCurrent = .infinity
            h.setSetpoint(.nan, currentTemperature: t)
        }
        let model = station.model
        #expect(finishes { model.advance(by: 120) })
        #expect(model.time >= 120 && model.stages.allSatisfy { model.temperature(of: $0).isFinite })
    }

    @Test func nonFiniteLinkPowerCannotStallAdvance() throws {
        // T^(n+1) overflows for n = 400 at room temperature: the link's power is NaN (∞ − ∞).
        let yaml = ProfileTests.valid.replacingOccurrences(of: "  pulseTube:", with: """
              links:
                - {from: room, to: fiftyKelvin, coefficient: 1, exponent: 400}
              pulseTube:
            """)
        let model = EmulatedStation(profile: try HardwareProfile(yaml: yaml, file: "overflow.yaml")).model
        #expect(finishes { model.advance(by: 600) })
        #expect(model.time >= 600 && model.stages.allSatisfy { model.temperature(of: $0).isFinite })
    }

    @Test func longAdvanceLetsQueriesThrough() throws {
        let model = try station("bluefors-ld400.yaml").model
        let total = 2e6
        let finished = DispatchSemaphore(value: 0)
        Thread {
            model.advance(by: total)
            finished.signal()
        }.start()
        var seenMidway = false
        while finished.wait(timeout: .now()) == .timedOut {
            let now = model.time
            if now > 0 && now < total { seenMidway = true }
        }
        #expect(seenMidway)
        #expect(abs(model.time - total) < 1e-3)
    }
}

@Suite("Speed factor limits")
struct SpeedFactorTests {
    @Test func stationBringsAnUncheckedFactorIntoRange() throws {
        var profile = try Profiles.load("bluefors-ld400.yaml")
        profile.speedFactor = 1e9
        #expect(EmulatedStation(profile: profile).speedFactor == HardwareProfile.maximumSpeedFactor)
        profile.speedFactor = .nan
        #expect(EmulatedStation(profile: profile).speedFactor == 1)
    }

    @Test(arguments: [1e6, 0, -1, Double.nan, Double.infinity])
    func outOfRangeFactorIsRefused(factor: Double) throws {
        let profile = try Profiles.load("bluefors-ld400.yaml")
        let station = EmulatedStation(profile: profile)
        #expect(throws: SpeedFactorError.self) { try profile.withSpeedFactor(factor) }
        #expect(throws: SpeedFactorError.self) { try station.setSpeedFactor(factor) }
        #expect(station.speedFactor == profile.speedFactor)
    }

    @Test func factorInRangeIsTaken() throws {
        let profile = try Profiles.load("bluefors-ld400.yaml")
        #expect(try profile.withSpeedFactor(1e5).speedFactor == 1e5)
        let station = EmulatedStation(profile: profile)
        try station.setSpeedFactor(250)
        #expect(station.speedFactor == 250)
    }
}

@Suite("Faults and serving under abuse")
struct ServingAbuseTests {
    @Test(arguments: [FaultProfile.Latency.fixed(milliseconds: 1e20), .uniform(minimumMilliseconds: 0, maximumMilliseconds: 1e300),
                      .exponential(meanMilliseconds: 1e300)])
    func hugeLatencyIsClampedNotTrapped(latency: FaultProfile.Latency) {
        var faults = FaultProfile()
        faults.latency = latency
        let injector = FaultInjector(profile: faults, seed: 2)
        for _ in 0..<10 {
            let delay = injector.deliver([0x31], replyNumber: 1).delay
            #expect(delay >= .zero && delay <= .milliseconds(60_000))
        }
    }

    @Test func disconnectAfterRepliesCountsEachConnection() throws {
        let station = try FaultTests.station(faults: { var f = FaultProfile(); f.disconnectAfterReplies = 1; return f }())
        let first = try station.loopbackTransport(for: "ls372"), second = try station.loopbackTransport(for: "ls372")
        for transport in [first, second] {
            try transport.write(Array("*IDN?\r\n".utf8), timeout: .seconds(1))
            #expect(try readLine(transport) == "LSCI,MODEL372,LSA2B3C,1.6")
        }
        try first.write(Array("*IDN?\r\n".utf8), timeout: .seconds(1))
        #expect(throws: TransportError(resource: first.resource, operation: "read", kind: .disconnected)) { try readLine(first) }
    }

    static func servedLakeShore() throws -> (EmulatedStation, UInt16) {
        var profile = try Profiles.load("bluefors-ld400.yaml")
        profile.instruments = [profile.instruments[0]]
        profile.instruments[0].port = 0
        let station = EmulatedStation(profile: profile)
        return (station, try station.serveTCP()[0].port)
    }

    @Test func clientThatNeverReadsCannotHoldStop() throws {
        let (station, port) = try Self.servedLakeShore()
        let client = try SocketClient(port: port)
        var small: Int32 = 4096
        setsockopt(client.fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        // Queries until the server stops reading them (it is stuck sending replies nobody reads).
        let queries = Array(String(repeating: "*IDN?\r\n", count: 1000).utf8)
        var refusals = 0
        let start = ContinuousClock.now
        while refusals < 20, ContinuousClock.now - start < .seconds(20) {
            let n = queries.withUnsafeBytes { Glibc.send(client.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
            if n < 0 { refusals += 1; Thread.sleep(forTimeInterval: 0.01) } else { refusals = 0 }
        }
        #expect(refusals == 20)
        #expect(finishes { station.stopServing() })
    }

    @Test func connectionsBeyondTheCapAreClosed() throws {
        let (station, port) = try Self.servedLakeShore()
        let clients = try (0..<TCPInstrumentServer.maximumConnections).map { _ in try SocketClient(port: port) }
        for client in clients {
            client.send("*IDN?\r\n")
            #expect(client.line() == "LSCI,MODEL372,LSA2B3C,1.6")
        }
        let extra = try SocketClient(port: port)
        extra.send("*IDN?\r\n")
        #expect(extra.line() == nil)
        station.stopServing()
    }
}
