import Foundation

/// UUIDs as the services exchange them: the canonical 36-character text, lowercase, and random
/// version-4 values.
///
/// Foundation on Linux formats (`uuidString`) with `sprintf`, parses (`UUID(uuidString:)`)
/// with `sscanf`, and opens, reads and closes `/dev/urandom` for every `UUID()`. An upload-url
/// request does each several times (photo id, request id, S3 key, SQL parameters); in a
/// `perf` profile of the benchmark these calls were about 3 % of the whole machine.
extension UUID {
    /// The canonical text in lowercase, e.g. `6ba7b810-9dad-11d1-80b4-00c04fd430c8`: what the
    /// contract's JSON, the S3 keys and Postgres's own `uuid` output use.
    public var lowercasedString: String {
        withUnsafeBytes(of: uuid) { bytes in
            String(unsafeUninitializedCapacity: 36) { text in
                var position = 0
                for (index, byte) in bytes.enumerated() {
                    if Self.hyphenBefore(byteIndex: index) {
                        text[position] = UInt8(ascii: "-")
                        position += 1
                    }
                    text[position] = Self.hexDigit(byte >> 4)
                    text[position + 1] = Self.hexDigit(byte & 0x0f)
                    position += 2
                }
                return position
            }
        }
    }

    /// Parses the canonical 8-4-4-4-12 hex form in either case; anything else (braces, a
    /// missing hyphen, spaces) is `nil`. Stricter than `UUID(uuidString:)`, whose `sscanf`
    /// skips spaces inside a group and takes a single hex digit for a byte, so that it reads
    /// `" 6ba7b810-9dad-11d1-80b4-00c04fd430c"` as a UUID.
    public init?(canonicalText text: String) {
        var text = text
        guard let value = text.withUTF8(Self.parse) else { return nil }
        self.init(uuid: value)
    }

    /// A random version-4 UUID (RFC 9562 section 5.4) from the system's CSPRNG
    /// (`SystemRandomNumberGenerator`: `getrandom(2)` on Linux, no file descriptor).
    public static func randomVersion4() -> UUID {
        var generator = SystemRandomNumberGenerator()
        var value: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &value) { bytes in
            bytes.storeBytes(of: generator.next() as UInt64, toByteOffset: 0, as: UInt64.self)
            bytes.storeBytes(of: generator.next() as UInt64, toByteOffset: 8, as: UInt64.self)
            bytes[6] = bytes[6] & 0x0f | 0x40  // version 4
            bytes[8] = bytes[8] & 0x3f | 0x80  // variant 10 (RFC 9562)
        }
        return UUID(uuid: value)
    }

    private static func parse(_ text: UnsafeBufferPointer<UInt8>) -> uuid_t? {
        guard text.count == 36 else { return nil }
        var value: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        let parsed = withUnsafeMutableBytes(of: &value) { bytes -> Bool in
            var position = 0
            for index in 0..<16 {
                if hyphenBefore(byteIndex: index) {
                    guard text[position] == UInt8(ascii: "-") else { return false }
                    position += 1
                }
                guard let high = hexValue(text[position]), let low = hexValue(text[position + 1]) else {
                    return false
                }
                bytes[index] = high << 4 | low
                position += 2
            }
            return true
        }
        return parsed ? value : nil
    }

    /// The canonical form puts a hyphen before bytes 4, 6, 8 and 10.
    private static func hyphenBefore(byteIndex index: Int) -> Bool {
        index == 4 || index == 6 || index == 8 || index == 10
    }

    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }

    private static func hexValue(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
