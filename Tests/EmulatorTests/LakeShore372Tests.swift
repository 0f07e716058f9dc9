import Foundation
import Testing
@testable import Emulator

@Suite("Lake Shore 372 wire protocol")
struct LakeShore372Tests {
    static let table: [(String, String)] = [
        ("*IDN?\r\n", "LSCI,MODEL372,LSA2B3C,1.6\r\n"),
        ("KRDG? 6\r\n", "+10.0000E-03\r\n"),
        ("KRDG? 1\r\n", "+37.5000E+00\r\n"),
        ("KRDG?6\r\n", "+10.0000E-03\r\n"),
        ("SRDG? 6\r\n", "+97.7659E+03\r\n"),
        ("SRDG? 1\r\n", "+1.25978E+03\r\n"),
        ("RDGST? 6\r\n", "000\r\n"),
        ("RDGST? 4\r\n", "016\r\n"),
        ("KRDG? 4\r\n", "+0.00000E+00\r\n"),
        ("SCAN?\r\n", "01,0\r\n"),
        ("INSET? 6\r\n", "1,007,003,06,1\r\n"),
        ("INSET? 4\r\n", "0,007,003,00,1\r\n"),  // no thermometer wired on 4: disabled
        ("INTYPE? 6\r\n", "0,05,0,12,0,1\r\n"),
        ("INNAME? 6\r\n", "MXC\r\n"),
        ("TLIMIT? 6\r\n", "+0.0000\r\n"),
        ("OUTMODE? 0\r\n", "0,6,0,0,0,0\r\n"),
        ("OUTMODE? 2\r\n", "4,3,0,0,0,0\r\n"),
        ("HTRSET? 0\r\n", "+100.000,0,+000.000,1\r\n"),
        ("HTRSET? 1\r\n", "2,1,+000.000,1\r\n"),
        ("RANGE? 0\r\n", "0\r\n"),
        ("RANGE? 2\r\n", "1\r\n"),
        ("SETP? 0\r\n", "+0.00000E+00\r\n"),
        ("PID? 0\r\n", "+2.000,+20.0,+0.0\r\n"),
        ("RAMP? 0\r\n", "0,+0.000\r\n"),
        ("RAMPST? 0\r\n", "0\r\n"),
        ("HTR?\r\n", "+0.000\r\n"),
        // Control input A: no thermometer wired in this profile, so disabled and reading as disconnected.
        ("INSET? A\r\n", "0,007,003,00,1\r\n"),
        ("INNAME? A\r\n", "Control Input\r\n"),
        ("INTYPE? A\r\n", "1,03,0,00,0,1\r\n"),
        ("KRDG? A\r\n", "+0.00000E+00\r\n"),
        ("SRDG? a\r\n", "+0.00000E+00\r\n"),
        ("RDGST? A\r\n", "016\r\n"),
        ("TLIMIT? A\r\n", "+0.0000\r\n"),
        ("OUTMODE 0,5,A,0,0,0,0;OUTMODE? 0\r\n", "5,A,0,0,0,0\r\n"),
        ("STILL?\r\n", "+62.000\r\n"),
        ("AOUT? 2\r\n", "+62.000\r\n"),
        ("KRDG? 1;KRDG? 6\r\n", "+37.5000E+00;+10.0000E-03\r\n"),
        ("*OPC?\n", "1\r\n"),
        ("SETP 0,0.05\r\n", ""),
        ("*CLS\r\n", ""),
    ]

    @Test(arguments: table)
    func replyIsExact(command: String, reply: String) throws {
        let station = try station("bluefors-ld400.yaml")
        #expect(exchange(station.session("ls372"), command) == reply)
    }

    @Test func setCommandsTakeEffectAndNeverReply() throws {
        let station = try station("bluefors-ld400.yaml")
        let session = station.session("ls372")
        let sets = [
            "SETP 0,0.05", "PID 0,10,30,0", "RAMP 0,1,0.5", "RANGE 0,5", "OUTMODE 0,5,6,0,0,0,0", "HTRSET 0,120,0,0,2",
            "INNAME 6,\"Mixing ch\"", "INSET 4,0,10,5,0,2", "INTYPE 4,1,10,1,15,0,2", "SCAN 6,1", "TLIMIT 6,1.5", "STILL 40", "MOUT 0,12.5",
        ]
        #expect(exchange(session, sets.joined(separator: ";") + "\r\n") == "")
        let queries = [
            ("SETP? 0", "+50.0000E-03"), ("PID? 0", "+10.000,+30.0,+0.0"), ("RAMP? 0", "1,+0.500"), ("RANGE? 0", "5"),
            ("OUTMODE? 0", "5,6,0,0,0,0"), ("HTRSET? 0", "+120.000,0,+000.000,2"), ("INNAME? 6", "Mixing ch"),
            ("INSET? 4", "0,010,005,00,2"), ("INTYPE? 4", "1,10,1,15,0,2"), ("SCAN?", "06,1"), ("TLIMIT? 6", "+1.5000"),
            ("STILL?", "+40.000"), ("MOUT? 0", "+12.500"),
        ]
        for (query, reply) in queries { #expect(exchange(session, query + "\r\n") == reply + "\r\n", "\(query)") }
    }

    @Test func closedLoopHeatsTheMixingChamberToTheSetpoint() throws {
        let station = try station("bluefors-ld400.yaml")
        let session = station.session("ls372")
        _ = exchange(session, "OUTMODE 0,5,6,0,0,0,0;RANGE 0,5;SETP 0,0.1\r\n")
        station.advance(by: 3600)
        let kelvin = try #require(Double(exchange(session, "KRDG? 6\r\n").trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(abs(kelvin - 0.1) < 1e-4)
        let percent = try #require(Double(exchange(session, "HTR?\r\n").trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(percent > 10 && percent < 100)
    }

    @Test func rampStatusFollowsTheRamp() throws {
        let station = try station("bluefors-ld400.yaml")
        let session = station.session("ls372")
        _ = exchange(session, "OUTMODE 0,5,6,0,0,0,0;RANGE 0,5;SETP 0,0.05\r\n")
        station.advance(by: 60)
        _ = exchange(session, "RAMP 0,1,0.01;SETP 0,0.06\r\n")
        station.advance(by: 30)
        #expect(exchange(session, "RAMPST? 0\r\n") == "1\r\n")
        station.advance(by: 60)
        #expect(exchange(session, "RAMPST? 0\r\n") == "0\r\n")
    }

    static let malformed = [
        "KRDG? 17\r\n", "KRDG?\r\n", "KRDG? x\r\n", "FOO?\r\n", "RANGE 0,9\r\n", "RANGE 3,1\r\n", "PID 0,abc,1,1\r\n", "PID 0,1,1\r\n",
        "INSET 1,1\r\n", "OUTMODE 0,9,1,0,0,0,0\r\n", "HTRSET 0,5000,0,0,1\r\n", "INNAME 1,\"a name far too long\"\r\n",
        "\u{0}\u{7f}\u{1b}[garbage\r\n", ";;;\r\n", "?\r\n", "*IDN? 1\r\n", "SCAN 0,1\r\n", "STILL 140\r\n",
        "KRDG? B\r\n", "SCAN A,0\r\n", "INTYPE A,0,3,0,0,0,1\r\n", "INTYPE A,1,7,0,0,0,1\r\n", "INTYPE A,1,3,2,0,0,1\r\n",
        "OUTMODE 0,5,B,0,0,0,0\r\n", "OUTMODE 0,5,17,0,0,0,0\r\n",
    ]

    @Test(arguments: malformed)
    func malformedCommandIsIgnoredAndFlagged(_ command: String) throws {
        let station = try station("bluefors-ld400.yaml")
        let session = station.session("ls372")
        #expect(exchange(session, command) == "")
        let flagged = command == ";;;\r\n" ? "0" : nil
        let esr = exchange(session, "*ESR?\r\n")
        if let flagged { #expect(esr == flagged + "\r\n") } else { #expect(esr == "16\r\n" || esr == "32\r\n") }
        #expect(exchange(session, "*IDN?\r\n") == "LSCI,MODEL372,LSA2B3C,1.6\r\n")
    }

    @Test func errorRegisterAccumulatesAndClears() throws {
        let session = try station("bluefors-ld400.yaml").session("ls372")
        #expect(exchange(session, "KRDG? 17;FOO?\r\n") == "")
        #expect(exchange(session, "*ESR?\r\n") == "48\r\n")
        #expect(exchange(session, "*ESR?\r\n") == "0\r\n")
    }

    @Test func overlongAndSplitInputIsSafe() throws {
        let session = try station("bluefors-ld400.yaml").session("ls372")
        #expect(exchange(session, String(repeating: "K", count: 10_000) + "\r\n") == "")
        #expect(exchange(session, "*ID") == "")
        #expect(exchange(session, "N?\r") == "")
        #expect(exchange(session, "\n") == "LSCI,MODEL372,LSA2B3C,1.6\r\n")
        let bytes: [UInt8] = (0..<2000).map { UInt8(truncatingIfNeeded: $0 &* 37) }
        _ = session.receive(bytes)
        _ = session.receive([0x0A])
        #expect(exchange(session, "*IDN?\r\n") == "LSCI,MODEL372,LSA2B3C,1.6\r\n")
    }

    /// A profile may wire a thermometer to the control input `A`; it then reads like a scanner channel.
    @Test func controlInputReadsTheThermometerAProfileWiresToIt() throws {
        var text = try String(contentsOf: Profiles.directory.appendingPathComponent("bluefors-ld400.yaml"), encoding: .utf8)
        let wired = text.replacingOccurrences(of: "{channel: \"8\", name: Sample", with: "{channel: A, name: Sample")
        #expect(wired != text)
        text = wired
        let station = EmulatedStation(profile: try HardwareProfile(yaml: text, file: "control-input.yaml"))
        let session = station.session("ls372")
        #expect(exchange(session, "INSET? A;INNAME? A;RDGST? A\r\n") == "1,007,003,17,1;Sample;000\r\n")
        let kelvin = try #require(Double(exchange(session, "KRDG? A\r\n").trimmingCharacters(in: .newlines)))
        #expect(abs(kelvin - station.model.temperature(of: .sample)) < 1e-4 * kelvin)
        #expect(try #require(Double(exchange(session, "SRDG? A\r\n").trimmingCharacters(in: .newlines))) > 0)
        // Channel 8 lost its thermometer to A.
        #expect(exchange(session, "RDGST? 8;INSET? 8\r\n") == "016;0,007,003,00,1\r\n")
        station.model.setOpenCircuit("ls372/A", true)
        #expect(exchange(session, "RDGST? A;KRDG? A\r\n") == "016;+0.00000E+00\r\n")
    }

    @Test func controlInputSettingsRoundTrip() throws {
        let session = try station("bluefors-ld400.yaml").session("ls372")
        _ = exchange(session, "INSET A,1,0,5,17,2;INTYPE A,1,6,1,0,1,2;INNAME A,\"Ctl\";TLIMIT A,0.8\r\n")
        #expect(exchange(session, "INSET? A;INTYPE? A;INNAME? A;TLIMIT? A\r\n") == "1,000,005,17,2;1,06,1,00,1,2;Ctl;+0.8000\r\n")
        #expect(exchange(session, "*ESR?\r\n") == "0\r\n")
    }

    /// HTR? is percent of current, or watts under the HTRSET power display (372 manual rev. 1.7, HTR?).
    @Test func heaterOutputFollowsTheDisplaySetting() throws {
        let session = try station("bluefors-ld400.yaml").session("ls372")
        _ = exchange(session, "HTRSET 0,100,0,0,1;OUTMODE 0,2,6,0,0,0,0;RANGE 0,8;MOUT 0,50\r\n")
        #expect(exchange(session, "HTR?\r\n") == "+50.000\r\n")
        _ = exchange(session, "HTRSET 0,100,0,0,2\r\n")
        #expect(exchange(session, "HTR?\r\n") == "+0.250\r\n")  // (50 % of 100 mA)² × 100 Ω
        #expect(exchange(session, "HTR? 0;AOUT? 2\r\n") == "+0.250;+62.000\r\n")
    }

    @Test func openCircuitShowsAsResistanceOverRange() throws {
        let station = try station("bluefors-ld400.yaml")
        station.model.setOpenCircuit("ls372/6", true)
        let session = station.session("ls372")
        #expect(exchange(session, "RDGST? 6\r\n") == "016\r\n")
        #expect(exchange(session, "KRDG? 6\r\n") == "+0.00000E+00\r\n")
        station.model.setOpenCircuit("ls372/6", false)
        #expect(exchange(session, "RDGST? 6\r\n") == "000\r\n")
    }

    /// Every query QCoDeS' LakeshoreModel372 sends at connect and snapshot gets one reply with the
    /// documented number of fields, integers written as integers.
    @Test func answersEveryQCoDeSSnapshotQuery() throws {
        let session = try station("bluefors-ld400.yaml").session("ls372")
        #expect(exchange(session, "*IDN?\r\n").split(separator: ",").count == 4)
        for channel in ["A"] + (1...16).map(String.init) {
            for (query, fields) in [("KRDG?", 1), ("SRDG?", 1), ("RDGST?", 1), ("TLIMIT?", 1), ("INNAME?", 1), ("INSET?", 5), ("INTYPE?", 6)] {
                let reply = exchange(session, "\(query) \(channel)\r\n")
                #expect(reply.hasSuffix("\r\n"))
                #expect(reply.trimmingCharacters(in: .newlines).split(separator: ",", omittingEmptySubsequences: false).count == fields, "\(query) \(channel)")
            }
            let inset = exchange(session, "INSET? \(channel)\r\n").trimmingCharacters(in: .newlines).split(separator: ",")
            #expect(inset.allSatisfy { Int($0) != nil })
        }
        for output in 0...2 {
            for (query, fields) in [("OUTMODE?", 6), ("RANGE?", 1), ("SETP?", 1), ("PID?", 3), ("RAMP?", 2), ("RAMPST?", 1)] {
                let reply = exchange(session, "\(query) \(output)\r\n")
                #expect(reply.trimmingCharacters(in: .newlines).split(separator: ",").count == fields, "\(query) \(output)")
            }
            #expect(exchange(session, "OUTMODE? \(output)\r\n").trimmingCharacters(in: .newlines).split(separator: ",").allSatisfy { Int($0) != nil })
        }
        for output in 0...1 { #expect(exchange(session, "HTRSET? \(output)\r\n").trimmingCharacters(in: .newlines).split(separator: ",").count == 4) }
        #expect(Double(exchange(session, "HTR? 0\r\n").trimmingCharacters(in: .newlines)) != nil)
    }

    @Test func resetRestoresPowerUpState() throws {
        let session = try station("bluefors-ld400.yaml").session("ls372")
        _ = exchange(session, "INNAME 6,\"x\";RANGE 0,5;SETP 0,0.2\r\n")
        _ = exchange(session, "*RST\r\n")
        #expect(exchange(session, "INNAME? 6;RANGE? 0;SETP? 0\r\n") == "MXC;0;+0.00000E+00\r\n")
    }

    @Test(arguments: [(293.873, "+293.873E+00"), (0.0123, "+12.3000E-03"), (1.5, "+1.50000E+00"), (999.9999, "+1.00000E+03"),
                      (-0.5, "-500.000E-03"), (97765.885, "+97.7659E+03"), (0, "+0.00000E+00")])
    func engineeringFormat(value: Double, text: String) {
        #expect(WireFormat.engineering(value) == text)
    }
}
