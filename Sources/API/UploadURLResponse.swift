import CivilTime
import Foundation
import Hummingbird
import WireFormats

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
        writer.string("status_url", Self.statusURL(photoID: photoID))
        writer.string("upload_id", photoID)
        writer.string("upload_url", uploadURL)
        return writer.finish()
    }
}

extension UploadURLResponse {
    /// `/api/v1/photos/<photo_id>`: where a client polls the photo; the `already_uploaded`
    /// problem of a late replay names the same URL.
    static func statusURL(photoID: String) -> String {
        "/api/v1/photos/\(photoID)"
    }

    /// `2026-11-25T10:45:00Z`: what `PhotoShapes.timestamp(_:)` writes (whole seconds, the
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
