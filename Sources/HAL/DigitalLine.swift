/// One digital line: a trigger output or an interlock input.
public protocol DigitalLine: AnyObject {
    var resource: ResourceName { get }
    /// Whether the line is active (after active-low inversion).
    func isActive() throws(InstrumentError) -> Bool
    /// Drives an output line active or inactive.
    func setActive(_ active: Bool) throws(InstrumentError)
}

/// One edge seen on a trigger input.
public struct TriggerEdge: Sendable, Hashable {
    /// True for a rising edge (after active-low inversion).
    public var rising: Bool
    /// When the edge was seen, in nanoseconds of the monotonic clock the hardware stamps with.
    public var timestampNanoseconds: UInt64

    public init(rising: Bool, timestampNanoseconds: UInt64) {
        self.rising = rising
        self.timestampNanoseconds = timestampNanoseconds
    }
}

/// A trigger input whose edges arrive with timestamps.
public protocol TriggerInput: AnyObject {
    var resource: ResourceName { get }
    /// Waits for the next edge; throws a typed timeout naming the line when none comes within `timeout`.
    func waitForEdge(timeout: Duration) throws(InstrumentError) -> TriggerEdge
}
