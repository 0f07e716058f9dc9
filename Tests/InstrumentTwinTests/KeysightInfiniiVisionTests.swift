import Drivers
@testable import Emulator
import HAL
import Synchronization
import Testing

/// A scope twin and a driver connected to it in process or over TCP.
struct ScopeRig {
    static let serial = "MY58120345"
    let bench = RecordingBench()
    let twin: KeysightInfiniiVisionTwin
    let server: TCPInstrumentServer?

    init(tones: [Double], link: Link, model: String = "DSOX3034T", sampleRate: Double = 1e9, memoryDepth: Int = 4_000_000,
         noiseVolts: Double = 1e-3, segmentedAll: Bool? = nil) throws {
        let profile = InstrumentProfile(id: "scope", kind: .infiniiVision, port: 0, serialNumber: Self.serial, firmware: "07.50.2021")
        twin = KeysightInfiniiVisionTwin(
            profile: profile, bench: bench, model: model, tones: tones, sampleRate: sampleRate, memoryDepth: memoryDepth,
            noiseVolts: noiseVolts, supportsSegmentedAll: segmentedAll)
        server = link == .tcp ? try TCPInstrumentServer(twin: twin, faults: FaultInjector(profile: FaultProfile(), seed: 1), host: "127.0.0.1", port: 0) : nil
    }

    func transport() -> any ByteTransport {
        if let server { return TCPTransport(host: "127.0.0.1", port: server.port) }
        return LoopbackTransport(id: "scope", session: twin.makeSession(), faults: FaultInjector(profile: FaultProfile(), seed: 1))
    }

    func driver(_ configuration: KeysightInfiniiVision.Configuration) -> KeysightInfiniiVision {
        KeysightInfiniiVision(transport: transport(), configuration: configuration, timeout: .seconds(5))
    }

    func stop() { server?.stop() }
}

/// Records whose IQ points are drawn from `generator`, one point per tone.
func records(_ count: Int, tones: Int, windowsPerShot: Int = 1, seed: UInt64) -> [MeasurementRecord] {
    var random = SeededGenerator(seed: seed)
    return (0..<count).map { n in
        let points = (0..<tones).map { _ in IQPoint(i: 0.3 * (random.unit() - 0.5), q: 0.3 * (random.unit() - 0.5)) }
        return MeasurementRecord(
            shot: n / windowsPerShot, window: n % windowsPerShot, projected: points.map { $0.i < 0 }, points: points)
    }
}

func distance(_ a: IQPoint, _ b: IQPoint) -> Double {
    ((a.i - b.i) * (a.i - b.i) + (a.q - b.q) * (a.q - b.q)).squareRoot()
}

@Suite("Keysight InfiniiVision: driver against its twin") struct KeysightInfiniiVisionTwinTests {
    /// 25 MHz and 40 MHz over 2 µs: 50 and 80 periods, and 30 of their difference, so the tones are orthogonal.
    static let window = 2e-6

    static func configuration(
        tones: [Double], format: KeysightInfiniiVision.SampleFormat = .word, discriminators: [Discriminator?] = []
    ) -> KeysightInfiniiVision.Configuration {
        KeysightInfiniiVision.Configuration(
            channel: 1,
            tones: tones.enumerated().map { KeysightInfiniiVision.Tone(frequency: $1, discriminator: discriminators.count > $0 ? discriminators[$0] : nil) },
            windowLength: window, verticalRange: 0.8, format: format)
    }

    @Test("Identifies itself and starts with an empty error queue", arguments: Link.allCases)
    func identifies(link: Link) throws {
        let rig = try ScopeRig(tones: [25e6], link: link)
        defer { rig.stop() }
        let scope = rig.driver(Self.configuration(tones: [25e6]))
        let identity = try scope.identify()
        #expect(identity.manufacturer == "KEYSIGHT TECHNOLOGIES" && identity.model == "DSOX3034T")
        #expect(identity.serialNumber == ScopeRig.serial)
        #expect(try scope.errorQueue().isEmpty)
    }

    /// The bound: ADC noise of 1 mV averaged over 2000 samples leaves σ ≈ 1 mV·√(2/2000) ≈ 32 µV per component,
    /// and 8-bit steps of 3.1 mV add less than that once dithered by the noise.
    @Test("Each segment demodulates to its record's IQ point", arguments: Link.allCases, [KeysightInfiniiVision.SampleFormat.word, .byte])
    func recoversPoints(link: Link, format: KeysightInfiniiVision.SampleFormat) throws {
        let rig = try ScopeRig(tones: [25e6], link: link)
        defer { rig.stop() }
        let scope = rig.driver(Self.configuration(tones: [25e6], format: format))
        try scope.configure(AcquisitionSettings(shots: 50))
        try scope.arm()
        let sent = records(50, tones: 1, seed: 7)
        rig.bench.queue(sent)
        let shots = try scope.fetch(timeout: .seconds(5))
        #expect(shots.points.count == 50 && shots.bits == nil && shots.shotCount == 50)
        let worst = zip(shots.points, sent).map { distance($0, $1.points[0]) }.max()!
        #expect(worst < 3e-4, "worst error \(worst) V")
        #expect(try scope.errorQueue().isEmpty)
    }

    @Test("Two multiplexed tones are separated", arguments: [true, false])
    func separatesTones(allAtOnce: Bool) throws {
        let rig = try ScopeRig(tones: [25e6, 40e6], link: .loopback, segmentedAll: allAtOnce)
        let scope = rig.driver(Self.configuration(tones: [25e6, 40e6]))
        try scope.configure(AcquisitionSettings(shots: 20))
        try scope.arm()
        let sent = records(20, tones: 2, seed: 11)
        rig.bench.queue(sent)
        let perTone = try scope.fetchAll(timeout: .seconds(5))
        #expect(perTone.count == 2)
        for tone in 0..<2 {
            let worst = zip(perTone[tone].points, sent).map { distance($0, $1.points[tone]) }.max()!
            #expect(worst < 3e-4, "tone \(tone): worst error \(worst) V")
        }
    }

    @Test("Discriminated bits, excited fractions and averages follow the records")
    func discriminates() throws {
        let ground = IQPoint(i: 0.1, q: 0), excited = IQPoint(i: -0.1, q: 0.05)
        let rig = try ScopeRig(tones: [25e6, 40e6], link: .loopback)
        // The second tone's qubit has its own calibration, with the centres swapped.
        let scope = rig.driver(
            Self.configuration(tones: [25e6, 40e6], discriminators: [nil, Discriminator(ground: excited, excited: ground)]))
        try scope.configure(AcquisitionSettings(shots: 40, mode: .discriminated(Discriminator(ground: ground, excited: excited))))
        try scope.arm()
        var random = SeededGenerator(seed: 3)
        let sent = (0..<40).map { n -> MeasurementRecord in
            let bits = [random.unit() < 0.3, random.unit() < 0.6]
            let points = bits.map { bit in
                let centre = bit ? excited : ground
                return IQPoint(i: centre.i + 0.02 * random.gaussian(), q: centre.q + 0.02 * random.gaussian())
            }
            return MeasurementRecord(shot: n, window: 0, projected: bits, points: points)
        }
        rig.bench.queue(sent)
        let perTone = try scope.fetchAll(timeout: .seconds(5))
        #expect(perTone[0].bits == sent.map { $0.projected[0] })
        #expect(perTone[1].bits == sent.map { !$0.projected[1] })
        let ones = sent.filter { $0.projected[0] }.count
        #expect(perTone[0].excitedFraction()?.value == Double(ones) / 40)
        let meanI = sent.map { $0.points[0].i }.reduce(0, +) / 40
        #expect(abs(perTone[0].averagedPoint().i - meanI) < 1e-4)
    }

    @Test("Several windows per shot keep trigger order, window-major within each shot")
    func windowsPerShot() throws {
        let rig = try ScopeRig(tones: [25e6], link: .loopback)
        let scope = rig.driver(Self.configuration(tones: [25e6]))
        try scope.configure(AcquisitionSettings(shots: 4, windowsPerShot: 3))
        try scope.arm()
        let sent = (0..<12).map { (n: Int) -> MeasurementRecord in
            let point = IQPoint(i: 0.02 * Double(n / 3), q: 0.03 * Double(n % 3))
            return MeasurementRecord(shot: n / 3, window: n % 3, projected: [false], points: [point])
        }
        rig.bench.queue(sent)
        let shots = try scope.fetch(timeout: .seconds(5))
        #expect(shots.windowsPerShot == 3 && shots.shotCount == 4)
        for (point, record) in zip(shots.points, sent) { #expect(distance(point, record.points[0]) < 3e-4) }
        #expect(abs(shots.averagedPoint(window: 2).q - 0.06) < 2e-4)
    }

    @Test("Missing triggers give a typed timeout naming how many arrived", arguments: Link.allCases)
    func triggerTimeout(link: Link) throws {
        let rig = try ScopeRig(tones: [25e6], link: link)
        defer { rig.stop() }
        let scope = rig.driver(Self.configuration(tones: [25e6]))
        try scope.configure(AcquisitionSettings(shots: 10))
        try scope.arm()
        rig.bench.queue(records(4, tones: 1, seed: 5))
        let error = try #require(throws: InstrumentError.self) { try scope.fetch(timeout: .milliseconds(100)) }
        guard case .transport(let transport) = error.kind else { Issue.record("\(error)"); return }
        #expect(transport.kind == .timeout)
        #expect(error.description.contains("4 of 10 triggers"), "\(error)")
        #expect(try scope.segmentCount() == 4 && !(try scope.isRunning()))
    }

    @Test("Triggers before the scope is armed are lost, as on the instrument")
    func triggersBeforeArmAreLost() throws {
        let rig = try ScopeRig(tones: [25e6], link: .loopback)
        let scope = rig.driver(Self.configuration(tones: [25e6]))
        try scope.configure(AcquisitionSettings(shots: 3))
        rig.bench.queue(records(3, tones: 1, seed: 1))
        try scope.arm()
        #expect(throws: InstrumentError.self) { try scope.fetch(timeout: .milliseconds(50)) }
        #expect(try scope.segmentCount() == 0)
    }

    @Test("Acquisitions beyond segmented memory, or too slow for the tones, are refused before arming")
    func refusesImpossibleAcquisitions() throws {
        let rig = try ScopeRig(tones: [25e6], link: .loopback, memoryDepth: 100_000)
        let scope = rig.driver(Self.configuration(tones: [25e6]))
        for settings in [AcquisitionSettings(shots: 1001), AcquisitionSettings(shots: 500, windowsPerShot: 3), AcquisitionSettings(shots: 1)] {
            let error = try #require(throws: InstrumentError.self) { try scope.configure(settings) }
            guard case .invalidArgument(let reason) = error.kind else { Issue.record("\(error)"); continue }
            #expect(reason.contains("segments"))
        }
        // 1000 segments share 100 k samples: 100 per 2 µs segment is 50 MSa/s, too slow for 25 MHz.
        let error = try #require(throws: InstrumentError.self) { try scope.configure(AcquisitionSettings(shots: 1000)) }
        guard case .invalidArgument(let reason) = error.kind else { Issue.record("\(error)"); return }
        #expect(reason.contains("Sa/s"))
        #expect(throws: InstrumentError.self) { try KeysightInfiniiVision(transport: rig.transport(), configuration: Self.configuration(tones: [25e6])).arm() }
    }
}

@Suite("Keysight InfiniiVision twin: SCPI behaviour") struct KeysightInfiniiVisionTwinSCPITests {
    static let profile = InstrumentProfile(id: "scope", kind: .infiniiVision, port: 0, serialNumber: "MY1", firmware: "07.50")

    func send(_ session: any TwinSession, _ text: String) -> String {
        String(decoding: session.receive(Array((text + "\n").utf8)), as: UTF8.self)
    }

    @Test("Acquisition state follows the triggers: Run bit, :ADER?, :TER?, segment count")
    func acquisitionState() {
        let bench = RecordingBench()
        let twin = KeysightInfiniiVisionTwin(profile: Self.profile, bench: bench, tones: [25e6])
        let session = twin.makeSession()
        #expect(send(session, ":ACQ:MODE SEGM;:ACQ:SEGM:COUN 3;:TRIG:EDGE:SOUR EXT;:SING") == "")
        #expect(send(session, ":OPER:COND?;:ADER?;:WAV:SEGM:COUN?;:AER?;:AER?") == "+40;+0;+0;+1;+0\n")
        bench.queue(records(1, tones: 1, seed: 1))
        #expect(send(session, ":TER?;:WAV:SEGM:COUN?;:TER?") == "+1;+1;+0\n")
        bench.queue(records(5, tones: 1, seed: 2))
        #expect(send(session, ":OPER:COND?;:ADER?;:ADER?;:WAV:SEGM:COUN?") == "+0;+1;+0;+3\n")
        #expect(bench.pendingRecords(readout: "scope") == 3, "the scope took only its three segments")
        #expect(send(session, ":SYST:ERR?") == "+0,\"No error\"\n")
    }

    @Test("Limits give the instrument's SCPI errors", arguments: [
        (":ACQ:SEGM:COUN 1001", "-222,\"Data out of range\""), (":ACQ:SEGM:COUN 1", "-222,\"Data out of range\""),
        (":ACQ:SEGM:IND 3", "-222,\"Data out of range\""), (":CHAN5:SCAL 0.1", "-113,\"Undefined header\""),
        (":CHAN1:SCAL 10", "-222,\"Data out of range\""), (":TIM:RANG 1e-9", "-222,\"Data out of range\""),
        (":WAV:SEGM:ALL ON", "-113,\"Undefined header\""), (":WAV:SOUR CHAN9", "-224,\"Illegal parameter value\""),
        (":WAV:FORM FLOAT", "-224,\"Illegal parameter value\""), (":ACQ:SEGM:COUN", "-109,\"Missing parameter\""),
        (":ACQ:SEGM:COUN ten", "-104,\"Data type error\""), (":WAV:POIN 10", "-222,\"Data out of range\""),
        (":FOO:BAR 1", "-113,\"Undefined header\""), (":WAV:PRE", "-113,\"Undefined header\""),
        (":TRIG:EDGE:LEV 9.5", "-222,\"Data out of range\""), (":WAV:DATA:X?", "-113,\"Undefined header\""),
    ])
    func limits(command: String, error: String) {
        let session = KeysightInfiniiVisionTwin(profile: Self.profile, bench: RecordingBench(), tones: [25e6]).makeSession()
        #expect(send(session, command) == "")
        #expect(send(session, ":SYST:ERR?;:SYST:ERR?") == error + ";+0,\"No error\"\n")
    }

    @Test("Data before any acquisition is an empty block and a queued error; settings read back")
    func repliesInRealFormats() {
        let session = KeysightInfiniiVisionTwin(profile: Self.profile, bench: RecordingBench(), tones: [25e6]).makeSession()
        #expect(send(session, ":WAV:DATA?") == "#800000000\n")
        #expect(send(session, ":SYST:ERR?") == "-230,\"Data corrupt or stale\"\n")
        #expect(send(session, ":ACQ:SEGM:COUN 1000;:ACQ:SEGM:COUN?;:TIM:RANG 2E-6;:TIM:RANG?") == "+1000;+2.00000000E-06\n")
        #expect(send(session, "*RST;:WAV:FORM?;:WAV:BYT?;:WAV:UNS?;:ACQ:MODE?") == "BYTE;MSBF;1;RTIM\n")
        // 1 µs at 5 GSa/s is 5000 points; :WAV:POIN's default 1000 takes one in five.
        let preamble = send(session, ":TIM:REF LEFT;:TIM:RANG 1e-6;:WAV:FORM WORD;:WAV:PRE?")
        #expect(preamble.hasPrefix("+1,+0,+1000,+1,+1.00000000E-09,+0.00000000E+00,+0,+1.2207031"), "\(preamble)")
        #expect(preamble.hasSuffix("E-05,+0.00000000E+00,+32768\n"), "\(preamble)")
    }

    @Test("Malformed and hostile input never crashes the twin, and it keeps answering")
    func fuzz() {
        let bench = RecordingBench()
        let twin = KeysightInfiniiVisionTwin(profile: Self.profile, bench: bench, model: "DSOX4024A", tones: [25e6], memoryDepth: 10_000)
        let session = twin.makeSession()
        let pieces = [
            ":ACQ:SEGM:COUN ", ":ACQ:SEGM:IND ", ":WAV:DATA?", ":WAV:PRE?", ":SING", ":RUN", ":STOP", ":CHAN", ":SCAL ", "#9",
            "#12ab", "\"", "'", ";", ":", "?", "MAX", "1e308", "-1", "0", "1000", "NaN", "\n", "\r\n", ":WAV:SEGM:ALL 1",
            ":WAV:POIN MAX", ":WAV:FORM WORD", ":TIM:RANG 500", "*RST", "*IDN?", ":SYST:ERR?", "\u{0}", "\u{FF}", " ",
        ]
        var random = SeededGenerator(seed: 99)
        for round in 0..<3000 {
            var message: [UInt8] = []
            for _ in 0..<Int(random.next() % 8) {
                if random.next() % 5 == 0 {
                    message += (0..<Int(random.next() % 16)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
                } else {
                    message += Array(pieces[Int(random.next() % UInt64(pieces.count))].utf8)
                }
            }
            if round % 10 == 0 { bench.queue(records(Int(random.next() % 4), tones: 1, seed: random.next())) }
            let reply = session.receive(message)
            #expect(reply.count <= KeysightInfiniiVisionTwin.replyLimit + 1)
        }
        _ = session.receive(Array("\n*CLS\n".utf8))
        #expect(send(session, "*IDN?") == "KEYSIGHT TECHNOLOGIES,DSOX4024A,MY1,07.50\n")
    }

    @Test("A message asking for more than the reply limit gets a queued error, not unbounded memory")
    func boundsReplies() {
        let bench = RecordingBench()
        let twin = KeysightInfiniiVisionTwin(profile: Self.profile, bench: bench, tones: [25e6], memoryDepth: 20_000_000)
        let session = twin.makeSession()
        // 20 ms at 1 GSa/s is a 20 M-point record: 40 MB in WORD format, beyond the 32 MB limit.
        #expect(send(session, ":TIM:RANG 2e-2;:TRIG:EDGE:SOUR EXT;:WAV:FORM WORD;:WAV:POIN MAX;:SING") == "")
        bench.queue(records(1, tones: 1, seed: 4))
        #expect(send(session, ":ACQ:POIN?") == "+20000000\n")
        #expect(send(session, ":WAV:DATA?") == "")
        #expect(send(session, ":SYST:ERR?") == "-223,\"Too much data\"\n")
    }
}
