import Foundation
import Testing
@testable import Emulator

@Suite("Physics anchors")
struct PhysicsTests {
    /// Pobell: Q̇ = ṅ(95 T² − 11 T²) with ṅ = 476 µmol/s gives 400 / 100 / 16.0 / 4.0 µW (three figures).
    @Test(arguments: [(0.100, 400.0), (0.050, 100.0), (0.020, 16.0), (0.010, 4.0)])
    func mixingChamberCoolingPower(kelvin: Double, microwatts: Double) {
        let watts = DilutionRefrigeration.mixingChamberCoolingPower(circulation: 476e-6, mixingChamber: kelvin, incoming: kelvin)
        #expect(abs(watts - 476e-6 * 84 * kelvin * kelvin) < 1e-18)
        let threeFigures = Double(String(format: "%.3g", watts * 1e6))!
        #expect(threeFigures == microwatts)
    }

    @Test func copperHeatCapacityFollowsGammaTPlusBetaTCubed() {
        for kelvin in [0.01, 0.1, 1.0] {
            let expected = 0.69e-3 * kelvin + 0.048e-3 * kelvin * kelvin * kelvin
            #expect(HeatCapacityModel.copper.lowTemperatureMolar(at: kelvin) == expected)
            #expect(abs(HeatCapacityModel.copper.molar(at: kelvin) - expected) / expected < 1e-5)
        }
        // Above the Debye regime the lattice term saturates near Dulong–Petit (24.4 J/mol K measured at 298 K).
        let room = HeatCapacityModel.copper.molar(at: 300)
        #expect(room > 20 && room < 26)
    }

    @Test func pulseTubeCurvePassesThroughPublishedPoints() throws {
        let profile = try Profiles.load("bluefors-ld400.yaml")
        #expect(profile.physics.thermal.pulseTube.firstStage.power(at: 45) == 40)
        #expect(profile.physics.thermal.pulseTube.secondStage.power(at: 4.2) == 1.5)
        #expect(profile.physics.thermal.pulseTube.secondStage.power(at: 2.0) == 0)
    }

    /// A 40-hour cooldown from 300 K: stable (finite, positive), reaches base in 24–40 h, and every stage
    /// ends in the ranges of Krinner et al. (2019).
    @Test(arguments: ["bluefors-ld400.yaml", "oxford-triton.yaml"])
    func cooldownFromRoomTemperature(file: String) throws {
        var profile = try Profiles.load(file)
        profile.physics.initialKelvin = [:]
        profile.physics.initialPhase = .precooling
        let model = CryostatModel(spec: profile.physics)
        var reachedBase: Double?
        for minute in 1...(40 * 60) {
            model.advance(by: 60)
            for stage in model.stages {
                let t = model.temperature(of: stage)
                #expect(t.isFinite && t > 0 && t <= 301, "stage \(stage) at \(t) K after \(minute) min")
            }
            if reachedBase == nil, model.temperature(of: .mixingChamber) < 0.015 { reachedBase = Double(minute) / 60 }
        }
        let hours = try #require(reachedBase)
        #expect(hours >= 24 && hours <= 40, "base reached after \(hours) h")
        #expect(model.phase == .circulating)
        #expect((35...50).contains(model.temperature(of: .fiftyKelvin)))
        #expect((3...4).contains(model.temperature(of: .fourKelvin)))
        #expect((0.7...0.9).contains(model.temperature(of: .still)))
        #expect((0.050...0.100).contains(model.temperature(of: .coldPlate)))
        #expect((0.007...0.015).contains(model.temperature(of: .mixingChamber)))
    }

    /// Closed-loop PID on the 372 sample heater (range 5, 3.16 mA into 100 Ω) holds the mixing chamber
    /// within ±0.1 mK of 50 mK and of 100 mK over the last 10 minutes of a 40-minute run.
    @Test(arguments: [0.050, 0.100])
    func pidSettlesMixingChamber(setpoint: Double) throws {
        let model = CryostatModel(spec: try Profiles.load("bluefors-ld400.yaml").physics)
        model.advance(by: 1800)
        model.withHeater("mxc") { heater, t in
            heater.mode = .closedLoop
            heater.fullScaleCurrent = lakeShore372SampleHeaterRanges[5]
            heater.gains = .init(proportional: 2, integral: 20, derivative: 0)
            heater.setSetpoint(setpoint, currentTemperature: t)
        }
        model.advance(by: 30 * 60)
        for _ in 0..<60 {
            model.advance(by: 10)
            #expect(abs(model.temperature(of: .mixingChamber) - setpoint) < 1e-4)
        }
    }

    @Test func setpointRampMovesAtTheRampRate() throws {
        let model = CryostatModel(spec: try Profiles.load("bluefors-ld400.yaml").physics)
        model.withHeater("mxc") { heater, t in
            heater.mode = .closedLoop
            heater.fullScaleCurrent = lakeShore372SampleHeaterRanges[5]
            heater.setSetpoint(0.05, currentTemperature: t)
            heater.rampEnabled = true
            heater.rampKelvinPerMinute = 0.005
            heater.setSetpoint(0.1, currentTemperature: t)
        }
        model.advance(by: 300)
        let working = model.withHeater("mxc") { heater, _ in (heater.workingSetpoint, heater.isRamping) }!
        #expect(abs(working.0 - 0.075) < 1e-9)
        #expect(working.1)
        model.advance(by: 600)
        #expect(model.withHeater("mxc") { heater, _ in heater.isRamping } == false)
    }

    @Test func quenchHeatsTheMixingChamberWhichThenRecovers() throws {
        let model = CryostatModel(spec: try Profiles.load("bluefors-ld400.yaml").physics)
        model.advance(by: 600)
        model.quench(stage: .mixingChamber, energy: 2, seconds: 2)
        model.advance(by: 2)
        #expect(model.temperature(of: .mixingChamber) > 0.867)
        model.advance(by: 60)
        #expect(model.phase == .condensing)
        model.advance(by: 3600)
        #expect(model.temperature(of: .mixingChamber) < 0.015)
        #expect(model.phase == .circulating)
    }

    @Test func warmUpWithPulseTubeOffAndWarmUpHeater() throws {
        let model = CryostatModel(spec: try Profiles.load("bluefors-ld400.yaml").physics)
        model.startWarmUp()
        model.withHeater("warmup") { heater, _ in
            heater.mode = .openLoop
            heater.manualPercent = 100
        }
        var last = model.temperature(of: .fourKelvin)
        for _ in 0..<24 {
            model.advance(by: 3600)
            let now = model.temperature(of: .fourKelvin)
            #expect(now >= last - 1e-9)
            last = now
        }
        #expect(last > 100)
        #expect(model.circulation == 0)
    }

    @Test func pressuresFollowTemperatureAndSpike() throws {
        var profile = try Profiles.load("bluefors-ld400.yaml")
        let cold = CryostatModel(spec: profile.physics)
        let ovc = try #require(cold.pressure(gauge: "P1"))
        #expect(ovc.millibar < 1e-6 && ovc.status == .ok)
        profile.physics.initialKelvin = [:]
        profile.physics.initialPhase = .idle
        let warm = CryostatModel(spec: profile.physics)
        #expect(abs(try #require(warm.pressure(gauge: "P1")).millibar - 1e-2) < 1e-12)
        let before = try #require(cold.pressure(gauge: "P3")).millibar
        #expect(before > 100)
        cold.pressureSpike(factor: 100, decaySeconds: 60)
        #expect(abs(try #require(cold.pressure(gauge: "P3")).millibar / before - 100) < 1e-6)
        #expect(try #require(cold.pressure(gauge: "P3")).status == .overRange)
        cold.advance(by: 600)
        #expect(try #require(cold.pressure(gauge: "P3")).millibar < 1.01 * before)
        #expect(cold.pressure(gauge: "nope") == nil)
    }

    @Test func ruOxCurveRoundTrips() {
        let sensor = RuOxSensor(r0: 1000, t0: 0.21)
        for kelvin in [0.008, 0.05, 1.0, 40.0] {
            let back = sensor.temperature(forResistance: sensor.resistance(at: kelvin))!
            #expect(abs(back - kelvin) / kelvin < 1e-9)
        }
        #expect(sensor.temperature(forResistance: 900) == nil)
    }

    @Test func fieldNoiseIsReproducibleFromTheSeed() throws {
        let spec = try Profiles.load("bluefors-ld400.yaml").physics
        let a = CryostatModel(spec: spec), b = CryostatModel(spec: spec)
        for _ in 0..<5 {
            let fa = a.magneticField(), fb = b.magneticField()
            #expect(fa == fb)
            #expect(abs(fa.z - 5e-5) < 1e-6)
        }
    }
}
