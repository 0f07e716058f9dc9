import Foundation

/// The `--flag value` arguments of a compare tool, read one flag at a time; a missing or malformed value
/// ends the program with a message naming the tool and the flag (exit status 2).
public struct CommandLineFlags {
    public let tool: String
    private var arguments: ArraySlice<String>

    public init(tool: String, arguments: [String] = CommandLine.arguments) {
        self.tool = tool
        self.arguments = arguments.dropFirst()
    }

    /// The next flag, or nil at the end.
    public mutating func next() -> String? {
        arguments.popFirst()
    }

    /// The value after `flag`.
    public mutating func value(_ flag: String) -> String {
        guard let next = arguments.popFirst() else { fail("\(flag) needs a value") }
        return next
    }

    /// The value after `flag`, parsed.
    public mutating func number<T: LosslessStringConvertible>(_ flag: String) -> T {
        let text = value(flag)
        guard let parsed = T(text) else { fail("bad value for \(flag): \(text)") }
        return parsed
    }

    /// The value of `flag` as a count, which must be at least 1.
    public mutating func count(_ flag: String) -> Int {
        let text = value(flag)
        guard let parsed = Int(text), parsed >= 1 else { fail("bad value for \(flag): \(text) (a whole number, at least 1)") }
        return parsed
    }

    public func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("\(tool): \(message)\n".utf8))
        exit(2)
    }
}
