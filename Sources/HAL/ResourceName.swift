/// Where an instrument is, written as lab users write VISA resource names:
/// `TCPIP0::127.0.0.1::7777::SOCKET`, `ASRL/dev/ttyUSB0::INSTR`, `USB0::0x0957::0x2807::MY1234::INSTR`,
/// `GPIO::gpiochip0::17`, or `LOOPBACK::<instrument-id>` for the emulator in this process.
/// Interface keywords are case-insensitive, as in VISA.
public struct ResourceName: Hashable, Sendable, CustomStringConvertible {
    public enum Address: Hashable, Sendable {
        /// A raw TCP socket (`TCPIP[board]::host::port::SOCKET`).
        case tcpSocket(board: Int, host: String, port: UInt16)
        /// A serial line (`ASRL<n>::INSTR` is `/dev/ttyS<n-1>`, or `ASRL/dev/…::INSTR`).
        case serial(board: Int?, device: String)
        /// A USBTMC device (`USB[board]::vendor::product::serial[::interface]::INSTR`).
        case usb(board: Int, vendor: UInt16, product: UInt16, serial: String, interface: Int?)
        /// A GPIO line (`GPIO::chip::offset`).
        case gpio(chip: String, line: UInt32)
        /// An emulated instrument in this process (`LOOPBACK::id`).
        case loopback(id: String)
    }

    public let address: Address

    public init(_ address: Address) {
        self.address = address
    }

    /// Parses a resource name; a malformed one throws an error that says what is wrong.
    public init(parsing text: String) throws(ResourceNameError) {
        let trimmed = text.trimmingWhitespace
        guard !trimmed.isEmpty else { throw ResourceNameError(text, "the name is empty") }
        let parts = trimmed.components(separatedBy: "::")
        if let empty = parts.firstIndex(where: \.isEmpty) {
            throw ResourceNameError(text, "field \(empty + 1) is empty (two '::' in a row, or a trailing '::')")
        }
        let head = parts[0].uppercased()
        if head.hasPrefix("TCPIP") {
            address = try Self.tcpip(text, board: Self.board(text, parts[0], after: 5), parts)
        } else if head.hasPrefix("ASRL") {
            address = try Self.serial(text, parts)
        } else if head.hasPrefix("USB") {
            address = try Self.usb(text, board: Self.board(text, parts[0], after: 3), parts)
        } else if head == "GPIO" {
            address = try Self.gpio(text, parts)
        } else if head == "LOOPBACK" {
            guard parts.count == 2 else {
                throw ResourceNameError(text, "expected LOOPBACK::<instrument-id>")
            }
            address = .loopback(id: String(parts[1]))
        } else {
            throw ResourceNameError(
                text, "unknown interface '\(parts[0])'; expected TCPIP, ASRL, USB, GPIO or LOOPBACK")
        }
    }

    /// The canonical spelling, which parses back to the same name.
    public var description: String {
        switch address {
        case let .tcpSocket(board, host, port):
            return "TCPIP\(board)::\(host)::\(port)::SOCKET"
        case let .serial(board, device):
            if let board { return "ASRL\(board)::INSTR" }
            return "ASRL\(device)::INSTR"
        case let .usb(board, vendor, product, serial, interface):
            let iface = interface.map { "::\($0)" } ?? ""
            return "USB\(board)::\(hex(vendor))::\(hex(product))::\(serial)\(iface)::INSTR"
        case let .gpio(chip, line):
            return "GPIO::\(chip)::\(line)"
        case let .loopback(id):
            return "LOOPBACK::\(id)"
        }
    }

    private static func board(_ text: String, _ head: Substring, after length: Int) throws(ResourceNameError) -> Int {
        let digits = head.dropFirst(length)
        if digits.isEmpty { return 0 }
        guard let board = Int(digits), board >= 0 else {
            throw ResourceNameError(text, "'\(head)' must be the interface followed by a board number, e.g. \(head.prefix(length))0")
        }
        return board
    }

    private static func tcpip(_ text: String, board: Int, _ parts: [Substring]) throws(ResourceNameError) -> Address {
        guard parts.count == 4, parts[3].uppercased() == "SOCKET" else {
            if parts.last?.uppercased() == "INSTR" {
                throw ResourceNameError(text, "VXI-11/HiSLIP (::INSTR) is not supported over TCPIP; use TCPIP::host::port::SOCKET")
            }
            throw ResourceNameError(text, "expected TCPIP[board]::host::port::SOCKET")
        }
        guard let port = Int(parts[2]) else {
            throw ResourceNameError(text, "port '\(parts[2])' is not a number")
        }
        guard (1...65535).contains(port) else {
            throw ResourceNameError(text, "port \(port) is outside 1–65535")
        }
        return .tcpSocket(board: board, host: String(parts[1]), port: UInt16(port))
    }

    private static func serial(_ text: String, _ parts: [Substring]) throws(ResourceNameError) -> Address {
        guard parts.count == 2, parts[1].uppercased() == "INSTR" else {
            throw ResourceNameError(text, "expected ASRL<n>::INSTR or ASRL/dev/<device>::INSTR")
        }
        let rest = parts[0].dropFirst(4)
        if rest.hasPrefix("/") { return .serial(board: nil, device: String(rest)) }
        guard let number = Int(rest), number >= 1 else {
            throw ResourceNameError(text, "'\(parts[0])' must be ASRL followed by a port number from 1 or a /dev path")
        }
        return .serial(board: number, device: "/dev/ttyS\(number - 1)")
    }

    private static func usb(_ text: String, board: Int, _ parts: [Substring]) throws(ResourceNameError) -> Address {
        guard parts.count == 5 || parts.count == 6, parts.last!.uppercased() == "INSTR" else {
            throw ResourceNameError(text, "expected USB[board]::vendor::product::serial[::interface]::INSTR")
        }
        let vendor = try usbID(text, "vendor", parts[1])
        let product = try usbID(text, "product", parts[2])
        var interface: Int?
        if parts.count == 6 {
            guard let number = Int(parts[4]), (0...255).contains(number) else {
                throw ResourceNameError(text, "interface '\(parts[4])' is not a number from 0 to 255")
            }
            interface = number
        }
        return .usb(board: board, vendor: vendor, product: product, serial: String(parts[3]), interface: interface)
    }

    private static func usbID(_ text: String, _ field: String, _ part: Substring) throws(ResourceNameError) -> UInt16 {
        let lower = part.lowercased()
        let value = lower.hasPrefix("0x") ? UInt16(lower.dropFirst(2), radix: 16) : UInt16(lower)
        guard let value else {
            throw ResourceNameError(text, "\(field) id '\(part)' is not a 16-bit number (write it as 0x0957 or 2391)")
        }
        return value
    }

    private static func gpio(_ text: String, _ parts: [Substring]) throws(ResourceNameError) -> Address {
        guard parts.count == 3 else { throw ResourceNameError(text, "expected GPIO::<chip>::<line offset>") }
        guard let line = UInt32(parts[2]) else {
            throw ResourceNameError(text, "line offset '\(parts[2])' is not a non-negative number")
        }
        return .gpio(chip: String(parts[1]), line: line)
    }
}

/// A resource name that could not be parsed: the text and what is wrong with it.
public struct ResourceNameError: Error, Sendable, Equatable, CustomStringConvertible {
    public let input: String
    public let reason: String

    init(_ input: String, _ reason: String) {
        self.input = input
        self.reason = reason
    }

    public var description: String { "resource name \"\(input)\": \(reason)" }
}

private func hex(_ value: UInt16) -> String {
    let digits = String(value, radix: 16, uppercase: false)
    return "0x" + String(repeating: "0", count: 4 - digits.count) + digits
}

extension StringProtocol {
    /// The text without leading and trailing spaces, tabs, CRs and LFs (a CR LF pair included,
    /// which Swift counts as one Character, so the scan runs on Unicode scalars).
    var trimmingWhitespace: String {
        let scalars = unicodeScalars
        let isSpace: (Unicode.Scalar) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = scalars.firstIndex(where: { !isSpace($0) }),
              let last = scalars.lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(String.UnicodeScalarView(scalars[first...last]))
    }

    /// The pieces between occurrences of `separator` (empty pieces kept).
    func components(separatedBy separator: String) -> [Substring] {
        let text = Substring(self)
        var pieces: [Substring] = []
        var start = text.startIndex
        var index = text.startIndex
        while index < text.endIndex {
            if text[index...].hasPrefix(separator) {
                pieces.append(text[start..<index])
                index = text.index(index, offsetBy: separator.count)
                start = index
            } else {
                index = text.index(after: index)
            }
        }
        pieces.append(text[start...])
        return pieces
    }
}
