import HAL
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A Keysight InfiniiVision 3000T / 4000 X-Series oscilloscope used as a readout digitizer, over its LAN SCPI
/// socket (port 5025, lines end in LF), per the InfiniiVision 3000T X-Series Programmer's Guide.
///
/// Segmented memory holds one segment per trigger: the AWG's measurement marker triggers the scope, and each
/// segment is a short record of the readout resonator's IF signal. The driver demodulates each segment over the
/// integration window into one IQ point per readout tone,
/// `I = (2/N) Σ v(t) cos(2π f t)`, `Q = −(2/N) Σ v(t) sin(2π f t)`, with `t` the sample's time from the trigger as
/// the preamble gives it; so a tone `v(t) = I cos(2π f t) − Q sin(2π f t)` demodulates back to `(I, Q)` when the
/// window holds a whole number of periods of every tone and of every difference between tones.
///
/// An acquisition needs `shots × windowsPerShot` segments, at least 2 and at most ``maximumSegments`` (1000 on
/// the 3000T and 4000 X); more throw `.invalidArgument` rather than being split over several acquisitions, which
/// would lose the triggers that arrive while the scope is re-armed.
public final class KeysightInfiniiVision: Readout, Sendable {
    /// The SCPI socket port of the InfiniiVision LAN interface.
    public static let port: UInt16 = 5025
    /// The most memory segments one acquisition holds (`:ACQuire:SEGMented:COUNt`, 2 to 1000 on the 3000T X-Series).
    public static let maximumSegments = 1000
    /// The fewest segments the scope takes.
    public static let minimumSegments = 2
    /// The largest `:WAVeform:DATA?` block accepted: 1000 segments of 16 k WORD points, with room to spare.
    public static let maximumBlockBytes = 1 << 26
    /// The Run bit (bit 3) of the Operation Status Condition Register: set while the scope is not stopped.
    static let runBit = 8

    /// Where the scope's trigger comes from (`:TRIGger:EDGE:SOURce`).
    public enum TriggerSource: Sendable, Hashable {
        /// The rear-panel EXT TRIG input, where the AWG's marker is usually wired.
        case external
        case channel(Int)

        var scpi: String {
            switch self {
            case .external: "EXTernal"
            case .channel(let n): "CHANnel\(n)"
            }
        }
    }

    /// How each sample travels (`:WAVeform:FORMat`): 8-bit is faster, 16-bit keeps the scope's averaging and
    /// high-resolution bits.
    public enum SampleFormat: Int, Sendable, Hashable {
        case byte = 0, word = 1

        var bytesPerSample: Int { self == .byte ? 1 : 2 }
        var scpi: String { self == .byte ? "BYTE" : "WORD" }
    }

    /// One readout tone: its intermediate frequency and, optionally, the discriminator calibrated for its qubit.
    public struct Tone: Sendable, Hashable {
        /// The intermediate frequency in hertz, as the resonator's signal arrives at the scope.
        public var frequency: Double
        /// Discriminates this tone's points; nil means the discriminator of `.discriminated(_)`.
        public var discriminator: Discriminator?

        public init(frequency: Double, discriminator: Discriminator? = nil) {
            self.frequency = frequency
            self.discriminator = discriminator
        }
    }

    /// The readout set-up in lab words.
    public struct Configuration: Sendable, Hashable {
        /// The analog input the IF signal is wired to, 1 to 4.
        public var channel: Int
        /// One tone per multiplexed qubit, in the order ``fetchAll(timeout:)`` returns them.
        public var tones: [Tone]
        /// Where the integration window starts after the trigger, in seconds.
        public var windowStart: Double
        /// The integration window's length, in seconds.
        public var windowLength: Double
        /// The vertical full scale of the input channel, in volts (`:CHANnel<n>:RANGe`, eight divisions).
        public var verticalRange: Double
        /// The voltage at the centre of the screen (`:CHANnel<n>:OFFSet`).
        public var verticalOffset: Double
        public var trigger: TriggerSource
        /// The trigger threshold in volts (`:TRIGger:EDGE:LEVel`).
        public var triggerLevel: Double
        public var format: SampleFormat

        public init(
            channel: Int = 1, tones: [Tone], windowStart: Double = 0, windowLength: Double,
            verticalRange: Double = 0.8, verticalOffset: Double = 0, trigger: TriggerSource = .external,
            triggerLevel: Double = 0.5, format: SampleFormat = .word
        ) {
            self.channel = channel
            self.tones = tones
            self.windowStart = windowStart
            self.windowLength = windowLength
            self.verticalRange = verticalRange
            self.verticalOffset = verticalOffset
            self.trigger = trigger
            self.triggerLevel = triggerLevel
            self.format = format
        }
    }

    /// The ten fields of `:WAVeform:PREamble?`.
    public struct Preamble: Sendable, Hashable {
        public var format: SampleFormat
        /// 0 NORMal, 1 PEAK, 2 AVERage, 3 HRESolution.
        public var type: Int
        /// Points per segment.
        public var points: Int
        public var count: Int
        /// Seconds between samples.
        public var xIncrement: Double
        /// The time of the first sample, from the trigger.
        public var xOrigin: Double
        public var xReference: Int
        /// Volts per code.
        public var yIncrement: Double
        public var yOrigin: Double
        public var yReference: Int

        /// The time of sample `index` (Programmer's Guide: time = (index − xreference) · xincrement + xorigin).
        func time(_ index: Int) -> Double { Double(index - xReference) * xIncrement + xOrigin }
    }

    /// The largest number of points per segment a preamble may announce.
    static let maximumPoints = 16_000_000

    public let resource: ResourceName
    public let instrument: String
    public let configuration: Configuration
    private let session: SCPISession
    private let acquisition = Mutex<Acquisition?>(nil)

    /// What `configure` set up.
    private struct Acquisition {
        var settings: AcquisitionSettings
        var segments: Int
        /// Whether `:WAVeform:SEGMented:ALL ON` was accepted (else segments are read one by one).
        var readsAllSegments: Bool
    }

    /// A driver over `transport`, which it owns from now on. Programmer errors trap: no tone, a tone or window
    /// that is not positive and finite, a channel outside 1 to 4.
    public init(transport: sending any ByteTransport, configuration: Configuration, timeout: Duration = .seconds(2)) {
        precondition((1...4).contains(configuration.channel), "an InfiniiVision has channels 1 to 4")
        precondition(!configuration.tones.isEmpty, "a readout needs at least one tone")
        precondition(configuration.tones.allSatisfy { $0.frequency.isFinite && $0.frequency > 0 }, "tones must be positive")
        precondition(
            configuration.windowStart.isFinite && configuration.windowStart >= 0 && configuration.windowLength.isFinite
                && configuration.windowLength > 0, "the window must start at or after the trigger and have a length")
        precondition(configuration.verticalRange.isFinite && configuration.verticalRange > 0, "the range must be positive")
        if case .channel(let n) = configuration.trigger { precondition((1...4).contains(n), "trigger channel 1 to 4") }
        resource = transport.resource
        instrument = "Keysight InfiniiVision at \(transport.resource)"
        self.configuration = configuration
        session = SCPISession(
            transport: transport, instrument: instrument,
            settings: SCPISettings(timeout: timeout, maxReplyLength: Self.maximumBlockBytes))
    }

    /// `*IDN?`, which must name Keysight (or Agilent) and an InfiniiVision DSO/MSO model.
    public func identify() throws(InstrumentError) -> InstrumentIdentity {
        let identity = try session.identify()
        let maker = identity.manufacturer.uppercased()
        guard maker.hasPrefix("KEYSIGHT") || maker.hasPrefix("AGILENT"),
            identity.model.hasPrefix("DSO") || identity.model.hasPrefix("MSO")
        else {
            throw .unexpected(
                instrument, "*IDN?", reply: "\(identity.manufacturer),\(identity.model),…",
                expected: "KEYSIGHT TECHNOLOGIES,DSOX3034T,<serial>,<firmware>")
        }
        return identity
    }

    /// `*RST`.
    public func reset() throws(InstrumentError) {
        try session.reset()
        acquisition.withLock { $0 = nil }
    }

    /// `:SYSTem:ERRor?` until `+0,"No error"`.
    public func errorQueue() throws(InstrumentError) -> [InstrumentQueueError] {
        try session.drainErrors(query: ":SYST:ERR?")
    }

    // MARK: Readout

    /// Stops the scope and sets up segmented memory for `shots × windowsPerShot` segments, the timebase (left
    /// reference, covering the window), the input channel, an edge trigger in NORMal sweep, and the waveform
    /// transfer (unsigned, LSB first, raw points). Throws `.refused` with the scope's error-queue entries when it
    /// refused a setting, and `.invalidArgument` when the scope's sample rate cannot resolve the tones.
    public func configure(_ settings: AcquisitionSettings) throws(InstrumentError) {
        let segments = settings.shots * settings.windowsPerShot
        guard settings.shots >= 1, settings.windowsPerShot >= 1,
            (Self.minimumSegments...Self.maximumSegments).contains(segments)
        else {
            throw .invalid(
                instrument, ":ACQ:SEGM:COUN",
                "an acquisition of \(settings.shots) shots × \(settings.windowsPerShot) windows needs "
                    + "\(settings.shots * settings.windowsPerShot) segments; the scope's segmented memory holds "
                    + "\(Self.minimumSegments) to \(Self.maximumSegments)")
        }
        let c = configuration
        let commands = [
            ":STOP", ":ACQ:TYPE NORM", ":ACQ:MODE SEGM", ":ACQ:SEGM:COUN \(segments)", ":TIM:REF LEFT",
            ":TIM:RANG \(WireNumber.fixed(c.windowStart + c.windowLength, decimals: 9))",
            ":CHAN\(c.channel):RANG \(WireNumber.fixed(c.verticalRange))",
            ":CHAN\(c.channel):OFFS \(WireNumber.fixed(c.verticalOffset))", ":TRIG:MODE EDGE", ":TRIG:SWE NORM",
            ":TRIG:EDGE:SOUR \(c.trigger.scpi)", ":TRIG:EDGE:LEV \(WireNumber.fixed(c.triggerLevel))",
            ":WAV:SOUR CHAN\(c.channel)", ":WAV:FORM \(c.format.scpi)", ":WAV:BYT LSBF", ":WAV:UNS ON",
            ":WAV:POIN:MODE RAW", ":WAV:POIN MAX",
        ]
        let sampleRate = try session.withExclusiveAccess { (connection) throws(InstrumentError) -> Double in
            _ = try connection.drainErrors(query: ":SYST:ERR?")  // earlier commands' errors are not this one's
            for command in commands { try connection.write(command) }
            let refused = try connection.drainErrors(query: ":SYST:ERR?")
            guard refused.isEmpty else {
                throw InstrumentError(
                    instrument: instrument, command: commands.joined(separator: ";"),
                    kind: .refused(refused.map(\.description).joined(separator: "; ")))
            }
            let reply = try connection.query(":ACQ:SRAT?")
            return try SCPIReply.real(reply, command: ":ACQ:SRAT?", instrument: instrument)
        }
        guard sampleRate.isFinite, sampleRate > 0, sampleRate <= 1e12 else {
            throw .unexpected(instrument, ":ACQ:SRAT?", reply: "\(sampleRate)", expected: "a sample rate up to 1 TSa/s")
        }
        let highest = c.tones.map(\.frequency).max()!
        guard sampleRate > 2 * highest, sampleRate * c.windowLength >= 2 else {
            throw .invalid(
                instrument, ":ACQ:SRAT?",
                "at \(sampleRate) Sa/s (\(segments) segments share the memory) the scope cannot resolve a "
                    + "\(highest) Hz tone in a \(c.windowLength) s window; use fewer segments or lower tones")
        }
        let readsAll = try probeSegmentedAll()
        acquisition.withLock { $0 = Acquisition(settings: settings, segments: segments, readsAllSegments: readsAll) }
    }

    /// `:WAVeform:SEGMented:ALL ON`, which not every model and firmware knows (it is documented for the 4000 X
    /// and later firmware; unconfirmed for the 3000T): true when the scope queued no error for it.
    private func probeSegmentedAll() throws(InstrumentError) -> Bool {
        try session.withExclusiveAccess { (connection) throws(InstrumentError) -> Bool in
            try connection.write(":WAV:SEGM:ALL ON")
            return try connection.drainErrors(query: ":SYST:ERR?").isEmpty
        }
    }

    /// `:SINGle`: one segmented acquisition, which records the next triggers. Returns once `:AER?` (the Trigger
    /// Armed Event Register) says the trigger is armed, so triggers sent after it are not lost; throws
    /// `.transport(.timeout)` when it does not within the session's timeout.
    public func arm() throws(InstrumentError) {
        guard acquisition.withLock({ $0 != nil }) else {
            throw .invalid(instrument, ":SING", "configure(_:) the acquisition first")
        }
        // Reading the event registers clears them, so the next 1 belongs to this acquisition.
        _ = try session.query([":ADER?", ":AER?"])
        try session.write(":SING")
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: session.settings.timeout)
        while try !flag(":AER?") {
            guard clock.now < deadline else {
                throw InstrumentError(
                    instrument: instrument, command: ":AER?",
                    kind: .transport(
                        TransportError(
                            resource: resource, operation: "waiting for the trigger to arm after :SINGle",
                            kind: .timeout)))
            }
            sleepFor(min(.milliseconds(1), deadline - clock.now))
        }
    }

    /// An event register that reads 0 or 1 (`:AER?`, `:ADER?`).
    private func flag(_ command: String) throws(InstrumentError) -> Bool {
        let reply = try session.query(command)
        switch try SCPIReply.integer(reply, command: command, instrument: instrument) {
        case 0: return false
        case 1: return true
        default: throw .unexpected(instrument, command, reply: reply, expected: "0 or 1")
        }
    }

    /// The shots of the first tone. See ``fetchAll(timeout:)``.
    public func fetch(timeout: Duration) throws(InstrumentError) -> ReadoutShots {
        try fetchAll(timeout: timeout)[0]
    }

    /// Waits until the armed acquisition has all its segments (`:OPERegister:CONDition?` Run bit clear and
    /// `:ADER?`), reads them (`:WAVeform:PREamble?`, `:WAVeform:DATA?`, all at once or per
    /// `:ACQuire:SEGMented:INDex`) and returns one ``ReadoutShots`` per tone. When the triggers do not all come
    /// within `timeout`, it stops the scope and throws `.transport(.timeout)` naming how many arrived
    /// (`:WAVeform:SEGMented:COUNt?`).
    public func fetchAll(timeout: Duration) throws(InstrumentError) -> [ReadoutShots] {
        let setup = try configured(":WAV:DATA?")
        try waitForAcquisition(segments: setup.segments, timeout: timeout)
        let acquired = try segmentCount()
        guard acquired == setup.segments else {
            throw .unexpected(
                instrument, ":WAV:SEGM:COUN?", reply: String(acquired),
                expected: "\(setup.segments) segments after the acquisition completed")
        }
        let (preamble, data) = try readSegments(setup)
        return try demodulate(preamble: preamble, data: data, setup: setup)
    }

    /// `:WAVeform:SEGMented:COUNt?`: how many segments the last acquisition holds.
    public func segmentCount() throws(InstrumentError) -> Int {
        let reply = try session.query(":WAV:SEGM:COUN?")
        let count = try SCPIReply.integer(reply, command: ":WAV:SEGM:COUN?", instrument: instrument)
        guard (0...Self.maximumSegments).contains(count) else {
            throw .unexpected(instrument, ":WAV:SEGM:COUN?", reply: reply, expected: "0 to \(Self.maximumSegments)")
        }
        return count
    }

    /// `:OPERegister:CONDition?`: whether the scope is running (bit 3, Run).
    public func isRunning() throws(InstrumentError) -> Bool {
        let reply = try session.query(":OPER:COND?")
        let value = try SCPIReply.integer(reply, command: ":OPER:COND?", instrument: instrument)
        guard (0...0xFFFF).contains(value) else {
            throw .unexpected(instrument, ":OPER:COND?", reply: reply, expected: "a 16-bit register value")
        }
        return value & Self.runBit != 0
    }

    private func configured(_ command: String) throws(InstrumentError) -> Acquisition {
        guard let setup = acquisition.withLock({ $0 }) else {
            throw .invalid(instrument, command, "configure(_:) the acquisition first")
        }
        return setup
    }

    /// Polls the Run bit until the single acquisition stops, then checks `:ADER?`; on timeout stops the scope
    /// and reports the triggers seen.
    private func waitForAcquisition(segments: Int, timeout: Duration) throws(InstrumentError) {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        var pause = Duration.milliseconds(1)
        while try isRunning() {
            guard clock.now < deadline else {
                try session.write(":STOP")
                let arrived = try segmentCount()
                throw InstrumentError(
                    instrument: instrument, command: ":OPER:COND?",
                    kind: .transport(
                        TransportError(
                            resource: resource,
                            operation: "trigger timeout: \(arrived) of \(segments) triggers arrived within \(timeout)",
                            kind: .timeout)))
            }
            sleepFor(min(pause, deadline - clock.now))
            pause = min(pause * 2, .milliseconds(20))
        }
        guard try flag(":ADER?") else {
            throw .unexpected(
                instrument, ":ADER?", reply: "0",
                expected: "1 (acquisition done) once the Run bit cleared; the acquisition was stopped early")
        }
    }

    private func sleepFor(_ duration: Duration) {
        guard duration > .zero else { return }
        let (seconds, attoseconds) = duration.components
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }

    /// The preamble and every segment's samples, segment after segment.
    private func readSegments(_ setup: Acquisition) throws(InstrumentError) -> (Preamble, [UInt8]) {
        try session.withExclusiveAccess { (connection) throws(InstrumentError) -> (Preamble, [UInt8]) in
            if !setup.readsAllSegments { try connection.write(":ACQ:SEGM:IND 1") }
            let preamble = try Self.preamble(connection.query(":WAV:PRE?"), command: ":WAV:PRE?", instrument: instrument)
            guard preamble.format == configuration.format else {
                throw .unexpected(
                    instrument, ":WAV:PRE?", reply: "format \(preamble.format.rawValue)",
                    expected: "format \(configuration.format.rawValue) (\(configuration.format.scpi)) as configured")
            }
            let segmentBytes = preamble.points * preamble.format.bytesPerSample
            guard segmentBytes * setup.segments <= Self.maximumBlockBytes else {
                throw .unexpected(
                    instrument, ":WAV:PRE?", reply: "\(preamble.points) points",
                    expected: "at most \(Self.maximumBlockBytes / setup.segments) bytes per segment")
            }
            if setup.readsAllSegments {
                let data = try connection.queryBinaryBlock(":WAV:DATA?")
                try checkLength(data.count, segmentBytes * setup.segments, ":WAV:DATA?")
                return (preamble, data)
            }
            var data: [UInt8] = []
            data.reserveCapacity(segmentBytes * setup.segments)
            for index in 1...setup.segments {
                let command = ":ACQ:SEGM:IND \(index);:WAV:DATA?"
                let block = try connection.queryBinaryBlock(command)
                try checkLength(block.count, segmentBytes, command)
                data += block
            }
            return (preamble, data)
        }
    }

    private func checkLength(_ count: Int, _ expected: Int, _ command: String) throws(InstrumentError) {
        guard count == expected else {
            throw .unexpected(
                instrument, command, reply: "a block of \(count) bytes",
                expected: "\(expected) bytes (the preamble's points × segments × bytes per point)")
        }
    }

    /// Parses `:WAVeform:PREamble?`: ten comma-separated fields, each checked for a sane value.
    static func preamble(_ reply: String, command: String, instrument: String) throws(InstrumentError) -> Preamble {
        let fields = try SCPIReply.fields(reply, count: 10, command: command, instrument: instrument)
        func integer(_ i: Int, _ range: ClosedRange<Int>, _ name: String) throws(InstrumentError) -> Int {
            let value = try SCPIReply.integer(fields[i], command: command, instrument: instrument)
            guard range.contains(value) else {
                throw .unexpected(instrument, command, reply: reply, expected: "\(name) in \(range), got \(value)")
            }
            return value
        }
        func real(_ i: Int, _ valid: (Double) -> Bool, _ name: String) throws(InstrumentError) -> Double {
            let value = try SCPIReply.real(fields[i], command: command, instrument: instrument)
            guard value.isFinite, valid(value) else {
                throw .unexpected(instrument, command, reply: reply, expected: "\(name), got \(value)")
            }
            return value
        }
        let format = try integer(0, 0...1, "format 0 (BYTE) or 1 (WORD)")
        let preamble = Preamble(
            format: SampleFormat(rawValue: format)!, type: try integer(1, 0...3, "type"),
            points: try integer(2, 1...maximumPoints, "points"), count: try integer(3, 0...65536, "count"),
            xIncrement: try real(4, { $0 > 0 && $0 < 1 }, "an x increment between 0 and 1 s"),
            xOrigin: try real(5, { abs($0) < 1e4 }, "an x origin within ±1e4 s"),
            xReference: try integer(6, 0...maximumPoints, "x reference"),
            yIncrement: try real(7, { $0 > 0 && $0 < 1e3 }, "a y increment between 0 and 1000 V"),
            yOrigin: try real(8, { abs($0) < 1e4 }, "a y origin within ±1e4 V"),
            yReference: try integer(9, 0...65535, "y reference"))
        return preamble
    }

    /// Turns every segment into one IQ point per tone, then bits when discriminated.
    private func demodulate(preamble: Preamble, data: [UInt8], setup: Acquisition) throws(InstrumentError) -> [ReadoutShots] {
        let c = configuration
        // The first sample at or after the window's start (a sample within a part per million of it counts).
        let first = Int(((c.windowStart - preamble.xOrigin) / preamble.xIncrement - 1e-6).rounded(.up)) + preamble.xReference
        let count = Int((c.windowLength / preamble.xIncrement + 1e-6).rounded(.down))
        guard first >= 0, count >= 2, first + count <= preamble.points else {
            throw .unexpected(
                instrument, ":WAV:PRE?", reply: "\(preamble.points) points from \(preamble.xOrigin) s every \(preamble.xIncrement) s",
                expected: "a record covering the window \(c.windowStart)…\(c.windowStart + c.windowLength) s")
        }
        // Reference tables per tone: 2/N cos and −2/N sin at each window sample's time.
        let scale = 2 / Double(count)
        let references = c.tones.map { tone in
            (0..<count).map { k in
                let phase = 2 * Double.pi * tone.frequency * preamble.time(first + k)
                return (cos(phase) * scale, -sin(phase) * scale)
            }
        }
        let width = preamble.format.bytesPerSample
        let segmentBytes = preamble.points * width
        var points = Array(repeating: [IQPoint](), count: c.tones.count)
        var volts = [Double](repeating: 0, count: count)
        for segment in 0..<setup.segments {
            var offset = segment * segmentBytes + first * width
            for k in 0..<count {
                let code = width == 1 ? Int(data[offset]) : Int(data[offset]) | Int(data[offset + 1]) << 8
                volts[k] = Double(code - preamble.yReference) * preamble.yIncrement + preamble.yOrigin
                offset += width
            }
            for (t, table) in references.enumerated() {
                var i = 0.0, q = 0.0
                for k in 0..<count {
                    i += volts[k] * table[k].0
                    q += volts[k] * table[k].1
                }
                points[t].append(IQPoint(i: i, q: q))
            }
        }
        return c.tones.enumerated().map { t, tone in
            var bits: [Bool]? = nil
            if case .discriminated(let common) = setup.settings.mode {
                let discriminator = tone.discriminator ?? common
                bits = points[t].map(discriminator.isExcited)
            }
            return ReadoutShots(windowsPerShot: setup.settings.windowsPerShot, points: points[t], bits: bits)
        }
    }
}
