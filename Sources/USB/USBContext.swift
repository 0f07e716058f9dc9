import CLibUSB
import CPlatformShims
import Synchronization

/// How much libusb writes to standard error (LIBUSB_OPTION_LOG_LEVEL). If the LIBUSB_DEBUG
/// environment variable is set, libusb uses that instead.
public enum USBLogLevel: Int32, Sendable, Hashable, CaseIterable {
    /// LIBUSB_LOG_LEVEL_NONE, libusb's default.
    case none = 0
    /// LIBUSB_LOG_LEVEL_ERROR.
    case error = 1
    /// LIBUSB_LOG_LEVEL_WARNING, which libusb recommends while debugging.
    case warning = 2
    /// LIBUSB_LOG_LEVEL_INFO.
    case info = 3
    /// LIBUSB_LOG_LEVEL_DEBUG.
    case debug = 4
}

/// A libusb session (libusb_init / libusb_exit). Device handles and hotplug monitors keep their
/// context alive, so libusb_exit runs only after the last of them is gone.
///
/// LIBUSB_OPTION_NO_DEVICE_DISCOVERY is deliberately not offered: in libusb 1.0.26 it sets a
/// process-wide flag in the Linux backend that is never cleared, so it would switch off device
/// discovery and hotplug for every other context in the process as well.
///
/// `@unchecked Sendable`: libusb documents itself as "designed to be completely thread-safe"
/// (libusb API docs, Caveats > Thread safety); the pointer is released only by `deinit`.
public final class USBContext: @unchecked Sendable {
    let pointer: OpaquePointer
    /// Hotplug dispatchers whose address libusb holds as callback user_data; released after libusb_exit.
    private let keptUntilExit = Mutex<[HotplugDispatcher]>([])

    /// Creates a libusb context (libusb_init) and sets its log level through the
    /// `qr_libusb_set_log_level` shim (libusb_set_option is variadic).
    public init(logLevel: USBLogLevel = .none) throws(USBError) {
        var context: OpaquePointer?
        try libusbResult(libusb_init(&context), "libusb_init", "could not start libusb")
        // libusb_init sets the context whenever it reports success.
        let pointer = context!
        do throws(USBError) {
            try libusbResult(
                qr_libusb_set_log_level(pointer, logLevel.rawValue), "libusb_set_option",
                "could not set the libusb log level to \(logLevel)")
        } catch {
            libusb_exit(pointer)
            throw error
        }
        self.pointer = pointer
    }

    deinit {
        libusb_exit(pointer)
    }

    /// Keeps `dispatcher` alive until after libusb_exit, when libusb can no longer call its callback.
    func keepUntilExit(_ dispatcher: HotplugDispatcher) {
        keptUntilExit.withLock { $0.append(dispatcher) }
    }

    /// Lists the attached devices (libusb_get_device_list / libusb_free_device_list) with their
    /// descriptors. Each device is opened briefly to read its strings; where that fails
    /// (typically for lack of permission) `USBDeviceInfo.strings` holds the reason.
    public func devices() throws(USBError) -> [USBDeviceInfo] {
        try withDeviceList { devices throws(USBError) in
            try devices.map { device throws(USBError) in
                try USBDeviceInfo(device: device) { descriptor, label in
                    Result { () throws(USBError) in
                        var handle: OpaquePointer?
                        try libusbResult(
                            libusb_open(device, &handle), "libusb_open",
                            "could not open \(label) to read its strings")
                        defer { libusb_close(handle) }
                        return try USBDeviceStrings(handle: handle!, descriptor: descriptor, label: label)
                    }
                }
            }
        }
    }

    /// Opens the first attached device with this vendor and product id (libusb_open) and, when
    /// `serial` is given, the serial-number string (read with libusb_get_string_descriptor_ascii).
    ///
    /// Throws `.notFound` naming the ids as 0x%04x (and the serial) when no such device is attached;
    /// the message also lists matching devices whose serial could not be read. Without a serial, a
    /// device that matches but cannot be opened throws libusb_open's error (often `.access`).
    public func open(vendor: UInt16, product: UInt16, serial: String? = nil) throws(USBError)
        -> USBDeviceHandle
    {
        try withDeviceList { devices throws(USBError) in
            var unreadable: [USBError] = []
            for device in devices {
                let descriptor = try USBDeviceDescriptor(device: device)
                guard descriptor.vendorID == vendor, descriptor.productID == product else { continue }
                let handle: USBDeviceHandle
                do throws(USBError) {
                    handle = try USBDeviceHandle(context: self, device: device)
                } catch {
                    guard serial != nil else { throw error }
                    unreadable.append(error)
                    continue
                }
                guard let serial else { return handle }
                switch handle.device.strings {
                case .success(let strings) where strings.serialNumber == serial:
                    return handle
                case .success:
                    continue
                case .failure(let error):
                    unreadable.append(error)
                }
            }
            var sentence = "no USB device \(hex(vendor)):\(hex(product))"
            if let serial { sentence += " (serial \(serial))" }
            sentence += " is attached"
            if !unreadable.isEmpty {
                sentence += "; the serial number of \(unreadable.count) matching device(s) could not be read: "
                sentence += unreadable.map(\.description).joined(separator: "; ")
            }
            throw USBError(code: .notFound, operation: "libusb_get_device_list", context: sentence)
        }
    }

    /// Runs `body` on the current device list (libusb_get_device_list), then frees the list and
    /// drops its device references (libusb_free_device_list with unref_devices = 1).
    private func withDeviceList<Value>(
        _ body: ([OpaquePointer]) throws(USBError) -> Value
    ) throws(USBError) -> Value {
        var list: UnsafeMutablePointer<OpaquePointer?>?
        let count = try libusbResult(
            libusb_get_device_list(pointer, &list), "libusb_get_device_list",
            "could not list the attached USB devices")
        defer { libusb_free_device_list(list, 1) }
        return try body(UnsafeBufferPointer(start: list, count: count).compactMap { $0 })
    }
}
