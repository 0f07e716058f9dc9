import CLibUSB

/// The direction of a transfer: bit 7 of an endpoint address or of bmRequestType.
public enum USBDirection: Sendable, Hashable {
    /// OUT, host to device (LIBUSB_ENDPOINT_OUT).
    case hostToDevice
    /// IN, device to host (LIBUSB_ENDPOINT_IN).
    case deviceToHost

    /// The direction encoded in bit 7 of an endpoint address or bmRequestType.
    init(bit7Of byte: UInt8) {
        self = byte & UInt8(LIBUSB_ENDPOINT_DIR_MASK) != 0 ? .deviceToHost : .hostToDevice
    }

    /// Bit 7 as libusb spells it: LIBUSB_ENDPOINT_IN or LIBUSB_ENDPOINT_OUT.
    var bit: UInt8 {
        switch self {
        case .hostToDevice: UInt8(LIBUSB_ENDPOINT_OUT.rawValue)
        case .deviceToHost: UInt8(LIBUSB_ENDPOINT_IN.rawValue)
        }
    }
}

/// An endpoint's transfer type, bits 1..0 of bmAttributes (libusb_endpoint_transfer_type).
public enum USBTransferType: UInt8, Sendable, Hashable {
    case control = 0
    case isochronous = 1
    case bulk = 2
    case interrupt = 3
}

/// The speed a device is running at, from libusb_get_device_speed.
public enum USBSpeed: Sendable, Hashable, CustomStringConvertible {
    case unknown
    /// 1.5 Mbit/s (USB 1.x low speed).
    case low
    /// 12 Mbit/s (USB 1.x full speed).
    case full
    /// 480 Mbit/s (USB 2.0).
    case high
    /// 5 Gbit/s (USB 3.x SuperSpeed).
    case superSpeed
    /// 10 Gbit/s (USB 3.x SuperSpeed+).
    case superSpeedPlus

    init(libusbSpeed: Int32) {
        switch libusb_speed(rawValue: UInt32(bitPattern: libusbSpeed)) {
        case LIBUSB_SPEED_LOW: self = .low
        case LIBUSB_SPEED_FULL: self = .full
        case LIBUSB_SPEED_HIGH: self = .high
        case LIBUSB_SPEED_SUPER: self = .superSpeed
        case LIBUSB_SPEED_SUPER_PLUS: self = .superSpeedPlus
        default: self = .unknown
        }
    }

    public var description: String {
        switch self {
        case .unknown: "unknown speed"
        case .low: "low speed (1.5 Mbit/s)"
        case .full: "full speed (12 Mbit/s)"
        case .high: "high speed (480 Mbit/s)"
        case .superSpeed: "SuperSpeed (5 Gbit/s)"
        case .superSpeedPlus: "SuperSpeed+ (10 Gbit/s)"
        }
    }
}

/// The standard device descriptor (struct libusb_device_descriptor, read with libusb_get_device_descriptor).
public struct USBDeviceDescriptor: Sendable, Hashable {
    /// bcdUSB: the USB specification release, binary-coded decimal (0x0200 is USB 2.0).
    public let usbVersion: UInt16
    /// bDeviceClass (0 means each interface names its own class).
    public let deviceClass: UInt8
    /// bDeviceSubClass.
    public let deviceSubclass: UInt8
    /// bDeviceProtocol.
    public let deviceProtocol: UInt8
    /// bMaxPacketSize0: the maximum packet size of endpoint 0.
    public let maxPacketSize0: UInt8
    /// idVendor.
    public let vendorID: UInt16
    /// idProduct.
    public let productID: UInt16
    /// bcdDevice: the device release number, binary-coded decimal.
    public let deviceVersion: UInt16
    /// iManufacturer: string descriptor index of the manufacturer, 0 when there is none.
    public let manufacturerIndex: UInt8
    /// iProduct: string descriptor index of the product name, 0 when there is none.
    public let productIndex: UInt8
    /// iSerialNumber: string descriptor index of the serial number, 0 when there is none.
    public let serialNumberIndex: UInt8
    /// bNumConfigurations.
    public let configurationCount: UInt8

    init(_ raw: libusb_device_descriptor) {
        usbVersion = raw.bcdUSB
        deviceClass = raw.bDeviceClass
        deviceSubclass = raw.bDeviceSubClass
        deviceProtocol = raw.bDeviceProtocol
        maxPacketSize0 = raw.bMaxPacketSize0
        vendorID = raw.idVendor
        productID = raw.idProduct
        deviceVersion = raw.bcdDevice
        manufacturerIndex = raw.iManufacturer
        productIndex = raw.iProduct
        serialNumberIndex = raw.iSerialNumber
        configurationCount = raw.bNumConfigurations
    }

    /// Reads the descriptor libusb cached for `device` (libusb_get_device_descriptor; no device I/O).
    init(device: OpaquePointer) throws(USBError) {
        var raw = libusb_device_descriptor()
        try libusbResult(
            libusb_get_device_descriptor(device, &raw), "libusb_get_device_descriptor",
            "could not read the device descriptor of a USB device on bus \(libusb_get_bus_number(device))")
        self.init(raw)
    }
}

/// An endpoint descriptor (struct libusb_endpoint_descriptor).
public struct USBEndpointDescriptor: Sendable, Hashable {
    /// bEndpointAddress: the endpoint number in bits 3..0 and the direction in bit 7, for example 0x81.
    public let address: UInt8
    /// The transfer type from bmAttributes.
    public let transferType: USBTransferType
    /// wMaxPacketSize as in the descriptor (for high-speed isochronous and interrupt endpoints
    /// bits 12..11 count extra transactions per microframe).
    public let maxPacketSize: UInt16
    /// bInterval: the polling interval for interrupt and isochronous endpoints.
    public let interval: UInt8

    /// IN or OUT, from bit 7 of the address.
    public var direction: USBDirection { USBDirection(bit7Of: address) }
    /// The endpoint number, bits 3..0 of the address.
    public var number: UInt8 { address & UInt8(LIBUSB_ENDPOINT_ADDRESS_MASK) }

    init(_ raw: libusb_endpoint_descriptor) {
        address = raw.bEndpointAddress
        // Two bits always name one of the four cases.
        transferType = USBTransferType(rawValue: raw.bmAttributes & UInt8(LIBUSB_TRANSFER_TYPE_MASK))!
        maxPacketSize = raw.wMaxPacketSize
        interval = raw.bInterval
    }
}

/// One alternate setting of an interface (struct libusb_interface_descriptor).
public struct USBInterfaceDescriptor: Sendable, Hashable {
    /// bInterfaceNumber.
    public let interfaceNumber: UInt8
    /// bAlternateSetting.
    public let alternateSetting: UInt8
    /// bInterfaceClass (0xFE is application-specific, which with subclass 3 is USBTMC).
    public let interfaceClass: UInt8
    /// bInterfaceSubClass.
    public let interfaceSubclass: UInt8
    /// bInterfaceProtocol.
    public let interfaceProtocol: UInt8
    /// iInterface: string descriptor index, 0 when there is none.
    public let stringIndex: UInt8
    /// The endpoints of this setting, endpoint 0 excluded.
    public let endpoints: [USBEndpointDescriptor]

    init(_ raw: libusb_interface_descriptor) {
        interfaceNumber = raw.bInterfaceNumber
        alternateSetting = raw.bAlternateSetting
        interfaceClass = raw.bInterfaceClass
        interfaceSubclass = raw.bInterfaceSubClass
        interfaceProtocol = raw.bInterfaceProtocol
        stringIndex = raw.iInterface
        endpoints = UnsafeBufferPointer(start: raw.endpoint, count: Int(raw.bNumEndpoints))
            .map(USBEndpointDescriptor.init)
    }
}

/// An interface and its alternate settings (struct libusb_interface).
public struct USBInterface: Sendable, Hashable {
    /// bInterfaceNumber, shared by all alternate settings.
    public let number: UInt8
    /// The alternate settings, setting 0 first.
    public let alternateSettings: [USBInterfaceDescriptor]

    init(_ raw: libusb_interface) {
        alternateSettings = UnsafeBufferPointer(start: raw.altsetting, count: Int(raw.num_altsetting))
            .map(USBInterfaceDescriptor.init)
        // libusb's descriptor parser rejects an interface without at least one setting.
        number = alternateSettings[0].interfaceNumber
    }
}

/// A configuration descriptor with its interfaces (struct libusb_config_descriptor).
public struct USBConfigurationDescriptor: Sendable, Hashable {
    /// bConfigurationValue: the value to pass to `USBDeviceHandle.setConfiguration(_:)`.
    public let value: UInt8
    /// iConfiguration: string descriptor index, 0 when there is none.
    public let stringIndex: UInt8
    /// bmAttributes (bit 6 self-powered, bit 5 remote wakeup).
    public let attributes: UInt8
    /// bMaxPower, in units of 2 mA (8 mA for SuperSpeed devices).
    public let maxPower: UInt8
    /// The interfaces, in descriptor order.
    public let interfaces: [USBInterface]

    init(_ raw: libusb_config_descriptor) {
        value = raw.bConfigurationValue
        stringIndex = raw.iConfiguration
        attributes = raw.bmAttributes
        maxPower = raw.MaxPower
        interfaces = UnsafeBufferPointer(start: raw.interface, count: Int(raw.bNumInterfaces))
            .map(USBInterface.init)
    }

    /// Reads configuration `index` of `device` (libusb_get_config_descriptor, libusb_free_config_descriptor).
    init(device: OpaquePointer, index: UInt8, label: String) throws(USBError) {
        var raw: UnsafeMutablePointer<libusb_config_descriptor>?
        try libusbResult(
            libusb_get_config_descriptor(device, index, &raw), "libusb_get_config_descriptor",
            "could not read configuration descriptor \(index) of \(label)")
        defer { libusb_free_config_descriptor(raw) }
        // libusb sets the pointer whenever it reports success.
        self.init(raw!.pointee)
    }
}

/// The manufacturer, product and serial-number strings of a device, read with
/// libusb_get_string_descriptor_ascii (characters outside ASCII come back as "?").
public struct USBDeviceStrings: Sendable, Hashable {
    /// nil when the device descriptor names no manufacturer string (iManufacturer 0).
    public let manufacturer: String?
    /// nil when the device descriptor names no product string (iProduct 0).
    public let product: String?
    /// nil when the device descriptor names no serial-number string (iSerialNumber 0).
    public let serialNumber: String?
}

extension USBDeviceStrings {
    /// Reads the three strings through an open handle.
    init(handle: OpaquePointer, descriptor: USBDeviceDescriptor, label: String) throws(USBError) {
        manufacturer = try Self.read(handle, descriptor.manufacturerIndex, "manufacturer", label)
        product = try Self.read(handle, descriptor.productIndex, "product", label)
        serialNumber = try Self.read(handle, descriptor.serialNumberIndex, "serial-number", label)
    }

    private static func read(
        _ handle: OpaquePointer, _ index: UInt8, _ what: String, _ label: String
    ) throws(USBError) -> String? {
        guard index != 0 else { return nil }
        // A string descriptor holds at most 126 UTF-16 characters, so 256 bytes always suffice.
        var buffer = [UInt8](repeating: 0, count: 256)
        let status = buffer.withUnsafeMutableBufferPointer {
            libusb_get_string_descriptor_ascii(handle, index, $0.baseAddress, Int32($0.count))
        }
        let length = try libusbResult(
            status, "libusb_get_string_descriptor_ascii",
            "could not read the \(what) string (descriptor \(index)) of \(label)")
        return String(decoding: buffer[..<Int(length)], as: UTF8.self)
    }
}

/// What libusb knows about one attached device: where it is, its descriptors, and its strings.
public struct USBDeviceInfo: Sendable, Hashable, CustomStringConvertible {
    /// libusb_get_bus_number.
    public let busNumber: UInt8
    /// libusb_get_port_numbers: the hub ports from the root hub down, for example [2, 1] for port 2.1.
    public let portPath: [UInt8]
    /// libusb_get_device_address: the address the host assigned on its bus.
    public let address: UInt8
    /// libusb_get_device_speed.
    public let speed: USBSpeed
    /// libusb_get_device_descriptor.
    public let descriptor: USBDeviceDescriptor
    /// libusb_get_config_descriptor for each configuration, in index order.
    public let configurations: [USBConfigurationDescriptor]
    /// The manufacturer, product and serial strings, which need the device opened; `.failure` says why
    /// they could not be read (often `.access`: no permission to open the device).
    public let strings: Result<USBDeviceStrings, USBError>

    /// The strings when they could be read.
    private var readStrings: USBDeviceStrings? { try? strings.get() }

    /// "USB device 0x0957:0x2807 (serial MY1234) on bus 1, port 2.1", used in error messages.
    var label: String {
        usbDeviceLabel(
            vendor: descriptor.vendorID, product: descriptor.productID, serial: readStrings?.serialNumber,
            busNumber: busNumber, portPath: portPath, address: address)
    }

    public var description: String {
        switch strings {
        case .success(let strings):
            let names = [strings.manufacturer, strings.product].compactMap { $0 }
            return "\(label): \(names.isEmpty ? "no name strings" : names.joined(separator: " ")), \(speed)"
        case .failure(let error):
            return "\(label): strings unavailable (\(error.reason)), \(speed)"
        }
    }

}

extension USBDeviceInfo {
    /// Reads everything libusb caches about `device`; `strings` gets the device descriptor and the
    /// device's label and reads (or fails to read) the strings.
    init(
        device: OpaquePointer,
        strings: (USBDeviceDescriptor, String) -> Result<USBDeviceStrings, USBError>
    ) throws(USBError) {
        descriptor = try USBDeviceDescriptor(device: device)
        busNumber = libusb_get_bus_number(device)
        address = libusb_get_device_address(device)
        speed = USBSpeed(libusbSpeed: libusb_get_device_speed(device))
        portPath = try portNumbers(of: device)
        let label = usbDeviceLabel(
            vendor: descriptor.vendorID, product: descriptor.productID, serial: nil,
            busNumber: busNumber, portPath: portPath, address: address)
        configurations = try (0..<descriptor.configurationCount).map { index throws(USBError) in
            try USBConfigurationDescriptor(device: device, index: index, label: label)
        }
        self.strings = strings(descriptor, label)
    }

    /// The label of `device` without opening it, for errors raised before a USBDeviceInfo exists.
    static func label(of device: OpaquePointer) throws(USBError) -> String {
        let descriptor = try USBDeviceDescriptor(device: device)
        return usbDeviceLabel(
            vendor: descriptor.vendorID, product: descriptor.productID, serial: nil,
            busNumber: libusb_get_bus_number(device), portPath: try portNumbers(of: device),
            address: libusb_get_device_address(device))
    }
}

/// libusb_get_port_numbers. USB allows at most 7 tiers of hubs, so 7 entries always suffice.
private func portNumbers(of device: OpaquePointer) throws(USBError) -> [UInt8] {
    var ports = [UInt8](repeating: 0, count: 7)
    let status = ports.withUnsafeMutableBufferPointer {
        libusb_get_port_numbers(device, $0.baseAddress, Int32($0.count))
    }
    let count = try libusbResult(
        status, "libusb_get_port_numbers",
        "could not read the port path of a USB device on bus \(libusb_get_bus_number(device))")
    return Array(ports[..<Int(count)])
}

/// How every message names a device: ids as 0x%04x, the serial when known, and where it is plugged in.
func usbDeviceLabel(
    vendor: UInt16, product: UInt16, serial: String?, busNumber: UInt8, portPath: [UInt8], address: UInt8
) -> String {
    var label = "USB device \(hex(vendor)):\(hex(product))"
    if let serial { label += " (serial \(serial))" }
    if portPath.isEmpty {
        label += " on bus \(busNumber), address \(address)"
    } else {
        label += " on bus \(busNumber), port \(portPath.map(String.init).joined(separator: "."))"
    }
    return label
}
