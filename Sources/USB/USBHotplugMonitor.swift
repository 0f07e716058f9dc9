import CLibUSB
import Glibc
import Synchronization

/// A device named in a hotplug event. In a LEFT callback libusb_get_device_descriptor is the only
/// call libusb documents as safe, so the event carries the descriptor plus the bus number and
/// address, which are plain fields of the libusb_device that libusb keeps referenced meanwhile.
public struct USBHotplugDevice: Sendable, Hashable {
    public let descriptor: USBDeviceDescriptor
    /// libusb_get_bus_number.
    public let busNumber: UInt8
    /// libusb_get_device_address.
    public let address: UInt8
}

/// What a `USBHotplugMonitor` reports.
public enum USBHotplugEvent: Sendable, Hashable {
    /// LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED: a matching device was attached (or was already attached,
    /// when the monitor was created with `includeAlreadyAttached`).
    case arrived(USBHotplugDevice)
    /// LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT: a matching device was detached; handles to it are now useless.
    case left(USBHotplugDevice)
    /// libusb reported an error while watching. When its operation is
    /// libusb_handle_events_timeout_completed the event thread has ended and no further events come.
    case failed(USBError)
}

/// Watches for USB devices arriving and leaving (libusb_hotplug_register_callback) and calls a
/// handler from its own event thread, which runs libusb_handle_events_timeout_completed.
///
/// The handler may also be called from any other thread that is handling libusb events for the same
/// context (synchronous transfers do) and, with `includeAlreadyAttached`, from `init` itself; calls
/// never overlap. libusb forbids synchronous I/O and descriptor reads inside the callback, so the
/// handler must not open devices or transfer data: pass the event on (to an AsyncStream
/// continuation, say).
///
/// `stop()` (also run by `deinit`) deregisters the callback and joins the event thread; once it
/// returns the handler is not running and will not be called again. Calling it from within the
/// handler is allowed: the event thread is then detached and ends after the handler returns.
public final class USBHotplugMonitor: Sendable {
    /// Whether this libusb can report hotplug events on this platform
    /// (libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG)).
    public static var isSupported: Bool {
        libusb_has_capability(UInt32(LIBUSB_CAP_HAS_HOTPLUG.rawValue)) != 0
    }

    private struct Registration: Sendable {
        let callback: libusb_hotplug_callback_handle
        let thread: pthread_t
    }

    private let context: USBContext
    private let dispatcher: HotplugDispatcher
    private let eventLoop: HotplugEventLoop
    /// nil once stopped.
    private let registration: Mutex<Registration?>

    /// Registers for arrivals and departures of devices matching `vendor` and `product` (nil matches
    /// any) and starts the event thread. Throws `.notSupported` where `isSupported` is false.
    /// - Parameter includeAlreadyAttached: also report `.arrived` for each matching device that is
    ///   already attached, before `init` returns (LIBUSB_HOTPLUG_ENUMERATE).
    public init(
        context: USBContext, vendor: UInt16? = nil, product: UInt16? = nil, includeAlreadyAttached: Bool = false,
        handler: @escaping @Sendable (USBHotplugEvent) -> Void
    ) throws(USBError) {
        let filter = "USB devices \(vendor.map(hex) ?? "(any vendor)"):\(product.map(hex) ?? "(any product)")"
        guard Self.isSupported else {
            throw USBError(
                code: .notSupported, operation: "libusb_has_capability",
                context: "cannot watch for \(filter) arriving or leaving: this libusb has no hotplug support here")
        }
        let dispatcher = HotplugDispatcher(handler: handler)
        // libusb may enter a callback it has just deregistered (on a thread handling events), so the
        // callback's user_data stays valid until libusb_exit; stop() empties it long before.
        context.keepUntilExit(dispatcher)
        var callback: libusb_hotplug_callback_handle = 0
        try libusbResult(
            libusb_hotplug_register_callback(
                context.pointer,
                Int32(LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED.rawValue | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT.rawValue),
                includeAlreadyAttached ? Int32(LIBUSB_HOTPLUG_ENUMERATE.rawValue) : Int32(LIBUSB_HOTPLUG_NO_FLAGS),
                vendor.map(Int32.init) ?? LIBUSB_HOTPLUG_MATCH_ANY,
                product.map(Int32.init) ?? LIBUSB_HOTPLUG_MATCH_ANY,
                LIBUSB_HOTPLUG_MATCH_ANY, hotplugCallback, Unmanaged.passUnretained(dispatcher).toOpaque(),
                &callback),
            "libusb_hotplug_register_callback", "could not register to watch for \(filter) arriving or leaving")

        let eventLoop = HotplugEventLoop(context: context, dispatcher: dispatcher)
        let thread: pthread_t
        do throws(USBError) {
            thread = try eventLoop.start()
        } catch {
            libusb_hotplug_deregister_callback(context.pointer, callback)
            dispatcher.close()
            throw error
        }
        self.context = context
        self.dispatcher = dispatcher
        self.eventLoop = eventLoop
        self.registration = Mutex(Registration(callback: callback, thread: thread))
    }

    deinit {
        stop()
    }

    /// Deregisters the callback (libusb_hotplug_deregister_callback, which also wakes the event
    /// thread), stops handler calls and joins the event thread. Calling it again does nothing.
    public func stop() {
        guard let registration = registration.withLock({ state in
            defer { state = nil }
            return state
        }) else { return }
        eventLoop.stopRequested.store(true, ordering: .releasing)
        libusb_hotplug_deregister_callback(context.pointer, registration.callback)
        dispatcher.close()

        if pthread_equal(registration.thread, pthread_self()) != 0 {
            // Called from the handler on the event thread, which cannot join itself; it ends on its
            // own once the handler returns and it sees `stopRequested`.
            let status = pthread_detach(registration.thread)
            precondition(status == 0, "pthread_detach of the USB hotplug event thread failed: \(status)")
        } else {
            let status = pthread_join(registration.thread, nil)
            precondition(status == 0, "pthread_join of the USB hotplug event thread failed: \(status)")
        }
    }
}

/// Owns the handler; libusb holds an unretained pointer to it as the callback's user_data, and the
/// context keeps it alive until libusb_exit.
final class HotplugDispatcher: Sendable {
    /// The handler, called with this lock held so that calls never overlap and `close()` can wait
    /// for a call in progress; nil once closed.
    private let handler: Mutex<(@Sendable (USBHotplugEvent) -> Void)?>
    private let closed = Atomic<Bool>(false)
    /// The thread now running the handler (a pthread_t), 0 when none; lets `close()` recognise a
    /// call from within the handler, which already holds the lock.
    private let handlerThread = Atomic<UInt>(0)

    init(handler: @escaping @Sendable (USBHotplugEvent) -> Void) {
        self.handler = Mutex(handler)
    }

    func deliver(_ event: USBHotplugEvent) {
        handler.withLock { handler in
            guard !closed.load(ordering: .acquiring), let call = handler else { return }
            handlerThread.store(UInt(pthread_self()), ordering: .relaxed)
            call(event)
            handlerThread.store(0, ordering: .relaxed)
            // The handler closed its own monitor; the lock is free to drop it only now.
            if closed.load(ordering: .acquiring) { handler = nil }
        }
    }

    /// Stops further handler calls and, unless called from the handler, waits for a call in progress
    /// and releases the handler.
    func close() {
        closed.store(true, ordering: .releasing)
        guard handlerThread.load(ordering: .relaxed) != UInt(pthread_self()) else { return }
        handler.withLock { $0 = nil }
    }
}

/// libusb_hotplug_callback_fn. Returns 0 so that libusb keeps the callback registered.
private func hotplugCallback(
    _: OpaquePointer?, device: OpaquePointer?, event: libusb_hotplug_event, userData: UnsafeMutableRawPointer?
) -> Int32 {
    // libusb always passes the device and the user_data given at registration; the context keeps
    // the dispatcher alive until libusb_exit.
    let dispatcher = Unmanaged<HotplugDispatcher>.fromOpaque(userData!).takeUnretainedValue()
    let report: USBHotplugEvent
    do throws(USBError) {
        let subject = USBHotplugDevice(
            descriptor: try USBDeviceDescriptor(device: device!), busNumber: libusb_get_bus_number(device),
            address: libusb_get_device_address(device))
        report = event == LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED ? .arrived(subject) : .left(subject)
    } catch {
        report = .failed(error)
    }
    dispatcher.deliver(report)
    return 0
}

/// The event thread's state; the thread holds a strong reference to it until it ends.
private final class HotplugEventLoop: Sendable {
    let context: USBContext
    let dispatcher: HotplugDispatcher
    let stopRequested = Atomic<Bool>(false)

    init(context: USBContext, dispatcher: HotplugDispatcher) {
        self.context = context
        self.dispatcher = dispatcher
    }

    /// Starts the event thread (pthread_create).
    func start() throws(USBError) -> pthread_t {
        let retained = Unmanaged.passRetained(self)
        var thread = pthread_t()
        let status = pthread_create(
            &thread, nil,
            { argument in
                let eventLoop = Unmanaged<HotplugEventLoop>.fromOpaque(argument!).takeRetainedValue()
                eventLoop.run()
                return nil
            }, retained.toOpaque())
        guard status == 0 else {
            retained.release()
            throw USBError(
                code: .other, operation: "pthread_create",
                context: "could not start the USB hotplug event thread (errno \(status))")
        }
        return thread
    }

    private func run() {
        while !stopRequested.load(ordering: .acquiring) {
            // The deregistration in stop() wakes this wait at once; the timeout only bounds how long
            // stopping takes when another thread holds libusb's event lock at that moment.
            var timeout = timeval(tv_sec: 1, tv_usec: 0)
            do throws(USBError) {
                try libusbResult(
                    libusb_handle_events_timeout_completed(context.pointer, &timeout, nil),
                    "libusb_handle_events_timeout_completed", "the USB hotplug event thread could not wait for events")
            } catch where error.code == .interrupted {
                // A signal interrupted poll(); waiting again is all there is to do.
                continue
            } catch {
                dispatcher.deliver(.failed(error))
                return
            }
        }
    }
}
