import SwiftProtobuf

extension TelemetryMessage {
    /// One JSON object on one line: topic, header fields, continuity and the payload in
    /// protobuf's JSON mapping (64-bit integers as strings), for `qrrm telemetry tail`.
    public func jsonLine() -> String {
        var line = "{\"topic\":\(jsonString(topic)),\"publisher\":\(jsonString(header.publisherID))"
        line += ",\"instance\":\"\(hexInstance(header.publisherInstance))\",\"sequence\":\(header.sequence)"
        line += ",\"monotonic_ns\":\(header.monotonicNs),\"wall_ns\":\(header.wallNs)"
        switch continuity {
        case .first: line += ",\"continuity\":\"first\""
        case .inOrder: line += ",\"continuity\":\"in-order\""
        case .gap(let missed): line += ",\"continuity\":\"gap\",\"missed\":\(missed)"
        case .restart: line += ",\"continuity\":\"restart\""
        case .regression(let expected): line += ",\"continuity\":\"regression\",\"expected\":\(expected)"
        }
        // Encoding a decoded message back to JSON cannot fail: every field it holds is set.
        let payloadJSON = (try? payload.jsonString()) ?? "null"
        return line + ",\"payload\":\(payloadJSON)}"
    }
}

/// A publisher instance as 16 hex digits.
func hexInstance(_ instance: UInt64) -> String {
    let digits = String(instance, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
}

/// `text` as a JSON string literal.
func jsonString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 {
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}
