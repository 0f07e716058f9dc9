import Foundation
import HAL
import Synchronization

/// A Keysight InfiniiVision 3000T / 4000 X-Series oscilloscope in segmented memory, as the readout digitizer
/// of the qubit bench (InfiniiVision 3000T X-Series Programmer's Guide): SCPI over LF-terminated lines,
/// `;`-joined commands, errors queued for `:SYSTem:ERRor?` (`+0,"No error"` when empty).
///
/// Each trigger is a ``MeasurementRecord`` the bench queued for this readout. While armed (`:SINGle` or `:RUN`)
/// (`:AER?` reads 1 once) the twin takes records as they come, one per segment; until it has the acquisition's segments the Run bit
/// of `:OPERegister:CONDition?` stays set, `:ADER?` reads 0 and `:WAVeform:SEGMented:COUNt?` counts the
/// segments so far, as a scope waiting for triggers does. Records that arrive while it is stopped, or when the
/// trigger source is not the input the marker is wired to, are lost as the real scope would lose them.
///
/// A segment's trace is synthesised when it is read: the sum over tones of the record's IQ point modulated at
/// the tone's intermediate frequency, `v(t) = I cos(2π f t) − Q sin(2π f t)` with `t` the time from the trigger,
/// plus Gaussian ADC noise, quantised to 8 or 16 bits over the channel's range at the time of the acquisition
/// (codes 0x01 and 0xFF/0xFFFF mean clipped, as on the scope). The noise of a segment is seeded by the
/// acquisition and the segment, so a segment reads the same every time.
///
/// Modelled: NORMal acquisition type, edge trigger, BYTE and WORD transfers. Unconfirmed details are marked
/// where they are used: the sample-rate ladder of segmented memory, the errors for reading data that was
/// never acquired (`-230`) and for an over-long reply (`-223`), and the `*RST` vertical scale.
public final class KeysightInfiniiVisionTwin: InstrumentTwin {
    public let id: String
    public let kind: InstrumentKind
    let profile: InstrumentProfile
    let bench: any QubitBench
    let model: String
    /// The intermediate frequency of each qubit's readout tone, in the order of the record's points.
    let tones: [Double]
    /// The fastest sample rate, in Sa/s.
    let maximumSampleRate: Double
    /// Samples of acquisition memory, shared by the segments.
    let memoryDepth: Int
    /// The analog input the resonator's IF signal is wired to.
    let inputChannel: Int
    /// The RMS ADC noise in volts.
    let noiseVolts: Double
    /// The time between triggers that `:WAVeform:SEGMented:TTAG?` reports: the bench's records carry no times.
    let triggerPeriod: Double
    /// Whether the firmware knows `:WAVeform:SEGMented:ALL`.
    let supportsSegmentedAll: Bool
    let channelCount: Int
    private let seed: UInt64
    private let state = Mutex(State())

    /// The most segments (`:ACQuire:SEGMented:COUNt`, 2 to 1000 on the 3000T X-Series).
    static let segmentRange = 2...1000
    /// `:TIMebase:RANGe` limits: 5 ns/div to 50 s/div over ten divisions.
    static let timebaseRange = 50e-9...500.0
    /// `:CHANnel<n>:SCALe` limits at 1 MΩ: 1 mV/div to 5 V/div (eight divisions).
    static let scaleRange = 1e-3...5.0
    /// The largest reply one program message may produce before `-223,"Too much data"`.
    static let replyLimit = 1 << 25

    /// A scope named `model` (its last digit is its channel count) whose IF input is `inputChannel`; each record of
    /// readout `profile.id` on `bench` is one trigger. `supportsSegmentedAll` defaults to true for the 4000 X-Series
    /// (DSOX4…/MSOX4…), where `:WAVeform:SEGMented:ALL` is documented, and false otherwise.
    public init(
        profile: InstrumentProfile, bench: any QubitBench, model: String = "DSOX3034T", tones: [Double],
        sampleRate: Double = 5e9, memoryDepth: Int = 4_000_000, inputChannel: Int = 1, noiseVolts: Double = 1e-3,
        triggerPeriod: Double = 100e-6, supportsSegmentedAll: Bool? = nil, seed: UInt64 = 1
    ) {
        precondition(sampleRate > 0 && memoryDepth >= 1000 && noiseVolts >= 0 && triggerPeriod > 0)
        id = profile.id
        kind = profile.kind
        self.profile = profile
        self.bench = bench
        self.model = model
        self.tones = tones
        maximumSampleRate = sampleRate
        self.memoryDepth = memoryDepth
        channelCount = model.last(where: \.isNumber).flatMap { Int(String($0)) }.map { $0 == 2 ? 2 : 4 } ?? 4
        precondition((1...channelCount).contains(inputChannel), "the \(model) has channels 1 to \(channelCount)")
        self.inputChannel = inputChannel
        self.noiseVolts = noiseVolts
        self.triggerPeriod = triggerPeriod
        self.supportsSegmentedAll = supportsSegmentedAll ?? (model.hasPrefix("DSOX4") || model.hasPrefix("MSOX4"))
        self.seed = seed
    }

    public func makeSession() -> any TwinSession {
        SCPITwinSession(self, messageLimit: 4096)
    }

    // MARK: State

    enum TriggerSource: Equatable {
        case external
        case channel(Int)
    }

    enum RunState {
        case stopped, single, continuous
    }

    /// The settings an acquisition was taken with: data read later is quantised as it was then.
    struct Capture {
        var number: UInt64
        var segmented: Bool
        var expected: Int
        var sampleRate: Double
        var points: Int
        var xOrigin: Double
        var scale: Double
        var offset: Double
        var records: [MeasurementRecord] = []
    }

    struct State {
        var errors = SCPIErrorQueue()
        var segmented = false
        var segmentCount = 2
        var segmentIndex = 1
        var timebaseRange = 1e-3
        /// Where the trigger sits on screen: 0 left, 0.5 centre, 1 right (`:TIMebase:REFerence`).
        var reference = 0.5
        var scale = [Double](repeating: 0.1, count: 4)  // *RST value unconfirmed
        var offset = [Double](repeating: 0, count: 4)
        var triggerSource = TriggerSource.channel(1)
        var triggerLevel = 0.0
        var sweepNormal = false
        var waveSource = 1
        var word = false
        var lsbFirst = false
        var unsigned = true
        /// `:WAVeform:POINts`; nil means MAXimum.
        var points: Int? = 1000
        var pointsMode = "NORM"
        var allSegments = false
        var run = RunState.stopped
        var capture: Capture?
        var acquisitions: UInt64 = 0
        var acquisitionDone = false
        var triggered = false
        var triggerArmed = false
        /// Reply bytes the current program message may still produce.
        var replyBudget = KeysightInfiniiVisionTwin.replyLimit
    }

    // MARK: Acquisition

    /// The sample rate and points per segment for `segments` segments: the fastest rate of the 1-2-5 ladder below
    /// the maximum at which the segments fit in memory (the scope's own choice of rate is unconfirmed).
    func record(range: Double, segments: Int) -> (sampleRate: Double, points: Int) {
        var divider = 1.0
        var step = 0
        while (range * maximumSampleRate / divider).rounded(.down) * Double(segments) > Double(memoryDepth) {
            divider *= step % 3 == 1 ? 2.5 : 2
            step += 1
        }
        let rate = maximumSampleRate / divider
        return (rate, max(2, Int((range * rate + 1e-6).rounded(.down))))
    }

    /// Takes the records that came since the last command: into the armed acquisition, or lost.
    private func collect(_ s: inout State) {
        let pending = bench.pendingRecords(readout: id)
        guard pending > 0 else { return }
        guard s.run != .stopped, var capture = s.capture, s.triggerSource == .external else {
            _ = bench.takeRecords(readout: id, maximum: pending)
            return
        }
        if capture.records.count == capture.expected {  // :RUN starts over once the previous acquisition filled
            s.acquisitions &+= 1
            capture.number = s.acquisitions
            capture.records.removeAll(keepingCapacity: true)
        }
        capture.records += bench.takeRecords(readout: id, maximum: capture.expected - capture.records.count)
        s.triggered = true
        if capture.records.count == capture.expected {
            s.acquisitionDone = true
            if s.run == .single { s.run = .stopped }
        }
        s.capture = capture
    }

    private func arm(_ s: inout State, _ run: RunState) {
        _ = bench.takeRecords(readout: id, maximum: bench.pendingRecords(readout: id))  // before the arm: lost
        let segments = s.segmented ? s.segmentCount : 1
        let (rate, points) = record(range: s.timebaseRange, segments: segments)
        s.acquisitions &+= 1
        s.capture = Capture(
            number: s.acquisitions, segmented: s.segmented, expected: segments, sampleRate: rate, points: points,
            xOrigin: -s.reference * s.timebaseRange, scale: s.scale[inputChannel - 1], offset: s.offset[inputChannel - 1])
        s.run = run
        s.acquisitionDone = false
        s.triggerArmed = true
    }

    // MARK: Waveform transfer

    /// What `:WAVeform:PREamble?` and `:WAVeform:DATA?` describe: the points transferred per segment, their spacing,
    /// and the vertical conversion.
    struct Transfer {
        var points: Int
        var decimation: Int
        var xIncrement: Double
        var xOrigin: Double
        var yIncrement: Double
        var yOrigin: Double
        var yReference: Int
        var word: Bool
    }

    private func transfer(_ s: State) -> Transfer {
        let segments = s.segmented ? s.segmentCount : 1
        let fresh = record(range: s.timebaseRange, segments: segments)
        let channel = s.waveSource - 1
        let rate = s.capture?.sampleRate ?? fresh.sampleRate
        let recordPoints = s.capture?.points ?? fresh.points
        let scale = s.capture.map { s.waveSource == inputChannel ? $0.scale : s.scale[channel] } ?? s.scale[channel]
        let offset = s.capture.map { s.waveSource == inputChannel ? $0.offset : s.offset[channel] } ?? s.offset[channel]
        let wanted = s.points ?? recordPoints
        let decimation = max(1, (recordPoints + wanted - 1) / wanted)
        let steps = s.word ? 65536.0 : 256.0
        return Transfer(
            points: recordPoints / decimation, decimation: decimation, xIncrement: Double(decimation) / rate,
            xOrigin: s.capture?.xOrigin ?? -s.reference * s.timebaseRange, yIncrement: 8 * scale / steps,
            yOrigin: offset, yReference: s.unsigned ? Int(steps / 2) : 0, word: s.word)
    }

    private func preamble(_ s: State) -> String {
        let t = transfer(s)
        return [
            nr1(t.word ? 1 : 0), nr1(0), nr1(t.points), nr1(1), nr3(t.xIncrement), nr3(t.xOrigin), nr1(0),
            nr3(t.yIncrement), nr3(t.yOrigin), nr1(t.yReference),
        ].joined(separator: ",")
    }

    /// `:WAVeform:DATA?`: the selected segment, or every acquired one with `:WAVeform:SEGMented:ALL ON`.
    private func data(_ s: inout State) -> [UInt8] {
        guard let capture = s.capture, !capture.records.isEmpty else {
            s.errors.push("-230,\"Data corrupt or stale\"")  // the real scope's answer is unconfirmed
            return block([])
        }
        let t = transfer(s)
        let segments: Range<Int> =
            capture.segmented && s.allSegments ? 0..<capture.records.count
            : capture.segmented ? (s.segmentIndex - 1)..<s.segmentIndex : 0..<1
        guard segments.upperBound <= capture.records.count else {
            s.errors.push("-222,\"Data out of range\"")  // a segment not acquired (unconfirmed)
            return block([])
        }
        let size = segments.count * t.points * (t.word ? 2 : 1)
        guard size <= s.replyBudget else {
            s.replyBudget = -1  // checked before anything is synthesised
            return []
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(size)
        for segment in segments {
            synthesize(capture.records[segment], segment: segment, capture: capture, transfer: t, channel: s.waveSource,
                       lsbFirst: s.lsbFirst, into: &bytes)
        }
        return block(bytes)
    }

    /// One segment's samples: the record's tones (on the IF input only) and noise, quantised.
    private func synthesize(
        _ record: MeasurementRecord, segment: Int, capture: Capture, transfer t: Transfer, channel: Int,
        lsbFirst: Bool, into bytes: inout [UInt8]
    ) {
        var random = SeededGenerator(seed: seed ^ (capture.number &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(segment &+ 1) << 32)
        // Each tone's phasor e^{iωt}, advanced by one sample per step.
        var phasors: [(re: Double, im: Double, stepRe: Double, stepIm: Double, i: Double, q: Double)] = []
        if channel == inputChannel {
            for (index, frequency) in tones.enumerated() where index < record.points.count {
                let omega = 2 * Double.pi * frequency
                phasors.append(
                    (cos(omega * t.xOrigin), sin(omega * t.xOrigin), cos(omega * t.xIncrement), sin(omega * t.xIncrement),
                     record.points[index].i, record.points[index].q))
            }
        }
        let top = t.word ? 65535 : 255
        let signedShift = t.yReference == 0 ? (t.word ? 32768 : 128) : 0
        for _ in 0..<t.points {
            var volts = noiseVolts == 0 ? 0 : noiseVolts * random.gaussian()
            for p in phasors.indices {
                let (re, im, stepRe, stepIm, i, q) = phasors[p]
                volts += i * re - q * im
                phasors[p].re = re * stepRe - im * stepIm
                phasors[p].im = re * stepIm + im * stepRe
            }
            let ideal = ((volts - t.yOrigin) / t.yIncrement).rounded() + Double(t.yReference + signedShift)
            let code = Int(min(Double(top), max(1, ideal))) - signedShift
            let pattern = UInt16(truncatingIfNeeded: code)
            if !t.word {
                bytes.append(UInt8(truncatingIfNeeded: pattern))
            } else if lsbFirst {
                bytes.append(UInt8(truncatingIfNeeded: pattern)); bytes.append(UInt8(pattern >> 8))
            } else {
                bytes.append(UInt8(pattern >> 8)); bytes.append(UInt8(truncatingIfNeeded: pattern))
            }
        }
    }

    // MARK: Commands

    enum Reply {
        case text(String)
        case bytes([UInt8])
    }

    /// Executes one program message; the replies of its queries joined by `;`, LF-terminated; empty if none.
    func execute(_ message: [UInt8]) -> [UInt8] {
        state.withLock { s in
            collect(&s)
            let commands: [SCPICommand]
            switch Result(catching: { () throws(SCPITwinError) in try SCPICommand.split(message) }) {
            case .success(let split): commands = split
            case .failure(let error):
                s.errors.push(error.queueEntry)
                return []
            }
            var out: [UInt8] = []
            for command in commands {
                s.replyBudget = Self.replyLimit - out.count
                guard let reply = run(command, &s) else { continue }
                if !out.isEmpty { out.append(0x3B) }
                switch reply {
                case .text(let text): out += Array(text.utf8)
                case .bytes(let bytes): out += bytes
                }
                if out.count > Self.replyLimit || s.replyBudget < 0 {
                    s.errors.push("-223,\"Too much data\"")
                    return []
                }
            }
            if !out.isEmpty { out.append(0x0A) }
            return out
        }
    }

    func fail(_ entry: String) {
        state.withLock { $0.errors.push(entry) }
    }

    private static let undefined = "-113,\"Undefined header\""
    private static let missing = "-109,\"Missing parameter\""
    private static let illegal = "-224,\"Illegal parameter value\""
    private static let outOfRange = "-222,\"Data out of range\""

    private func run(_ c: SCPICommand, _ s: inout State) -> Reply? {
        func fail(_ entry: String) -> Reply? {
            s.errors.push(entry)
            return nil
        }
        func matches(_ pattern: String) -> [Int]? { SCPIKeyword.match(c.keywords, pattern) }
        /// A setting: the query's reply, or `set` applied to the argument (its error queued, if any).
        func setting(_ reply: @autoclosure () -> String, _ set: (String) -> String?) -> Reply? {
            if c.isQuery { return .text(reply()) }
            guard c.arguments.count == 1, case .text(let text) = c.arguments[0], !text.isEmpty else {
                return fail(c.arguments.isEmpty ? Self.missing : Self.illegal)
            }
            if let error = set(text) { s.errors.push(error) }
            return nil
        }
        func number(_ text: String, _ range: ClosedRange<Double>, units: [String] = [], apply: (Double) -> Void) -> String? {
            guard let value = SCPINumber.parse(text, units: units) else { return "-104,\"Data type error\"" }
            let v: Double
            switch value {
            case .number(let n): v = n
            case .minimum: v = range.lowerBound
            case .maximum: v = range.upperBound
            case .default: return Self.illegal
            }
            guard range.contains(v) else { return Self.outOfRange }
            apply(v)
            return nil
        }
        func integer(_ text: String, _ range: ClosedRange<Int>, apply: (Int) -> Void) -> String? {
            number(text, Double(range.lowerBound)...Double(range.upperBound)) { v in
                apply(Int(v.rounded()))
            }
        }
        func channel(_ text: String) -> Int? {
            SCPIKeyword.suffix(Substring(text.trimmedSpaces), "CHANnel").flatMap { (1...channelCount).contains($0) ? $0 : nil }
        }
        func commandOnly(_ action: () -> Void) -> Reply? {
            guard !c.isQuery else { return fail(Self.undefined) }
            action()
            return nil
        }
        func queryOnly(_ reply: () -> Reply) -> Reply? {
            c.isQuery ? reply() : fail(Self.undefined)
        }

        if c.isCommon {
            switch (c.keywords.first?.uppercased(), c.isQuery) {
            case ("*IDN", true): return .text("KEYSIGHT TECHNOLOGIES,\(model),\(profile.serialNumber),\(profile.firmware)")
            case ("*RST", false): s = State(); return nil
            case ("*CLS", false):
                s.errors.clear(); s.acquisitionDone = false; s.triggered = false; s.triggerArmed = false
                return nil
            case ("*OPC", true): return .text("1")
            default: return fail(Self.undefined)
            }
        }
        if matches("SYSTem:ERRor:[NEXT]") != nil { return queryOnly { .text(s.errors.pop()) } }
        if matches("SINGle") != nil { return commandOnly { arm(&s, .single) } }
        if matches("RUN") != nil { return commandOnly { arm(&s, .continuous) } }
        if matches("STOP") != nil { return commandOnly { s.run = .stopped } }
        if matches("TER") != nil {
            return queryOnly {
                defer { s.triggered = false }
                return .text(nr1(s.triggered ? 1 : 0))
            }
        }
        if matches("AER") != nil {
            return queryOnly {
                defer { s.triggerArmed = false }
                return .text(nr1(s.triggerArmed ? 1 : 0))
            }
        }
        if matches("ADER") != nil {
            return queryOnly {
                defer { s.acquisitionDone = false }
                return .text(nr1(s.acquisitionDone ? 1 : 0))
            }
        }
        if matches("OPERegister:CONDition") != nil {
            // Bit 3 Run while not stopped, bit 5 Wait Trig while armed.
            return queryOnly { .text(nr1(s.run == .stopped ? 0 : 8 + 32)) }
        }
        if matches("ACQuire:MODE") != nil {
            return setting(s.segmented ? "SEGM" : "RTIM") { text in
                let word = Substring(text.uppercased())
                if SCPIKeyword.matches(word, "SEGMented") { s.segmented = true
                } else if SCPIKeyword.matches(word, "RTIMe") { s.segmented = false
                } else { return Self.illegal }
                return nil
            }
        }
        if matches("ACQuire:TYPE") != nil {
            return setting("NORM") { text in
                SCPIKeyword.matches(Substring(text), "NORMal") ? nil : "-221,\"Settings conflict\""  // only NORMal modelled
            }
        }
        if matches("ACQuire:SEGMented:COUNt") != nil {
            return setting(nr1(s.segmentCount)) { text in
                integer(text, Self.segmentRange) { n in
                    s.segmentCount = n
                    s.segmentIndex = min(s.segmentIndex, n)
                }
            }
        }
        if matches("ACQuire:SEGMented:INDex") != nil {
            return setting(nr1(s.segmentIndex)) { text in integer(text, 1...s.segmentCount) { s.segmentIndex = $0 } }
        }
        if matches("ACQuire:SRATe") != nil || matches("ACQuire:POINts") != nil {
            let current = record(range: s.timebaseRange, segments: s.segmented ? s.segmentCount : 1)
            let isRate = SCPIKeyword.matches(c.keywords.last!, "SRATe")
            return queryOnly { .text(isRate ? nr3(current.sampleRate) : nr1(current.points)) }
        }
        if matches("TIMebase:RANGe") != nil {
            return setting(nr3(s.timebaseRange)) { text in number(text, Self.timebaseRange, units: ["S"]) { s.timebaseRange = $0 } }
        }
        if matches("TIMebase:REFerence") != nil {
            return setting(s.reference == 0 ? "LEFT" : s.reference == 1 ? "RIGH" : "CENT") { text in
                let word = Substring(text.uppercased())
                if SCPIKeyword.matches(word, "LEFT") { s.reference = 0
                } else if SCPIKeyword.matches(word, "CENTer") { s.reference = 0.5
                } else if SCPIKeyword.matches(word, "RIGHt") { s.reference = 1
                } else { return Self.illegal }
                return nil
            }
        }
        if matches("TRIGger:MODE") != nil {
            return setting("EDGE") { text in SCPIKeyword.matches(Substring(text), "EDGE") ? nil : "-221,\"Settings conflict\"" }
        }
        if matches("TRIGger:SWEep") != nil {
            return setting(s.sweepNormal ? "NORM" : "AUTO") { text in
                let word = Substring(text)
                if SCPIKeyword.matches(word, "NORMal") { s.sweepNormal = true
                } else if SCPIKeyword.matches(word, "AUTO") { s.sweepNormal = false
                } else { return Self.illegal }
                return nil
            }
        }
        if matches("TRIGger:EDGE:SOURce") != nil {
            let current: String
            switch s.triggerSource {
            case .external: current = "EXT"
            case .channel(let n): current = "CHAN\(n)"
            }
            return setting(current) { text in
                if SCPIKeyword.matches(Substring(text), "EXTernal") { s.triggerSource = .external
                } else if let n = channel(text) { s.triggerSource = .channel(n)
                } else { return Self.illegal }
                return nil
            }
        }
        if matches("TRIGger:EDGE:LEVel") != nil {
            // The external input's ±8 V is the limit used for every source (unconfirmed per source).
            return setting(nr3(s.triggerLevel)) { text in number(text, -8...8, units: ["V"]) { s.triggerLevel = $0 } }
        }
        if let suffixes = matches("CHANnel#:SCALe") ?? matches("CHANnel#:RANGe") ?? matches("CHANnel#:OFFSet") {
            guard let n = suffixes.first, (1...channelCount).contains(n) else { return fail(Self.undefined) }
            let last = c.keywords.last!
            if SCPIKeyword.matches(last, "SCALe") {
                return setting(nr3(s.scale[n - 1])) { text in number(text, Self.scaleRange, units: ["V"]) { s.scale[n - 1] = $0 } }
            }
            if SCPIKeyword.matches(last, "RANGe") {
                let range = Self.scaleRange.lowerBound * 8...Self.scaleRange.upperBound * 8
                return setting(nr3(s.scale[n - 1] * 8)) { text in number(text, range, units: ["V"]) { s.scale[n - 1] = $0 / 8 } }
            }
            // The offset range depends on the scale on the real scope; ±40 V here (unconfirmed).
            return setting(nr3(s.offset[n - 1])) { text in number(text, -40...40, units: ["V"]) { s.offset[n - 1] = $0 } }
        }
        if matches("WAVeform:SOURce") != nil {
            return setting("CHAN\(s.waveSource)") { text in
                guard let n = channel(text) else { return Self.illegal }
                s.waveSource = n
                return nil
            }
        }
        if matches("WAVeform:FORMat") != nil {
            return setting(s.word ? "WORD" : "BYTE") { text in
                let word = Substring(text)
                if SCPIKeyword.matches(word, "WORD") { s.word = true
                } else if SCPIKeyword.matches(word, "BYTE") { s.word = false
                } else { return SCPIKeyword.matches(word, "ASCii") ? "-221,\"Settings conflict\"" : Self.illegal }
                return nil
            }
        }
        if matches("WAVeform:BYTeorder") != nil {
            return setting(s.lsbFirst ? "LSBF" : "MSBF") { text in
                let word = Substring(text)
                if SCPIKeyword.matches(word, "LSBFirst") { s.lsbFirst = true
                } else if SCPIKeyword.matches(word, "MSBFirst") { s.lsbFirst = false
                } else { return Self.illegal }
                return nil
            }
        }
        if matches("WAVeform:UNSigned") != nil {
            return setting(s.unsigned ? "1" : "0") { text in
                guard let value = SCPIBoolean.parse(text) else { return Self.illegal }
                s.unsigned = value
                return nil
            }
        }
        if matches("WAVeform:POINts:MODE") != nil {
            return setting(s.pointsMode) { text in
                let word = Substring(text)
                guard let mode = ["NORMal", "MAXimum", "RAW"].first(where: { SCPIKeyword.matches(word, $0) }) else {
                    return Self.illegal
                }
                s.pointsMode = mode.filter(\.isUppercase)
                return nil
            }
        }
        if matches("WAVeform:POINts") != nil {
            return setting(nr1(transfer(s).points)) { text in
                if SCPIKeyword.matches(Substring(text), "MAXimum") {
                    s.points = nil
                    return nil
                }
                return integer(text, 100...memoryDepth) { s.points = $0 }
            }
        }
        if matches("WAVeform:SEGMented:ALL") != nil {
            guard supportsSegmentedAll else { return fail(Self.undefined) }
            return setting(s.allSegments ? "1" : "0") { text in
                guard let value = SCPIBoolean.parse(text) else { return Self.illegal }
                s.allSegments = value
                return nil
            }
        }
        if matches("WAVeform:SEGMented:COUNt") != nil {
            return queryOnly { .text(nr1(s.capture.map { $0.segmented ? $0.records.count : 0 } ?? 0)) }
        }
        if matches("WAVeform:SEGMented:TTAG") != nil {
            return queryOnly {
                let acquired = s.capture.map { $0.segmented && $0.records.count >= s.segmentIndex } ?? false
                return .text(nr3(acquired ? Double(s.segmentIndex - 1) * triggerPeriod : 0))
            }
        }
        if matches("WAVeform:PREamble") != nil { return queryOnly { .text(preamble(s)) } }
        if matches("WAVeform:DATA") != nil { return queryOnly { .bytes(data(&s)) } }
        return fail(Self.undefined)
    }
}

extension KeysightInfiniiVisionTwin: SCPIProgramExecutor {
    func respond(to message: [UInt8]) -> [UInt8] {
        execute(message)
    }

    func inputOverrun() {
        fail("-363,\"Input buffer overrun\"")
    }
}

/// An NR1 integer as the InfiniiVision writes it, with its sign: `+1000`, `-3`.
private func nr1(_ value: Int) -> String {
    value < 0 ? String(value) : "+" + String(value)
}

/// An NR3 number with nine significant digits, as the InfiniiVision writes it: `+2.00000000E-10`.
private func nr3(_ value: Double) -> String {
    guard value.isFinite, value != 0 else { return "+0.00000000E+00" }
    var exponent = Int(log10(abs(value)).rounded(.down))
    var mantissa = value / pow(10, Double(exponent))
    if abs(mantissa) >= 9.999999995 {
        mantissa /= 10
        exponent += 1
    } else if abs(mantissa) < 1 {
        mantissa *= 10
        exponent -= 1
    }
    return WireFormat.signed(mantissa, decimals: 8) + "E" + (exponent < 0 ? "-" : "+")
        + WireFormat.zeroPadded(abs(exponent), width: 2)
}

/// A definite-length block `#<n><length><data>`, its length written with eight digits (nine above 99,999,999).
private func block(_ data: [UInt8]) -> [UInt8] {
    let length = WireFormat.zeroPadded(data.count, width: 8)
    return Array("#\(length.count)\(length)".utf8) + data
}
