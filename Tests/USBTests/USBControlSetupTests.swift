import Testing

@testable import USB

@Suite struct USBControlSetupTests {
    @Test func classInterfaceInIs0xA1() {
        let setup = USBControlSetup(direction: .deviceToHost, type: .class, recipient: .interface, request: 7)
        #expect(setup.requestType == 0xA1)
    }

    @Test func standardDeviceOutIs0x00() {
        let setup = USBControlSetup(direction: .hostToDevice, type: .standard, recipient: .device, request: 9, value: 1)
        #expect(setup.requestType == 0x00)
    }

    @Test func usbtmcInitiateAbortBulkOutIs0xA2() {
        // USBTMC 1.0 table 15: INITIATE_ABORT_BULK_OUT, bRequest 1, wValue = bTag, wIndex = endpoint.
        let setup = USBControlSetup(
            direction: .deviceToHost, type: .class, recipient: .endpoint, request: 1, value: 0x05, index: 0x02)
        #expect(setup.requestType == 0xA2)
    }

    @Test func everyCombinationEncodesItsOwnBits() {
        let directions: [(USBDirection, UInt8)] = [(.hostToDevice, 0x00), (.deviceToHost, 0x80)]
        let types: [(USBControlSetup.RequestType, UInt8)] = [(.standard, 0x00), (.class, 0x20), (.vendor, 0x40)]
        let recipients: [(USBControlSetup.Recipient, UInt8)] = [
            (.device, 0), (.interface, 1), (.endpoint, 2), (.other, 3),
        ]
        #expect(types.count == USBControlSetup.RequestType.allCases.count)
        #expect(recipients.count == USBControlSetup.Recipient.allCases.count)
        for (direction, directionBits) in directions {
            for (type, typeBits) in types {
                for (recipient, recipientBits) in recipients {
                    let setup = USBControlSetup(direction: direction, type: type, recipient: recipient, request: 0)
                    #expect(setup.requestType == directionBits | typeBits | recipientBits)
                    #expect(USBDirection(bit7Of: setup.requestType) == direction)
                }
            }
        }
    }

    @Test func descriptionNamesTheFieldsInHex() {
        let setup = USBControlSetup(
            direction: .deviceToHost, type: .class, recipient: .interface, request: 7, value: 0x12, index: 3)
        #expect(setup.description.contains("bmRequestType 0xa1"))
        #expect(setup.description.contains("0x07"))
        #expect(setup.description.contains("wValue 0x0012"))
        #expect(setup.description.contains("wIndex 0x0003"))
    }

    @Test func durationsBecomeLibusbMilliseconds() {
        #expect(libusbTimeoutMilliseconds(.seconds(2)) == 2000)
        #expect(libusbTimeoutMilliseconds(.milliseconds(250)) == 250)
        // Rounded up, never down to libusb's "wait forever" 0.
        #expect(libusbTimeoutMilliseconds(.microseconds(1500)) == 2)
        #expect(libusbTimeoutMilliseconds(.nanoseconds(1)) == 1)
        #expect(libusbTimeoutMilliseconds(.zero) == 1)
        #expect(libusbTimeoutMilliseconds(.seconds(-3)) == 1)
        // Clamped at the largest timeout libusb accepts.
        #expect(libusbTimeoutMilliseconds(.seconds(5_000_000)) == UInt32.max)
        #expect(libusbTimeoutMilliseconds(.seconds(Int64.max)) == UInt32.max)
    }
}
