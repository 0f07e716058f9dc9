import Synchronization
import Testing

@testable import USB

/// Collects what a monitor's handler receives, from whatever thread it runs on.
private final class EventLog: Sendable {
    private let events = Mutex<[USBHotplugEvent]>([])
    func append(_ event: USBHotplugEvent) { events.withLock { $0.append(event) } }
    var all: [USBHotplugEvent] { events.withLock { $0 } }
}

/// No test here measures speed: the time limits only turn a hung event thread into a failure.
@Suite struct USBHotplugMonitorTests {
    @Test(.timeLimit(.minutes(1)))
    func monitorRegistersAndStopsWithoutSpuriousEvents() async throws {
        let context = try USBContext()
        let log = EventLog()
        guard USBHotplugMonitor.isSupported else {
            let error = #expect(throws: USBError.self) {
                try USBHotplugMonitor(context: context, vendor: 0xFFFE, product: 0xFFFD) { log.append($0) }
            }
            #expect(error?.code == .notSupported)
            return
        }
        // No device has these ids, so any event would be spurious.
        let monitor = try USBHotplugMonitor(context: context, vendor: 0xFFFE, product: 0xFFFD) { log.append($0) }
        try await Task.sleep(for: .milliseconds(300))
        monitor.stop()
        monitor.stop()
        #expect(log.all.isEmpty)
    }

    @Test(.timeLimit(.minutes(1)))
    func alreadyAttachedDevicesArriveOnceEach() throws {
        guard USBHotplugMonitor.isSupported else { return }
        let context = try USBContext()
        let log = EventLog()
        let monitor = try USBHotplugMonitor(context: context, includeAlreadyAttached: true) { log.append($0) }
        defer { monitor.stop() }
        let attached = Set(try context.devices().map { [$0.busNumber, $0.address] })
        // LIBUSB_HOTPLUG_ENUMERATE reports the attached devices before registration returns.
        var arrived: [[UInt8]] = []
        for event in log.all {
            guard case .arrived(let device) = event else {
                Issue.record("unexpected \(event)")
                continue
            }
            arrived.append([device.busNumber, device.address])
        }
        #expect(arrived.count == attached.count)
        #expect(Set(arrived) == attached)
    }

    @Test(.timeLimit(.minutes(1)))
    func droppingTheMonitorEndsItsThreadAndReleasesTheContext() throws {
        guard USBHotplugMonitor.isSupported else { return }
        weak var released: USBContext?
        do {
            let context = try USBContext()
            released = context
            let monitor = try USBHotplugMonitor(context: context, vendor: 0x0957) { _ in }
            _ = monitor
        }
        // The event thread holds the context until it ends; deinit joined it.
        #expect(released == nil)
    }

    @Test(.timeLimit(.minutes(1)))
    func severalMonitorsShareOneContext() throws {
        guard USBHotplugMonitor.isSupported else { return }
        let context = try USBContext()
        let monitors = try (0..<3).map { index in
            try USBHotplugMonitor(context: context, vendor: 0xFFFE, product: UInt16(0xFFF0 + index)) { _ in }
        }
        for monitor in monitors.reversed() {
            monitor.stop()
        }
        // The context still works once they are gone.
        _ = try context.devices()
    }
}
