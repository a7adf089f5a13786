import Foundation
import UUIDCoding

/// The `photo.uploaded` outbox event: its payload is the SQS message body the detection pipeline
/// receives (docs/operations.md, "The relay"), written in the same transaction that confirms the upload.
///
/// The contract names four fields, and `s3_etag` with, in a versioned bucket, `s3_version_id`:
/// the object the confirmation validated, so the pipeline processes those bytes and no others
/// (GET `?versionId=`, or `If-Match: <s3_etag>`). The others are additive, so the pipeline need
/// not read the photo back for what it already knows at confirmation time.
public struct PhotoUploadedEvent: Sendable, Equatable, Encodable {
    /// The `event_type` column and the `event_type` message attribute.
    public static let eventType = "photo.uploaded"

    public let photoID: UUID
    public let projectID: UUID
    /// `s3://bucket/key`.
    public let s3URL: String
    public let detectionTypes: [String]
    public let priority: UploadRequest.Priority
    public let mediaType: MediaType
    public let width: Int
    public let height: Int
    /// The validated object's `ETag`, quotes included.
    public let s3ETag: String
    /// The validated object's `VersionId`; `nil` (and absent from the JSON) in an unversioned bucket.
    public let s3VersionID: String?

    public init(
        photoID: UUID,
        projectID: UUID,
        bucket: String,
        key: String,
        detectionTypes: [String],
        priority: UploadRequest.Priority,
        mediaType: MediaType,
        width: Int,
        height: Int,
        s3ETag: String,
        s3VersionID: String?
    ) {
        self.photoID = photoID
        self.projectID = projectID
        s3URL = "s3://\(bucket)/\(key)"
        self.detectionTypes = detectionTypes
        self.priority = priority
        self.mediaType = mediaType
        self.width = width
        self.height = height
        self.s3ETag = s3ETag
        self.s3VersionID = s3VersionID
    }

    enum CodingKeys: String, CodingKey {
        case photoID = "photo_id"
        case projectID = "project_id"
        case s3URL = "s3_url"
        case detectionTypes = "detection_types"
        case priority
        case mediaType = "mime_type"
        case width
        case height
        case s3ETag = "s3_etag"
        case s3VersionID = "s3_version_id"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(photoID.lowercasedString, forKey: .photoID)
        try container.encode(projectID.lowercasedString, forKey: .projectID)
        try container.encode(s3URL, forKey: .s3URL)
        try container.encode(detectionTypes, forKey: .detectionTypes)
        try container.encode(priority.rawValue, forKey: .priority)
        try container.encode(mediaType.mimeType, forKey: .mediaType)
        try container.encode(width, forKey: .width)
        try container.encode(height, forKey: .height)
        try container.encode(s3ETag, forKey: .s3ETag)
        try container.encodeIfPresent(s3VersionID, forKey: .s3VersionID)
    }

    /// The JSON text stored in `outbox_events.payload`, keys sorted so equal events are equal text.
    public func payloadJSON() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Strings, numbers and arrays of strings always encode.
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}
