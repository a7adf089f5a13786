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
    /// The key of the photo `photoID` of `projectID`, uploaded as `mediaType` on `date`'s UTC day.
    public static func make(projectID: UUID, photoID: UUID, mediaType: MediaType, date: Date) -> String {
        let fields = UTCDateTime(secondsSince1970: Int(date.timeIntervalSince1970.rounded(.down)))
        var path: [UInt8] = []
        fields.appendDate(separator: UInt8(ascii: "/"), to: &path)
        let datePath = String(decoding: path, as: UTF8.self)
        return "\(projectID.lowercasedString)/\(datePath)/\(photoID.lowercasedString).\(mediaType.fileExtension)"
    }
}
