import CLibUSB

/// The setup packet of a control transfer, less wLength (which is the size of the data buffer).
/// For example the USBTMC INITIATE_ABORT_BULK_OUT request is
/// `USBControlSetup(direction: .deviceToHost, type: .class, recipient: .endpoint, request: 1, value: tag, index: 0x02)`.
public struct USBControlSetup: Sendable, Hashable, CustomStringConvertible {
    /// Bits 6..5 of bmRequestType (libusb_request_type).
    public enum RequestType: Sendable, Hashable, CaseIterable {
        /// LIBUSB_REQUEST_TYPE_STANDARD: requests defined by the USB specification.
        case standard
        /// LIBUSB_REQUEST_TYPE_CLASS: requests defined by a device class such as USBTMC.
        case `class`
        /// LIBUSB_REQUEST_TYPE_VENDOR: vendor-specific requests.
        case vendor

        var bits: UInt8 {
            switch self {
            case .standard: UInt8(LIBUSB_REQUEST_TYPE_STANDARD.rawValue)
            case .class: UInt8(LIBUSB_REQUEST_TYPE_CLASS.rawValue)
            case .vendor: UInt8(LIBUSB_REQUEST_TYPE_VENDOR.rawValue)
            }
        }
    }

    /// Bits 4..0 of bmRequestType (libusb_request_recipient).
    public enum Recipient: Sendable, Hashable, CaseIterable {
        /// LIBUSB_RECIPIENT_DEVICE.
        case device
        /// LIBUSB_RECIPIENT_INTERFACE: wIndex holds the interface number.
        case interface
        /// LIBUSB_RECIPIENT_ENDPOINT: wIndex holds the endpoint address.
        case endpoint
        /// LIBUSB_RECIPIENT_OTHER.
        case other

        var bits: UInt8 {
            switch self {
            case .device: UInt8(LIBUSB_RECIPIENT_DEVICE.rawValue)
            case .interface: UInt8(LIBUSB_RECIPIENT_INTERFACE.rawValue)
            case .endpoint: UInt8(LIBUSB_RECIPIENT_ENDPOINT.rawValue)
            case .other: UInt8(LIBUSB_RECIPIENT_OTHER.rawValue)
            }
        }
    }

    /// Bit 7 of bmRequestType: the direction of the data stage.
    public var direction: USBDirection
    public var type: RequestType
    public var recipient: Recipient
    /// bRequest.
    public var request: UInt8
    /// wValue, in host byte order (libusb converts it).
    public var value: UInt16
    /// wIndex, in host byte order (libusb converts it).
    public var index: UInt16

    public init(
        direction: USBDirection, type: RequestType, recipient: Recipient, request: UInt8,
        value: UInt16 = 0, index: UInt16 = 0
    ) {
        self.direction = direction
        self.type = type
        self.recipient = recipient
        self.request = request
        self.value = value
        self.index = index
    }

    /// bmRequestType: direction | type | recipient, for example 0xA1 for IN | class | interface.
    public var requestType: UInt8 { direction.bit | type.bits | recipient.bits }

    public var description: String {
        "control request \(hex(request)) (bmRequestType \(hex(requestType)), wValue \(hex(value)), wIndex \(hex(index)))"
    }
}
