import Domain
import Foundation
import Postgres

/// One photo as the database holds it, with its project's organization for the access check.
public struct StoredPhoto: Sendable {
    /// One row of `photo_status_history`.
    public struct HistoryEntry: Sendable, Equatable {
        public let status: PhotoStatus
        public let at: Date
    }

    public let photoID: UUID
    public let projectID: UUID
    public let organizationID: UUID
    public let userID: UUID
    public let fileName: String
    public let mediaType: MediaType
    public let fileSize: Int
    public let width: Int?
    public let height: Int?
    public let s3Key: String
    /// The `ETag` of the object `complete` validated; `nil` until then (and for photos confirmed
    /// before it was recorded).
    public let s3ETag: String?
    /// The validated object's `VersionId`, in a versioned bucket.
    public let s3VersionID: String?
    public let status: PhotoStatus
    /// The server's exact `created_at` text (microseconds), which list cursors carry verbatim
    /// so that no rounding can skip or repeat a row.
    public let createdAtText: String
    public let createdAt: Date
    public let uploadedAt: Date?
    public let processingAt: Date?
    public let completedAt: Date?
    public let failedAt: Date?
    public let checksumSHA256: String?
    /// `exif_data` as JSON object text.
    public let exifJSON: String
    public let detectionTypes: [String]
    public let priority: UploadRequest.Priority
    /// `detection_result` as JSON object text.
    public let detectionResultJSON: String?
    public let error: String?
    /// Oldest first; empty when not loaded (lists).
    public internal(set) var history: [HistoryEntry] = []

    /// What `photos p JOIN projects pr` selects for one, in the order ``init(row:)`` reads.
    static let columns = """
        p.id, p.project_id, pr.organization_id, p.user_id, p.file_name, p.mime_type, p.file_size,
        p.width, p.height, p.s3_key, p.s3_etag, p.s3_version_id, p.status, p.created_at, p.uploaded_at, p.processing_at,
        p.completed_at, p.failed_at, p.checksum_sha256, p.exif_data::text AS exif_data,
        array_to_json(p.detection_types)::text AS detection_types, p.priority,
        p.detection_result::text AS detection_result, p.error
        """

    init(row: Row) throws {
        photoID = try row.decode("id")
        projectID = try row.decode("project_id")
        organizationID = try row.decode("organization_id")
        userID = try row.decode("user_id")
        fileName = try row.decode("file_name")
        mediaType = try row.decode("mime_type")
        fileSize = try row.decode("file_size")
        width = try row.decodeIfPresent("width")
        height = try row.decodeIfPresent("height")
        s3Key = try row.decode("s3_key")
        s3ETag = try row.decodeIfPresent("s3_etag")
        s3VersionID = try row.decodeIfPresent("s3_version_id")
        status = try row.decode("status")
        createdAtText = try row.decode("created_at")
        createdAt = try row.decode("created_at")
        uploadedAt = try row.decodeIfPresent("uploaded_at")
        processingAt = try row.decodeIfPresent("processing_at")
        completedAt = try row.decodeIfPresent("completed_at")
        failedAt = try row.decodeIfPresent("failed_at")
        checksumSHA256 = try row.decodeIfPresent("checksum_sha256")
        exifJSON = try row.decode("exif_data")
        let typesJSON: String = try row.decode("detection_types")
        guard let types = try? JSONDecoder().decode([String].self, from: Data(typesJSON.utf8)) else {
            throw PostgresError(code: .decodingFailed, message: "column detection_types is not a text array")
        }
        detectionTypes = types
        priority = try row.decode("priority")
        detectionResultJSON = try row.decodeIfPresent("detection_result")
        error = try row.decodeIfPresent("error")
    }
}
