/// One digital line: a trigger output or an interlock input.
public protocol DigitalLine: AnyObject {
    var resource: ResourceName { get }
    /// Whether the line is active (after active-low inversion).
    func isActive() throws(InstrumentError) -> Bool
    /// Drives an output line active or inactive.
    func setActive(_ active: Bool) throws(InstrumentError)
}
