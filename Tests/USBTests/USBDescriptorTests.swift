import CLibUSB
import Testing

@testable import USB

/// The conversions that enumeration applies to libusb's descriptor structs, run on structs laid out
/// the way libusb_get_config_descriptor returns them for a USBTMC instrument with an extra
/// interface that has two alternate settings.
@Suite struct USBDescriptorTests {
    private func endpoint(_ address: UInt8, _ attributes: UInt8, _ maxPacketSize: UInt16, _ interval: UInt8)
        -> libusb_endpoint_descriptor
    {
        libusb_endpoint_descriptor(
            bLength: 7, bDescriptorType: UInt8(LIBUSB_DT_ENDPOINT.rawValue), bEndpointAddress: address,
            bmAttributes: attributes, wMaxPacketSize: maxPacketSize, bInterval: interval, bRefresh: 0,
            bSynchAddress: 0, extra: nil, extra_length: 0)
    }

    private func setting(
        _ number: UInt8, _ alternate: UInt8, _ interfaceClass: UInt8, _ subclass: UInt8, _ interfaceProtocol: UInt8,
        _ endpoints: UnsafeBufferPointer<libusb_endpoint_descriptor>
    ) -> libusb_interface_descriptor {
        libusb_interface_descriptor(
            bLength: 9, bDescriptorType: UInt8(LIBUSB_DT_INTERFACE.rawValue), bInterfaceNumber: number,
            bAlternateSetting: alternate, bNumEndpoints: UInt8(endpoints.count), bInterfaceClass: interfaceClass,
            bInterfaceSubClass: subclass, bInterfaceProtocol: interfaceProtocol, iInterface: 4,
            endpoint: endpoints.baseAddress, extra: nil, extra_length: 0)
    }

    @Test func configurationTreeConvertsIntoValueTypes() {
        let usbtmcEndpoints = [endpoint(0x02, 0x02, 512, 0), endpoint(0x86, 0x02, 512, 0), endpoint(0x87, 0x03, 8, 4)]
        let isochronousEndpoints = [endpoint(0x83, 0x05, 0x1400, 1)]
        let converted = usbtmcEndpoints.withUnsafeBufferPointer { usbtmc in
            isochronousEndpoints.withUnsafeBufferPointer { isochronous in
                let usbtmcSettings = [setting(0, 0, 0xFE, 3, 1, usbtmc)]
                let extraSettings = [
                    setting(1, 0, 0xFF, 0, 0, UnsafeBufferPointer(start: nil, count: 0)),
                    setting(1, 1, 0xFF, 0, 0, isochronous),
                ]
                return usbtmcSettings.withUnsafeBufferPointer { first in
                    extraSettings.withUnsafeBufferPointer { second in
                        let interfaces = [
                            libusb_interface(altsetting: first.baseAddress, num_altsetting: Int32(first.count)),
                            libusb_interface(altsetting: second.baseAddress, num_altsetting: Int32(second.count)),
                        ]
                        return interfaces.withUnsafeBufferPointer { interfaces in
                            USBConfigurationDescriptor(
                                libusb_config_descriptor(
                                    bLength: 9, bDescriptorType: UInt8(LIBUSB_DT_CONFIG.rawValue), wTotalLength: 71,
                                    bNumInterfaces: UInt8(interfaces.count), bConfigurationValue: 1, iConfiguration: 5,
                                    bmAttributes: 0xC0, MaxPower: 50, interface: interfaces.baseAddress, extra: nil,
                                    extra_length: 0))
                        }
                    }
                }
            }
        }

        #expect(converted.value == 1)
        #expect(converted.stringIndex == 5)
        #expect(converted.attributes == 0xC0)
        #expect(converted.maxPower == 50)
        #expect(converted.interfaces.map(\.number) == [0, 1])

        let usbtmc = converted.interfaces[0].alternateSettings
        #expect(usbtmc.count == 1)
        #expect(usbtmc[0].interfaceClass == 0xFE)
        #expect(usbtmc[0].interfaceSubclass == 3)
        #expect(usbtmc[0].interfaceProtocol == 1)
        #expect(usbtmc[0].stringIndex == 4)
        let endpoints = usbtmc[0].endpoints
        #expect(endpoints.map(\.address) == [0x02, 0x86, 0x87])
        #expect(endpoints.map(\.direction) == [.hostToDevice, .deviceToHost, .deviceToHost])
        #expect(endpoints.map(\.number) == [2, 6, 7])
        #expect(endpoints.map(\.transferType) == [.bulk, .bulk, .interrupt])
        #expect(endpoints.map(\.maxPacketSize) == [512, 512, 8])
        #expect(endpoints.map(\.interval) == [0, 0, 4])

        let extra = converted.interfaces[1].alternateSettings
        #expect(extra.map(\.interfaceNumber) == [1, 1])
        #expect(extra.map(\.alternateSetting) == [0, 1])
        #expect(extra[0].endpoints.isEmpty)
        #expect(extra[1].endpoints.map(\.transferType) == [.isochronous])
        #expect(extra[1].endpoints.map(\.maxPacketSize) == [0x1400])
    }

    @Test func deviceDescriptorConverts() {
        let descriptor = USBDeviceDescriptor(
            libusb_device_descriptor(
                bLength: 18, bDescriptorType: UInt8(LIBUSB_DT_DEVICE.rawValue), bcdUSB: 0x0200, bDeviceClass: 0xEF,
                bDeviceSubClass: 2, bDeviceProtocol: 1, bMaxPacketSize0: 64, idVendor: 0x0957, idProduct: 0x2807,
                bcdDevice: 0x0104, iManufacturer: 1, iProduct: 2, iSerialNumber: 3, bNumConfigurations: 1))
        #expect(descriptor.usbVersion == 0x0200)
        #expect(descriptor.deviceClass == 0xEF)
        #expect(descriptor.deviceSubclass == 2)
        #expect(descriptor.deviceProtocol == 1)
        #expect(descriptor.maxPacketSize0 == 64)
        #expect(descriptor.vendorID == 0x0957)
        #expect(descriptor.productID == 0x2807)
        #expect(descriptor.deviceVersion == 0x0104)
        #expect(descriptor.manufacturerIndex == 1)
        #expect(descriptor.productIndex == 2)
        #expect(descriptor.serialNumberIndex == 3)
        #expect(descriptor.configurationCount == 1)
    }

    @Test func speedsMapFromLibusb() {
        #expect(USBSpeed(libusbSpeed: Int32(LIBUSB_SPEED_LOW.rawValue)) == .low)
        #expect(USBSpeed(libusbSpeed: Int32(LIBUSB_SPEED_FULL.rawValue)) == .full)
        #expect(USBSpeed(libusbSpeed: Int32(LIBUSB_SPEED_HIGH.rawValue)) == .high)
        #expect(USBSpeed(libusbSpeed: Int32(LIBUSB_SPEED_SUPER.rawValue)) == .superSpeed)
        #expect(USBSpeed(libusbSpeed: Int32(LIBUSB_SPEED_SUPER_PLUS.rawValue)) == .superSpeedPlus)
        #expect(USBSpeed(libusbSpeed: Int32(LIBUSB_SPEED_UNKNOWN.rawValue)) == .unknown)
        #expect(USBSpeed(libusbSpeed: 99) == .unknown)
    }

    @Test func deviceInfoDescribesItselfForALabUser() {
        let descriptor = USBDeviceDescriptor(
            libusb_device_descriptor(
                bLength: 18, bDescriptorType: UInt8(LIBUSB_DT_DEVICE.rawValue), bcdUSB: 0x0200, bDeviceClass: 0,
                bDeviceSubClass: 0, bDeviceProtocol: 0, bMaxPacketSize0: 64, idVendor: 0x0957, idProduct: 0x2807,
                bcdDevice: 0x0100, iManufacturer: 1, iProduct: 2, iSerialNumber: 3, bNumConfigurations: 0))
        let readable = USBDeviceInfo(
            busNumber: 1, portPath: [2, 1], address: 5, speed: .high, descriptor: descriptor, configurations: [],
            strings: .success(
                USBDeviceStrings(manufacturer: "Agilent Technologies", product: "33522B", serialNumber: "MY1234")))
        #expect(
            readable.description
                == "USB device 0x0957:0x2807 (serial MY1234) on bus 1, port 2.1: Agilent Technologies 33522B, high speed (480 Mbit/s)"
        )

        let denied = USBError(code: .access, operation: "libusb_open", context: "could not open it")
        let unreadable = USBDeviceInfo(
            busNumber: 3, portPath: [], address: 1, speed: .superSpeed, descriptor: descriptor, configurations: [],
            strings: .failure(denied))
        #expect(unreadable.description.hasPrefix("USB device 0x0957:0x2807 on bus 3, address 1: strings unavailable ("))
        #expect(unreadable.description.contains(denied.reason))
    }
}
