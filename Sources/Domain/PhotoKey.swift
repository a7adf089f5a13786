import CivilTime
import Foundation
import UUIDCoding

/// The S3 object key of a photo: `{project_id}/{yyyy}/{mm}/{dd}/{photo_id}.{jpg|png}`.
///
/// The key is derived only from server-chosen values (never the client's `file_name`), so a
/// client cannot pick or collide with another object. The date is the UTC day the upload URL
/// was issued, which spreads a project's objects over prefixes and makes lifecycle rules and
/// manual browsing by day possible. UUIDs are lower case, as everywhere else in the API.
public enum PhotoKey {
    /// The file extension for an accepted MIME type; `nil` for any other type.
    public static func fileExtension(forMimeType mimeType: String) -> String? {
        switch mimeType {
        case "image/jpeg": "jpg"
        case "image/png": "png"
        default: nil
        }
    }

    /// The key, or `nil` when `mimeType` is not one the API accepts.
    public static func make(projectID: UUID, photoID: UUID, mimeType: String, date: Date) -> String? {
        guard let fileExtension = fileExtension(forMimeType: mimeType) else { return nil }
        let fields = UTCDateTime(secondsSince1970: Int(date.timeIntervalSince1970.rounded(.down)))
        var path: [UInt8] = []
        fields.appendDate(separator: UInt8(ascii: "/"), to: &path)
        let datePath = String(decoding: path, as: UTF8.self)
        return "\(projectID.lowercasedString)/\(datePath)/\(photoID.lowercasedString).\(fileExtension)"
    }
}
