import Foundation
import Testing
@testable import Emulator

@Suite("Hardware profiles")
struct ProfileTests {
    @Test(arguments: ["bluefors-ld400.yaml", "oxford-triton.yaml"])
    func shippedProfileLoads(file: String) throws {
        let profile = try Profiles.load(file)
        #expect(!profile.instruments.isEmpty)
        #expect(profile.physics.thermal.stages.count == 6)
        #expect(profile.physics.thermal.dilutionUnit.nominalCirculation > 0)
    }

    @Test func blueforsHasTheThreeInstruments() throws {
        let profile = try Profiles.load("bluefors-ld400.yaml")
        #expect(profile.instruments.map(\.kind) == [.lakeShore372, .tpg366, .f71])
        #expect(profile.instruments[0].port == nil)
        #expect(profile.instruments[2].port == 7778)
    }

    /// A minimal valid profile, with a placeholder each malformed case replaces.
    static let valid = """
    name: test
    physics:
      stages:
        fiftyKelvin: {copperMoles: 100}
        fourKelvin: {copperMoles: 100}
        still: {copperMoles: 10}
        coldPlate: {copperMoles: 10}
        mixingChamber:
          copperMoles: 10
      pulseTube:
        firstStage: [[25, 0], [45, 40]]
        secondStage: [[2.8, 0], [4.2, 1.5]]
      dilutionUnit: {nominalCirculation: 476e-6, stillReferenceKelvin: 0.8, latentHeat: 40}
    instruments:
      - {id: ls372, model: lakeshore372}
    """

    @Test func minimalProfileLoads() throws {
        let profile = try HardwareProfile(yaml: Self.valid, file: "min.yaml")
        #expect(profile.name == "test")
        #expect(profile.speedFactor == 1)
    }

    @Test func eventsLoad() throws {
        let yaml = Self.valid + """

        events:
          - {atHours: 1, quench: {stage: mixingChamber, joules: 0.01}}
          - {atHours: 2, pressureSpike: {factor: 50}}
          - {atHours: 3, openCircuit: ls372/6}
          - {atHours: 4, warmUp: true}
        """
        let events = try HardwareProfile(yaml: yaml, file: "events.yaml").events
        #expect(events == [
            ScheduledEvent(at: 3600, action: .quench(stage: .mixingChamber, joules: 0.01, seconds: 1)),
            ScheduledEvent(at: 7200, action: .pressureSpike(factor: 50, decaySeconds: 60)),
            ScheduledEvent(at: 10800, action: .openCircuit(sensor: "ls372/6", open: true)),
            ScheduledEvent(at: 14400, action: .warmUp),
        ])
    }

    struct Case: Sendable, CustomStringConvertible {
        var description: String
        var yaml: String
        var line: Int
        var column: Int
        var keyPath: String
        var message: String
    }

    static let cases: [Case] = [
        Case(description: "wrong type", yaml: valid.replacingOccurrences(of: "      copperMoles: 10", with: "      copperMoles: abc"),
             line: 9, column: 20, keyPath: "physics.stages.mixingChamber.copperMoles", message: "expected a positive number, got \"abc\""),
        Case(description: "negative heat capacity", yaml: valid.replacingOccurrences(of: "still: {copperMoles: 10}", with: "still: {copperMoles: -3}"),
             line: 6, column: 26, keyPath: "physics.stages.still.copperMoles", message: "expected a positive number, got \"-3\""),
        Case(description: "unknown key", yaml: valid.replacingOccurrences(of: "      copperMoles: 10", with: "      copperMols: 10"),
             line: 9, column: 7, keyPath: "physics.stages.mixingChamber.copperMols", message: "unknown key; expected one of copperMoles, materials, staticLoad"),
        Case(description: "missing key", yaml: valid.replacingOccurrences(of: "latentHeat: 40", with: "condensingHours: 2"),
             line: 13, column: 17, keyPath: "physics.dilutionUnit.latentHeat", message: "missing required key"),
        Case(description: "bad YAML syntax", yaml: valid.replacingOccurrences(of: "firstStage: [[25, 0], [45, 40]]", with: "firstStage: [[25, 0], [45, 40]"),
             line: 12, column: 5, keyPath: "", message: "YAML syntax error: did not find expected ',' or ']'"),
        Case(description: "unknown stage", yaml: valid.replacingOccurrences(of: "coldPlate: {copperMoles: 10}", with: "coldplate: {copperMoles: 10}"),
             line: 7, column: 5, keyPath: "physics.stages.coldplate",
             message: "expected one of coldPlate, fiftyKelvin, fourKelvin, mixingChamber, sample, still, got \"coldplate\""),
        Case(description: "bad channel", yaml: valid.replacingOccurrences(of: "{id: ls372, model: lakeshore372}",
                                                                          with: "{id: ls372, model: lakeshore372, thermometers: [{channel: \"17\", stage: still, r0: 1000, t0: 0.2}]}"),
             line: 15, column: 63, keyPath: "instruments[0].thermometers[0].channel", message: "a Lake Shore 372 input is A (the control input) or 1 to 16, got \"17\""),
        Case(description: "cooling curve not increasing", yaml: valid.replacingOccurrences(of: "[[25, 0], [45, 40]]", with: "[[45, 0], [25, 40]]"),
             line: 11, column: 17, keyPath: "physics.pulseTube.firstStage", message: "the points' temperatures must increase strictly"),
        Case(description: "probability above one", yaml: valid.replacingOccurrences(of: "{id: ls372, model: lakeshore372}",
                                                                                    with: "{id: ls372, model: lakeshore372, faults: {dropProbability: 1.5}}"),
             line: 15, column: 64, keyPath: "instruments[0].faults.dropProbability", message: "expected a number from 0 to 1, got \"1.5\""),
        Case(description: "unknown instrument model", yaml: valid.replacingOccurrences(of: "model: lakeshore372", with: "model: lakeshore370"),
             line: 15, column: 24, keyPath: "instruments[0].model",
             message: "expected one of awg5200, f71, infiniivision, keysight33500b, lakeshore372, tpg366, triton, got \"lakeshore370\""),
        Case(description: "latency above a minute", yaml: valid.replacingOccurrences(of: "{id: ls372, model: lakeshore372}",
                                                                                      with: "{id: ls372, model: lakeshore372, faults: {latency: {distribution: fixed, milliseconds: 1e9}}}"),
             line: 15, column: 92, keyPath: "instruments[0].faults.latency.milliseconds", message: "a latency must be at most 60000 ms, got \"1e9\""),
        Case(description: "speed factor above the cap", yaml: valid.replacingOccurrences(of: "name: test", with: "name: test\nspeedFactor: 1e6"),
             line: 2, column: 14, keyPath: "speedFactor",
             message: "must be at most 100000.0 (simulated seconds per real second), got 1000000.0"),
        Case(description: "event with two actions", yaml: valid + "\nevents:\n  - {atHours: 1, cooldown: true, warmUp: true}",
             line: 17, column: 42, keyPath: "events[0].warmUp",
             message: "an event takes exactly one action, got cooldown and warmUp; give each its own event"),
        Case(description: "gauge range inverted", yaml: valid.replacingOccurrences(of: "  dilutionUnit:", with: """
               gauges: [{id: P1, baseMillibar: 1e-6, stage: still, minimumMillibar: 10, maximumMillibar: 1}]
               dilutionUnit:
             """),
             line: 13, column: 72, keyPath: "physics.gauges[0].minimumMillibar",
             message: "minimumMillibar (10.0) must not exceed maximumMillibar (1.0)"),
        Case(description: "missing instruments", yaml: valid.replacingOccurrences(of: "instruments:\n  - {id: ls372, model: lakeshore372}", with: ""),
             line: 1, column: 1, keyPath: "instruments", message: "missing required key"),
    ]

    @Test(arguments: cases)
    func malformedProfileIsLocated(_ bad: Case) {
        #expect(throws: ProfileError(file: "bluefors-ld400.yaml", line: bad.line, column: bad.column, keyPath: bad.keyPath, message: bad.message)) {
            try HardwareProfile(yaml: bad.yaml, file: "bluefors-ld400.yaml")
        }
    }

    @Test func errorReadsLikeACompilerDiagnostic() {
        let error = ProfileError(file: "bluefors-ld400.yaml", line: 12, column: 5, keyPath: "stages.mixingChamber.copperMoles",
                                 message: "expected a positive number, got \"abc\"")
        #expect(error.description == "bluefors-ld400.yaml:12:5: stages.mixingChamber.copperMoles: expected a positive number, got \"abc\"")
    }

    @Test func missingFileIsReported() {
        #expect(throws: ProfileError.self) { try HardwareProfile(contentsOf: URL(fileURLWithPath: "/nonexistent/none.yaml")) }
    }
}
