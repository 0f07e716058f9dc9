import Testing

@testable import USB

@Suite struct USBContextTests {
    @Test(arguments: USBLogLevel.allCases)
    func contextStartsAndStopsAtEveryLogLevel(level: USBLogLevel) throws {
        weak var released: USBContext?
        do {
            let context = try USBContext(logLevel: level)
            released = context
            _ = try context.devices()
        }
        #expect(released == nil)
    }

    @Test func enumeratedDevicesHaveConsistentDescriptors() throws {
        let context = try USBContext()
        let devices = try context.devices()
        // Bus number and address identify a device uniquely while it is attached.
        let locations = devices.map { [$0.busNumber, $0.address] }
        #expect(Set(locations).count == devices.count)
        for device in devices {
            #expect(device.configurations.count == Int(device.descriptor.configurationCount))
            #expect(device.portPath.count <= 7)
            #expect(device.description.contains("\(hex(device.descriptor.vendorID)):\(hex(device.descriptor.productID))"))
            for configuration in device.configurations {
                for interface in configuration.interfaces {
                    #expect(!interface.alternateSettings.isEmpty)
                    for setting in interface.alternateSettings {
                        #expect(setting.interfaceNumber == interface.number)
                        for endpoint in setting.endpoints {
                            #expect(endpoint.number != 0, "endpoint 0 is never listed in an interface")
                            #expect(endpoint.transferType != .control)
                        }
                    }
                }
            }
            switch device.strings {
            case .success(let strings):
                #expect((strings.manufacturer == nil) == (device.descriptor.manufacturerIndex == 0))
                #expect((strings.product == nil) == (device.descriptor.productIndex == 0))
                #expect((strings.serialNumber == nil) == (device.descriptor.serialNumberIndex == 0))
            case .failure(let error):
                #expect(error.description.contains(hex(device.descriptor.vendorID)))
            }
        }
    }

    @Test func oneContextEnumeratesFromManyTasksAtOnce() async throws {
        let context = try USBContext()
        let expected = try context.devices().count
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask { try context.devices().count }
            }
            for try await count in group {
                #expect(count == expected)
            }
        }
    }

    @Test func openingAnAbsentInstrumentBySerialNamesIdsAndSerial() throws {
        let context = try USBContext()
        let error = #expect(throws: USBError.self) {
            try context.open(vendor: 0x0957, product: 0x2807, serial: "MY1234")
        }
        #expect(error?.code == .notFound)
        let description = error?.description ?? ""
        #expect(description.hasPrefix("no USB device 0x0957:0x2807 (serial MY1234) is attached"))
        #expect(description.contains("0x0957"))
        #expect(description.contains("0x2807"))
        #expect(description.contains("MY1234"))
    }

    @Test func openingAnAbsentDeviceNamesItsIds() throws {
        let context = try USBContext()
        let error = #expect(throws: USBError.self) {
            try context.open(vendor: 0xFFFE, product: 0xFFFD)
        }
        #expect(error?.code == .notFound)
        let description = error?.description ?? ""
        #expect(description.hasPrefix("no USB device 0xfffe:0xfffd is attached"))
        #expect(!description.contains("serial"))
    }
}
