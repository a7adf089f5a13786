/// A JSON object written member by member; the caller supplies keys in the order wanted.
///
/// For documents of a fixed shape on hot paths (the upload-url response, the batched insert's
/// rows): `JSONSerialization` boxes every value and `JSONEncoder` goes through `Codable`'s
/// containers, both several times the cost of appending the bytes (docs/benchmarks.md).
public struct JSONObjectWriter: Sendable {
    private var buffer: [UInt8] = [UInt8(ascii: "{")]

    public init() {
        buffer.reserveCapacity(1024)
    }

    public mutating func string(_ key: String, _ value: String) {
        member(key)
        Self.append(string: value, to: &buffer)
    }

    public mutating func number(_ key: String, _ value: Int) {
        member(key)
        buffer.append(contentsOf: String(value).utf8)
    }

    /// An array of strings.
    public mutating func strings(_ key: String, _ values: [String]) {
        member(key)
        buffer.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { buffer.append(UInt8(ascii: ",")) }
            Self.append(string: value, to: &buffer)
        }
        buffer.append(UInt8(ascii: "]"))
    }

    /// A nested object of string members, in the order given.
    public mutating func object(_ key: String, _ members: [(name: String, value: String)]) {
        member(key)
        buffer.append(UInt8(ascii: "{"))
        for (index, field) in members.enumerated() {
            if index > 0 { buffer.append(UInt8(ascii: ",")) }
            Self.append(string: field.name, to: &buffer)
            buffer.append(UInt8(ascii: ":"))
            Self.append(string: field.value, to: &buffer)
        }
        buffer.append(UInt8(ascii: "}"))
    }

    /// `null`.
    public mutating func null(_ key: String) {
        member(key)
        buffer.append(contentsOf: "null".utf8)
    }

    /// The string, or `null` without one.
    public mutating func string(_ key: String, _ value: String?) {
        guard let value else { return null(key) }
        string(key, value)
    }

    /// The number, or `null` without one.
    public mutating func number(_ key: String, _ value: Int?) {
        guard let value else { return null(key) }
        number(key, value)
    }

    /// A value that already is JSON text (say, a `jsonb` column as Postgres prints it), copied as
    /// is: the caller vouches for it.
    public mutating func json(_ key: String, _ text: String) {
        member(key)
        buffer.append(contentsOf: text.utf8)
    }

    /// A nested object, its members written by `members` in the order wanted.
    public mutating func object(_ key: String, _ members: (inout JSONObjectWriter) -> Void) {
        var nested = JSONObjectWriter()
        members(&nested)
        member(key)
        buffer.append(contentsOf: nested.finish())
    }

    /// An array of documents already written (each a `finish()` of its own).
    public mutating func array(_ key: String, _ elements: [[UInt8]]) {
        member(key)
        buffer.append(UInt8(ascii: "["))
        for (index, element) in elements.enumerated() {
            if index > 0 { buffer.append(UInt8(ascii: ",")) }
            buffer.append(contentsOf: element)
        }
        buffer.append(UInt8(ascii: "]"))
    }

    public mutating func finish() -> [UInt8] {
        buffer.append(UInt8(ascii: "}"))
        return buffer
    }

    private mutating func member(_ key: String) {
        if buffer.count > 1 { buffer.append(UInt8(ascii: ",")) }
        Self.append(string: key, to: &buffer)
        buffer.append(UInt8(ascii: ":"))
    }

    /// A JSON string: `"` and `\` escaped, control characters as `\b \f \n \r \t` or `\u00XX`,
    /// everything else (including `/` and non-ASCII UTF-8) as is.
    public static func append(string: String, to buffer: inout [UInt8]) {
        buffer.append(UInt8(ascii: "\""))
        // Pre-signed URLs and ids need no escaping: copy them whole rather than byte by byte.
        if !string.utf8.contains(where: needsEscaping) {
            buffer.append(contentsOf: string.utf8)
        } else {
            for byte in string.utf8 { appendEscaped(byte, to: &buffer) }
        }
        buffer.append(UInt8(ascii: "\""))
    }

    private static func needsEscaping(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }

    private static func appendEscaped(_ byte: UInt8, to buffer: inout [UInt8]) {
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"):
            buffer.append(UInt8(ascii: "\\"))
            buffer.append(byte)
        case 0x08: buffer.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
        case 0x0C: buffer.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
        case 0x0A: buffer.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
        case 0x0D: buffer.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
        case 0x09: buffer.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
        case 0x00..<0x20:
            buffer.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
            buffer.append(hexDigit(byte >> 4))
            buffer.append(hexDigit(byte & 0x0F))
        default:
            buffer.append(byte)
        }
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }
}
