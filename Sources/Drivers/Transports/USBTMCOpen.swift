import Glibc
import HAL
import USB

extension USBTMCTransport {
    /// Opens the USBTMC instrument `resource` names, `USB[board]::0xVVVV::0xPPPP::serial[::interface]::INSTR`:
    /// finds the device by vendor and product id and serial-number string (libusb enumerates every bus, so
    /// the board number is not used), picks its USBTMC interface (class 0xFE, subclass 0x03) in the active
    /// configuration or the interface the name gives, claims it with kernel-driver auto-detach (so the Linux
    /// usbtmc driver lets go), and asks for its capabilities (GET_CAPABILITIES).
    ///
    /// Throws `.connectFailed` naming what was looked for and what was found instead: no libusb (no USB bus on
    /// this machine), no matching device (with the devices that are attached), no USBTMC interface, or an
    /// interface that cannot be claimed. `resource` must be a USB resource; anything else is a programmer error.
    public convenience init(_ resource: ResourceName, options: Options = Options()) throws(TransportError) {
        guard case .usb(_, let vendor, let product, let serial, let interface) = resource.address else {
            preconditionFailure("\(resource) is not a USB…::INSTR resource")
        }
        func failure(_ errno: Int32, _ message: String) -> TransportError {
            TransportError(resource: resource, operation: "open", kind: .connectFailed(errno: errno, message: message))
        }
        let wanted = "USB device \(hexWord(vendor)):\(hexWord(product)) (serial \(serial))"
        let context: USBContext
        do throws(USBError) {
            context = try USBContext()
        } catch {
            throw failure(error.code.errno, "cannot look for \(wanted): \(error.description)")
        }
        let handle: USBDeviceHandle
        do throws(USBError) {
            handle = try context.open(vendor: vendor, product: product, serial: serial)
        } catch where error.code == .notFound {
            throw failure(ENODEV, "\(error.context); \(attachedDevices(context, vendor: vendor, product: product))")
        } catch {
            throw failure(error.code.errno, error.description)
        }
        let endpoints: USBTMCEndpoints
        do throws(USBTMCViolation) {
            endpoints = try USBTMCEndpoints(in: Self.settings(of: handle), interface: interface)
        } catch {
            throw failure(ENODEV, "\(wanted): \(error.message)")
        }
        do throws(USBError) {
            do throws(USBError) {
                try handle.setAutoDetachKernelDriver(true)
            } catch where error.code == .notSupported {
                // Platforms without kernel drivers to detach.
            }
            try handle.claimInterface(endpoints.interface)
            if endpoints.alternateSetting != 0 {
                try handle.setAlternateSetting(endpoints.alternateSetting, interface: endpoints.interface)
            }
        } catch {
            throw failure(error.code.errno, error.description)
        }
        try self.init(port: handle, endpoints: endpoints, resource: resource, options: options)
    }

    /// The alternate settings of every interface in the active configuration (the first when the device
    /// reports none active).
    private static func settings(of handle: USBDeviceHandle) -> [USBTMCEndpoints.Setting] {
        let configurations = handle.device.configurations
        let active = try? handle.activeConfiguration()
        let configuration = configurations.first { $0.value == active } ?? configurations.first
        return (configuration?.interfaces ?? []).flatMap(\.alternateSettings).map(USBTMCEndpoints.Setting.init)
    }
}

/// What is attached instead of the wanted device, for the error when it is missing.
private func attachedDevices(_ context: USBContext, vendor: UInt16, product: UInt16) -> String {
    guard let devices = try? context.devices() else { return "the attached USB devices could not be listed" }
    guard !devices.isEmpty else { return "no USB devices are attached at all" }
    let matching = devices.filter { $0.descriptor.vendorID == vendor && $0.descriptor.productID == product }
    guard matching.isEmpty else {
        let serials = matching.map { device in
            switch device.strings {
            case .success(let strings): strings.serialNumber.map { "serial \($0)" } ?? "no serial number"
            case .failure(let error): "serial unreadable (\(error.reason))"
            }
        }
        return "\(matching.count) with these ids \(matching.count == 1 ? "is" : "are") attached: "
            + serials.joined(separator: ", ")
    }
    let ids = devices.map { "\(hexWord($0.descriptor.vendorID)):\(hexWord($0.descriptor.productID))" }
    return "\(devices.count) USB device\(devices.count == 1 ? " is" : "s are") attached, none with these ids: "
        + ids.joined(separator: ", ")
}

extension USBTMCEndpoints {
    /// One alternate setting of an interface, as far as finding USBTMC needs it.
    struct Setting: Sendable, Hashable {
        struct Endpoint: Sendable, Hashable {
            let address: UInt8
            let transferType: USBTransferType
            let maxPacketSize: UInt16
        }

        let interface: UInt8
        let alternateSetting: UInt8
        let interfaceClass: UInt8
        let interfaceSubclass: UInt8
        let interfaceProtocol: UInt8
        let endpoints: [Endpoint]

        var isUSBTMC: Bool { interfaceClass == USBTMC.interfaceClass && interfaceSubclass == USBTMC.interfaceSubclass }
    }

    /// The USBTMC interface among `settings`: interface `number` when the resource names one (its first
    /// USBTMC alternate setting), else the first USBTMC setting. Throws a sentence saying what the device has
    /// instead, or which endpoint is missing.
    init(in settings: [Setting], interface number: Int?) throws(USBTMCViolation) {
        let candidates = settings.filter { number == nil || Int($0.interface) == number }
        guard let setting = candidates.first(where: \.isUSBTMC) else {
            let found = settings.map {
                "interface \($0.interface) (class \(hexByte($0.interfaceClass)), subclass \(hexByte($0.interfaceSubclass)))"
            }
            let which = number.map { "interface \($0) is not" } ?? "none of its interfaces is"
            throw USBTMCViolation(
                message: "\(which) USBTMC (class 0xfe, subclass 0x03); it has "
                    + (found.isEmpty ? "no interfaces" : found.joined(separator: ", ")))
        }
        func endpoint(_ type: USBTransferType, in isIn: Bool) -> Setting.Endpoint? {
            setting.endpoints.first { $0.transferType == type && ($0.address & 0x80 != 0) == isIn }
        }
        guard let bulkOut = endpoint(.bulk, in: false), let bulkIn = endpoint(.bulk, in: true) else {
            throw USBTMCViolation(
                message: "USBTMC interface \(setting.interface) lacks a bulk-OUT or bulk-IN endpoint")
        }
        self.init(
            interface: setting.interface, alternateSetting: setting.alternateSetting,
            isUSB488: setting.interfaceProtocol == USBTMC.usb488Protocol, bulkOut: bulkOut.address,
            bulkIn: bulkIn.address, bulkInMaxPacketSize: Int(bulkIn.maxPacketSize & 0x7FF),
            interruptIn: endpoint(.interrupt, in: true)?.address)
    }
}

extension USBTMCEndpoints.Setting {
    init(_ descriptor: USBInterfaceDescriptor) {
        self.init(
            interface: descriptor.interfaceNumber, alternateSetting: descriptor.alternateSetting,
            interfaceClass: descriptor.interfaceClass, interfaceSubclass: descriptor.interfaceSubclass,
            interfaceProtocol: descriptor.interfaceProtocol,
            endpoints: descriptor.endpoints.map {
                Endpoint(address: $0.address, transferType: $0.transferType, maxPacketSize: $0.maxPacketSize)
            })
    }
}

/// `value` as 0x%04x, the way lsusb and VISA resource names write vendor and product ids.
func hexWord(_ value: UInt16) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 4 - digits.count) + digits
}
