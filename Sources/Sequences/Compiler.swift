import Foundation
import HAL
import Quantities

/// How a qubit is wired to a pulse generator and calibrated: which channels carry the drive's I and Q
/// envelopes, how fast it turns per volt, and which marker triggers its readout.
public struct DriveWiring: Sendable, Hashable {
    /// The channel of the in-phase envelope (x axis).
    public var iChannel: Int
    /// The channel of the quadrature envelope (y axis).
    public var qChannel: Int
    /// Rabi frequency per volt of envelope (Hz/V): Ω = 2π·rabiPerVolt·V.
    public var rabiPerVolt: Double
    /// The marker (channel, number) that triggers the readout.
    public var readoutMarker: (channel: Int, number: Int)
    /// The readout the measurement window is for.
    public var readout: String
    /// How long the readout marker and window last.
    public var measurement: Time

    public init(
        iChannel: Int = 1, qChannel: Int = 2, rabiPerVolt: Double, readoutMarker: (channel: Int, number: Int) = (1, 1),
        readout: String = "readout", measurement: Time = .seconds(100e-9)
    ) {
        self.iChannel = iChannel
        self.qChannel = qChannel
        self.rabiPerVolt = rabiPerVolt
        self.readoutMarker = readoutMarker
        self.readout = readout
        self.measurement = measurement
    }

    public static func == (a: DriveWiring, b: DriveWiring) -> Bool {
        a.iChannel == b.iChannel && a.qChannel == b.qChannel && a.rabiPerVolt == b.rabiPerVolt
            && a.readoutMarker == b.readoutMarker && a.readout == b.readout && a.measurement == b.measurement
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(iChannel)
        hasher.combine(qChannel)
        hasher.combine(rabiPerVolt)
        hasher.combine(readoutMarker.channel)
        hasher.combine(readoutMarker.number)
        hasher.combine(readout)
    }
}

/// Compiles a sequence into the ``PulseProgram`` a generator plays: pulse centres on their ideal times
/// rounded to the nearest sample (exact to one sample), the π/2 pulses and a readout marker with its
/// measurement window after the closing pulse, within the generator's sample rate, granularity, minimum
/// segment length, memory, steps and repeats.
///
/// Where the generator can sequence, a train with equally spaced pulses becomes a prefix segment, one block
/// of whole pulse periods repeated, and a suffix: a CPMG of 10⁵ pulses is three segments. Other sequences are
/// cut into chunks of the minimum segment length; runs of empty chunks become one idle segment repeated.
/// A generator that cannot sequence gets every sample in one segment, when its memory holds them.
public struct SequenceCompiler: Sendable {
    public var capabilities: PulseGeneratorCapabilities
    public var sampleRate: SampleRate
    public var wiring: DriveWiring

    public init(capabilities: PulseGeneratorCapabilities, sampleRate: SampleRate, wiring: DriveWiring) {
        self.capabilities = capabilities
        self.sampleRate = sampleRate
        self.wiring = wiring
    }

    /// A pulse placed on the sample grid.
    struct PlacedPulse {
        var start: Int
        var pulse: Pulse
        var width: Int
    }

    public func compile(_ sequence: DDSequence) throws(SequenceError) -> PulseProgram {
        let (timeline, channels) = try place(sequence)
        let program: PulseProgram
        if capabilities.canSequence, let periodic = try periodicProgram(sequence, timeline: timeline, channels: channels) {
            program = periodic
        } else if capabilities.canSequence {
            program = try chunkedProgram(timeline: timeline, channels: channels)
        } else {
            let start = timeline.first - 1
            program = singleSegment(try segment("sequence", timeline, from: start, length: try singleSegmentLength(timeline)), channels: channels)
        }
        return try checked(program)
    }

    /// Like ``compile(_:)`` for a generator without a sequencer, rendering every sample into `buffers` rather
    /// than into fresh arrays, so a program compiled again and again reuses the same, already mapped memory.
    /// The program's waveforms share the buffers' storage until either changes (copy on write): drop the
    /// previous program before compiling the next, or its samples are copied. Throws when the generator
    /// sequences (use ``compile(_:)``) or the buffers hold fewer samples than the sequence needs.
    public func compile(_ sequence: DDSequence, into buffers: inout WaveformBuffers) throws(SequenceError) -> PulseProgram {
        guard !capabilities.canSequence else {
            throw SequenceError("compile(_:into:) renders every sample for a generator without a sequencer; this one sequences, so use compile(_:)")
        }
        let (timeline, channels) = try place(sequence)
        let start = timeline.first - 1
        let outside = try buffers.render(length: try singleSegmentLength(timeline)) { i, q in timeline.render(from: start, i: i, q: q) }
        try Self.checkRange(outside, "sequence")
        return try checked(singleSegment(segment("sequence", timeline, from: start, i: buffers.i, q: buffers.q), channels: channels))
    }

    /// Checks the program against the generator; its samples were range-checked as they were rendered.
    private func checked(_ program: PulseProgram) throws(SequenceError) -> PulseProgram {
        do { try capabilities.check(program, checkingSamples: false) } catch {
            throw SequenceError("the compiled program does not fit the generator: \(error.message)")
        }
        return program
    }

    /// The checks every compile makes, and the sequence placed on the sample grid with the output channels.
    private func place(_ sequence: DDSequence) throws(SequenceError) -> (Timeline, [PulseProgram.OutputChannel]) {
        let rate = sampleRate.siValue
        guard capabilities.sampleRates.contains(rate) else {
            throw SequenceError("\(rate) Sa/s is outside the generator's \(capabilities.sampleRates.lowerBound)…\(capabilities.sampleRates.upperBound) Sa/s")
        }
        for channel in [wiring.iChannel, wiring.qChannel, wiring.readoutMarker.channel] where !(1...capabilities.channels).contains(channel) {
            throw SequenceError("channel \(channel) does not exist; the generator has \(capabilities.channels)")
        }
        guard wiring.iChannel != wiring.qChannel else { throw SequenceError("the I and Q envelopes need two channels") }
        guard (1...max(capabilities.markersPerChannel, 1)).contains(wiring.readoutMarker.number), capabilities.markersPerChannel > 0 else {
            throw SequenceError("marker \(wiring.readoutMarker.number) does not exist; each channel has \(capabilities.markersPerChannel)")
        }
        guard wiring.rabiPerVolt.isFinite, wiring.rabiPerVolt > 0 else {
            throw SequenceError("the Rabi frequency per volt must be positive, got \(wiring.rabiPerVolt)")
        }
        let width = Int((sequence.piPulse.duration.seconds * rate).rounded())
        guard width >= 1 else {
            throw SequenceError("a \(sequence.piPulse.duration) π pulse is shorter than one sample at \(rate) Sa/s; give pulses a duration")
        }
        // One peak amplitude for every channel: the π pulse's, in volts (the π/2 pulses use half the area).
        let peakRabi = Pulse(angle: sequence.piPulse.angle, phase: 0, duration: .seconds(Double(width) / rate),
                             shape: sequence.piPulse.shape).peakRabiFrequency
        let volts = peakRabi / (2 * .pi * wiring.rabiPerVolt)
        guard volts <= capabilities.maximumAmplitude.siValue else {
            throw SequenceError("a \(sequence.piPulse.duration) π pulse needs \(volts) V, beyond the generator's \(capabilities.maximumAmplitude.siValue) V")
        }

        // The timeline: a lead-in, π/2 centred at `origin`, the refocusing pulses, π/2 at origin + T, the readout.
        let half = (width + 1) / 2
        let total = Int((sequence.total.seconds * rate).rounded())
        let measurement = max(Int((wiring.measurement.seconds * rate).rounded()), 1)
        var placed = [PlacedPulse]()
        let halfPulse = Pulse(angle: .pi / 2, phase: 0, duration: sequence.piPulse.duration, shape: sequence.piPulse.shape)
        placed.append(PlacedPulse(start: -width / 2, pulse: halfPulse, width: width))
        for refocusing in sequence.pulses {
            var pulse = sequence.piPulse
            pulse.phase = refocusing.phase
            let centre = Int((refocusing.position * sequence.total.seconds * rate).rounded())
            placed.append(PlacedPulse(start: centre - width / 2, pulse: pulse, width: width))
        }
        placed.append(PlacedPulse(start: total - width / 2, pulse: halfPulse, width: width))
        for (a, b) in zip(placed, placed.dropFirst()) where b.start < a.start + a.width {
            throw SequenceError("at \(rate) Sa/s two pulses overlap (samples \(a.start) and \(b.start)); lower the pulse width or raise the rate")
        }
        let markerStart = total - width / 2 + width + half
        let channels = [PulseProgram.OutputChannel(number: wiring.iChannel, amplitude: .volts(volts)),
                        PulseProgram.OutputChannel(number: wiring.qChannel, amplitude: .volts(volts))]
            + (wiring.readoutMarker.channel == wiring.iChannel || wiring.readoutMarker.channel == wiring.qChannel
               ? [] : [PulseProgram.OutputChannel(number: wiring.readoutMarker.channel, amplitude: .volts(volts))])
        let timeline = Timeline(pulses: placed, markerStart: markerStart, markerLength: measurement,
                                shape: sequence.piPulse.shape, width: width, rate: rate)
        return (timeline, channels)
    }

    /// A readout alone: `settle` with nothing driving the qubit, then the readout marker (the measurement
    /// instant). What the qubit reads when left to itself, e.g. after a reset, to check that it relaxed to |0⟩.
    public func compileReadout(settle: Time = .seconds(200e-9)) throws(SequenceError) -> PulseProgram {
        let rate = sampleRate.siValue
        guard settle.seconds >= 0 else { throw SequenceError("the settling time must be ≥ 0, got \(settle)") }
        guard capabilities.sampleRates.contains(rate) else {
            throw SequenceError("\(rate) Sa/s is outside the generator's \(capabilities.sampleRates.lowerBound)…\(capabilities.sampleRates.upperBound) Sa/s")
        }
        let gap = max(Int((settle.seconds * rate).rounded()), 1)
        let wanted = max(Int((wiring.measurement.seconds * rate).rounded()), 1)
        let length = legal(gap + wanted)
        let marker = length - gap
        let segment = PulseProgram.Segment(
            name: "readout", length: length, waveforms: [wiring.iChannel: .samples([Float](repeating: 0, count: length))],
            markers: [.init(channel: wiring.readoutMarker.channel, number: wiring.readoutMarker.number, start: gap, length: marker)],
            measurements: [.init(readout: wiring.readout, start: gap, length: marker)])
        // The drive channel plays zeros: its amplitude scales nothing.
        var channels = [PulseProgram.OutputChannel(number: wiring.iChannel, amplitude: capabilities.maximumAmplitude)]
        if wiring.readoutMarker.channel != wiring.iChannel {
            channels.append(.init(number: wiring.readoutMarker.channel, amplitude: capabilities.maximumAmplitude))
        }
        let program = PulseProgram(sampleRate: sampleRate, channels: channels, segments: [segment],
                                   steps: [.init(segment: "readout", waitForTrigger: true)])
        do { try capabilities.check(program) } catch { throw SequenceError("the readout program does not fit the generator: \(error.message)") }
        return program
    }

    /// A Zeno loop: a resonant drive about x of Rabi frequency `rabi` (rad/s) lasting `duration` in total,
    /// interrupted by `measurements` equally spaced readouts. Each period is the drive for duration/n, then
    /// `pause` with the drive off and the readout marker raised at its start (the measurement instant). On a
    /// sequencer that is one segment repeated n times; otherwise every sample.
    public func compileZeno(rabi: Double, duration: Time, measurements n: Int, pause: Time = .seconds(200e-9)) throws(SequenceError) -> PulseProgram {
        let rate = sampleRate.siValue
        guard n >= 1 else { throw SequenceError("a Zeno loop needs at least one measurement, got \(n)") }
        guard rabi.isFinite, rabi > 0, duration.seconds > 0, pause.seconds >= 0 else {
            throw SequenceError("the Rabi frequency and duration must be positive, got \(rabi) rad/s and \(duration)")
        }
        guard capabilities.sampleRates.contains(rate) else {
            throw SequenceError("\(rate) Sa/s is outside the generator's \(capabilities.sampleRates.lowerBound)…\(capabilities.sampleRates.upperBound) Sa/s")
        }
        let drive = Int((duration.seconds * rate / Double(n)).rounded())
        guard drive >= 1, abs(Double(drive * n) - duration.seconds * rate) < 0.5 else {
            throw SequenceError("\(duration) in \(n) parts is not a whole number of samples at \(rate) Sa/s")
        }
        let volts = rabi / (2 * .pi * wiring.rabiPerVolt)
        guard volts <= capabilities.maximumAmplitude.siValue else {
            throw SequenceError("a Rabi frequency of \(rabi) rad/s needs \(volts) V, beyond the generator's \(capabilities.maximumAmplitude.siValue) V")
        }
        let gap = max(Int((pause.seconds * rate).rounded()), 1)
        let length = legal(drive + gap)
        let marker = min(max(Int((wiring.measurement.seconds * rate).rounded()), 1), length - drive)
        var i = [Float](repeating: 0, count: length)
        for k in 0..<drive { i[k] = 1 }
        let period = PulseProgram.Segment(
            name: "zeno", length: length, waveforms: [wiring.iChannel: .samples(i)],
            markers: [.init(channel: wiring.readoutMarker.channel, number: wiring.readoutMarker.number, start: drive, length: marker)],
            measurements: [.init(readout: wiring.readout, start: drive, length: marker)])
        var channels = [PulseProgram.OutputChannel(number: wiring.iChannel, amplitude: .volts(volts))]
        if wiring.readoutMarker.channel != wiring.iChannel {
            channels.append(.init(number: wiring.readoutMarker.channel, amplitude: .volts(volts)))
        }
        let program: PulseProgram
        if capabilities.canSequence, n <= capabilities.maximumRepeats {
            program = PulseProgram(sampleRate: sampleRate, channels: channels, segments: [period],
                                   steps: [.init(segment: "zeno", repeats: n, waitForTrigger: true)])
        } else {
            let (needed, overflow) = length.multipliedReportingOverflow(by: n)
            guard !overflow, needed <= capabilities.memorySamples else {
                throw SequenceError("\(n) measurements of \(length) samples need more than the generator's \(capabilities.memorySamples) samples without a sequencer")
            }
            let all = (0..<n).flatMap { _ in i }
            var segment = PulseProgram.Segment(name: "zeno", length: all.count, waveforms: [wiring.iChannel: .samples(all)])
            for m in 0..<n {
                segment.markers.append(.init(channel: wiring.readoutMarker.channel, number: wiring.readoutMarker.number, start: m * length + drive, length: marker))
                segment.measurements.append(.init(readout: wiring.readout, start: m * length + drive, length: marker))
            }
            program = PulseProgram(sampleRate: sampleRate, channels: channels, segments: [segment], steps: [.init(segment: "zeno", waitForTrigger: true)])
        }
        do { try capabilities.check(program) } catch { throw SequenceError("the compiled Zeno loop does not fit the generator: \(error.message)") }
        return program
    }

    /// Everything placed on the sample grid, relative to the preparation pulse's centre (sample 0).
    struct Timeline {
        var pulses: [PlacedPulse]
        var markerStart: Int
        var markerLength: Int
        /// The π pulse's in-phase envelope and DRAG quadrature, sample by sample, peak 1: every pulse is this
        /// shape scaled by its angle and turned by its phase.
        var envelope: [Double]
        var quadrature: [Double]

        init(pulses: [PlacedPulse], markerStart: Int, markerLength: Int, shape: PulseShape, width: Int, rate: Double) {
            self.pulses = pulses
            self.markerStart = markerStart
            self.markerLength = markerLength
            envelope = (0..<width).map { shape.envelope(at: (Double($0) + 0.5) / Double(width)) }
            quadrature = (0..<width).map { k in
                // Q = β·dI/dt (Motzoi et al.), dI/dt from the envelope's change over one sample × the rate.
                guard case let .drag(_, beta) = shape else { return 0 }
                let x = (Double(k) + 0.5) / Double(width), dx = 1 / Double(width)
                return beta * (shape.envelope(at: min(x + dx / 2, 1)) - shape.envelope(at: max(x - dx / 2, 0))) * rate
            }
        }

        var first: Int { pulses[0].start }
        var end: Int { markerStart + markerLength }

        /// Writes the I and Q samples `from ..< from + i.count` (q as long as i): zeros in bulk, then each pulse
        /// in the window. Returns the first sample outside −1…1 (or NaN), if any: the range is checked as the
        /// samples are made, not by reading them back.
        func render(from: Int, i: UnsafeMutableBufferPointer<Float>, q: UnsafeMutableBufferPointer<Float>) -> Float? {
            let length = i.count
            // memset rather than a loop: for long buffers it streams past the cache (non-temporal stores).
            for buffer in [i, q] where length > 0 { memset(buffer.baseAddress!, 0, length * MemoryLayout<Float>.stride) }
            var outside: Float?
            for placed in pulses where placed.start < from + length && placed.start + placed.width > from {
                let scale = placed.pulse.angle / .pi  // π/2 pulses: half the π pulse's amplitude
                let (c, s) = (cos(placed.pulse.phase) * scale, sin(placed.pulse.phase) * scale)
                for k in max(0, from - placed.start)..<min(placed.width, from + length - placed.start) {
                    let (e, d) = (envelope[k], quadrature[k])
                    let (a, b) = (Float(e * c - d * s), Float(e * s + d * c))
                    i[placed.start + k - from] = a
                    q[placed.start + k - from] = b
                    if !(abs(a) <= 1 && abs(b) <= 1) { outside = outside ?? (abs(a) <= 1 ? b : a) }
                }
            }
            return outside
        }

        /// The readout marker's samples within `from ..< from + length`, if any.
        func marker(from: Int, length: Int) -> Range<Int>? {
            let lo = max(markerStart, from), hi = min(markerStart + markerLength, from + length)
            return lo < hi ? (lo - from)..<(hi - from) : nil
        }
    }

    /// A segment of `i` and `q` (rendered from `from`) with the marker and measurement window that fall in it.
    private func segment(_ name: String, _ timeline: Timeline, from: Int, i: [Float], q: [Float]) -> PulseProgram.Segment {
        var segment = PulseProgram.Segment(
            name: name, length: i.count, waveforms: [wiring.iChannel: .samples(i), wiring.qChannel: .samples(q)])
        if let marker = timeline.marker(from: from, length: i.count) {
            segment.markers = [.init(channel: wiring.readoutMarker.channel, number: wiring.readoutMarker.number,
                                     start: marker.lowerBound, length: marker.count)]
            segment.measurements = [.init(readout: wiring.readout, start: marker.lowerBound, length: marker.count)]
        }
        return segment
    }

    /// A segment of `length` fresh samples from `from`, each written once.
    private func segment(_ name: String, _ timeline: Timeline, from: Int, length: Int) throws(SequenceError) -> PulseProgram.Segment {
        var outside: Float?
        var q: [Float] = []
        let i = [Float](unsafeUninitializedCapacity: length) { i, count in
            q = [Float](unsafeUninitializedCapacity: length) { q, qCount in
                outside = timeline.render(from: from, i: .init(rebasing: i[..<length]), q: .init(rebasing: q[..<length]))
                qCount = length
            }
            count = length
        }
        try Self.checkRange(outside, name)
        return segment(name, timeline, from: from, i: i, q: q)
    }

    /// Throws when segment `name` has a sample outside −1…1.
    private static func checkRange(_ outside: Float?, _ name: String) throws(SequenceError) {
        if let outside {
            throw SequenceError("the compiled program does not fit the generator: segment \"\(name)\" has a sample of \(outside), outside −1…1")
        }
    }

    /// The smallest legal segment length at least `length`.
    private func legal(_ length: Int) -> Int {
        let g = max(capabilities.granularity, 1)
        let atLeast = max(length, capabilities.minimumSegmentLength, 1)
        return (atLeast + g - 1) / g * g
    }

    /// Lead-in so the first segment starts on sample 0 of the program: at least the pulse's first sample.
    private func leadIn(_ timeline: Timeline) -> Int { -timeline.first + 1 }

    /// Prefix, a repeated block of whole periods, suffix; nil when the pulses are not equally spaced or the
    /// repetition would not save memory.
    private func periodicProgram(_ sequence: DDSequence, timeline: Timeline, channels: [PulseProgram.OutputChannel]) throws(SequenceError) -> PulseProgram? {
        let refocusing = Array(timeline.pulses.dropFirst().dropLast())
        guard refocusing.count >= 4 else { return nil }
        let spacing = refocusing[1].start - refocusing[0].start
        guard spacing > 0, zip(refocusing, refocusing.dropFirst()).allSatisfy({ $1.start - $0.start == spacing }) else { return nil }
        // The phase cycle: the shortest period of the pulses' phases.
        let phases = refocusing.map(\.pulse.phase)
        let cycle = (1...phases.count).first { c in phases.indices.allSatisfy { phases[$0] == phases[$0 % c] } } ?? phases.count
        let g = max(capabilities.granularity, 1)
        // m periods per block: a whole phase cycle, a multiple of the granularity, at least the minimum length.
        var m = cycle
        while (m * spacing) % g != 0 || m * spacing < capabilities.minimumSegmentLength {
            m += cycle
            if m > refocusing.count { return nil }
        }
        let blockLength = m * spacing
        // Periods start half a spacing before each pulse centre; the first and last few go to prefix and suffix.
        let centre0 = refocusing[0].start + timeline.pulses[1].width / 2
        let periodStart0 = centre0 - spacing / 2
        let available = refocusing.count - 2  // keep at least one period in the prefix and one in the suffix
        let repeats = available / m
        guard repeats >= 2 else { return nil }
        let prefixPeriods = 1 + (available - repeats * m) / 2
        let blockStart = periodStart0 + prefixPeriods * spacing
        let blockEnd = blockStart + repeats * blockLength
        // Prefix from a lead-in chosen so its length is legal; suffix rounded up with idle samples.
        var prefixStart = timeline.first - 1
        let prefixLength = legal(blockStart - prefixStart)
        prefixStart = blockStart - prefixLength
        let suffixLength = legal(timeline.end - blockEnd + 1)
        let segments = [
            try segment("prefix", timeline, from: prefixStart, length: prefixLength),
            try segment("block", timeline, from: blockStart, length: blockLength),
            try segment("suffix", timeline, from: blockEnd, length: suffixLength),
        ]
        return PulseProgram(
            sampleRate: sampleRate, channels: channels, segments: segments,
            steps: [.init(segment: "prefix", waitForTrigger: true), .init(segment: "block", repeats: repeats), .init(segment: "suffix")])
    }

    /// Chunks of the minimum legal length; runs of empty chunks become an idle segment repeated. The readout
    /// marker and its measurement window go into one closing segment that starts at least
    /// `markerLeadIn` samples before the marker, so the window is one window and a generator that places its
    /// sequence marker a few samples into a segment (the 33500B: 4…length−3) can play it.
    private func chunkedProgram(timeline: Timeline, channels: [PulseProgram.OutputChannel]) throws(SequenceError) -> PulseProgram {
        let chunk = legal(capabilities.minimumSegmentLength)
        let start = timeline.first - 1
        let count = (timeline.end + 1 - start + chunk - 1) / chunk
        let tail = max((timeline.markerStart - start - Self.markerLeadIn) / chunk, 0)
        var busy = [Bool](repeating: false, count: count)
        for pulse in timeline.pulses {
            for c in ((pulse.start - start) / chunk)...((pulse.start + pulse.width - 1 - start) / chunk) { busy[c] = true }
        }
        var segments: [PulseProgram.Segment] = []
        var steps: [PulseProgram.Step] = []
        var index = 0
        var haveIdle = false
        while index < tail {
            if busy[index] {
                let name = "chunk\(index)"
                segments.append(try segment(name, timeline, from: start + index * chunk, length: chunk))
                steps.append(.init(segment: name))
                index += 1
            } else {
                var run = 0
                while index + run < tail, !busy[index + run] { run += 1 }
                if !haveIdle {
                    segments.append(PulseProgram.Segment(name: "idle", length: chunk))
                    haveIdle = true
                }
                var left = run
                while left > 0 {
                    let repeats = min(left, capabilities.maximumRepeats)
                    steps.append(.init(segment: "idle", repeats: repeats))
                    left -= repeats
                }
                index += run
            }
        }
        segments.append(try segment("readout", timeline, from: start + tail * chunk, length: legal((count - tail) * chunk)))
        steps.append(.init(segment: "readout"))
        steps[0].waitForTrigger = true
        guard steps.count <= capabilities.maximumSteps else {
            throw SequenceError("the sequence needs \(steps.count) steps of \(chunk) samples; the generator holds \(capabilities.maximumSteps)")
        }
        return PulseProgram(sampleRate: sampleRate, channels: channels, segments: segments, steps: steps)
    }

    /// Samples between the start of the closing segment and its readout marker, at least.
    static let markerLeadIn = 4

    /// The samples per channel of the one segment a generator without a sequencer plays.
    private func singleSegmentLength(_ timeline: Timeline) throws(SequenceError) -> Int {
        let length = legal(timeline.end + 1 - (timeline.first - 1))
        guard length <= capabilities.memorySamples else {
            throw SequenceError("the sequence needs \(length) samples and the generator holds \(capabilities.memorySamples) without a sequencer")
        }
        return length
    }

    /// The program of a generator without a sequencer: every sample in one segment, played once per trigger.
    private func singleSegment(_ segment: PulseProgram.Segment, channels: [PulseProgram.OutputChannel]) -> PulseProgram {
        PulseProgram(sampleRate: sampleRate, channels: channels, segments: [segment], steps: [.init(segment: segment.name, waitForTrigger: true)])
    }
}

/// Waveform memory for ``SequenceCompiler/compile(_:into:)``: I and Q sample arrays allocated and written once,
/// then reused by every compile, as an AWG's upload path streams each program into the same waveform memory.
public struct WaveformBuffers: Sendable {
    /// The most samples per channel the buffers hold.
    public let capacity: Int
    /// The last compile's samples, `count` of them per channel.
    private(set) var i: [Float]
    private(set) var q: [Float]

    /// Buffers of `capacity` samples per channel (at least 1, at most 2⁶⁰ bytes' worth), zeroed.
    public init(capacity: Int) throws(SequenceError) {
        guard capacity >= 1, capacity <= (1 << 60) / MemoryLayout<Float>.stride else {
            throw SequenceError("waveform buffers need a capacity of 1 to \((1 << 60) / MemoryLayout<Float>.stride) samples, got \(capacity)")
        }
        self.capacity = capacity
        i = [Float](repeating: 0, count: capacity)
        q = [Float](repeating: 0, count: capacity)
    }

    /// Sets both channels to `length` samples, within the capacity (no reallocation while the arrays are not
    /// shared), and lets `body` write them.
    mutating func render<R>(
        length: Int, _ body: (UnsafeMutableBufferPointer<Float>, UnsafeMutableBufferPointer<Float>) -> R
    ) throws(SequenceError) -> R {
        guard length <= capacity else {
            throw SequenceError("the sequence needs \(length) samples per channel; the waveform buffers hold \(capacity)")
        }
        Self.resize(&i, to: length)
        Self.resize(&q, to: length)
        return i.withUnsafeMutableBufferPointer { i in q.withUnsafeMutableBufferPointer { q in body(i, q) } }
    }

    private static func resize(_ samples: inout [Float], to length: Int) {
        if samples.count > length {
            samples.removeLast(samples.count - length)
        } else if samples.count < length {
            samples.append(contentsOf: repeatElement(0, count: length - samples.count))
        }
    }
}
