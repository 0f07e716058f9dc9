import Foundation

/// Any JSON value, for command parameters and results.
public enum JSONValue: Sendable, Equatable, Codable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let b = try? container.decode(Bool.self) { self = .bool(b) }
        else if let n = try? container.decode(Double.self) { self = .number(n) }
        else if let s = try? container.decode(String.self) { self = .string(s) }
        else if let a = try? container.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case let .bool(b): try container.encode(b)
        case let .number(n): try n.isFinite ? container.encode(n) : container.encodeNil()
        case let .string(s): try container.encode(s)
        case let .array(a): try container.encode(a)
        case let .object(o): try container.encode(o)
        }
    }

    /// The value as parameter text: a string as is, a number as written, a list as its items.
    var text: String? {
        switch self {
        case let .string(s): s
        case let .number(n): n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : String(n)
        case let .bool(b): String(b)
        default: nil
        }
    }

    /// An Encodable value as JSON (for results).
    static func encoding<T: Encodable>(_ value: T) -> JSONValue {
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        guard let data = try? encoder.encode(value), let json = try? JSONDecoder().decode(JSONValue.self, from: data) else { return .null }
        return json
    }
}

/// A request to the node's command endpoint: one JSON object per message,
/// `{"id": "7", "command": "reserve", "resources": ["q0"], "ttl": "30s"}`.
public struct CommandRequest: Sendable, Codable {
    public var id: String?
    public var command: String
    public var lease: String?
    public var resources: [String]?
    /// A duration with its unit, e.g. "30s".
    public var ttl: String?
    public var interlock: String?
    public var experiment: String?
    public var qubit: String?
    public var run: String?
    public var parameters: [String: JSONValue]?

    public init(id: String? = nil, command: String) {
        self.id = id
        self.command = command
    }
}

/// Why a command failed, as a code programs switch on and a sentence people read.
public struct CommandFailure: Error, Sendable, Equatable, Codable, CustomStringConvertible {
    public enum Code: String, Sendable, Codable {
        /// Not JSON, a missing or malformed field, or a value out of range.
        case badRequest
        case unknownCommand
        /// No such qubit, instrument, channel, interlock or experiment.
        case unknownResource
        /// Another lease holds the resource.
        case busy
        /// No live lease, or the lease does not hold the resource.
        case noLease
        /// The lease or run belongs to another client.
        case unauthorized
        /// The station is not in the state the experiment needs (warm fridge, active alarm).
        case notAdmitted
        /// The interlock's condition still holds, so it was not re-armed.
        case stillTripped
        /// The command was valid but failed on the instruments.
        case failed
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

/// The answer to one request: `{"id": "7", "ok": true, "result": {…}}` or
/// `{"id": "7", "ok": false, "error": {"code": "busy", "message": "…"}}`.
public struct CommandReply: Sendable, Codable {
    public var id: String?
    public var ok: Bool
    public var result: JSONValue?
    public var error: CommandFailure?
}
