import CivilTime
import Foundation
import Hummingbird

/// The upload-url response body, written straight into bytes.
///
/// `JSONSerialization` over a `[String: Any]` (boxing every value, sorting the keys, then
/// encoding) was a visible share of the handler's CPU under load (docs/benchmarks.md). The
/// document has a fixed shape, so it is written here in the order `JSONSerialization` with
/// `.sortedKeys` used (keys by code point), with the same escaping and unescaped `/`, so the
/// bytes are unchanged.
struct UploadURLResponse {
    let photoID: String
    let uploadURL: String
    let s3URL: String
    let method: String
    let expiresInSeconds: Int
    /// Written as ISO 8601 UTC to the second (``iso8601(_:)``).
    let expiresAt: Date
    /// Sorted by name when written.
    let headers: [(name: String, value: String)]
    let status: String

    /// The body bytes.
    var bytes: [UInt8] {
        var writer = JSONObjectWriter()
        writer.string("complete_url", "/api/v1/photos/\(photoID)/complete")
        writer.string("expires_at", Self.iso8601(expiresAt))
        writer.number("expires_in_seconds", expiresInSeconds)
        writer.object("headers", headers.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) })
        writer.string("method", method)
        writer.string("photo_id", photoID)
        writer.string("s3_url", s3URL)
        writer.string("status", status)
        writer.string("status_url", "/api/v1/photos/\(photoID)")
        writer.string("upload_id", photoID)
        writer.string("upload_url", uploadURL)
        return writer.finish()
    }
}

extension UploadURLResponse {
    /// `2026-11-25T10:45:00Z`: what `PhotoRoutes.timestamp(_:)` writes (whole seconds, the
    /// fraction dropped), by arithmetic instead of a `Date.ISO8601FormatStyle`, which costs a
    /// calendar computation per call.
    static func iso8601(_ date: Date) -> String {
        let fields = UTCDateTime(secondsSince1970: Int(date.timeIntervalSince1970.rounded(.down)))
        var text = [UInt8]()
        text.reserveCapacity(20)
        fields.appendDate(to: &text)
        text.append(UInt8(ascii: "T"))
        fields.appendTime(to: &text)
        text.append(UInt8(ascii: "Z"))
        return String(decoding: text, as: UTF8.self)
    }
}

/// A JSON object written member by member; the caller supplies keys in the order wanted.
struct JSONObjectWriter {
    private var buffer: [UInt8] = [UInt8(ascii: "{")]

    init() {
        buffer.reserveCapacity(1024)
    }

    mutating func string(_ key: String, _ value: String) {
        member(key)
        Self.append(string: value, to: &buffer)
    }

    mutating func number(_ key: String, _ value: Int) {
        member(key)
        buffer.append(contentsOf: String(value).utf8)
    }

    /// An array of strings.
    mutating func strings(_ key: String, _ values: [String]) {
        member(key)
        buffer.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { buffer.append(UInt8(ascii: ",")) }
            Self.append(string: value, to: &buffer)
        }
        buffer.append(UInt8(ascii: "]"))
    }

    /// A nested object of string members, in the order given.
    mutating func object(_ key: String, _ members: [(name: String, value: String)]) {
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

    mutating func finish() -> [UInt8] {
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
    static func append(string: String, to buffer: inout [UInt8]) {
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
