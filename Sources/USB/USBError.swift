import CLibUSB

/// A failed libusb call: the libusb_error code, the libusb function that returned it, and a sentence
/// saying what was being attempted and on which device, endpoint or interface.
public struct USBError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The libusb_error codes. LIBUSB_SUCCESS is not an error and has no case.
    public enum Code: Int32, Sendable, Hashable, CaseIterable {
        /// LIBUSB_ERROR_IO: input/output error.
        case io = -1
        /// LIBUSB_ERROR_INVALID_PARAM: invalid parameter.
        case invalidParameter = -2
        /// LIBUSB_ERROR_ACCESS: access denied (insufficient permissions).
        case access = -3
        /// LIBUSB_ERROR_NO_DEVICE: no such device (it may have been disconnected).
        case noDevice = -4
        /// LIBUSB_ERROR_NOT_FOUND: entity not found.
        case notFound = -5
        /// LIBUSB_ERROR_BUSY: resource busy.
        case busy = -6
        /// LIBUSB_ERROR_TIMEOUT: operation timed out.
        case timeout = -7
        /// LIBUSB_ERROR_OVERFLOW: the device sent more data than the buffer holds.
        case overflow = -8
        /// LIBUSB_ERROR_PIPE: pipe error (the endpoint stalled or the request is not supported).
        case pipe = -9
        /// LIBUSB_ERROR_INTERRUPTED: system call interrupted (perhaps by a signal).
        case interrupted = -10
        /// LIBUSB_ERROR_NO_MEM: insufficient memory.
        case noMemory = -11
        /// LIBUSB_ERROR_NOT_SUPPORTED: operation not supported or unimplemented on this platform.
        case notSupported = -12
        /// LIBUSB_ERROR_OTHER: other error.
        case other = -99

        /// The case for a negative libusb status; a code this libusb version does not define is `.other`.
        init(status: Int32) {
            self = Code(rawValue: status) ?? .other
        }
    }

    /// The libusb_error code.
    public let code: Code
    /// The function that failed, usually the libusb function (for example `libusb_claim_interface`).
    public let operation: String
    /// What was being attempted, naming the device as 0x%04x:0x%04x and the endpoint or interface.
    public let context: String
    /// Bytes moved before a bulk or interrupt transfer failed (a timeout can follow a partial transfer);
    /// nil for other operations and for control transfers, where libusb does not report a partial count.
    public let bytesTransferred: Int?

    /// The code's symbolic name from libusb_error_name, for example `LIBUSB_ERROR_TIMEOUT`.
    public var name: String { String(cString: libusb_error_name(code.rawValue)) }

    /// The code's explanation from libusb_strerror, for example `Operation timed out`.
    public var reason: String { String(cString: libusb_strerror(code.rawValue)) }

    public var description: String {
        var text = "\(context): \(reason) (\(name), \(operation))"
        if let hint { text += ". \(hint)" }
        return text
    }

    /// What a lab user can do about the common failures.
    private var hint: String? {
        switch code {
        case .access:
            "The user running this program may lack permission on /dev/bus/usb; a udev rule for the device usually fixes this"
        case .busy:
            "Another program or a kernel driver (for example usbtmc) is using it"
        case .noDevice:
            "The device was disconnected or reset; open it again"
        default:
            nil
        }
    }

    init(code: Code, operation: String, context: String, bytesTransferred: Int? = nil) {
        self.code = code
        self.operation = operation
        self.context = context
        self.bytesTransferred = bytesTransferred
    }
}

/// The one place a libusb return value becomes a USBError (the swift-system `valueOrErrno` pattern):
/// a negative value is a libusb_error code, anything else is the call's result and is returned.
/// `context` is only evaluated when the call failed.
@discardableResult
func libusbResult<Value: BinaryInteger>(
    _ status: Value, _ operation: String, _ context: @autoclosure () -> String,
    bytesTransferred: Int? = nil
) throws(USBError) -> Value {
    guard status < 0 else { return status }
    throw USBError(
        code: .init(status: Int32(truncatingIfNeeded: status)), operation: operation, context: context(),
        bytesTransferred: bytesTransferred)
}

/// `value` as 0x%04x, the way lsusb and instrument manuals write vendor and product ids.
func hex(_ value: UInt16) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 4 - digits.count) + digits
}

/// `value` as 0x%02x, for endpoint addresses and request bytes.
func hex(_ value: UInt8) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 2 - digits.count) + digits
}
