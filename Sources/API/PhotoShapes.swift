import AWS
import Domain
import Foundation
import Hummingbird
import PhotoStore
import UUIDCoding
import WireFormats

/// The contract's photo object (`GET /api/v1/photos/{photo_id}`, the list's items, and the
/// answers of `complete` and `PATCH .../status`), built from a stored photo.
struct PhotoShapes: Sendable {
    /// Formats `s3_url`s.
    let presigner: S3Presigner
    /// Signs `download_url`s.
    let downloads: DownloadURLs

    /// The photo with its history, as a `200` JSON response.
    func response(_ photo: StoredPhoto) async throws -> Response {
        Self.jsonResponse(object(photo, includeHistory: true, downloads: await downloads.signer()))
    }

    /// The contract's photo object, written straight into bytes; `status_history` only with
    /// `includeHistory`; `download_url` and `download_url_expires_at` when `downloads` can sign
    /// and the photo's object is stored.
    ///
    /// `JSONSerialization` over a `[String: Any]` with `.sortedKeys` was over a third of
    /// photo-api's CPU for a confirmation (on Linux it sorts the keys through ICU collation;
    /// docs/benchmarks.md, "complete"). The keys are written here in the order it used (code
    /// points); `exif_data` and the detection result are the `jsonb` text Postgres returned.
    func object(_ photo: StoredPhoto, includeHistory: Bool, downloads: DownloadURLs.Signer?) -> [UInt8] {
        var writer = JSONObjectWriter()
        writer.string("completed_at", photo.completedAt.map(Self.timestamp))
        writer.string("created_at", Self.timestamp(photo.createdAt))
        writer.object("detection") { detection in
            detection.string("priority", photo.priority.rawValue)
            if let result = photo.detectionResultJSON, !result.isEmpty {
                detection.json("result", result)
            } else {
                detection.null("result")
            }
            detection.string("status", Self.detectionStatus(photo.status))
            detection.strings("types", photo.detectionTypes)
        }
        if let link = downloads?.link(for: photo) {
            writer.string("download_url", link.url)
            writer.string("download_url_expires_at", link.expiresAt)
        }
        writer.string("error", photo.error)
        // `exif_data` is a `jsonb` object by its column's domain.
        writer.json("exif_data", photo.exifJSON.isEmpty ? "{}" : photo.exifJSON)
        writer.string("failed_at", photo.failedAt.map(Self.timestamp))
        writer.string("file_name", photo.fileName)
        writer.number("file_size", photo.fileSize)
        writer.number("height", photo.height)
        writer.string("id", photo.photoID.lowercasedString)
        writer.string("mime_type", photo.mediaType.mimeType)
        writer.string("processing_at", photo.processingAt.map(Self.timestamp))
        writer.string("project_id", photo.projectID.lowercasedString)
        writer.string("s3_etag", photo.s3ETag)
        writer.string("s3_key", photo.s3Key)
        writer.string("s3_url", presigner.s3URL(key: photo.s3Key))
        writer.string("s3_version_id", photo.s3VersionID)
        writer.string("status", photo.status.rawValue)
        if includeHistory {
            writer.array(
                "status_history",
                photo.history.map { entry in
                    var item = JSONObjectWriter()
                    item.string("at", Self.timestamp(entry.at))
                    item.string("status", entry.status.rawValue)
                    return item.finish()
                }
            )
        }
        writer.string("uploaded_at", photo.uploadedAt.map(Self.timestamp))
        writer.string("user_id", photo.userID.lowercasedString)
        writer.number("width", photo.width)
        return writer.finish()
    }

    /// Detection has not started before the photo is `processing`: `pending` until then, and
    /// the photo's own status afterwards (the pipeline's outcome is the photo's outcome).
    static func detectionStatus(_ status: PhotoStatus) -> String {
        switch status {
        case .pendingUpload, .uploaded: "pending"
        case .processing, .completed, .failed: status.rawValue
        }
    }

    /// ISO 8601 UTC to the second, e.g. `2026-11-25T10:45:00Z`.
    static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(timeZone: .gmt))
    }

    /// A `200` with `bytes` as its JSON body.
    static func jsonResponse(_ bytes: [UInt8]) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes))
        )
    }
}
