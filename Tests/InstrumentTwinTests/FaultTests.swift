import Drivers
import Emulator
import HAL
import Testing

/// Each fault the emulator injects must end in a typed error or a recovered connection.
@Suite struct FaultTests {
    /// One query per instrument, through its driver.
    enum Probe: String, CaseIterable, CustomTestStringConvertible {
        case ls372, triton, maxigauge, f71
        var testDescription: String { rawValue }
        var profile: String { self == .triton ? "oxford-triton.yaml" : "bluefors-ld400.yaml" }

        func driver(_ transport: sending any ByteTransport) -> @Sendable () throws(InstrumentError) -> Void {
            let timeout = Duration.milliseconds(300)
            switch self {
            case .ls372:
                let bridge = LakeShore372(transport: transport, timeout: timeout)
                return { () throws(InstrumentError) in _ = try bridge.reading(channel: "6") }
            case .triton:
                let triton = OxfordTriton(transport: transport, timeout: timeout)
                return { () throws(InstrumentError) in _ = try triton.temperature(of: .mixingChamber) }
            case .maxigauge:
                let gauge = PfeifferTPG366(transport: transport, timeout: timeout)
                return { () throws(InstrumentError) in _ = try gauge.read() }
            case .f71:
                let meter = LakeShoreF71(transport: transport, timeout: timeout)
                return { () throws(InstrumentError) in _ = try meter.read() }
            }
        }
    }

    static func outcome(_ call: () throws(InstrumentError) -> Void) -> InstrumentError? {
        do { try call(); return nil } catch { return error }
    }

    @Test(arguments: Probe.allCases)
    func latencyIsTolerated(probe: Probe) throws {
        let station = try freePortProfile(probe.profile)
        var faults = FaultProfile()
        faults.latency = .fixed(milliseconds: 20)
        try station.setFaults(faults, for: probe.rawValue)
        let call = probe.driver(try station.loopbackTransport(for: probe.rawValue))
        #expect(Self.outcome(call) == nil)
    }

    @Test(arguments: Probe.allCases)
    func aDroppedReplyIsATimeoutAndTheNextCallRecovers(probe: Probe) throws {
        let station = try freePortProfile(probe.profile)
        let call = probe.driver(try station.loopbackTransport(for: probe.rawValue))
        var faults = FaultProfile()
        faults.dropProbability = 1
        try station.setFaults(faults, for: probe.rawValue)
        #expect(Self.outcome(call)?.kind.isTimeout == true)
        try station.setFaults(FaultProfile(), for: probe.rawValue)
        #expect(Self.outcome(call) == nil)
    }

    @Test(arguments: Probe.allCases)
    func aTruncatedReplyIsATypedErrorAndTheNextCallRecovers(probe: Probe) throws {
        let station = try freePortProfile(probe.profile)
        let call = probe.driver(try station.loopbackTransport(for: probe.rawValue))
        var faults = FaultProfile()
        faults.truncateProbability = 1
        try station.setFaults(faults, for: probe.rawValue)
        let error = try #require(Self.outcome(call))
        #expect(error.kind.isTimeout || error.kind.isUnexpectedReply, "\(error)")
        try station.setFaults(FaultProfile(), for: probe.rawValue)
        #expect(Self.outcome(call) == nil)
    }

    @Test(arguments: Probe.allCases)
    func garbledRepliesAreUnexpectedRepliesNeverWrongValues(probe: Probe) throws {
        let station = try freePortProfile(probe.profile)
        let call = probe.driver(try station.loopbackTransport(for: probe.rawValue))
        var faults = FaultProfile()
        faults.garbleProbability = 1
        try station.setFaults(faults, for: probe.rawValue)
        let outcomes = (0..<10).map { _ in Self.outcome(call) }
        // Garbage that still parses (a digit swapped for a digit) cannot be told from a reading; everything
        // else must be a typed error of the reply's form, or a timeout when the terminator itself was hit.
        #expect(outcomes.contains { $0?.kind.isUnexpectedReply == true || $0?.kind.isRefusal == true })
        #expect(outcomes.allSatisfy { $0 == nil || $0!.kind.isUnexpectedReply || $0!.kind.isRefusal || $0!.kind.isTimeout })
        try station.setFaults(FaultProfile(), for: probe.rawValue)
        #expect(Self.outcome(call) == nil)
    }

    @Test(arguments: Probe.allCases)
    func aDisconnectOverLoopbackIsATypedError(probe: Probe) throws {
        let station = try freePortProfile(probe.profile)
        let call = probe.driver(try station.loopbackTransport(for: probe.rawValue))
        var faults = FaultProfile()
        faults.disconnectAfterReplies = 1
        try station.setFaults(faults, for: probe.rawValue)
        // The first reply still arrives; the next one is replaced by a dropped connection, which stays down.
        let outcomes = (0..<3).map { _ in Self.outcome(call) }
        let errors = outcomes.compactMap { $0 }
        #expect(outcomes.last! != nil)
        #expect(errors.allSatisfy { error in
            if case .transport(let transport) = error.kind { [.disconnected, .timeout].contains(transport.kind) } else { false }
        }, "\(errors)")
    }

    @Test(arguments: Probe.allCases)
    func aDisconnectOverTCPReconnects(probe: Probe) throws {
        let station = try freePortProfile(probe.profile)
        defer { station.stopServing() }
        let call = probe.driver(try Link.tcp.transport(station, probe.rawValue))
        var faults = FaultProfile()
        faults.disconnectAfterReplies = 1
        try station.setFaults(faults, for: probe.rawValue)
        var errors: [InstrumentError] = []
        for _ in 0..<3 { if let error = Self.outcome(call) { errors.append(error) } }
        #expect(!errors.isEmpty && errors.allSatisfy { if case .transport = $0.kind { true } else { false } }, "\(errors)")
        try station.setFaults(FaultProfile(), for: probe.rawValue)
        var recovered = Self.outcome(call)
        if recovered != nil { recovered = Self.outcome(call) }  // the first call may meet the closed socket
        #expect(recovered == nil, "\(String(describing: recovered))")
    }
}

extension InstrumentError.Kind {
    var isUnexpectedReply: Bool { if case .unexpectedReply = self { true } else { false } }
    var isRefusal: Bool { if case .refused = self { true } else { false } }
    var isTimeout: Bool { if case .transport(let error) = self { error.kind == .timeout } else { false } }
}
