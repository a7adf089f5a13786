import Foundation
import Postgres

/// One photo as the API reads it, with the project's organization for the access check.
struct PhotoRecord: Sendable {
    struct HistoryEntry: Sendable {
        let status: String
        let at: Date
    }

    let id: UUID
    let projectID: UUID
    let organizationID: UUID
    let userID: UUID
    let fileName: String
    let mimeType: String
    let fileSize: Int
    let width: Int?
    let height: Int?
    let s3Key: String
    let status: String
    /// The server's exact `created_at` text (microseconds), which list cursors carry verbatim
    /// so that no rounding can skip or repeat a row.
    let createdAtText: String
    let createdAt: Date
    let uploadedAt: Date?
    let processingAt: Date?
    let completedAt: Date?
    let failedAt: Date?
    let checksumSHA256: String?
    let exifJSON: String
    let detectionTypesJSON: String
    let priority: String
    let detectionResultJSON: String?
    let error: String?
    /// Oldest first; empty when not loaded (lists).
    var history: [HistoryEntry] = []

    init(row: Row) throws {
        id = try row.decode("id")
        projectID = try row.decode("project_id")
        organizationID = try row.decode("organization_id")
        userID = try row.decode("user_id")
        fileName = try row.decode("file_name")
        mimeType = try row.decode("mime_type")
        fileSize = try row.decode("file_size")
        width = try row.decodeIfPresent("width")
        height = try row.decodeIfPresent("height")
        s3Key = try row.decode("s3_key")
        status = try row.decode("status")
        createdAtText = try row.decode("created_at")
        createdAt = try row.decode("created_at")
        uploadedAt = try row.decodeIfPresent("uploaded_at")
        processingAt = try row.decodeIfPresent("processing_at")
        completedAt = try row.decodeIfPresent("completed_at")
        failedAt = try row.decodeIfPresent("failed_at")
        checksumSHA256 = try row.decodeIfPresent("checksum_sha256")
        exifJSON = try row.decode("exif_data")
        detectionTypesJSON = try row.decode("detection_types")
        priority = try row.decode("priority")
        detectionResultJSON = try row.decodeIfPresent("detection_result")
        error = try row.decodeIfPresent("error")
    }
}

/// The SQL of the photo endpoints: named, parameterised statements, each prepared once per
/// connection, and the transactions that use them.
enum PhotoStore {
    /// What `photos p JOIN projects pr` selects for a ``PhotoRecord``.
    private static let photoColumns = """
        p.id, p.project_id, pr.organization_id, p.user_id, p.file_name, p.mime_type, p.file_size,
        p.width, p.height, p.s3_key, p.status, p.created_at, p.uploaded_at, p.processing_at,
        p.completed_at, p.failed_at, p.checksum_sha256, p.exif_data::text AS exif_data,
        array_to_json(p.detection_types)::text AS detection_types, p.priority,
        p.detection_result::text AS detection_result, p.error
        """

    static let selectProjectOrganization = PreparedStatement(
        name: "photo_api_select_project_organization",
        sql: "SELECT organization_id FROM projects WHERE id = $1"
    )

    static let selectPhoto = PreparedStatement(
        name: "photo_api_select_photo",
        sql: "SELECT \(photoColumns) FROM photos p JOIN projects pr ON pr.id = p.project_id WHERE p.id = $1"
    )

    static let selectHistory = PreparedStatement(
        name: "photo_api_select_status_history",
        sql: "SELECT status, at FROM photo_status_history WHERE photo_id = $1 ORDER BY at, id"
    )

    /// Newest first by `(created_at, id)`; `$2`/`$3` is the last row of the previous page, or
    /// (`infinity`, the largest UUID) for the first page. The row-value comparison and the two
    /// statements (with and without the status filter) keep every page an index range scan on
    /// `(project_id[, status], created_at DESC, id DESC)`, whatever plan the server caches.
    static let listPhotos = PreparedStatement(
        name: "photo_api_list_photos",
        sql: """
            SELECT \(photoColumns) FROM photos p JOIN projects pr ON pr.id = p.project_id
            WHERE p.project_id = $1 AND (p.created_at, p.id) < ($2::timestamptz, $3::uuid)
            ORDER BY p.created_at DESC, p.id DESC
            LIMIT $4
            """
    )

    static let listPhotosWithStatus = PreparedStatement(
        name: "photo_api_list_photos_with_status",
        sql: """
            SELECT \(photoColumns) FROM photos p JOIN projects pr ON pr.id = p.project_id
            WHERE p.project_id = $1 AND p.status = $5 AND (p.created_at, p.id) < ($2::timestamptz, $3::uuid)
            ORDER BY p.created_at DESC, p.id DESC
            LIMIT $4
            """
    )

    /// Sorts after every real `(created_at, id)`: the start of the first page.
    private static let firstPageTimestamp = "infinity"
    private static let firstPageID = "ffffffff-ffff-ffff-ffff-ffffffffffff"

    /// Expired keys are dead: removing one first lets the key start over.
    static let deleteExpiredIdempotencyKey = PreparedStatement(
        name: "photo_api_delete_expired_idempotency_key",
        sql: "DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND expires_at <= now()"
    )

    static let selectIdempotencyKey = PreparedStatement(
        name: "photo_api_select_idempotency_key",
        sql: "SELECT request_hash, photo_id FROM idempotency_keys WHERE user_id = $1 AND key = $2"
    )

    /// `DO NOTHING` makes the loser of two concurrent first requests wait for the winner's
    /// commit and then return no row, instead of aborting its transaction with an error.
    static let insertIdempotencyKey = PreparedStatement(
        name: "photo_api_insert_idempotency_key",
        sql: """
            INSERT INTO idempotency_keys (user_id, key, request_hash, photo_id)
            VALUES ($1, $2, $3, $4)
            ON CONFLICT (user_id, key) DO NOTHING
            RETURNING photo_id
            """
    )

    static let insertPhoto = PreparedStatement(
        name: "photo_api_insert_photo",
        sql: """
            INSERT INTO photos (id, project_id, user_id, file_name, mime_type, file_size, checksum_sha256,
                                s3_bucket, s3_key, status, detection_types, priority, upload_expires_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending_upload', $10::text[], $11, $12)
            """
    )

    static let insertInitialHistory = PreparedStatement(
        name: "photo_api_insert_initial_history",
        sql: """
            INSERT INTO photo_status_history (photo_id, status, previous_status, changed_by)
            VALUES ($1, 'pending_upload', NULL, 'api')
            """
    )

    /// A replayed request hands out a fresh URL; a still pending photo must not be reconciled
    /// as expired while that URL is valid.
    static let extendUploadExpiry = PreparedStatement(
        name: "photo_api_extend_upload_expiry",
        sql: """
            UPDATE photos SET upload_expires_at = greatest(upload_expires_at, $2), updated_at = now()
            WHERE id = $1 AND status = 'pending_upload'
            """
    )

    /// What happened to an upload-URL request.
    enum CreateOutcome: Sendable {
        case created(PhotoRecord)
        case replayed(PhotoRecord)
        case projectNotFound
        case projectForbidden
        case keyReusedWithAnotherBody
    }

    /// A new photo for `upload`.
    struct NewPhoto: Sendable {
        let id: UUID
        let userID: UUID
        let organizationID: UUID
        let bucket: String
        let key: String
        let expiresAt: Date
        let idempotencyKey: String?
        let requestHash: String
    }

    /// Lost the race for the idempotency key: roll back and look again.
    private struct IdempotencyRace: Error {}

    /// Checks the project, honours the idempotency key, and inserts the photo, its first
    /// history row and the key, all in one transaction.
    static func createUpload(
        _ upload: UploadRequestValues,
        _ photo: NewPhoto,
        pool: ConnectionPool
    ) async throws -> CreateOutcome {
        do {
            return try await pool.withTransaction { try createUpload(upload, photo, on: $0) }
        } catch is IdempotencyRace {
            // The winner has committed by now (the insert waited for it): this run finds its key.
            return try await pool.withTransaction { try createUpload(upload, photo, on: $0) }
        }
    }

    private static func createUpload(
        _ upload: UploadRequestValues,
        _ photo: NewPhoto,
        on connection: Connection
    ) throws -> CreateOutcome {
        guard let project = try connection.execute(selectProjectOrganization, [upload.projectID]).first else {
            return .projectNotFound
        }
        guard try project.decode("organization_id", as: UUID.self) == photo.organizationID else {
            return .projectForbidden
        }
        if let key = photo.idempotencyKey {
            try connection.execute(deleteExpiredIdempotencyKey, [photo.userID, key])
            if let existing = try connection.execute(selectIdempotencyKey, [photo.userID, key]).first {
                guard try existing.decode("request_hash", as: String.self) == photo.requestHash else {
                    return .keyReusedWithAnotherBody
                }
                let photoID = try existing.decode("photo_id", as: UUID.self)
                try connection.execute(extendUploadExpiry, [photoID, photo.expiresAt])
                guard let record = try loadPhoto(photoID, on: connection) else {
                    throw PostgresError(code: .decodingFailed, message: "idempotency key without its photo")
                }
                return .replayed(record)
            }
        }
        try connection.execute(
            insertPhoto,
            [
                photo.id, upload.projectID, photo.userID, upload.fileName, upload.mimeType, upload.fileSize,
                upload.checksumSHA256, photo.bucket, photo.key, upload.detectionTypes, upload.priority,
                photo.expiresAt,
            ]
        )
        try connection.execute(insertInitialHistory, [photo.id])
        if let key = photo.idempotencyKey {
            let inserted = try connection.execute(
                insertIdempotencyKey,
                [photo.userID, key, photo.requestHash, photo.id]
            )
            if inserted.rows.isEmpty { throw IdempotencyRace() }
        }
        guard let record = try loadPhoto(photo.id, on: connection) else {
            throw PostgresError(code: .decodingFailed, message: "the inserted photo is missing")
        }
        return .created(record)
    }

    /// The photo with its status history, or `nil`.
    static func loadPhoto(_ id: UUID, on connection: Connection) throws -> PhotoRecord? {
        guard let row = try connection.execute(selectPhoto, [id]).first else { return nil }
        var record = try PhotoRecord(row: row)
        record.history = try connection.execute(selectHistory, [id]).rows.map {
            PhotoRecord.HistoryEntry(status: try $0.decode("status"), at: try $0.decode("at"))
        }
        return record
    }

    /// The project's organization, or `nil` when it does not exist.
    static func projectOrganization(_ projectID: UUID, on connection: Connection) throws -> UUID? {
        try connection.execute(selectProjectOrganization, [projectID]).first?.decode("organization_id")
    }

    /// One page, newest first: at most `limit` rows after `cursor`.
    static func listPhotos(
        projectID: UUID,
        status: String?,
        after cursor: PhotoListCursor?,
        limit: Int,
        on connection: Connection
    ) throws -> [PhotoRecord] {
        var parameters: [(any PostgresEncodable)?] = [
            projectID,
            cursor?.createdAtText ?? firstPageTimestamp,
            cursor?.id.uuidString.lowercased() ?? firstPageID,
            limit,
        ]
        if let status { parameters.append(status) }
        return try connection.execute(status == nil ? listPhotos : listPhotosWithStatus, parameters)
            .rows.map(PhotoRecord.init(row:))
    }
}

/// The Postgres-ready values of a validated `UploadRequest`.
struct UploadRequestValues: Sendable {
    let projectID: UUID
    let fileName: String
    let fileSize: Int
    let mimeType: String
    let detectionTypes: [String]
    let priority: String
    let checksumSHA256: String?
}

/// The opaque `cursor` of the photo list: base64url of `created_at|id` of the last row served.
///
/// The timestamp is the server's own text (microsecond precision) so the keyset comparison is
/// exact. Clients must treat it as opaque; anything that does not decode is a 400.
struct PhotoListCursor: Sendable, Equatable {
    let createdAtText: String
    let id: UUID

    init(createdAtText: String, id: UUID) {
        self.createdAtText = createdAtText
        self.id = id
    }

    init?(encoded: String) {
        guard let bytes = Base64URLCursor.decode(encoded) else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        let parts = text.split(separator: "|", omittingEmptySubsequences: false)
        guard parts.count == 2, Date(postgresText: String(parts[0])) != nil,
            let id = UUID(uuidString: String(parts[1]))
        else { return nil }
        self.createdAtText = String(parts[0])
        self.id = id
    }

    var encoded: String {
        Base64URLCursor.encode(Array("\(createdAtText)|\(id.uuidString.lowercased())".utf8))
    }
}

/// Unpadded base64url, the cursor's alphabet (safe in a query string without escaping).
enum Base64URLCursor {
    static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ text: String) -> [UInt8]? {
        guard !text.isEmpty, text.count <= 200,
            text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
        else { return nil }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64).map(Array.init)
    }
}
