import Foundation
import Testing
@testable import Emulator

@Suite("Wire number formats")
struct WireFormatTests {
    /// A fixed pseudo-random set of values over many magnitudes and both signs.
    static let values: [Double] = {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        return (0..<2000).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let mantissa = Double(state >> 11) / Double(1 << 53)
            let exponent = Int(state % 17) - 8
            return (state & 1 == 0 ? 1 : -1) * mantissa * pow(10, Double(exponent))
        } + [0, -0.0, 0.5, 1.5, 2.5, -0.0004, 999.9995, 1e-9, 123456.7]
    }()

    @Test("fixed() writes what printf's %.Nf writes", arguments: [0, 1, 3, 5, 6])
    func fixedMatchesPrintf(decimals: Int) {
        for value in Self.values {
            let ours = WireFormat.fixed(value, decimals: decimals)
            let printf = String(format: "%.\(decimals)f", value)
            // printf rounds the exact binary value; we round the scaled double. They may differ only
            // in the last digit, and only where the value sits on a rounding boundary.
            if ours != printf {
                let difference = abs((Double(ours) ?? .nan) - (Double(printf) ?? .nan))
                #expect(difference <= pow(10, -Double(decimals)) * 1.000001, "\(value): \(ours) vs \(printf)")
            }
        }
    }

    @Test("signed() and zeroPadded() match printf's %+.Nf and %0Nd")
    func signedAndPadded() {
        #expect(WireFormat.signed(0.5, decimals: 3) == "+0.500")
        #expect(WireFormat.signed(-12.25, decimals: 1) == "-12.3" || WireFormat.signed(-12.25, decimals: 1) == "-12.2")
        #expect(WireFormat.signed(0, decimals: 2) == "+0.00")
        #expect(WireFormat.zeroPadded(6, width: 2) == "06")
        #expect(WireFormat.zeroPadded(16, width: 3) == "016")
        #expect(WireFormat.zeroPadded(1234, width: 2) == "1234")
        #expect(WireFormat.fixed(1e20, decimals: 2) == String(format: "%.2f", 1e20))
    }

    @Test("Engineering notation keeps six significant digits and a two-digit exponent")
    func engineering() {
        #expect(WireFormat.engineering(293.873) == "+293.873E+00")
        #expect(WireFormat.engineering(0.0123) == "+12.3000E-03")
        #expect(WireFormat.engineering(0) == "+0.00000E+00")
        #expect(WireFormat.engineering(-1.5e-6) == "-1.50000E-06")
        #expect(WireFormat.engineering(999.9999) == "+1.00000E+03")
        for value in Self.values where value != 0 {
            let text = WireFormat.engineering(value)
            let parsed = Double(text)!
            #expect(abs(parsed - value) <= abs(value) * 5e-6, "\(value) → \(text)")
        }
    }

    @Test("Trimming spaces and tabs only")
    func trimming() {
        #expect(" \tKRDG? 6 \t".trimmedSpaces == "KRDG? 6")
        #expect("   ".trimmedSpaces == "")
        #expect("x\n".trimmedSpaces == "x\n")
    }
}
