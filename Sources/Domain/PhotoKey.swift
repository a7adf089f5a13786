import Foundation

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
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? TimeZone(secondsFromGMT: 0) ?? calendar.timeZone
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        let year = parts.year ?? 1970
        let month = parts.month ?? 1
        let day = parts.day ?? 1
        let datePath = String(format: "%04d/%02d/%02d", year, month, day)
        return "\(projectID.uuidString.lowercased())/\(datePath)/\(photoID.uuidString.lowercased()).\(fileExtension)"
    }
}
