import Foundation
import Quantities

/// The hardware-level timeline a pulse generator plays: sample-accurate segments on numbered output
/// channels, played in sequence steps with repeats and trigger waits, plus markers and measurement
/// windows. Everything is counted in samples of one DAC clock (`sampleRate`), so timing is exact to one
/// sample; volts come from each channel's `amplitude` (a sample of 1.0 is `+amplitude`).
///
/// One pass through `steps`, first to last (following `goTo` jumps), is one shot. A long dynamical-
/// decoupling train is a few segments with large repeat counts, never millions of stored samples.
public struct PulseProgram: Sendable, Hashable {
    /// One DAC clock for every channel.
    public var sampleRate: SampleRate
    /// The output channels the program drives.
    public var channels: [OutputChannel]
    /// The waveform memory the program needs, by name.
    public var segments: [Segment]
    /// The sequence: what plays in order.
    public var steps: [Step]

    public init(sampleRate: SampleRate, channels: [OutputChannel], segments: [Segment], steps: [Step]) {
        self.sampleRate = sampleRate
        self.channels = channels
        self.segments = segments
        self.steps = steps
    }

    /// One output channel: its number on the generator's front panel and its peak output voltage.
    public struct OutputChannel: Sendable, Hashable {
        /// 1-based, as the instrument numbers it (`SOUR1`, `OUTP2`).
        public var number: Int
        /// The voltage a sample of 1.0 produces (into the instrument's configured load).
        public var amplitude: Voltage

        public init(number: Int, amplitude: Voltage) {
            self.number = number
            self.amplitude = amplitude
        }
    }

    /// A named block of waveform memory, the same length on every channel it drives.
    public struct Segment: Sendable, Hashable {
        public var name: String
        /// Samples per channel.
        public var length: Int
        /// Per channel number, what it plays; a channel not named idles at 0.
        public var waveforms: [Int: Waveform]
        /// Marker outputs raised during the segment.
        public var markers: [Marker]
        /// Where the readout integrates, relative to the segment's first sample.
        public var measurements: [MeasurementWindow]

        public init(
            name: String, length: Int, waveforms: [Int: Waveform] = [:], markers: [Marker] = [],
            measurements: [MeasurementWindow] = []
        ) {
            self.name = name
            self.length = length
            self.waveforms = waveforms
            self.markers = markers
            self.measurements = measurements
        }
    }

    /// What one channel plays during a segment.
    public enum Waveform: Sendable, Hashable {
        /// Explicit samples in −1…1, exactly `Segment.length` of them.
        case samples([Float])
        /// Parametric pulses, drawn on demand; 0 between them.
        case pulses([ParametricPulse])
    }

    /// A pulse given by its shape rather than its samples.
    public struct ParametricPulse: Sendable, Hashable {
        public enum Shape: Sendable, Hashable {
            /// Constant amplitude.
            case square
            /// exp(−(t−t₀)²/2σ²), σ in samples, centred in the pulse and shifted so it starts and ends at 0.
            case gaussian(sigma: Double)
            /// The Gaussian's derivative, scaled by `beta` (samples): the quadrature part of a DRAG pulse.
            case gaussianDerivative(sigma: Double, beta: Double)
        }

        /// First sample, relative to the segment.
        public var start: Int
        public var length: Int
        public var shape: Shape
        /// Peak value in −1…1.
        public var amplitude: Double

        public init(start: Int, length: Int, shape: Shape, amplitude: Double) {
            self.start = start
            self.length = length
            self.shape = shape
            self.amplitude = amplitude
        }

        /// The pulse's value at sample `index` of the pulse (0 ..< length).
        public func value(at index: Int) -> Double {
            let center = Double(length - 1) / 2
            let x = Double(index) - center
            switch shape {
            case .square:
                return amplitude
            case let .gaussian(sigma):
                let edge = exp(-center * center / (2 * sigma * sigma))
                let g = exp(-x * x / (2 * sigma * sigma))
                return amplitude * (g - edge) / (1 - edge)
            case let .gaussianDerivative(sigma, beta):
                let edge = exp(-center * center / (2 * sigma * sigma))
                let g = exp(-x * x / (2 * sigma * sigma))
                return amplitude * beta * (-x / (sigma * sigma)) * g / (1 - edge)
            }
        }
    }

    /// A marker output held high for `length` samples from `start`.
    public struct Marker: Sendable, Hashable {
        /// The channel whose marker it is.
        public var channel: Int
        /// The marker number on that channel (1-based).
        public var number: Int
        public var start: Int
        public var length: Int

        public init(channel: Int, number: Int, start: Int, length: Int) {
            self.channel = channel
            self.number = number
            self.start = start
            self.length = length
        }
    }

    /// A window in which a readout acquires; the generator signals it on the marker the station assigns
    /// to that readout.
    public struct MeasurementWindow: Sendable, Hashable {
        /// The readout (instrument id or qubit) the window is for.
        public var readout: String
        public var start: Int
        public var length: Int

        public init(readout: String, start: Int, length: Int) {
            self.readout = readout
            self.start = start
            self.length = length
        }
    }

    /// One entry of the sequence.
    public struct Step: Sendable, Hashable {
        /// The segment played, by name.
        public var segment: String
        /// How many times the segment plays back to back (≥ 1).
        public var repeats: Int
        /// Whether the step waits for a trigger before it starts.
        public var waitForTrigger: Bool
        /// The step played next (0-based index); nil plays the following step, or ends the shot after the last.
        public var goTo: Int?

        public init(segment: String, repeats: Int = 1, waitForTrigger: Bool = false, goTo: Int? = nil) {
            self.segment = segment
            self.repeats = repeats
            self.waitForTrigger = waitForTrigger
            self.goTo = goTo
        }
    }

    /// The segment named `name`.
    public func segment(named name: String) -> Segment? {
        segments.first { $0.name == name }
    }

    /// The number of samples one shot plays, following repeats; nil when a `goTo` loops back (the program
    /// then runs until stopped) or the count overflows.
    public var samplesPerShot: Int? {
        var total = 0
        for (index, step) in steps.enumerated() {
            if let target = step.goTo, target <= index { return nil }
            guard let segment = segment(named: step.segment) else { return nil }
            let (product, overflow1) = segment.length.multipliedReportingOverflow(by: step.repeats)
            let (sum, overflow2) = total.addingReportingOverflow(product)
            if overflow1 || overflow2 { return nil }
            total = sum
        }
        return total
    }

    /// The duration of one shot, when it is finite.
    public var durationPerShot: Time? {
        samplesPerShot.map { .seconds(Double($0) / sampleRate.siValue) }
    }

    /// Checks that the program is self-consistent: names resolve, lengths match, every marker, pulse and
    /// window lies inside its segment, samples lie in −1…1 (unless `checkingSamples` is false, for a producer
    /// that checked each sample's range as it made it). The first problem found is thrown.
    public func validate(checkingSamples: Bool = true) throws(PulseProgramError) {
        guard sampleRate.siValue.isFinite, sampleRate.siValue > 0 else {
            throw PulseProgramError("the sample rate must be positive, got \(sampleRate.siValue) Sa/s")
        }
        let numbers = Set(channels.map(\.number))
        guard numbers.count == channels.count else { throw PulseProgramError("a channel is listed twice") }
        for channel in channels {
            guard channel.number >= 1 else { throw PulseProgramError("channel \(channel.number): channels are numbered from 1") }
            guard channel.amplitude.siValue.isFinite, channel.amplitude.siValue > 0 else {
                throw PulseProgramError("channel \(channel.number): the amplitude must be positive, got \(channel.amplitude.siValue) V")
            }
        }
        var names = Set<String>()
        for segment in segments {
            guard !segment.name.isEmpty else { throw PulseProgramError("a segment has no name") }
            guard names.insert(segment.name).inserted else { throw PulseProgramError("segment \"\(segment.name)\" is defined twice") }
            guard segment.length > 0 else { throw PulseProgramError("segment \"\(segment.name)\" is empty") }
            try validate(segment, channels: numbers, checkingSamples: checkingSamples)
        }
        guard !steps.isEmpty else { throw PulseProgramError("the sequence has no steps") }
        for (index, step) in steps.enumerated() {
            guard names.contains(step.segment) else {
                throw PulseProgramError("step \(index + 1) plays segment \"\(step.segment)\", which is not defined")
            }
            guard step.repeats >= 1 else { throw PulseProgramError("step \(index + 1): repeats must be at least 1, got \(step.repeats)") }
            if let target = step.goTo, !steps.indices.contains(target) {
                throw PulseProgramError("step \(index + 1) jumps to step \(target + 1), beyond the \(steps.count) steps")
            }
        }
    }

    private func validate(_ segment: Segment, channels: Set<Int>, checkingSamples: Bool) throws(PulseProgramError) {
        let where_ = "segment \"\(segment.name)\""
        func inside(_ start: Int, _ length: Int) -> Bool {
            start >= 0 && length > 0 && start <= segment.length - length
        }
        for (channel, waveform) in segment.waveforms {
            guard channels.contains(channel) else { throw PulseProgramError("\(where_) drives channel \(channel), which the program does not list") }
            switch waveform {
            case let .samples(samples):
                guard samples.count == segment.length else {
                    throw PulseProgramError("\(where_), channel \(channel): \(samples.count) samples for a segment of \(segment.length)")
                }
                guard checkingSamples else { continue }
                // A branch-free pass the compiler vectorises (NaN fails `<=`); the index is looked up only on failure.
                let inRange = samples.withUnsafeBufferPointer { buffer in
                    var all = true
                    for x in buffer { all = all && (abs(x) <= 1) }
                    return all
                }
                if !inRange, let bad = samples.firstIndex(where: { !(abs($0) <= 1) }) {
                    throw PulseProgramError("\(where_), channel \(channel): sample \(bad) is \(samples[bad]), outside −1…1")
                }
            case let .pulses(pulses):
                for pulse in pulses {
                    guard inside(pulse.start, pulse.length) else {
                        throw PulseProgramError("\(where_), channel \(channel): a pulse at \(pulse.start)+\(pulse.length) lies outside the segment")
                    }
                    guard pulse.amplitude.isFinite, abs(pulse.amplitude) <= 1 else {
                        throw PulseProgramError("\(where_), channel \(channel): pulse amplitude \(pulse.amplitude) is outside −1…1")
                    }
                }
            }
        }
        for marker in segment.markers {
            guard channels.contains(marker.channel), marker.number >= 1, inside(marker.start, marker.length) else {
                throw PulseProgramError("\(where_): marker \(marker.number) of channel \(marker.channel) at \(marker.start)+\(marker.length) is not inside the segment on a listed channel")
            }
        }
        for window in segment.measurements {
            guard inside(window.start, window.length) else {
                throw PulseProgramError("\(where_): measurement window for \(window.readout) at \(window.start)+\(window.length) lies outside the segment")
            }
        }
    }
}

extension PulseProgram.Waveform {
    /// The samples of a segment of `length` samples: explicit ones as given, parametric pulses drawn
    /// (overlapping pulses add).
    public func rendered(length: Int) -> [Float] {
        switch self {
        case let .samples(samples):
            return samples
        case let .pulses(pulses):
            var samples = [Float](repeating: 0, count: length)
            for pulse in pulses {
                for i in 0..<pulse.length where pulse.start + i < length {
                    samples[pulse.start + i] += Float(pulse.value(at: i))
                }
            }
            return samples
        }
    }
}

/// A pulse program that is not self-consistent, or that a generator cannot play.
public struct PulseProgramError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { "pulse program: \(message)" }
}
