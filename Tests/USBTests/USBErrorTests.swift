import CLibUSB
import Testing

@testable import USB

/// Every libusb_error value except LIBUSB_SUCCESS, with the case it must map to.
private let libusbErrors: [(status: Int32, code: USBError.Code)] = [
    (LIBUSB_ERROR_IO.rawValue, .io),
    (LIBUSB_ERROR_INVALID_PARAM.rawValue, .invalidParameter),
    (LIBUSB_ERROR_ACCESS.rawValue, .access),
    (LIBUSB_ERROR_NO_DEVICE.rawValue, .noDevice),
    (LIBUSB_ERROR_NOT_FOUND.rawValue, .notFound),
    (LIBUSB_ERROR_BUSY.rawValue, .busy),
    (LIBUSB_ERROR_TIMEOUT.rawValue, .timeout),
    (LIBUSB_ERROR_OVERFLOW.rawValue, .overflow),
    (LIBUSB_ERROR_PIPE.rawValue, .pipe),
    (LIBUSB_ERROR_INTERRUPTED.rawValue, .interrupted),
    (LIBUSB_ERROR_NO_MEM.rawValue, .noMemory),
    (LIBUSB_ERROR_NOT_SUPPORTED.rawValue, .notSupported),
    (LIBUSB_ERROR_OTHER.rawValue, .other),
]

@Suite struct USBErrorTests {
    @Test func theTableCoversEveryLibusbErrorAndEveryCase() {
        // LIBUSB_ERROR_COUNT counts LIBUSB_SUCCESS too.
        #expect(libusbErrors.count == Int(LIBUSB_ERROR_COUNT) - 1)
        #expect(Set(libusbErrors.map(\.code)) == Set(USBError.Code.allCases))
        #expect(Set(libusbErrors.map(\.status)).count == libusbErrors.count)
    }

    @Test(arguments: libusbErrors)
    func statusMapsToItsCaseWithLibusbsText(status: Int32, code: USBError.Code) {
        let error = #expect(throws: USBError.self) {
            try libusbResult(status, "libusb_claim_interface", "could not claim interface 0 of a test device")
        }
        #expect(error?.code == code)
        #expect(error?.code.rawValue == status)
        #expect(error?.operation == "libusb_claim_interface")
        #expect(error?.name == String(cString: libusb_error_name(status)))
        #expect(error?.reason == String(cString: libusb_strerror(status)))
        let description = error?.description ?? ""
        #expect(description.contains(String(cString: libusb_strerror(status))))
        #expect(description.contains(String(cString: libusb_error_name(status))))
        #expect(description.contains("libusb_claim_interface"))
        #expect(description.contains("could not claim interface 0 of a test device"))
    }

    @Test func successAndCountsPassThrough() throws {
        #expect(try libusbResult(Int32(LIBUSB_SUCCESS.rawValue), "libusb_open", "unused") == 0)
        #expect(try libusbResult(Int32(17), "libusb_control_transfer", "unused") == 17)
        #expect(try libusbResult(42 as Int, "libusb_get_device_list", "unused") == 42)
    }

    @Test func aCodeThisLibusbDoesNotDefineIsOther() {
        let error = #expect(throws: USBError.self) {
            try libusbResult(Int32(-42), "libusb_bulk_transfer", "bulk read")
        }
        #expect(error?.code == .other)
    }

    @Test func transferErrorsKeepTheByteCount() {
        let error = #expect(throws: USBError.self) {
            try libusbResult(
                LIBUSB_ERROR_TIMEOUT.rawValue, "libusb_bulk_transfer", "bulk read from endpoint 0x81",
                bytesTransferred: 12)
        }
        #expect(error?.code == .timeout)
        #expect(error?.bytesTransferred == 12)
    }

    @Test func permissionErrorsSayWhatToCheck() {
        let error = #expect(throws: USBError.self) {
            try libusbResult(LIBUSB_ERROR_ACCESS.rawValue, "libusb_open", "could not open USB device 0x0957:0x2807")
        }
        #expect(error?.description.contains("udev") == true)
    }

    @Test func idsAreFormattedAsFourHexDigits() {
        #expect(hex(UInt16(0x0957)) == "0x0957")
        #expect(hex(UInt16(0xFFFE)) == "0xfffe")
        #expect(hex(UInt16(0)) == "0x0000")
        #expect(hex(UInt8(0x81)) == "0x81")
        #expect(hex(UInt8(2)) == "0x02")
    }
}
