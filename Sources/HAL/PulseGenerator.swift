import Quantities

/// What a pulse generator can hold and play, from its model and options: the limits a program is
/// checked against before anything is uploaded.
public struct PulseGeneratorCapabilities: Sendable, Hashable {
    /// Output channels, numbered 1…`channels`.
    public var channels: Int
    /// The DAC clock range.
    public var sampleRates: ClosedRange<Double>
    /// The largest peak output, in volts (into the configured load).
    public var maximumAmplitude: Voltage
    /// Waveform memory per channel, in samples.
    public var memorySamples: Int
    /// The shortest segment, in samples.
    public var minimumSegmentLength: Int
    /// Segment lengths must be a multiple of this many samples.
    public var granularity: Int
    /// Marker outputs per channel.
    public var markersPerChannel: Int
    /// Sequence steps (1 for a generator that cannot sequence: it plays one waveform, repeated).
    public var maximumSteps: Int
    /// The largest repeat count of one step.
    public var maximumRepeats: Int

    public init(
        channels: Int, sampleRates: ClosedRange<Double>, maximumAmplitude: Voltage, memorySamples: Int,
        minimumSegmentLength: Int, granularity: Int, markersPerChannel: Int, maximumSteps: Int, maximumRepeats: Int
    ) {
        self.channels = channels
        self.sampleRates = sampleRates
        self.maximumAmplitude = maximumAmplitude
        self.memorySamples = memorySamples
        self.minimumSegmentLength = minimumSegmentLength
        self.granularity = granularity
        self.markersPerChannel = markersPerChannel
        self.maximumSteps = maximumSteps
        self.maximumRepeats = maximumRepeats
    }

    /// Whether the generator has a sequencer (segments with repeats) rather than one waveform per channel.
    public var canSequence: Bool { maximumSteps > 1 }
}

/// Where a generator is in its run cycle.
public enum PulseGeneratorRunState: Sendable, Hashable {
    /// Outputs idle; nothing plays.
    case stopped
    /// Armed: waiting for a trigger.
    case waitingForTrigger
    /// Playing.
    case running
}

/// How a generator starts each shot.
public enum TriggerSource: Sendable, Hashable {
    /// Free-running: shots follow each other.
    case immediate
    /// A software trigger (`*TRG`).
    case bus
    /// The rear-panel trigger input, on the given edge.
    case external(risingEdge: Bool)
}

/// An arbitrary-waveform generator that plays a ``PulseProgram``.
public protocol PulseGenerator: Instrument {
    /// The limits of this model, from its identification.
    var capabilities: PulseGeneratorCapabilities { get }
    /// Checks `program` against ``capabilities`` and uploads its waveforms and sequence, replacing what
    /// was loaded. A program the generator cannot play throws before anything is sent.
    func load(_ program: PulseProgram) throws(InstrumentError)
    /// How shots start, and how many play per arm (`shots` ≥ 1).
    func setTrigger(_ source: TriggerSource, shots: Int) throws(InstrumentError)
    /// Switches an output on or off.
    func setOutput(_ channel: Int, enabled: Bool) throws(InstrumentError)
    /// Whether an output is on.
    func isOutputEnabled(_ channel: Int) throws(InstrumentError) -> Bool
    /// Arms the loaded program: it plays on the next trigger.
    func arm() throws(InstrumentError)
    /// Sends a software trigger.
    func trigger() throws(InstrumentError)
    /// Stops playing.
    func stop() throws(InstrumentError)
    /// Where the generator is in its run cycle.
    func runState() throws(InstrumentError) -> PulseGeneratorRunState
}

extension PulseGeneratorCapabilities {
    /// Checks `program` against these limits; the first violation is thrown in words a user can act on.
    /// `checkingSamples` as in ``PulseProgram/validate(checkingSamples:)``.
    public func check(_ program: PulseProgram, checkingSamples: Bool = true) throws(PulseProgramError) {
        try program.validate(checkingSamples: checkingSamples)
        let rate = program.sampleRate.siValue
        guard sampleRates.contains(rate) else {
            throw PulseProgramError("sample rate \(rate) Sa/s is outside this generator's \(sampleRates.lowerBound)…\(sampleRates.upperBound) Sa/s")
        }
        for channel in program.channels {
            guard (1...channels).contains(channel.number) else {
                throw PulseProgramError("channel \(channel.number) does not exist; this generator has \(channels)")
            }
            guard channel.amplitude.siValue <= maximumAmplitude.siValue else {
                throw PulseProgramError("channel \(channel.number): amplitude \(channel.amplitude.siValue) V exceeds the \(maximumAmplitude.siValue) V maximum")
            }
        }
        var memory = 0
        for segment in program.segments {
            guard segment.length >= minimumSegmentLength else {
                throw PulseProgramError("segment \"\(segment.name)\" has \(segment.length) samples; the minimum is \(minimumSegmentLength)")
            }
            guard segment.length % granularity == 0 else {
                throw PulseProgramError("segment \"\(segment.name)\" has \(segment.length) samples, not a multiple of \(granularity)")
            }
            for marker in segment.markers where marker.number > markersPerChannel {
                throw PulseProgramError("segment \"\(segment.name)\": marker \(marker.number) does not exist; each channel has \(markersPerChannel)")
            }
            memory += segment.length
        }
        guard memory <= memorySamples else {
            throw PulseProgramError("the program needs \(memory) samples of waveform memory per channel; this generator has \(memorySamples)")
        }
        guard program.steps.count <= maximumSteps else {
            throw PulseProgramError(canSequence
                ? "the program has \(program.steps.count) sequence steps; this generator holds \(maximumSteps)"
                : "this generator cannot sequence: the program must be one segment in one step, it has \(program.steps.count) steps")
        }
        for (index, step) in program.steps.enumerated() where step.repeats > maximumRepeats {
            throw PulseProgramError("step \(index + 1) repeats \(step.repeats) times; this generator allows \(maximumRepeats)")
        }
    }
}
