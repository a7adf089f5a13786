import AWS
import Domain
import Foundation
import Hummingbird
import PhotoStore
import UUIDCoding

/// The contract's photo object (`GET /api/v1/photos/{photo_id}`, the list's items, and the
/// answers of `complete` and `PATCH .../status`), built from a stored photo.
struct PhotoShapes: Sendable {
    /// Formats `s3_url`s.
    let presigner: S3Presigner
    /// Signs `download_url`s.
    let downloads: DownloadURLs

    /// The photo with its history, as a `200` JSON response.
    func response(_ photo: StoredPhoto) async throws -> Response {
        try Self.jsonResponse(json(photo, includeHistory: true, downloads: await downloads.signer()))
    }

    /// The contract's photo object; `status_history` only with `includeHistory`; `download_url`
    /// and `download_url_expires_at` when `downloads` can sign and the photo's object is stored.
    func json(_ photo: StoredPhoto, includeHistory: Bool, downloads: DownloadURLs.Signer?) -> [String: Any] {
        var json: [String: Any] = [
            "id": photo.photoID.lowercasedString,
            "project_id": photo.projectID.lowercasedString,
            "user_id": photo.userID.lowercasedString,
            "file_name": photo.fileName,
            "mime_type": photo.mediaType.mimeType,
            "file_size": photo.fileSize,
            "width": photo.width ?? NSNull(),
            "height": photo.height ?? NSNull(),
            "s3_key": photo.s3Key,
            "s3_url": presigner.s3URL(key: photo.s3Key),
            "s3_etag": photo.s3ETag ?? NSNull(),
            "s3_version_id": photo.s3VersionID ?? NSNull(),
            "status": photo.status.rawValue,
            "created_at": Self.timestamp(photo.createdAt),
            "uploaded_at": Self.timestamp(photo.uploadedAt),
            "processing_at": Self.timestamp(photo.processingAt),
            "completed_at": Self.timestamp(photo.completedAt),
            "failed_at": Self.timestamp(photo.failedAt),
            "exif_data": Self.parsedJSON(photo.exifJSON) ?? [String: Any](),
            "detection": [
                "status": Self.detectionStatus(photo.status),
                "types": photo.detectionTypes,
                "priority": photo.priority.rawValue,
                "result": photo.detectionResultJSON.flatMap(Self.parsedJSON) ?? NSNull(),
            ] as [String: Any],
            "error": photo.error ?? NSNull(),
        ]
        if let link = downloads?.link(for: photo) {
            json["download_url"] = link.url
            json["download_url_expires_at"] = link.expiresAt
        }
        if includeHistory {
            json["status_history"] = photo.history.map { ["status": $0.status.rawValue, "at": Self.timestamp($0.at)] }
        }
        return json
    }

    /// Detection has not started before the photo is `processing`: `pending` until then, and
    /// the photo's own status afterwards (the pipeline's outcome is the photo's outcome).
    static func detectionStatus(_ status: PhotoStatus) -> String {
        switch status {
        case .pendingUpload, .uploaded: "pending"
        case .processing, .completed, .failed: status.rawValue
        }
    }

    static func parsedJSON(_ text: String) -> Any? {
        try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
    }

    /// ISO 8601 UTC to the second, e.g. `2026-11-25T10:45:00Z`.
    static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(timeZone: .gmt))
    }

    static func timestamp(_ date: Date?) -> Any {
        date.map { timestamp($0) as Any } ?? NSNull()
    }

    static func jsonResponse(_ json: [String: Any]) throws -> Response {
        let data = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys, .withoutEscapingSlashes])
        return Response(
            status: .ok,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }
}
