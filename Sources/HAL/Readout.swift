/// One integrated readout point: the demodulated in-phase and quadrature components, in volts.
public struct IQPoint: Sendable, Hashable {
    public var i: Double
    public var q: Double

    public init(i: Double, q: Double) {
        self.i = i
        self.q = q
    }
}

/// Turns an IQ point into a bit: the nearer of two calibrated centres.
public struct Discriminator: Sendable, Hashable {
    /// Where |0⟩ lands.
    public var ground: IQPoint
    /// Where |1⟩ lands.
    public var excited: IQPoint

    public init(ground: IQPoint, excited: IQPoint) {
        self.ground = ground
        self.excited = excited
    }

    /// True for |1⟩: `point` is nearer the excited centre (the perpendicular bisector is the threshold).
    public func isExcited(_ point: IQPoint) -> Bool {
        let di = excited.i - ground.i, dq = excited.q - ground.q
        let mi = (excited.i + ground.i) / 2, mq = (excited.q + ground.q) / 2
        return (point.i - mi) * di + (point.q - mq) * dq > 0
    }
}

/// What one acquisition returns.
public enum ReadoutMode: Sendable, Hashable {
    /// Every shot's integrated IQ point.
    case integratedIQ
    /// Every shot's bit, from the discriminator.
    case discriminated(Discriminator)
}

/// An acquisition: how many shots, each of how many measurement windows.
public struct AcquisitionSettings: Sendable, Hashable {
    /// Shots (triggers) to acquire.
    public var shots: Int
    /// Measurement windows per shot (a Zeno loop measures many times in one shot).
    public var windowsPerShot: Int
    public var mode: ReadoutMode

    public init(shots: Int, windowsPerShot: Int = 1, mode: ReadoutMode = .integratedIQ) {
        self.shots = shots
        self.windowsPerShot = windowsPerShot
        self.mode = mode
    }
}

/// The shots of one acquisition, in trigger order: `shots × windowsPerShot` records, window-major
/// within each shot.
public struct ReadoutShots: Sendable, Hashable {
    public var windowsPerShot: Int
    /// Every record's integrated IQ point.
    public var points: [IQPoint]
    /// Every record's bit (true: |1⟩), when the acquisition was discriminated.
    public var bits: [Bool]?

    public init(windowsPerShot: Int, points: [IQPoint], bits: [Bool]?) {
        self.windowsPerShot = windowsPerShot
        self.points = points
        self.bits = bits
    }

    public var shotCount: Int { windowsPerShot == 0 ? 0 : points.count / windowsPerShot }

    /// The mean IQ point of window `window` over all shots (the averaged readout).
    public func averagedPoint(window: Int = 0) -> IQPoint {
        var i = 0.0, q = 0.0, n = 0
        var index = window
        while index < points.count {
            i += points[index].i
            q += points[index].q
            n += 1
            index += windowsPerShot
        }
        return n == 0 ? IQPoint(i: .nan, q: .nan) : IQPoint(i: i / Double(n), q: q / Double(n))
    }

    /// The fraction of shots that read |1⟩ in window `window`, with its binomial standard error; nil
    /// when the acquisition was not discriminated.
    public func excitedFraction(window: Int = 0) -> (value: Double, standardError: Double)? {
        guard let bits, windowsPerShot > 0 else { return nil }
        var ones = 0, n = 0
        var index = window
        while index < bits.count {
            if bits[index] { ones += 1 }
            n += 1
            index += windowsPerShot
        }
        guard n > 0 else { return nil }
        let p = Double(ones) / Double(n)
        return (p, (p * (1 - p) / Double(n)).squareRoot())
    }
}

/// A readout instrument or digitizer that acquires shots, triggered by the pulse generator's markers.
public protocol Readout: Instrument {
    /// Sets up the next acquisition.
    func configure(_ settings: AcquisitionSettings) throws(InstrumentError)
    /// Arms the acquisition: it records the next `shots × windowsPerShot` triggers.
    func arm() throws(InstrumentError)
    /// Waits until the armed acquisition has all its triggers and returns it; throws a typed timeout
    /// naming the trigger count seen when they do not arrive within `timeout`.
    func fetch(timeout: Duration) throws(InstrumentError) -> ReadoutShots
}
