import CLibUSB
import Synchronization

/// An open device (libusb_open / libusb_close) and its synchronous I/O.
///
/// Closing (in `deinit`) first releases every interface claimed through this handle, so libusb
/// reattaches kernel drivers it auto-detached, then calls libusb_close.
///
/// `@unchecked Sendable`: libusb documents itself as "designed to be completely thread-safe"
/// (libusb API docs, Caveats > Thread safety), so the synchronous API may be used on one handle
/// from several threads; the only release, libusb_close, happens once, in `deinit`.
public final class USBDeviceHandle: @unchecked Sendable {
    /// The device's descriptors and strings, read when it was opened.
    public let device: USBDeviceInfo
    /// Kept so that libusb_exit cannot run before libusb_close.
    private let context: USBContext
    private let pointer: OpaquePointer
    private let claimedInterfaces = Mutex<Set<UInt8>>([])

    /// Opens `device` (libusb_open) and reads its descriptors and strings through the new handle.
    init(context: USBContext, device: OpaquePointer) throws(USBError) {
        let label = try USBDeviceInfo.label(of: device)
        var opened: OpaquePointer?
        try libusbResult(libusb_open(device, &opened), "libusb_open", "could not open \(label)")
        // libusb_open sets the handle whenever it reports success.
        let handle = opened!
        do throws(USBError) {
            self.device = try USBDeviceInfo(device: device) { descriptor, label in
                Result { () throws(USBError) in
                    try USBDeviceStrings(handle: handle, descriptor: descriptor, label: label)
                }
            }
        } catch {
            libusb_close(handle)
            throw error
        }
        self.context = context
        self.pointer = handle
    }

    deinit {
        // Errors are ignored: the device may already be gone, and libusb_close follows regardless.
        for interface in claimedInterfaces.withLock({ $0 }) {
            libusb_release_interface(pointer, Int32(interface))
        }
        libusb_close(pointer)
    }

    // MARK: Interfaces and configuration

    /// Claims `interface` for I/O (libusb_claim_interface). `.busy` means another program or a
    /// kernel driver holds it; see `setAutoDetachKernelDriver(_:)`.
    public func claimInterface(_ interface: UInt8) throws(USBError) {
        try libusbResult(
            libusb_claim_interface(pointer, Int32(interface)), "libusb_claim_interface",
            "could not claim interface \(interface) of \(device.label)")
        claimedInterfaces.withLock { _ = $0.insert(interface) }
    }

    /// Releases a claimed interface (libusb_release_interface); with auto-detach on, libusb
    /// reattaches the kernel driver.
    public func releaseInterface(_ interface: UInt8) throws(USBError) {
        try libusbResult(
            libusb_release_interface(pointer, Int32(interface)), "libusb_release_interface",
            "could not release interface \(interface) of \(device.label)")
        claimedInterfaces.withLock { _ = $0.remove(interface) }
    }

    /// Whether a kernel driver (usbtmc, for example) is bound to `interface` (libusb_kernel_driver_active).
    public func kernelDriverIsActive(interface: UInt8) throws(USBError) -> Bool {
        try libusbResult(
            libusb_kernel_driver_active(pointer, Int32(interface)), "libusb_kernel_driver_active",
            "could not ask whether a kernel driver is bound to interface \(interface) of \(device.label)"
        ) == 1
    }

    /// Unbinds the kernel driver from `interface` (libusb_detach_kernel_driver).
    public func detachKernelDriver(interface: UInt8) throws(USBError) {
        try libusbResult(
            libusb_detach_kernel_driver(pointer, Int32(interface)), "libusb_detach_kernel_driver",
            "could not detach the kernel driver from interface \(interface) of \(device.label)")
    }

    /// Binds the kernel driver to `interface` again (libusb_attach_kernel_driver).
    public func attachKernelDriver(interface: UInt8) throws(USBError) {
        try libusbResult(
            libusb_attach_kernel_driver(pointer, Int32(interface)), "libusb_attach_kernel_driver",
            "could not reattach the kernel driver to interface \(interface) of \(device.label)")
    }

    /// Makes claiming an interface detach its kernel driver, and releasing it reattach the driver
    /// (libusb_set_auto_detach_kernel_driver). Throws `.notSupported` where the platform cannot.
    public func setAutoDetachKernelDriver(_ enabled: Bool) throws(USBError) {
        try libusbResult(
            libusb_set_auto_detach_kernel_driver(pointer, enabled ? 1 : 0),
            "libusb_set_auto_detach_kernel_driver",
            "could not \(enabled ? "enable" : "disable") kernel-driver auto-detach for \(device.label)")
    }

    /// The bConfigurationValue of the active configuration, 0 when unconfigured (libusb_get_configuration).
    public func activeConfiguration() throws(USBError) -> UInt8 {
        var value: Int32 = 0
        try libusbResult(
            libusb_get_configuration(pointer, &value), "libusb_get_configuration",
            "could not read the active configuration of \(device.label)")
        return UInt8(truncatingIfNeeded: value)
    }

    /// Selects configuration `value` (bConfigurationValue) with libusb_set_configuration. This is a
    /// lightweight device reset; compare with `activeConfiguration()` first to avoid it.
    public func setConfiguration(_ value: UInt8) throws(USBError) {
        try libusbResult(
            libusb_set_configuration(pointer, Int32(value)), "libusb_set_configuration",
            "could not select configuration \(value) of \(device.label)")
    }

    /// Selects alternate setting `setting` of a claimed interface (libusb_set_interface_alt_setting).
    public func setAlternateSetting(_ setting: UInt8, interface: UInt8) throws(USBError) {
        try libusbResult(
            libusb_set_interface_alt_setting(pointer, Int32(interface), Int32(setting)),
            "libusb_set_interface_alt_setting",
            "could not select alternate setting \(setting) of interface \(interface) of \(device.label)")
    }

    /// Clears a halt/stall on `endpoint` and resets its data toggle (libusb_clear_halt).
    public func clearHalt(endpoint: UInt8) throws(USBError) {
        try libusbResult(
            libusb_clear_halt(pointer, endpoint), "libusb_clear_halt",
            "could not clear the halt on \(endpointLabel(endpoint)) of \(device.label)")
    }

    /// Resets the device (libusb_reset_device). `.notFound` means it re-enumerated (its descriptors
    /// changed) and must be opened again.
    public func reset() throws(USBError) {
        try libusbResult(
            libusb_reset_device(pointer), "libusb_reset_device", "could not reset \(device.label)")
    }

    // MARK: Bulk and interrupt transfers
    //
    // The array overloads make the C call inside withUnsafe(Mutable)Bytes, which is `rethrows`
    // (untyped), and throw the typed error outside it.

    /// Sends `data` to OUT `endpoint` (libusb_bulk_transfer) and returns the bytes sent. On failure the
    /// error's `bytesTransferred` says how much went out first, also when it is a `.timeout`.
    @discardableResult
    public func bulkWrite(endpoint: UInt8, _ data: UnsafeRawBufferPointer, timeout: Duration)
        throws(USBError) -> Int
    {
        try send(.bulk, endpoint, data, timeout).get()
    }

    /// Sends `data` to OUT `endpoint` (libusb_bulk_transfer) straight from the array's storage.
    @discardableResult
    public func bulkWrite(endpoint: UInt8, _ data: [UInt8], timeout: Duration) throws(USBError) -> Int {
        try data.withUnsafeBytes { send(.bulk, endpoint, $0, timeout) }.get()
    }

    /// Reads up to `buffer.count` bytes from IN `endpoint` into `buffer` (libusb_bulk_transfer) and
    /// returns how many arrived. On failure the error's `bytesTransferred` says how many arrived first.
    public func bulkRead(endpoint: UInt8, into buffer: UnsafeMutableRawBufferPointer, timeout: Duration)
        throws(USBError) -> Int
    {
        try receive(.bulk, endpoint, buffer, timeout).get()
    }

    /// Reads up to `buffer.count` bytes from IN `endpoint` into the array's storage
    /// (libusb_bulk_transfer); the array keeps its length and the first (returned count) bytes are new.
    public func bulkRead(endpoint: UInt8, into buffer: inout [UInt8], timeout: Duration) throws(USBError)
        -> Int
    {
        try buffer.withUnsafeMutableBytes { receive(.bulk, endpoint, $0, timeout) }.get()
    }

    /// Sends `data` to interrupt OUT `endpoint` (libusb_interrupt_transfer); as `bulkWrite`.
    @discardableResult
    public func interruptWrite(endpoint: UInt8, _ data: UnsafeRawBufferPointer, timeout: Duration)
        throws(USBError) -> Int
    {
        try send(.interrupt, endpoint, data, timeout).get()
    }

    /// Sends `data` to interrupt OUT `endpoint` (libusb_interrupt_transfer) from the array's storage.
    @discardableResult
    public func interruptWrite(endpoint: UInt8, _ data: [UInt8], timeout: Duration) throws(USBError) -> Int {
        try data.withUnsafeBytes { send(.interrupt, endpoint, $0, timeout) }.get()
    }

    /// Reads from interrupt IN `endpoint` into `buffer` (libusb_interrupt_transfer); as `bulkRead`.
    public func interruptRead(endpoint: UInt8, into buffer: UnsafeMutableRawBufferPointer, timeout: Duration)
        throws(USBError) -> Int
    {
        try receive(.interrupt, endpoint, buffer, timeout).get()
    }

    /// Reads from interrupt IN `endpoint` into the array's storage (libusb_interrupt_transfer);
    /// the array keeps its length.
    public func interruptRead(endpoint: UInt8, into buffer: inout [UInt8], timeout: Duration)
        throws(USBError) -> Int
    {
        try buffer.withUnsafeMutableBytes { receive(.interrupt, endpoint, $0, timeout) }.get()
    }

    // MARK: Control transfers

    /// Performs a control transfer whose data stage (possibly empty) goes to the device
    /// (libusb_control_transfer) and returns the bytes sent. `setup.direction` must be `.hostToDevice`.
    @discardableResult
    public func controlTransfer(_ setup: USBControlSetup, sending data: UnsafeRawBufferPointer, timeout: Duration)
        throws(USBError) -> Int
    {
        try controlSend(setup, data, timeout).get()
    }

    /// Performs a host-to-device control transfer sending the array's bytes (empty: no data stage).
    @discardableResult
    public func controlTransfer(_ setup: USBControlSetup, sending data: [UInt8] = [], timeout: Duration)
        throws(USBError) -> Int
    {
        try data.withUnsafeBytes { controlSend(setup, $0, timeout) }.get()
    }

    /// Performs a control transfer that reads up to `buffer.count` bytes from the device
    /// (libusb_control_transfer, wLength = buffer.count) and returns how many arrived.
    /// `setup.direction` must be `.deviceToHost`.
    public func controlTransfer(
        _ setup: USBControlSetup, receivingInto buffer: UnsafeMutableRawBufferPointer, timeout: Duration
    ) throws(USBError) -> Int {
        try controlReceive(setup, buffer, timeout).get()
    }

    /// Performs a device-to-host control transfer into the array's storage (wLength = buffer.count);
    /// the array keeps its length.
    public func controlTransfer(_ setup: USBControlSetup, receivingInto buffer: inout [UInt8], timeout: Duration)
        throws(USBError) -> Int
    {
        try buffer.withUnsafeMutableBytes { controlReceive(setup, $0, timeout) }.get()
    }

    // MARK: Internals

    private enum PipeKind: CustomStringConvertible {
        case bulk, interrupt
        var description: String { self == .bulk ? "bulk" : "interrupt" }
    }

    private func send(_ kind: PipeKind, _ endpoint: UInt8, _ data: UnsafeRawBufferPointer, _ timeout: Duration)
        -> Result<Int, USBError>
    {
        // libusb takes the direction from the address; an IN address would write into `data`.
        precondition(
            USBDirection(bit7Of: endpoint) == .hostToDevice,
            "\(kind) write to \(hex(endpoint)), which is an IN endpoint address")
        return pipe(kind, endpoint, UnsafeMutableRawBufferPointer(mutating: data), timeout)
    }

    private func receive(
        _ kind: PipeKind, _ endpoint: UInt8, _ buffer: UnsafeMutableRawBufferPointer, _ timeout: Duration
    ) -> Result<Int, USBError> {
        precondition(
            USBDirection(bit7Of: endpoint) == .deviceToHost,
            "\(kind) read from \(hex(endpoint)), which is an OUT endpoint address")
        return pipe(kind, endpoint, buffer, timeout)
    }

    private func controlSend(_ setup: USBControlSetup, _ data: UnsafeRawBufferPointer, _ timeout: Duration)
        -> Result<Int, USBError>
    {
        // libusb takes the direction from bmRequestType; a device-to-host request would write into `data`.
        precondition(setup.direction == .hostToDevice, "\(setup) is device-to-host but was given data to send")
        return control(setup, UnsafeMutableRawBufferPointer(mutating: data), timeout)
    }

    private func controlReceive(
        _ setup: USBControlSetup, _ buffer: UnsafeMutableRawBufferPointer, _ timeout: Duration
    ) -> Result<Int, USBError> {
        precondition(setup.direction == .deviceToHost, "\(setup) is host-to-device but was given a buffer to fill")
        return control(setup, buffer, timeout)
    }

    /// libusb_bulk_transfer or libusb_interrupt_transfer. A buffer beyond Int32.max bytes is
    /// transferred in part, which the returned count shows.
    private func pipe(
        _ kind: PipeKind, _ endpoint: UInt8, _ buffer: UnsafeMutableRawBufferPointer, _ timeout: Duration
    ) -> Result<Int, USBError> {
        let milliseconds = libusbTimeoutMilliseconds(timeout)
        let bytes = buffer.baseAddress?.assumingMemoryBound(to: UInt8.self)
        let length = Int32(clamping: buffer.count)
        var transferred: Int32 = 0
        let status: Int32
        let operation: String
        switch kind {
        case .bulk:
            status = libusb_bulk_transfer(pointer, endpoint, bytes, length, &transferred, milliseconds)
            operation = "libusb_bulk_transfer"
        case .interrupt:
            status = libusb_interrupt_transfer(pointer, endpoint, bytes, length, &transferred, milliseconds)
            operation = "libusb_interrupt_transfer"
        }
        return Result { () throws(USBError) in
            try libusbResult(
                status, operation,
                USBDirection(bit7Of: endpoint) == .hostToDevice
                    ? "\(kind) write of \(length) bytes to \(endpointLabel(endpoint)) of \(device.label) "
                        + "stopped after \(transferred) bytes (timeout \(milliseconds) ms)"
                    : "\(kind) read of up to \(length) bytes from \(endpointLabel(endpoint)) of \(device.label) "
                        + "stopped after \(transferred) bytes (timeout \(milliseconds) ms)",
                bytesTransferred: Int(transferred))
            return Int(transferred)
        }
    }

    /// libusb_control_transfer with wLength = buffer.count; libusb reads or fills the buffer
    /// according to bit 7 of bmRequestType.
    private func control(_ setup: USBControlSetup, _ buffer: UnsafeMutableRawBufferPointer, _ timeout: Duration)
        -> Result<Int, USBError>
    {
        precondition(buffer.count <= Int(UInt16.max), "a control transfer carries at most 65535 data bytes")
        let milliseconds = libusbTimeoutMilliseconds(timeout)
        let status = libusb_control_transfer(
            pointer, setup.requestType, setup.request, setup.value, setup.index,
            buffer.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt16(buffer.count), milliseconds)
        return Result { () throws(USBError) in
            Int(
                try libusbResult(
                    status, "libusb_control_transfer",
                    "\(setup) on \(device.label) with a \(buffer.count)-byte data stage failed "
                        + "(timeout \(milliseconds) ms)"))
        }
    }

    /// "endpoint 0x81 (interface 0)", naming the interface when the descriptors place the endpoint in one.
    private func endpointLabel(_ endpoint: UInt8) -> String {
        let interfaces = Set(
            device.configurations.flatMap(\.interfaces).filter { interface in
                interface.alternateSettings.contains { $0.endpoints.contains { $0.address == endpoint } }
            }.map(\.number))
        guard interfaces.count == 1, let interface = interfaces.first else { return "endpoint \(hex(endpoint))" }
        return "endpoint \(hex(endpoint)) (interface \(interface))"
    }
}

/// A Duration as libusb's timeout argument: unsigned milliseconds, where 0 would mean "wait forever".
/// Rounds up to whole milliseconds, at least 1 (so a zero or negative Duration is the shortest wait,
/// never an endless one) and at most UInt32.max (about 49.7 days).
func libusbTimeoutMilliseconds(_ timeout: Duration) -> UInt32 {
    guard timeout > .zero else { return 1 }
    let (seconds, attoseconds) = timeout.components
    let attosecondsPerMillisecond: Int64 = 1_000_000_000_000_000
    let (wholeSeconds, overflow) = seconds.multipliedReportingOverflow(by: 1000)
    guard !overflow else { return .max }
    let (milliseconds, overflowAdding) = wholeSeconds.addingReportingOverflow(
        (attoseconds + attosecondsPerMillisecond - 1) / attosecondsPerMillisecond)
    guard !overflowAdding else { return .max }
    return UInt32(clamping: max(milliseconds, 1))
}
