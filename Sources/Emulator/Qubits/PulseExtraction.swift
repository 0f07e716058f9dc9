import Foundation
import HAL

/// One drive pulse as a qubit sees it: a maximal run of non-zero I+iQ envelope within a segment.
struct DrivePulse: Sendable, Hashable {
    /// First sample, relative to the segment.
    var start: Int
    var length: Int
    /// ∫Ω dt over the pulse, rad (before the qubit's amplitude error).
    var angle: Double
    /// The envelope's phase (the rotation axis, from x toward y), rad, when it is constant over the pulse.
    var phase: Double
    /// When the phase varies within the pulse (e.g. DRAG): per sample, the rotation about x and about y
    /// (Ω·cos φ·dt, Ω·sin φ·dt), rad, interleaved; empty for a constant-phase pulse.
    var steps: [Double]
}

/// The rising edges of one marker output within a segment.
struct MarkerEdges: Sendable, Hashable {
    /// Rising edges after the first sample, in order.
    var edges: [Int]
    /// The marker is high on the first sample (a rising edge there unless it was high at the end of
    /// what played before).
    var startsHigh: Bool
    /// The marker is high on the last sample.
    var endsHigh: Bool

    static let none = MarkerEdges(edges: [], startsHigh: false, endsHigh: false)
}

/// Finds pulses and measurement instants in what a generator plays, one segment at a time.
enum PulseExtraction {
    /// The rising edges of marker `number` on channel `channel` in `segment`: marker intervals that
    /// overlap or touch merge into one high stretch.
    static func edges(of segment: PulseProgram.Segment, channel: Int, number: Int) -> MarkerEdges {
        let spans = segment.markers.filter { $0.channel == channel && $0.number == number && $0.length > 0 }
            .map { ($0.start, $0.start + $0.length) }.sorted { $0.0 < $1.0 }
        guard var current = spans.first else { return .none }
        var merged: [(Int, Int)] = []
        for span in spans.dropFirst() {
            if span.0 <= current.1 { current.1 = max(current.1, span.1) } else {
                merged.append(current)
                current = span
            }
        }
        merged.append(current)
        return MarkerEdges(edges: merged.map(\.0).filter { $0 > 0 }, startsHigh: merged[0].0 <= 0,
                           endsHigh: merged[merged.count - 1].1 >= segment.length)
    }

    /// The drive pulses of `segment` on channels `i` (and `q`), with volts = sample × channel amplitude
    /// and Ω = 2π·`rabiPerVolt`·|V|. A pulse also ends at every sample in `cuts` (measurement instants),
    /// so a measurement never falls inside a pulse. Only the samples under parametric pulses are drawn;
    /// explicit samples are scanned.
    static func pulses(
        in segment: PulseProgram.Segment, program: PulseProgram, i: Int, q: Int?, rabiPerVolt: Double, cuts: [Int]
    ) -> [DrivePulse] {
        func channel(_ number: Int?) -> DrivenChannel? {
            guard let number, let waveform = segment.waveforms[number],
                  let output = program.channels.first(where: { $0.number == number }) else { return nil }
            return DrivenChannel(waveform, volts: output.amplitude.siValue)
        }
        let inPhase = channel(i), quadrature = channel(q)
        guard inPhase != nil || quadrature != nil else { return [] }
        let ranges = candidateRanges([inPhase, quadrature], length: segment.length)
        let dt = 1 / program.sampleRate.siValue
        let scale = 2 * Double.pi * rabiPerVolt * dt
        let cutSet = Set(cuts)
        var pulses: [DrivePulse] = []
        for range in ranges {
            let iValues = draw(inPhase, over: range), qValues = draw(quadrature, over: range)
            var index = range.lowerBound
            while index < range.upperBound {
                let k = index - range.lowerBound
                guard iValues[k] != 0 || qValues[k] != 0 else { index += 1; continue }
                var end = index + 1
                while end < range.upperBound, !cutSet.contains(end),
                      iValues[end - range.lowerBound] != 0 || qValues[end - range.lowerBound] != 0 { end += 1 }
                pulses.append(pulse(iValues, qValues, from: index - range.lowerBound, to: end - range.lowerBound,
                                    offset: range.lowerBound, scale: scale))
                index = end
            }
        }
        return pulses
    }

    /// One run of non-zero envelope, samples lo..<hi of the drawn buffers.
    private static func pulse(_ iValues: [Double], _ qValues: [Double], from lo: Int, to hi: Int, offset: Int, scale: Double) -> DrivePulse {
        let i0 = iValues[lo], q0 = qValues[lo]
        var angle = 0.0, constant = true
        for k in lo..<hi {
            let vi = iValues[k], vq = qValues[k]
            let magnitude = (vi * vi + vq * vq).squareRoot()
            angle += magnitude * scale
            // Same direction as the first sample: no cross product, positive dot product.
            let norm0 = (i0 * i0 + q0 * q0).squareRoot()
            if abs(vi * q0 - vq * i0) > 1e-9 * magnitude * norm0 || vi * i0 + vq * q0 <= 0 { constant = false }
        }
        var steps: [Double] = []
        if !constant {
            steps.reserveCapacity(2 * (hi - lo))
            for k in lo..<hi { steps.append(iValues[k] * scale); steps.append(qValues[k] * scale) }
        }
        return DrivePulse(start: offset + lo, length: hi - lo, angle: angle, phase: atan2(q0, i0), steps: steps)
    }

    /// One drive channel of a segment: explicit samples, or parametric pulses sorted by start.
    private struct DrivenChannel {
        var samples: [Float]?
        var pulses: [PulseProgram.ParametricPulse]
        var volts: Double

        init(_ waveform: PulseProgram.Waveform, volts: Double) {
            switch waveform {
            case let .samples(samples):
                self.samples = samples
                pulses = []
            case let .pulses(pulses):
                samples = nil
                self.pulses = pulses.sorted { $0.start < $1.start }
            }
            self.volts = volts
        }
    }

    /// The sample ranges that may be non-zero, merged: a whole segment for explicit samples, each
    /// parametric pulse's span otherwise.
    private static func candidateRanges(_ channels: [DrivenChannel?], length: Int) -> [Range<Int>] {
        var spans: [Range<Int>] = []
        for case let channel? in channels {
            if channel.samples != nil { return [0..<length] }
            spans += channel.pulses.map { max(0, $0.start)..<min(length, $0.start + $0.length) }.filter { !$0.isEmpty }
        }
        spans.sort { $0.lowerBound < $1.lowerBound }
        var merged: [Range<Int>] = []
        for span in spans {
            if let last = merged.last, span.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, span.upperBound)
            } else {
                merged.append(span)
            }
        }
        return merged
    }

    /// Volts of one channel over `range` (0 where the channel is not driven). Parametric pulses lie
    /// wholly inside one candidate range, so only those starting in it are drawn (found by bisection).
    private static func draw(_ channel: DrivenChannel?, over range: Range<Int>) -> [Double] {
        var values = [Double](repeating: 0, count: range.count)
        guard let channel else { return values }
        if let samples = channel.samples {
            for index in range where index < samples.count { values[index - range.lowerBound] = Double(samples[index]) * channel.volts }
            return values
        }
        var low = 0, high = channel.pulses.count
        while low < high {
            let middle = (low + high) / 2
            if channel.pulses[middle].start < range.lowerBound { low = middle + 1 } else { high = middle }
        }
        for pulse in channel.pulses[low...] {
            guard pulse.start < range.upperBound else { break }
            for k in 0..<pulse.length where range.contains(pulse.start + k) {
                values[pulse.start + k - range.lowerBound] += pulse.value(at: k) * channel.volts
            }
        }
        return values
    }
}
