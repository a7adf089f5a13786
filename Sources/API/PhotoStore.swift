import Foundation
import Postgres
import UUIDCoding

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

    /// The parts the two upload statements share.
    private static let insertIntoPhotos = """
        INSERT INTO photos (id, project_id, user_id, file_name, mime_type, file_size, checksum_sha256,
                            s3_bucket, s3_key, status, detection_types, priority, upload_expires_at)
        """
    private static let insertPhoto = """
        \(insertIntoPhotos)
            SELECT $1::uuid, $2::uuid, $3::uuid, $4::text, $5::text, $6::bigint, $7::text, $8::text, $9::text,
                   'pending_upload', $10::text[], $11::text, $12::timestamptz
        """
    private static let returningPhoto = "RETURNING id, s3_key, mime_type, file_size, checksum_sha256, status"
    private static let insertFirstHistoryRow = """
        INSERT INTO photo_status_history (photo_id, status, previous_status, changed_by)
            SELECT id, 'pending_upload', NULL, 'api' FROM new_photo
        """

    /// The photos of several upload-url requests without an `Idempotency-Key`, each with its
    /// first history row, in one statement and one commit (``PhotoInsertBatcher``). `$1` is a
    /// JSON array of the photos (``batchJSON(_:)``); a photo is inserted only when its project
    /// belongs to the organization it names, and the statement returns the ones inserted.
    ///
    /// Only the two inserts: Postgres sets up every node of a plan on each execution, and the
    /// key's CTEs of ``createUploadStatement`` cost that set-up even when skipped
    /// (`ExecInitNode` in the profile, docs/benchmarks.md). The project check is a scalar
    /// sub-select, which Postgres does not turn into a join: one primary-key look-up per photo,
    /// whatever plan it caches for the batch.
    static let insertPhotosStatement = PreparedStatement(
        name: "photo_api_insert_photos",
        sql: """
            WITH requested AS (
                SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(
                    id uuid, project_id uuid, organization_id uuid, user_id uuid, file_name text,
                    mime_type text, file_size bigint, checksum_sha256 text, s3_bucket text,
                    s3_key text, detection_types text[], priority text, upload_expires_at timestamptz)
            ),
            new_photo AS (
                \(insertIntoPhotos)
                    SELECT r.id, r.project_id, r.user_id, r.file_name, r.mime_type, r.file_size,
                           r.checksum_sha256, r.s3_bucket, r.s3_key, 'pending_upload', r.detection_types,
                           r.priority, r.upload_expires_at
                    FROM requested r
                    WHERE (SELECT p.organization_id FROM projects p WHERE p.id = r.project_id) = r.organization_id
                \(returningPhoto)
            ),
            history AS (\(insertFirstHistoryRow))
            SELECT id, s3_key, mime_type, file_size, checksum_sha256, status FROM new_photo
            """
    )

    /// The whole upload-url write as one statement: one round trip and one implicit transaction
    /// instead of `BEGIN`, five statements and `COMMIT`, which roughly halves the Postgres work
    /// per request and the libpq calls and thread hops in the API (docs/benchmarks.md).
    ///
    /// Parameters: `$1` photo id, `$2` project, `$3` user, `$4` file name, `$5` MIME type,
    /// `$6` size, `$7` checksum or NULL, `$8` bucket, `$9` S3 key, `$10` detection types,
    /// `$11` priority, `$12` upload expiry, `$13` the caller's organization, `$14` the
    /// Idempotency-Key, `$15` the request hash. (The `$14 IS NULL` branches keep the statement
    /// whole for a request without a key, which ``insertPhotosStatement`` serves.)
    ///
    /// How each case comes out (one row, `outcome` first):
    /// - no project row: `project_not_found`; another organization's: `project_forbidden`.
    ///   Nothing is written in either case, and the key is not looked at.
    /// - a live key of this user (`expires_at > now()`) that this statement's snapshot sees:
    ///   `key_reused` when its hash differs; otherwise `replayed` with the stored photo, whose
    ///   pending upload expiry is pushed out to the fresh URL's (`replay`).
    /// - otherwise the key is claimed by `INSERT ... ON CONFLICT DO UPDATE ... WHERE expired`:
    ///   an expired key is taken over (as deleting it first did), a live one is left alone. The
    ///   photo and its `pending_upload` history row are inserted only when the claim returned a
    ///   row: `created`.
    /// - `race`: the key was claimed by a concurrent first request that this snapshot could not
    ///   see. The insert waited for that transaction to commit and then found its live row, so
    ///   nothing was written; running the statement again (a new snapshot) replays it.
    ///
    /// The foreign keys from the key and the history row to the photo are checked at the end
    /// of the statement, when the photo row exists, so the order of the CTEs does not matter.
    ///
    /// `replay` compares `status` with a sub-select on purpose: with the literal the planner can
    /// prove the predicate of `photos_pending_expiry_idx` and, in the generic plan Postgres
    /// caches after five executions (made while the table may hold a handful of rows), it chose
    /// a scan of that whole index over the primary key, which then read every pending photo on
    /// every request. Now the primary key is the only index that fits.
    static let createUploadStatement = PreparedStatement(
        name: "photo_api_create_upload",
        sql: """
            WITH project AS (
                SELECT organization_id FROM projects WHERE id = $2::uuid
            ),
            allowed AS (
                SELECT 1 AS ok FROM project WHERE organization_id = $13::uuid
            ),
            existing AS (
                SELECT k.request_hash, k.photo_id FROM idempotency_keys k
                WHERE $14::text IS NOT NULL AND k.user_id = $3::uuid AND k.key = $14::text
                  AND k.expires_at > now() AND EXISTS (SELECT 1 FROM allowed)
            ),
            claimed_key AS (
                INSERT INTO idempotency_keys (user_id, key, request_hash, photo_id)
                SELECT $3::uuid, $14::text, $15::text, $1::uuid FROM allowed
                WHERE $14::text IS NOT NULL AND NOT EXISTS (SELECT 1 FROM existing)
                ON CONFLICT (user_id, key) DO UPDATE
                    SET request_hash = EXCLUDED.request_hash, photo_id = EXCLUDED.photo_id,
                        created_at = DEFAULT, expires_at = DEFAULT
                    WHERE idempotency_keys.expires_at <= now()
                RETURNING photo_id
            ),
            new_photo AS (
                \(insertPhoto)
                FROM allowed
                WHERE $14::text IS NULL OR EXISTS (SELECT 1 FROM claimed_key)
                \(returningPhoto)
            ),
            history AS (\(insertFirstHistoryRow)),
            replay AS (
                UPDATE photos SET upload_expires_at = greatest(upload_expires_at, $12::timestamptz), updated_at = now()
                WHERE id = (SELECT photo_id FROM existing WHERE request_hash = $15::text)
                  AND status = (SELECT 'pending_upload'::text)
            )
            SELECT 'created' AS outcome, id, s3_key, mime_type, file_size, checksum_sha256, status FROM new_photo
            UNION ALL
            SELECT 'replayed', p.id, p.s3_key, p.mime_type, p.file_size, p.checksum_sha256, p.status
            FROM existing e JOIN photos p ON p.id = e.photo_id
            WHERE e.request_hash = $15::text
            UNION ALL
            SELECT 'key_reused', NULL, NULL, NULL, NULL, NULL, NULL FROM existing WHERE request_hash <> $15::text
            UNION ALL
            SELECT CASE
                       WHEN NOT EXISTS (SELECT 1 FROM project) THEN 'project_not_found'
                       WHEN NOT EXISTS (SELECT 1 FROM allowed) THEN 'project_forbidden'
                       ELSE 'race'
                   END,
                   NULL, NULL, NULL, NULL, NULL, NULL
            WHERE NOT EXISTS (SELECT 1 FROM new_photo) AND NOT EXISTS (SELECT 1 FROM existing)
            """
    )

    /// What the upload-url response needs of the photo: the stored values, so that a replay
    /// signs exactly what was first declared.
    struct IssuedPhoto: Sendable {
        let id: UUID
        let s3Key: String
        let mimeType: String
        let fileSize: Int
        let checksumSHA256: String?
        let status: String

        init(row: Row) throws {
            id = try row.decode("id")
            s3Key = try row.decode("s3_key")
            mimeType = try row.decode("mime_type")
            fileSize = try row.decode("file_size")
            checksumSHA256 = try row.decodeIfPresent("checksum_sha256")
            status = try row.decode("status")
        }
    }

    /// What happened to an upload-URL request.
    enum CreateOutcome: Sendable {
        case created(IssuedPhoto)
        case replayed(IssuedPhoto)
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
        /// The request's `Idempotency-Key`, if it sent one.
        let idempotency: Idempotency?
    }

    /// An `Idempotency-Key` and the hash of the request body it was sent with.
    struct Idempotency: Sendable {
        let key: String
        let requestHash: String
    }

    /// Checks the project, honours the idempotency key, and inserts the photo, its first
    /// history row and the key in one statement: ``createUploadStatement``, or for a request
    /// without a key ``insertPhotosStatement`` through `inserts`, batched with other requests'
    /// photos (then a project that is missing or another organization's costs a second query).
    static func createUpload(
        _ upload: UploadRequestValues,
        _ photo: NewPhoto,
        pool: ConnectionPool,
        inserts: PhotoInsertBatcher
    ) async throws -> CreateOutcome {
        guard let idempotency = photo.idempotency else {
            if let inserted = try await inserts.insert(.init(values: upload, photo: photo)) {
                return .created(inserted)
            }
            switch try await projectOrganization(upload.projectID, pool: pool) {
            case .some(let organization) where organization != photo.organizationID: return .projectForbidden
            // Found in the caller's organization now, yet not by the insert a moment ago: the
            // project was created in between, so at the insert it did not exist.
            case .some, .none: return .projectNotFound
            }
        }
        let parameters: [(any PostgresEncodable)?] = [
            photo.id, upload.projectID, photo.userID, upload.fileName, upload.mimeType, upload.fileSize,
            upload.checksumSHA256, photo.bucket, photo.key, upload.detectionTypes, upload.priority,
            photo.expiresAt, photo.organizationID, idempotency.key, idempotency.requestHash,
        ]
        // Lost the race for the key: the winner has committed by now (the claim waited for
        // it), so the second run replays its photo.
        if let outcome = try await runCreateUpload(parameters, pool: pool) { return outcome }
        if let outcome = try await runCreateUpload(parameters, pool: pool) { return outcome }
        throw PostgresError(code: .decodingFailed, message: "the idempotency key race did not settle")
    }

    /// Runs ``insertPhotosStatement`` for `rows`: the photos inserted, by id. A photo whose
    /// project is missing or another organization's is not among them.
    static func insertPhotos(
        _ rows: [PhotoInsertBatcher.Row],
        pool: ConnectionPool
    ) async throws -> [UUID: IssuedPhoto] {
        let result = try await pool.execute(insertPhotosStatement, [batchJSON(rows)])
        var inserted: [UUID: IssuedPhoto] = [:]
        inserted.reserveCapacity(result.rows.count)
        for row in result.rows {
            let photo = try IssuedPhoto(row: row)
            inserted[photo.id] = photo
        }
        return inserted
    }

    /// ``insertPhotosStatement``'s `$1`: a JSON array with an object per photo, whose members
    /// are the column definitions of its `jsonb_to_recordset`.
    static func batchJSON(_ rows: [PhotoInsertBatcher.Row]) -> String {
        var json: [UInt8] = [UInt8(ascii: "[")]
        json.reserveCapacity(512 * rows.count)
        for (index, row) in rows.enumerated() {
            if index > 0 { json.append(UInt8(ascii: ",")) }
            var object = JSONObjectWriter()
            object.string("id", row.photo.id.lowercasedString)
            object.string("project_id", row.values.projectID.lowercasedString)
            object.string("organization_id", row.photo.organizationID.lowercasedString)
            object.string("user_id", row.photo.userID.lowercasedString)
            object.string("file_name", row.values.fileName)
            object.string("mime_type", row.values.mimeType)
            object.number("file_size", row.values.fileSize)
            if let checksum = row.values.checksumSHA256 { object.string("checksum_sha256", checksum) }
            object.string("s3_bucket", row.photo.bucket)
            object.string("s3_key", row.photo.key)
            object.strings("detection_types", row.values.detectionTypes)
            object.string("priority", row.values.priority)
            object.string("upload_expires_at", row.photo.expiresAt.postgresText)
            json.append(contentsOf: object.finish())
        }
        json.append(UInt8(ascii: "]"))
        return String(decoding: json, as: UTF8.self)
    }

    /// One run of ``createUploadStatement``; `nil` for `race`.
    private static func runCreateUpload(
        _ parameters: [(any PostgresEncodable)?],
        pool: ConnectionPool
    ) async throws -> CreateOutcome? {
        let result = try await pool.execute(createUploadStatement, parameters)
        guard let row = result.first else {
            throw PostgresError(code: .decodingFailed, message: "the idempotency key has no photo")
        }
        switch try row.decode("outcome", as: String.self) {
        case "created": return .created(try IssuedPhoto(row: row))
        case "replayed": return .replayed(try IssuedPhoto(row: row))
        case "key_reused": return .keyReusedWithAnotherBody
        case "project_not_found": return .projectNotFound
        case "project_forbidden": return .projectForbidden
        case "race": return nil
        case let other:
            throw PostgresError(code: .decodingFailed, message: "unknown upload outcome \(other)")
        }
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

    /// ``projectOrganization(_:on:)`` as one statement of its own (`ConnectionPool.execute`).
    static func projectOrganization(_ projectID: UUID, pool: ConnectionPool) async throws -> UUID? {
        try await pool.execute(selectProjectOrganization, [projectID]).first?.decode("organization_id")
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
            cursor?.id.lowercasedString ?? firstPageID,
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
            let id = UUID(canonicalText: String(parts[1]))
        else { return nil }
        self.createdAtText = String(parts[0])
        self.id = id
    }

    var encoded: String {
        Base64URLCursor.encode(Array("\(createdAtText)|\(id.lowercasedString)".utf8))
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
