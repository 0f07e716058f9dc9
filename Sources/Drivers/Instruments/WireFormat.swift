import HAL

/// Number formats and reply checks the instrument drivers share.
enum WireNumber {
    /// `value` in fixed-point notation with at most `decimals` digits after the point, trailing zeros
    /// removed (`0.05`, `12`, `-1.5`): the form every instrument here accepts, never an exponent.
    /// Programmer errors trap: a value that is not finite or too large to print exactly.
    static func fixed(_ value: Double, decimals: Int = 6) -> String {
        precondition(value.isFinite && (0...9).contains(decimals), "cannot format \(value) with \(decimals) decimals")
        var scale = 1
        for _ in 0..<decimals { scale *= 10 }
        let scaled = (abs(value) * Double(scale)).rounded()
        precondition(scaled < 9e17, "\(value) is too large for fixed-point formatting")
        let units = Int(scaled)
        var whole = String(units / scale)
        var fraction = String(units % scale)
        fraction = String(repeating: "0", count: decimals - fraction.count) + fraction
        while fraction.last == "0" { fraction.removeLast() }
        if value < 0 && units != 0 { whole = "-" + whole }
        return fraction.isEmpty ? whole : whole + "." + fraction
    }
}

extension InstrumentError {
    /// A reply of the wrong form.
    static func unexpected(
        _ instrument: String, _ command: String, reply: String, expected: String
    ) -> InstrumentError {
        InstrumentError(instrument: instrument, command: command, kind: .unexpectedReply(reply: reply, expected: expected))
    }

    /// An argument the instrument cannot take, refused before anything is sent.
    static func invalid(_ instrument: String, _ command: String?, _ reason: String) -> InstrumentError {
        InstrumentError(instrument: instrument, command: command, kind: .invalidArgument(reason))
    }
}
