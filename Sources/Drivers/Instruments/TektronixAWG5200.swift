import Foundation
import HAL
import Quantities
import Synchronization

/// The Tektronix AWG5200 series (AWG5202, AWG5204, AWG5208: 2, 4 or 8 channels, 16-bit DACs) as a
/// sequencing ``PulseGenerator``, over its raw SCPI socket (TCP port 4000, lines end in LF).
///
/// A ``PulseProgram`` becomes one waveform-list entry per segment and channel (`<segment>_ch<n>`, float32
/// samples in −1…1 and a marker byte per sample), one sequence `qrrm` whose track *t* drives the program's
/// *t*-th channel, and the channels' amplitudes (`SOURce<n>:VOLTage` is peak-to-peak: 2 × the program's
/// peak). A long dynamical-decoupling train is a few waveforms with repeat counts, never expanded.
///
/// Limits come from `*IDN?` (the channel count) and `*OPT?` (`50`: 5 GS/s, else 2.5 GS/s; `SEQ`:
/// sequencing). The figures in ``capabilities(model:options:)`` follow the AWG5200 datasheet and the
/// QCoDeS AWG5208 driver; those marked *unconfirmed* were not checked against the Programmer Manual.
public final class TektronixAWG5200: PulseGenerator, Sendable {
    /// The AWG's raw SCPI socket server port (Tektronix's default; configurable on the instrument).
    public static let port: UInt16 = 4000
    /// The sequence ``load(_:)`` builds.
    public static let sequenceName = "qrrm"
    /// Samples per `WLISt:WAVeform:DATA` block: 1 MiB of float32. IEEE 488.2 allows up to 999,999,999
    /// bytes per block; smaller blocks keep each message's buffer small on both sides.
    public static let uploadChunkSamples = 1 << 18
    /// The smallest amplitude, 25 mVpp (DC high-bandwidth path, datasheet; unconfirmed).
    public static let minimumPeakToPeak = 0.025

    public let resource: ResourceName
    public let instrument: String
    /// Who the instrument said it was when the driver connected.
    public let identity: InstrumentIdentity
    /// What `*OPT?` listed.
    public let options: [String]
    public let capabilities: PulseGeneratorCapabilities
    private let session: SCPISession
    private let armTimeout: Duration
    /// The channels of the program last loaded (all channels before any load).
    private let loadedChannels: Mutex<[Int]>

    /// Connects over `transport` (which it owns from now on) and reads `*IDN?` and `*OPT?`: a reply that
    /// is not an AWG5202/5204/5208 throws. `armTimeout` bounds how long ``arm()`` waits for the
    /// instrument to report it is waiting for a trigger.
    public init(
        transport: sending any ByteTransport, timeout: Duration = .seconds(10), armTimeout: Duration = .seconds(5)
    ) throws(InstrumentError) {
        let resource = transport.resource
        let instrument = "Tektronix AWG5200 at \(resource)"
        let session = SCPISession(
            transport: transport, instrument: instrument,
            settings: SCPISettings(writeTerminator: "\n", readTerminator: "\n", timeout: timeout))
        let identity = try Self.identify(session)
        let reply = try session.query("*OPT?")
        let options = SCPIReply.trimmed(reply).split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && $0 != "0" }
        guard let capabilities = Self.capabilities(model: identity.model, options: options) else {
            throw .unexpected(instrument, "*IDN?", reply: identity.model, expected: "model AWG5202, AWG5204 or AWG5208")
        }
        self.resource = resource
        self.instrument = instrument
        self.session = session
        self.identity = identity
        self.options = options
        self.capabilities = capabilities
        self.armTimeout = armTimeout
        loadedChannels = Mutex(Array(1...capabilities.channels))
    }

    /// The limits of `model` with `options` installed, nil for a model outside the series.
    ///
    /// - Sample rate 298 S/s to 2.5 GS/s, 5 GS/s with option `50` (datasheet; the lower bound unconfirmed).
    /// - Waveform memory 2 GSamples per channel (datasheet; larger memory options are not modelled).
    /// - Segments of at least 2400 samples in a sequence, any length beyond (QCoDeS's AWG5208 notes; the
    ///   manual was not checked), 4 markers per channel.
    /// - With option `SEQ`: 16,383 sequence steps, repeat counts up to 1,048,576 (unconfirmed). Without it
    ///   the instrument plays one waveform per channel, so a program must be one step played once.
    /// - Amplitude up to 1.5 Vpp, i.e. 0.75 V peak into 50 Ω (DC high-bandwidth path; unconfirmed).
    public static func capabilities(model: String, options: [String]) -> PulseGeneratorCapabilities? {
        let channels: Int
        switch model.uppercased() {
        case "AWG5202": channels = 2
        case "AWG5204": channels = 4
        case "AWG5208": channels = 8
        default: return nil
        }
        let sequencing = options.contains { $0.uppercased() == "SEQ" }
        return PulseGeneratorCapabilities(
            channels: channels, sampleRates: 298...(options.contains("50") ? 5e9 : 2.5e9),
            maximumAmplitude: .volts(0.75), memorySamples: 2_000_000_000, minimumSegmentLength: 2400,
            granularity: 1, markersPerChannel: 4, maximumSteps: sequencing ? 16_383 : 1,
            maximumRepeats: sequencing ? 1_048_576 : 1)
    }

    // MARK: Instrument

    /// `*IDN?`, which must name a Tektronix AWG5200-series model.
    public func identify() throws(InstrumentError) -> InstrumentIdentity {
        try Self.identify(session)
    }

    private static func identify(_ session: SCPISession) throws(InstrumentError) -> InstrumentIdentity {
        let identity = try session.identify()
        guard identity.manufacturer.uppercased() == "TEKTRONIX", identity.model.uppercased().hasPrefix("AWG52") else {
            throw .unexpected(
                session.instrument, "*IDN?", reply: "\(identity.manufacturer),\(identity.model),…",
                expected: "TEKTRONIX,AWG520<n>,<serial>,FV:<firmware>")
        }
        return identity
    }

    /// `*RST`.
    public func reset() throws(InstrumentError) {
        try session.reset()
    }

    /// `SYSTem:ERRor?` until `0,"No error"`.
    public func errorQueue() throws(InstrumentError) -> [InstrumentQueueError] {
        try session.drainErrors(query: "SYST:ERR?")
    }

    // MARK: PulseGenerator

    /// Checks `program`, then stops the AWG, clears its error queue (`*CLS`) and its sequence and waveform lists (`SLISt:SEQuence:DELete
    /// ALL`, with option `SEQ`; `WLISt:WAVeform:DELete ALL`), sets the sample rate (`SOURce:FREQuency`), uploads each segment
    /// once per channel (`WLISt:WAVeform:NEW`, `:DATA`, `:MARKer:DATA`), builds the sequence (`SLISt:SEQuence:
    /// NEW`, `…:STEP<n>:TASSet<t>:WAVeform`, `:RCOunt`, `:WINPut`, `:GOTO`) — or, without the `SEQ` option,
    /// assigns the waveforms directly (`SOURce<n>:CASSet:WAVeform`) — and sets the amplitudes. Then `*OPC?`;
    /// anything the instrument queued throws `.refused` with its text.
    public func load(_ program: PulseProgram) throws(InstrumentError) {
        do {
            try capabilities.check(program)
        } catch {
            throw .invalid(instrument, nil, error.description)
        }
        for channel in program.channels where 2 * channel.amplitude.siValue < Self.minimumPeakToPeak {
            throw .invalid(
                instrument, nil,
                "channel \(channel.number): amplitude \(channel.amplitude.siValue) V peak is below the \(Self.minimumPeakToPeak / 2) V minimum")
        }
        for segment in program.segments where !Self.isValidName(segment.name) {
            throw .invalid(
                instrument, nil,
                "segment name \"\(segment.name)\" must be 1 to 200 printable ASCII characters without quotes")
        }
        let sequence = Self.sequenceName
        try session.withExclusiveAccess { (connection: inout SCPIConnection) throws(InstrumentError) in
            let clear = capabilities.canSequence ? ["SLIS:SEQ:DEL ALL", "WLIS:WAV:DEL ALL"] : ["WLIS:WAV:DEL ALL"]
            for command in ["AWGC:STOP", "*CLS"] + clear + ["SOUR:FREQ \(Self.decimal(program.sampleRate.siValue))"] {
                try connection.write(command)
            }
            for segment in program.segments {
                for channel in program.channels {
                    try Self.upload(segment, channel: channel.number, connection: &connection)
                }
            }
            if capabilities.canSequence {
                let steps = program.steps
                try connection.write("SLIS:SEQ:NEW \"\(sequence)\",\(steps.count),\(program.channels.count)")
                for (index, step) in steps.enumerated() {
                    let prefix = "SLIS:SEQ:STEP\(index + 1)"
                    for (track, channel) in program.channels.enumerated() {
                        try connection.write(
                            "\(prefix):TASS\(track + 1):WAV \"\(sequence)\",\"\(Self.waveformName(step.segment, channel.number))\"")
                    }
                    try connection.write("\(prefix):RCO \"\(sequence)\",\(step.repeats)")
                    try connection.write("\(prefix):WINP \"\(sequence)\",\(step.waitForTrigger ? "ATR" : "OFF")")
                    try connection.write("\(prefix):GOTO \"\(sequence)\",\(step.goTo.map { String($0 + 1) } ?? "NEXT")")
                }
                for (track, channel) in program.channels.enumerated() {
                    try connection.write("SOUR\(channel.number):CASS:SEQ \"\(sequence)\",\(track + 1)")
                }
            } else {
                // check() allows one step played once: the channels play that segment's waveforms.
                for channel in program.channels {
                    try connection.write(
                        "SOUR\(channel.number):CASS:WAV \"\(Self.waveformName(program.steps[0].segment, channel.number))\"")
                }
            }
            for channel in program.channels {
                try connection.write("SOUR\(channel.number):VOLT \(Self.decimal(2 * channel.amplitude.siValue))")
            }
            try connection.waitForOperationComplete()
            let errors = try connection.drainErrors(query: "SYST:ERR?")
            guard errors.isEmpty else {
                throw InstrumentError(
                    instrument: instrument, command: "SYST:ERR?",
                    kind: .refused(errors.map(\.description).joined(separator: "; ")))
            }
        }
        loadedChannels.withLock { $0 = program.channels.map(\.number) }
    }

    /// Uploads one segment's waveform for `channel`: samples in chunks, then its markers, if any.
    private static func upload(
        _ segment: PulseProgram.Segment, channel: Int, connection: inout SCPIConnection
    ) throws(InstrumentError) {
        let name = waveformName(segment.name, channel)
        try connection.write("WLIS:WAV:NEW \"\(name)\",\(segment.length)")
        if let waveform = segment.waveforms[channel] {
            let samples = waveform.rendered(length: segment.length)
            var start = 0
            while start < samples.count {
                let count = min(uploadChunkSamples, samples.count - start)
                var bytes = [UInt8]()
                bytes.reserveCapacity(4 * count)
                for sample in samples[start..<(start + count)] {
                    let bits = sample.bitPattern.littleEndian
                    bytes.append(UInt8(truncatingIfNeeded: bits))
                    bytes.append(UInt8(truncatingIfNeeded: bits >> 8))
                    bytes.append(UInt8(truncatingIfNeeded: bits >> 16))
                    bytes.append(UInt8(truncatingIfNeeded: bits >> 24))
                }
                try connection.writeBinaryBlock(header: "WLIS:WAV:DATA \"\(name)\",\(start),\(count),", bytes: bytes)
                start += count
            }
        }
        let markers = segment.markers.filter { $0.channel == channel }
        guard !markers.isEmpty else { return }
        var bits = [UInt8](repeating: 0, count: segment.length)
        for marker in markers {
            for index in marker.start..<(marker.start + marker.length) { bits[index] |= 1 << (marker.number - 1) }
        }
        var start = 0
        while start < bits.count {
            let count = min(4 * uploadChunkSamples, bits.count - start)
            try connection.writeBinaryBlock(
                header: "WLIS:WAV:MARK:DATA \"\(name)\",\(start),\(count),", bytes: Array(bits[start..<(start + count)]))
            start += count
        }
    }

    /// How shots start. `.immediate` is continuous run mode (`SOURce<n>:RMODe CONTinuous`): the sequence
    /// plays over and over until ``stop()``. `.bus` and `.external` are triggered run mode on trigger input
    /// A (`SOURce<n>:RMODe TRIGgered`, `SOURce<n>:TINPut ATRigger`; external sets `TRIGger:SLOPe`): every
    /// trigger plays the sequence once, then the AWG waits for the next. The instrument counts no shots per
    /// arm (that needs subsequences, which this driver does not build), so `shots` must be 1: one shot per
    /// trigger.
    public func setTrigger(_ source: TriggerSource, shots: Int) throws(InstrumentError) {
        guard shots == 1 else {
            throw .invalid(
                instrument, nil,
                "the AWG5200 plays one shot per trigger (or runs continuously); shots must be 1, not \(shots)")
        }
        var commands: [String] = []
        let channels = loadedChannels.withLock { $0 }
        switch source {
        case .immediate:
            commands = channels.map { "SOUR\($0):RMOD CONT" }
        case .bus, .external:
            for channel in channels { commands += ["SOUR\(channel):RMOD TRIG", "SOUR\(channel):TINP ATR"] }
            if case let .external(rising) = source { commands.append("TRIG:SLOP \(rising ? "POS" : "NEG"),ATR") }
        }
        try session.withExclusiveAccess { (connection: inout SCPIConnection) throws(InstrumentError) in
            for command in commands { try connection.write(command) }
        }
    }

    /// `OUTPut<n>:STATe ON|OFF`.
    public func setOutput(_ channel: Int, enabled: Bool) throws(InstrumentError) {
        let command = "OUTP\(channel):STAT \(enabled ? "ON" : "OFF")"
        guard (1...capabilities.channels).contains(channel) else {
            throw .invalid(instrument, command, "channel \(channel) does not exist; this \(identity.model) has \(capabilities.channels)")
        }
        try session.write(command)
    }

    /// `OUTPut<n>:STATe?`.
    public func isOutputEnabled(_ channel: Int) throws(InstrumentError) -> Bool {
        let command = "OUTP\(channel):STAT?"
        guard (1...capabilities.channels).contains(channel) else {
            throw .invalid(instrument, command, "channel \(channel) does not exist; this \(identity.model) has \(capabilities.channels)")
        }
        return try SCPIReply.integer(try session.query(command), command: command, instrument: instrument) != 0
    }

    /// `AWGControl:RUN`, then `AWGControl:RSTate?` until the AWG waits for a trigger (or runs, in
    /// continuous mode); a state still 0 (stopped) after the arm timeout throws a timeout.
    public func arm() throws(InstrumentError) {
        try session.write("AWGC:RUN")
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: armTimeout)
        while true {
            if try runState() != .stopped { return }
            guard clock.now < deadline else {
                throw InstrumentError(
                    instrument: instrument, command: "AWGC:RST?",
                    kind: .transport(TransportError(resource: resource, operation: "arm (waiting for AWGC:RST? to leave 0)", kind: .timeout)))
            }
            Thread.sleep(forTimeInterval: 0.005)
        }
    }

    /// `TRIGger:IMMediate ATRigger`: a software trigger on input A.
    public func trigger() throws(InstrumentError) {
        try session.write("TRIG:IMM ATR")
    }

    /// `AWGControl:STOP`.
    public func stop() throws(InstrumentError) {
        try session.write("AWGC:STOP")
    }

    /// `AWGControl:RSTate?`: 0 stopped, 1 waiting for a trigger, 2 running.
    public func runState() throws(InstrumentError) -> PulseGeneratorRunState {
        let reply = try session.query("AWGC:RST?")
        switch try SCPIReply.integer(reply, command: "AWGC:RST?", instrument: instrument) {
        case 0: return .stopped
        case 1: return .waitingForTrigger
        case 2: return .running
        default: throw .unexpected(instrument, "AWGC:RST?", reply: reply, expected: "0, 1 or 2")
        }
    }

    // MARK: Lists

    /// `WLISt:LIST?`: the names in the waveform list, predefined ones included.
    public func waveformNames() throws(InstrumentError) -> [String] {
        let reply = SCPIReply.trimmed(try session.query("WLIS:LIST?"))
        guard reply.count >= 2, reply.first == "\"", reply.last == "\"" else {
            throw .unexpected(instrument, "WLIS:LIST?", reply: reply, expected: "a quoted, comma-separated list of names")
        }
        let inner = reply.dropFirst().dropLast()
        return inner.isEmpty ? [] : inner.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
    }

    /// `WLISt:SIZE?`: how many waveforms the list holds.
    public func waveformCount() throws(InstrumentError) -> Int {
        let reply = try session.query("WLIS:SIZE?")
        let count = try SCPIReply.integer(reply, command: "WLIS:SIZE?", instrument: instrument)
        guard count >= 0 else { throw .unexpected(instrument, "WLIS:SIZE?", reply: reply, expected: "a count ≥ 0") }
        return count
    }

    // MARK: Helpers

    /// The waveform-list name of `segment` on `channel`.
    public static func waveformName(_ segment: String, _ channel: Int) -> String {
        "\(segment)_ch\(channel)"
    }

    /// Names go inside double quotes on the wire: printable ASCII without quotes, short enough for the
    /// waveform list with the channel suffix added.
    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 200 && name.utf8.allSatisfy { (0x20..<0x7F).contains($0) && $0 != 0x22 && $0 != 0x27 }
    }

    /// A positive number as the AWG reads it: plain decimal, no exponent (`2500000000`, `0.5`).
    static func decimal(_ value: Double) -> String {
        WireNumber.fixed(value, decimals: 6)
    }
}
