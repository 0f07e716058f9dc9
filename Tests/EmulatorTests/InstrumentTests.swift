import Foundation
import Testing
@testable import Emulator

@Suite("Oxford Triton wire protocol")
struct TritonTests {
    static let table: [(String, String)] = [
        ("*IDN?\r\n", "IDN:OXFORD INSTRUMENTS:TRITON:TRITON-200-17:2.1\r\n"),
        ("READ:DEV:T5:TEMP:SIG:TEMP\r\n", "STAT:DEV:T5:TEMP:SIG:TEMP:0.012K\r\n"),
        ("READ:DEV:T1:TEMP:SIG:TEMP\n", "STAT:DEV:T1:TEMP:SIG:TEMP:37.5K\r\n"),
        ("READ:DEV:T9:TEMP:SIG:TEMP\r\n", "STAT:DEV:T9:TEMP:SIG:TEMP:NOT_FOUND\r\n"),
        ("READ:DEV:T5:TEMP:LOOP:MODE\r\n", "STAT:DEV:T5:TEMP:LOOP:MODE:OFF\r\n"),
        ("READ:DEV:T1:TEMP:LOOP:MODE\r\n", "STAT:DEV:T1:TEMP:LOOP:MODE:NOT_FOUND\r\n"),
        ("READ:DEV:T5:TEMP:LOOP:RAMP:ENAB\r\n", "STAT:DEV:T5:TEMP:LOOP:RAMP:ENAB:OFF\r\n"),
        ("READ:SYS:DR:STATUS\r\n", "STAT:SYS:DR:STATUS:Circulating\r\n"),
        ("READ:SYS:DR:ACTN\r\n", "STAT:SYS:DR:ACTN:NONE\r\n"),
        ("READ:SYS:DR:CHAN\r\n", "STAT:SYS:DR:CHAN:PT1:PT2:STIL:CP:MC\r\n"),
        ("READ:SYS:DR:CHAN:MC\r\n", "STAT:SYS:DR:CHAN:MC:T5\r\n"),
        ("READ:SYS:DR:CHAN:XX\r\n", "STAT:SYS:DR:CHAN:XX:INVALID\r\n"),
        ("READ:SYS:TIME\r\n", "STAT:SYS:TIME:00:00:00\r\n"),
        ("READ:DEV:P5:PRES:SIG:PRES\r\n", "STAT:DEV:P5:PRES:SIG:PRES:150mB\r\n"),
        ("READ:DEV:P9:PRES:SIG:PRES\r\n", "STAT:DEV:P9:PRES:SIG:PRES:NOT_FOUND\r\n"),
        ("SET:DEV:T5:TEMP:LOOP:TSET:0.1\r\n", "STAT:SET:DEV:T5:TEMP:LOOP:TSET:0.1:VALID\r\n"),
        ("SET:DEV:T5:TEMP:LOOP:TSET:abc\r\n", "STAT:SET:DEV:T5:TEMP:LOOP:TSET:abc:INVALID\r\n"),
        ("SET:DEV:T2:TEMP:LOOP:TSET:0.1\r\n", "STAT:SET:DEV:T2:TEMP:LOOP:TSET:0.1:NOT_FOUND\r\n"),
        ("SET:DEV:T5:TEMP:LOOP:RAMP:RATE:0.05\r\n", "STAT:SET:DEV:T5:TEMP:LOOP:RAMP:RATE:0.05:VALID\r\n"),
        ("FETCH:SOMETHING\r\n", "STAT:FETCH:SOMETHING:INVALID\r\n"),
        ("READ::\r\n", "STAT:READ:::INVALID\r\n"),
        ("READ\r\n", "STAT:READ:INVALID\r\n"),
        ("\r\n", ""),
    ]

    @Test(arguments: table)
    func replyIsExact(command: String, reply: String) throws {
        let station = try station("oxford-triton.yaml")
        #expect(exchange(station.session("triton"), command) == reply)
    }

    @Test func loopControlsTheMixingChamber() throws {
        let station = try station("oxford-triton.yaml")
        let session = station.session("triton")
        for set in ["RANGE:3.16", "P:2", "I:20", "D:0", "TSET:0.05", "MODE:ON"] {
            #expect(exchange(session, "SET:DEV:T5:TEMP:LOOP:\(set)\r\n").hasSuffix(":VALID\r\n"))
        }
        #expect(exchange(session, "READ:DEV:T5:TEMP:LOOP:RANGE\r\n") == "STAT:DEV:T5:TEMP:LOOP:RANGE:3.16mA\r\n")
        #expect(exchange(session, "READ:DEV:T5:TEMP:LOOP:TSET\r\n") == "STAT:DEV:T5:TEMP:LOOP:TSET:0.05K\r\n")
        station.advance(by: 3600)
        let reply = exchange(session, "READ:DEV:T5:TEMP:SIG:TEMP\r\n")
        let kelvin = try #require(Double(reply.dropFirst("STAT:DEV:T5:TEMP:SIG:TEMP:".count).prefix { $0 != "K" }))
        #expect(abs(kelvin - 0.05) < 1e-4)
    }

    @Test func overlongLineIsInvalid() throws {
        let session = try station("oxford-triton.yaml").session("triton")
        #expect(exchange(session, String(repeating: "A", count: 9000) + "\n") == "STAT:INVALID\r\n")
    }
}

@Suite("Pfeiffer TPG 366 wire protocol")
struct MaxiGaugeTests {
    static let ack = "\u{06}\r\n", nak = "\u{15}\r\n"

    @Test func pressureDialogue() throws {
        let session = try station("bluefors-ld400.yaml").session("maxigauge")
        #expect(exchange(session, "PR5\r\n") == Self.ack)
        #expect(exchange(session, "\u{05}") == "0,1.5000E+02\r\n")
        #expect(exchange(session, "\u{05}") == "0,1.5000E+02\r\n")
        #expect(exchange(session, "PR5\r\u{05}") == Self.ack + "0,1.5000E+02\r\n")
    }

    @Test(arguments: [
        ("TID\r", "PKR,PKR,PKR,PKR,PKR,PKR\r\n"),
        ("UNI\r", "0\r\n"),
        ("ERR\r", "0000\r\n"),
        ("PR6\r", "0,1.0000E-02\r\n"),
        ("AYT\r", "TPG 366,PTG28700,44998061,1.0,010100\r\n"),
        ("RES\r", "0\r\n"),
        ("RES,1\r", "0\r\n"),
    ])
    func mnemonicReplies(command: String, data: String) throws {
        let session = try station("bluefors-ld400.yaml").session("maxigauge")
        #expect(exchange(session, command) == Self.ack)
        #expect(exchange(session, "\u{05}") == data)
    }

    @Test func allSixGaugesWithStatus() throws {
        let session = try station("bluefors-ld400.yaml").session("maxigauge")
        _ = exchange(session, "PRX\r\n")
        let fields = exchange(session, "\u{05}").trimmingCharacters(in: .newlines).split(separator: ",")
        #expect(fields.count == 12)
        #expect(fields.enumerated().filter { $0.offset % 2 == 0 }.allSatisfy { $0.element == "0" })
    }

    @Test func unitChangeConvertsReadings() throws {
        let session = try station("bluefors-ld400.yaml").session("maxigauge")
        #expect(exchange(session, "UNI,2\r") == Self.ack)
        #expect(exchange(session, "PR5\r\u{05}") == Self.ack + "0,1.5000E+04\r\n")
    }

    @Test(arguments: [
        ("PR7\r", "0010"), ("XYZ\r", "0001"), ("UNI,9\r", "0010"), ("PR1,2\r", "0001"), ("RES,2\r", "0010"), ("AYT,1\r", "0001"),
        ("RES,1,1\r", "0001"),
    ])
    func badMnemonicIsNAKedAndReported(command: String, errorWord: String) throws {
        let session = try station("bluefors-ld400.yaml").session("maxigauge")
        #expect(exchange(session, command) == Self.nak)
        #expect(exchange(session, "\u{05}") == Self.nak)
        #expect(exchange(session, "ERR\r\u{05}") == Self.ack + errorWord + "\r\n")
        #expect(exchange(session, "ERR\r\u{05}") == Self.ack + "0000\r\n")
    }

    /// RES lists the present errors without clearing; RES,1 resets, which also clears the error word.
    @Test func resetClearsTheErrorWord() throws {
        let session = try station("bluefors-ld400.yaml").session("maxigauge")
        #expect(exchange(session, "XYZ\r") == Self.nak)
        #expect(exchange(session, "RES\r\u{05}") == Self.ack + "0\r\n")
        #expect(exchange(session, "ERR\r\u{05}") == Self.ack + "0001\r\n")
        #expect(exchange(session, "XYZ\r") == Self.nak)
        #expect(exchange(session, "RES,1\r\u{05}") == Self.ack + "0\r\n")
        #expect(exchange(session, "ERR\r\u{05}") == Self.ack + "0000\r\n")
    }

    @Test func etxClearsAPartialCommandAndGarbageIsSafe() throws {
        let session = try station("bluefors-ld400.yaml").session("maxigauge")
        #expect(exchange(session, "PR\u{03}") == "")
        #expect(exchange(session, "PR1\r") == Self.ack)
        #expect(exchange(session, String(repeating: "Z", count: 500) + "\r") == Self.nak)
        _ = session.receive((0..<300).map { UInt8(truncatingIfNeeded: $0 * 7) })
        _ = exchange(session, "\u{03}")
        #expect(exchange(session, "UNI\r\u{05}") == Self.ack + "0\r\n")
    }

    @Test func pressureSpikeShowsAsOverrange() throws {
        let station = try station("bluefors-ld400.yaml")
        let session = station.session("maxigauge")
        station.model.pressureSpike(factor: 100, decaySeconds: 60)
        #expect(exchange(session, "PR5\r\u{05}") == Self.ack + "2,1.5000E+04\r\n")
        station.advance(by: 1800)
        #expect(exchange(session, "PR5\r\u{05}") == Self.ack + "0,1.5000E+02\r\n")
    }
}

@Suite("Lake Shore F71 wire protocol")
struct F71Tests {
    @Test(arguments: [
        ("*IDN?\n", "Lake Shore,F71,F71-0042,1.0\r\n"),
        ("FETCh:DC? Z\n", "5.000000E-05\r\n"),
        ("fetc:dc? x\n", "0.000000E+00\r\n"),
        ("UNIT:FIELD?\n", "TESLA\r\n"),
        ("SENS:MODE?\n", "DC\r\n"),
        ("SYST:ERR?\n", "0,\"No error\"\r\n"),
        ("UNIT:FIELD GAUSS;:MEASure:DC? Z\n", "5.000000E-01\r\n"),
        ("FETCH:DC? Z;:SYSTem:ERRor:ALL?\n", "5.000000E-05;0,\"No error\"\r\n"),
        ("*OPC?\n", "1\r\n"),
        ("PROBE:AXES?\n", "3\r\n"),
        ("probe:axes?;:UNIT:FIELD?\n", "3;TESLA\r\n"),
    ])
    func replyIsExact(command: String, reply: String) throws {
        var profile = try Profiles.load("bluefors-ld400.yaml")
        profile.physics.field.noise = 0
        let station = EmulatedStation(profile: profile)
        #expect(exchange(station.session("f71"), command) == reply)
    }

    @Test func threeAxisReadingIsANoisyVector() throws {
        let session = try station("bluefors-ld400.yaml").session("f71")
        let fields = exchange(session, "READ:DC? ALL\n").trimmingCharacters(in: .newlines).split(separator: ",").compactMap { Double($0) }
        #expect(fields.count == 3)
        #expect(abs(fields[2] - 5e-5) < 1e-6 && abs(fields[0]) < 1e-6)
        let magnitude = try #require(Double(exchange(session, "FETC:DC?\n").trimmingCharacters(in: .newlines)))
        #expect(abs(magnitude - 5e-5) < 1e-6)
    }

    @Test(arguments: [
        ("FOO:BAR?\n", "-113,\"Undefined header\""), ("FETC:DC? W\n", "-224,\"Illegal parameter value\""),
        ("UNIT:FIELD\n", "-109,\"Missing parameter\""), ("UNIT:FIELD FURLONG\n", "-224,\"Illegal parameter value\""),
        ("SENS::MODE?\n", "-102,\"Syntax error\""), ("PROBE:AXES 1\n", "-113,\"Undefined header\""), (String(repeating: "x", count: 5000) + "\n", "-363,\"Input buffer overrun\""),
    ])
    func errorsQueueForSystemError(command: String, error: String) throws {
        let session = try station("bluefors-ld400.yaml").session("f71")
        #expect(exchange(session, command) == "")
        #expect(exchange(session, "SYST:ERR?\n") == error + "\r\n")
        #expect(exchange(session, "SYST:ERR?\n") == "0,\"No error\"\r\n")
    }
}
