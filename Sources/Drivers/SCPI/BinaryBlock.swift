/// The IEEE 488.2 arbitrary block (`#<n><length><data>` or `#0<data>`), scanned incrementally: the
/// session calls ``scan(_:from:terminator:maxLength:searchFrom:)`` after each read until it is complete.
enum BinaryBlock {
    enum Scan: Equatable {
        /// More bytes are needed.
        case incomplete
        /// The data bytes, and the index just past the block's terminator.
        case complete(data: Range<Int>, end: Int)
    }

    /// Scans the block that starts at `bytes[start]` and ends with `terminator`.
    ///
    /// A definite block `#<n><n digits>` must be followed by exactly the announced number of bytes, then the
    /// terminator: when the header lies about the length, the bytes after the data are not the terminator
    /// and this throws as soon as they arrive. An indefinite block `#0` ends at the first terminator.
    /// More than `maxLength` data bytes throw, for a definite block as soon as its header is read.
    /// `searchFrom` lets a caller that scanned before skip the part of a `#0` block already searched.
    static func scan(
        _ bytes: [UInt8], from start: Int, terminator: [UInt8], maxLength: Int, searchFrom: Int = 0
    ) throws(ReplyFormatError) -> Scan {
        precondition(!terminator.isEmpty && maxLength >= 0 && (0...bytes.count).contains(start))
        let available = bytes.count - start
        guard available >= 1 else { return .incomplete }
        guard bytes[start] == UInt8(ascii: "#") else {
            throw ReplyFormatError("a binary block starting with \"#\"")
        }
        guard available >= 2 else { return .incomplete }
        guard let lengthDigits = digitValue(bytes[start + 1]) else {
            throw ReplyFormatError("a digit 0-9 after \"#\" giving the number of length digits")
        }
        let headerEnd = start + 2 + lengthDigits
        if lengthDigits == 0 {
            var index = max(start + 2, searchFrom)
            while index + terminator.count <= bytes.count {
                if bytes[index..<index + terminator.count].elementsEqual(terminator) {
                    guard index - (start + 2) <= maxLength else { break }
                    return .complete(data: start + 2..<index, end: index + terminator.count)
                }
                index += 1
            }
            guard bytes.count - (start + 2) <= maxLength + terminator.count - 1 else {
                throw ReplyFormatError("an indefinite block (#0) of at most \(maxLength) bytes")
            }
            return .incomplete
        }
        var length = 0
        for index in start + 2..<min(headerEnd, bytes.count) {
            guard let digit = digitValue(bytes[index]) else {
                throw ReplyFormatError("\(lengthDigits) length digits after \"#\(lengthDigits)\"")
            }
            length = length * 10 + digit
        }
        guard bytes.count >= headerEnd else { return .incomplete }
        guard length <= maxLength else {
            throw ReplyFormatError("a block of at most \(maxLength) bytes, but the header announces \(length)")
        }
        let dataEnd = headerEnd + length
        let end = dataEnd + terminator.count
        for (offset, expected) in terminator.enumerated() where dataEnd + offset < bytes.count {
            guard bytes[dataEnd + offset] == expected else {
                throw ReplyFormatError(
                    "the terminator right after the \(length) data bytes the header announces (the length field "
                        + "does not match the data)")
            }
        }
        guard bytes.count >= end else { return .incomplete }
        return .complete(data: headerEnd..<dataEnd, end: end)
    }

    private static func digitValue(_ byte: UInt8) -> Int? {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) ? Int(byte - UInt8(ascii: "0")) : nil
    }
}
