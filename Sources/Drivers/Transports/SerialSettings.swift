import Glibc

/// How a serial line is framed: baud rate, data bits, parity, stop bits and flow control (termios).
/// The default is 9600 baud, 8 data bits, no parity, 1 stop bit, no flow control (9600 8N1).
public struct SerialSettings: Sendable, Hashable, CustomStringConvertible {
    public enum DataBits: Sendable, Hashable {
        /// CS7, as many older instruments use with odd or even parity (e.g. 7O1).
        case seven
        /// CS8.
        case eight
    }

    public enum Parity: Sendable, Hashable {
        case none
        /// PARENB | PARODD.
        case odd
        /// PARENB.
        case even
    }

    public enum StopBits: Sendable, Hashable {
        case one
        /// CSTOPB.
        case two
    }

    public enum FlowControl: Sendable, Hashable {
        case none
        /// Hardware handshake on the RTS and CTS lines (CRTSCTS).
        case rtsCts
        /// Software handshake with XON/XOFF characters (IXON | IXOFF).
        case xonXoff
    }

    /// Bits per second; one of ``supportedBaudRates``.
    public var baudRate: Int
    public var dataBits: DataBits
    public var parity: Parity
    public var stopBits: StopBits
    public var flowControl: FlowControl

    public init(
        baudRate: Int = 9600, dataBits: DataBits = .eight, parity: Parity = .none, stopBits: StopBits = .one,
        flowControl: FlowControl = .none
    ) {
        self.baudRate = baudRate
        self.dataBits = dataBits
        self.parity = parity
        self.stopBits = stopBits
        self.flowControl = flowControl
    }

    /// The rates Linux names with a B<rate> constant, slowest first.
    public static let supportedBaudRates: [Int] = speedConstants.map(\.rate)

    /// "115200 8E2, RTS/CTS".
    public var description: String {
        let bits = dataBits == .seven ? "7" : "8"
        let parityLetter = switch parity {
        case .none: "N"
        case .odd: "O"
        case .even: "E"
        }
        let stop = stopBits == .one ? "1" : "2"
        let flow = switch flowControl {
        case .none: "no flow control"
        case .rtsCts: "RTS/CTS"
        case .xonXoff: "XON/XOFF"
        }
        return "\(baudRate) \(bits)\(parityLetter)\(stop), \(flow)"
    }

    /// The speed_t constant for ``baudRate``, or nil when Linux has none.
    var speed: speed_t? {
        Self.speedConstants.first { $0.rate == baudRate }.map { speed_t($0.constant) }
    }

    /// Sets `attributes` to raw mode (cfmakeraw: no echo, no line editing, no signals, no output
    /// processing) with these framing and flow-control settings, CLOCAL (ignore modem control lines) and
    /// CREAD, and reads that return what has arrived (VMIN 0, VTIME 0; waiting is done with poll).
    /// The baud rate is set separately, with cfsetispeed and cfsetospeed.
    func apply(to attributes: inout termios) {
        cfmakeraw(&attributes)
        attributes.c_cflag &= ~tcflag_t(CSIZE | PARENB | PARODD | CSTOPB)
        attributes.c_cflag &= ~tcflag_t(CRTSCTS)
        attributes.c_iflag &= ~tcflag_t(IXON | IXOFF | IXANY)
        attributes.c_cflag |= tcflag_t(dataBits == .seven ? CS7 : CS8)
        switch parity {
        case .none: break
        case .odd: attributes.c_cflag |= tcflag_t(PARENB | PARODD)
        case .even: attributes.c_cflag |= tcflag_t(PARENB)
        }
        if stopBits == .two { attributes.c_cflag |= tcflag_t(CSTOPB) }
        switch flowControl {
        case .none: break
        case .rtsCts: attributes.c_cflag |= CRTSCTS
        case .xonXoff: attributes.c_iflag |= tcflag_t(IXON | IXOFF)
        }
        attributes.c_cflag |= tcflag_t(CLOCAL | CREAD)
        withUnsafeMutableBytes(of: &attributes.c_cc) { controlCharacters in
            controlCharacters[Int(VMIN)] = 0
            controlCharacters[Int(VTIME)] = 0
        }
    }

    /// The settings `attributes` describe, or nil for a speed or framing these settings cannot express.
    init?(reading attributes: termios) {
        var copy = attributes
        let speed = cfgetospeed(&copy)
        guard let rate = Self.speedConstants.first(where: { speed_t($0.constant) == speed })?.rate else {
            return nil
        }
        let size = attributes.c_cflag & tcflag_t(CSIZE)
        guard size == tcflag_t(CS7) || size == tcflag_t(CS8) else { return nil }
        let cflag = attributes.c_cflag
        let parity: Parity =
            cflag & tcflag_t(PARENB) == 0 ? .none : cflag & tcflag_t(PARODD) == 0 ? .even : .odd
        let hardware = cflag & CRTSCTS != 0
        let software = attributes.c_iflag & tcflag_t(IXON | IXOFF) == tcflag_t(IXON | IXOFF)
        guard !(hardware && software) else { return nil }
        self.init(
            baudRate: rate, dataBits: size == tcflag_t(CS7) ? .seven : .eight, parity: parity,
            stopBits: cflag & tcflag_t(CSTOPB) == 0 ? .one : .two,
            flowControl: hardware ? .rtsCts : software ? .xonXoff : .none)
    }

    private static let speedConstants: [(rate: Int, constant: Int32)] = [
        (50, B50), (75, B75), (110, B110), (134, B134), (150, B150), (200, B200), (300, B300), (600, B600),
        (1200, B1200), (1800, B1800), (2400, B2400), (4800, B4800), (9600, B9600), (19200, B19200),
        (38400, B38400), (57600, B57600), (115_200, B115200), (230_400, B230400), (460_800, B460800),
        (500_000, B500000), (576_000, B576000), (921_600, B921600), (1_000_000, B1000000),
        (1_152_000, B1152000), (1_500_000, B1500000), (2_000_000, B2000000), (2_500_000, B2500000),
        (3_000_000, B3000000), (3_500_000, B3500000), (4_000_000, B4000000),
    ]
}
