@testable import Drivers
import GPIO
import HAL
import Testing

/// A digital line in memory that records each level it is driven to, with the monotonic time.
private final class RecordingLine: DigitalLine {
    let resource = ResourceName(.gpio(chip: "gpiochip9", line: 3))
    var transitions: [(active: Bool, nanoseconds: UInt64)] = []
    var failInactive = false

    func isActive() throws(InstrumentError) -> Bool { transitions.last?.active ?? false }

    func setActive(_ active: Bool) throws(InstrumentError) {
        if !active && failInactive {
            throw InstrumentError(instrument: "trigger line \(resource)", command: nil,
                                  kind: .transport(TransportError(resource: resource, operation: "drive the line inactive",
                                                                  kind: .system(errno: 5, message: "EIO"))))
        }
        transitions.append((active, monotonicNanoseconds()))
    }
}

/// Edges handed out in order, then silence (a timeout).
private final class ScriptedEdges: EdgeEventSource {
    var events: [GPIOEdgeEvent]
    var timeouts: [Duration?] = []
    init(_ events: [GPIOEdgeEvent]) { self.events = events }

    func waitForEvent(timeout: Duration?) throws(GPIOError) -> GPIOEdgeEvent? {
        timeouts.append(timeout)
        return events.isEmpty ? nil : events.removeFirst()
    }
}

@Suite("GPIO triggers: output pulses of a given width, timestamped inputs")
struct GPIOTriggerTests {
    @Test("A pulse drives active, then inactive no sooner than the width, and reports the width achieved",
          arguments: [Duration.microseconds(50), .milliseconds(2), .milliseconds(20)])
    func pulseWidth(width: Duration) throws {
        let line = RecordingLine()
        let achieved = try line.pulse(width: width)
        #expect(line.transitions.map(\.active) == [true, false])
        let seen = line.transitions[1].nanoseconds - line.transitions[0].nanoseconds
        let asked = UInt64(width.components.seconds) * 1_000_000_000 + UInt64(width.components.attoseconds / 1_000_000_000)
        #expect(seen >= asked, "the line went inactive after \(seen) ns, before the \(asked) ns asked")
        #expect(achieved >= width)
    }

    @Test("Widths of zero, negative or beyond the limit are refused before the line moves",
          arguments: [Duration.zero, .nanoseconds(-5), .seconds(11)])
    func badWidths(width: Duration) {
        let line = RecordingLine()
        #expect(throws: InstrumentError.self) { try line.pulse(width: width) }
        #expect(line.transitions.isEmpty)
    }

    @Test("A line that cannot be driven inactive reports it, naming the line")
    func stuckActive() {
        let line = RecordingLine()
        line.failInactive = true
        let error = #expect(throws: InstrumentError.self) { try line.pulse(width: .microseconds(10)) }
        #expect(error?.description.contains("GPIO::gpiochip9::3") == true)
        #expect(error?.description.contains("inactive") == true)
    }

    @Test("Inputs return the kernel's edge and timestamp, and time out with a typed error naming the line")
    func inputs() throws {
        let resource = ResourceName(.gpio(chip: "gpiochip0", line: 17))
        let source = ScriptedEdges([
            GPIOEdgeEvent(offset: 17, edge: .rising, timestampNanoseconds: 1_000),
            GPIOEdgeEvent(offset: 17, edge: .falling, timestampNanoseconds: 51_000),
        ])
        let input = GPIOTriggerInput(resource: resource, source: source)
        #expect(try input.waitForEdge(timeout: .milliseconds(5)) == TriggerEdge(rising: true, timestampNanoseconds: 1_000))
        #expect(try input.waitForEdge(timeout: .milliseconds(5)) == TriggerEdge(rising: false, timestampNanoseconds: 51_000))
        let error = #expect(throws: InstrumentError.self) { try input.waitForEdge(timeout: .milliseconds(7)) }
        guard case .transport(let transport)? = error?.kind else { Issue.record("expected a transport timeout, got \(String(describing: error))"); return }
        #expect(transport.kind == .timeout)
        #expect(transport.resource == resource)
        #expect(source.timeouts == [.milliseconds(5), .milliseconds(5), .milliseconds(7)])
    }

    @Test("Without a GPIO chip, opening a trigger input is a typed error naming the line, never a crash")
    func noChip() throws {
        let resource = try ResourceName(parsing: "GPIO::gpiochip-none::4")
        let error = #expect(throws: InstrumentError.self) { try GPIOTriggerInput(resource) }
        #expect(error?.description.contains("GPIO::gpiochip-none::4") == true)
        #expect(throws: InstrumentError.self) { try GPIOTriggerInput(ResourceName(.loopback(id: "x"))) }
    }
}
