import Domain
import Foundation
import Postgres
import UUIDCoding
import WireFormats

/// The SQL the two upload statements share: the photo's columns and its first history row.
enum UploadSQL {
    static let insertIntoPhotos = """
        INSERT INTO photos (id, project_id, user_id, file_name, mime_type, file_size, checksum_sha256,
                            s3_bucket, s3_key, status, detection_types, priority, upload_expires_at)
        """
    static let insertFirstHistoryRow = """
        INSERT INTO photo_status_history (photo_id, status, previous_status, changed_by)
            SELECT id, \(PhotoStatus.pendingUpload.sqlLiteral), NULL, \(ChangedBy.api.sqlLiteral) FROM new_photo
        """
}

/// The photos of several upload-url requests without an `Idempotency-Key`, each with its first
/// history row, in one statement and one commit (``PhotoInsertBatcher``), counted against their
/// users' rate limits (``UploadRateLimit``). A photo is inserted only when its request is within
/// its user's budget and its project belongs to the organization it names; a row per request
/// says whether it was inserted and where it left its user's window.
///
/// Each user's requests are counted once for the batch (`user_requests`, with `user_rank` their
/// order, both computed by the caller): the window row's new count less the batch's requests
/// plus the rank is each request's position in the window, and those past the limit are refused.
///
/// Only the inserts and the count: Postgres sets up every node of a plan on each execution, and
/// the key's CTEs of ``CreateUpload`` cost that set-up even when skipped (`ExecInitNode` in the
/// profile, docs/benchmarks.md). The project check is a scalar sub-select, which Postgres does
/// not turn into a join: one primary-key look-up per photo, whatever plan it caches for the
/// batch.
struct InsertPhotos: Statement {
    static let prepared = PreparedStatement(
        name: "photo_store_insert_photos",
        sql: """
            WITH requested AS (
                SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(
                    id uuid, project_id uuid, organization_id uuid, user_id uuid, file_name text,
                    mime_type text, file_size bigint, checksum_sha256 text, s3_bucket text,
                    s3_key text, detection_types text[], priority text, upload_expires_at timestamptz,
                    user_rank integer, user_requests integer)
            ),
            counted AS (
                \(RateLimitSQL.count(
                    "SELECT user_id, now(), user_requests FROM requested WHERE user_rank = 1 ORDER BY user_id",
                    windowSeconds: "$3::integer"))
            ),
            admitted AS (
                SELECT r.*, c.request_count - r.user_requests + r.user_rank AS position, c.window_start
                FROM requested r JOIN counted c ON c.user_id = r.user_id
            ),
            new_photo AS (
                \(UploadSQL.insertIntoPhotos)
                    SELECT r.id, r.project_id, r.user_id, r.file_name, r.mime_type, r.file_size,
                           r.checksum_sha256, r.s3_bucket, r.s3_key, \(PhotoStatus.pendingUpload.sqlLiteral),
                           r.detection_types, r.priority, r.upload_expires_at
                    FROM admitted r
                    WHERE r.position <= $2::integer
                      AND (SELECT p.organization_id FROM projects p WHERE p.id = r.project_id) = r.organization_id
                RETURNING id
            ),
            history AS (\(UploadSQL.insertFirstHistoryRow))
            SELECT a.id, n.id IS NOT NULL AS inserted, a.position,
                   \(RateLimitSQL.resetSeconds("a.window_start", windowSeconds: "$3::integer")) AS reset_seconds
            FROM admitted a LEFT JOIN new_photo n ON n.id = a.id
            """
    )

    /// What became of one request of the batch.
    struct Result: Sendable {
        let photoID: UUID
        /// False when refused by the rate limit or the project check.
        let inserted: Bool
        /// The request's place in its user's window: past the limit, it was refused.
        let position: Int
        let resetSeconds: Int
    }

    let photos: [NewPhoto]
    let rateLimit: UploadRateLimit

    var bindings: [(any PostgresEncodable)?] { [Self.json(photos), rateLimit.limit, rateLimit.windowSeconds] }

    func decodeRow(_ row: Row) throws -> Result {
        Result(
            photoID: try row.decode("id"),
            inserted: try row.decode("inserted"),
            position: try row.decode("position"),
            resetSeconds: try row.decode("reset_seconds")
        )
    }

    /// `$1`: a JSON array with an object per photo, whose members are the column definitions of
    /// the statement's `jsonb_to_recordset`; `user_rank` numbers each user's requests from 1 and
    /// `user_requests` is how many the batch holds.
    static func json(_ photos: [NewPhoto]) -> String {
        var perUser: [UUID: Int] = [:]
        var ranks: [Int] = []
        ranks.reserveCapacity(photos.count)
        for photo in photos {
            let rank = (perUser[photo.userID] ?? 0) + 1
            perUser[photo.userID] = rank
            ranks.append(rank)
        }
        var json: [UInt8] = [UInt8(ascii: "[")]
        json.reserveCapacity(512 * photos.count)
        for (index, photo) in photos.enumerated() {
            if index > 0 { json.append(UInt8(ascii: ",")) }
            let upload = photo.upload
            var object = JSONObjectWriter()
            object.string("id", photo.photoID.lowercasedString)
            object.string("project_id", upload.projectID.lowercasedString)
            object.string("organization_id", photo.organizationID.lowercasedString)
            object.string("user_id", photo.userID.lowercasedString)
            object.string("file_name", upload.fileName)
            object.string("mime_type", upload.mediaType.mimeType)
            object.number("file_size", upload.fileSize)
            if let checksum = upload.checksumSHA256 { object.string("checksum_sha256", checksum) }
            object.string("s3_bucket", photo.bucket)
            object.string("s3_key", photo.s3Key)
            object.strings("detection_types", upload.detectionTypes)
            object.string("priority", upload.priority.rawValue)
            object.string("upload_expires_at", photo.uploadExpiresAt.postgresText)
            object.number("user_rank", ranks[index])
            object.number("user_requests", perUser[photo.userID] ?? 1)
            json.append(contentsOf: object.finish())
        }
        json.append(UInt8(ascii: "]"))
        return String(decoding: json, as: UTF8.self)
    }
}

/// The whole upload-url write of a request with an `Idempotency-Key` as one statement: one
/// round trip and one implicit transaction instead of `BEGIN`, five statements and `COMMIT`,
/// which roughly halves the Postgres work per request (docs/benchmarks.md).
///
/// How each case comes out (one row, `outcome` first, then where the request left its user's
/// rate-limit window, ``UploadRateLimit``):
/// - a request naming a live key of this user that this statement's snapshot sees is not counted
///   (an idempotent replay costs no budget; nor does `key_reused`); every other request is.
/// - counted past the limit: `rate_limited`, and nothing else is written.
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
/// The foreign keys from the key and the history row to the photo are checked at the end of
/// the statement, when the photo row exists, so the order of the CTEs does not matter.
///
/// `replay` compares `status` with a sub-select on purpose: with the literal the planner can
/// prove the predicate of `photos_pending_expiry_idx` and, in the generic plan Postgres caches
/// after five executions (made while the table may hold a handful of rows), it chose a scan of
/// that whole index over the primary key, which then read every pending photo on every request.
/// Now the primary key is the only index that fits.
struct CreateUpload: Statement {
    static let prepared = PreparedStatement(
        name: "photo_store_create_upload",
        sql: """
            WITH project AS (
                SELECT organization_id FROM projects WHERE id = $2::uuid
            ),
            allowed AS (
                SELECT 1 AS ok FROM project WHERE organization_id = $13::uuid
            ),
            existing AS (
                SELECT k.request_hash, k.photo_id FROM idempotency_keys k
                WHERE k.user_id = $3::uuid AND k.key = $14::text
                  AND k.expires_at > now() AND EXISTS (SELECT 1 FROM allowed)
            ),
            counted AS (
                \(RateLimitSQL.count(
                    "SELECT $3::uuid, now(), 1 WHERE NOT EXISTS (SELECT 1 FROM existing)",
                    windowSeconds: "$17::integer"))
            ),
            within_limit AS (
                SELECT 1 AS ok FROM counted WHERE request_count <= $16::integer
            ),
            current_window AS (
                SELECT window_start, request_count FROM counted
                UNION ALL
                SELECT window_start, request_count FROM rate_limit_windows
                WHERE user_id = $3::uuid AND NOT EXISTS (SELECT 1 FROM counted)
                  AND window_start > now() - $17::integer * interval '1 second'
            ),
            claimed_key AS (
                INSERT INTO idempotency_keys (user_id, key, request_hash, photo_id)
                SELECT $3::uuid, $14::text, $15::text, $1::uuid FROM allowed
                WHERE NOT EXISTS (SELECT 1 FROM existing) AND EXISTS (SELECT 1 FROM within_limit)
                ON CONFLICT (user_id, key) DO UPDATE
                    SET request_hash = EXCLUDED.request_hash, photo_id = EXCLUDED.photo_id,
                        created_at = DEFAULT, expires_at = DEFAULT
                    WHERE idempotency_keys.expires_at <= now()
                RETURNING photo_id
            ),
            new_photo AS (
                \(UploadSQL.insertIntoPhotos)
                SELECT $1::uuid, $2::uuid, $3::uuid, $4::text, $5::text, $6::bigint, $7::text, $8::text, $9::text,
                       \(PhotoStatus.pendingUpload.sqlLiteral), $10::text[], $11::text, $12::timestamptz
                FROM allowed
                WHERE EXISTS (SELECT 1 FROM claimed_key)
                RETURNING id, s3_key, mime_type, file_size, checksum_sha256, status
            ),
            history AS (\(UploadSQL.insertFirstHistoryRow)),
            replay AS (
                UPDATE photos SET upload_expires_at = greatest(upload_expires_at, $12::timestamptz), updated_at = now()
                WHERE id = (SELECT photo_id FROM existing WHERE request_hash = $15::text)
                  AND status = (SELECT \(PhotoStatus.pendingUpload.sqlLiteral)::text)
            ),
            outcome AS (
                SELECT 'created' AS outcome, id, s3_key, mime_type, file_size, checksum_sha256, status FROM new_photo
                UNION ALL
                SELECT 'replayed', p.id, p.s3_key, p.mime_type, p.file_size, p.checksum_sha256, p.status
                FROM existing e JOIN photos p ON p.id = e.photo_id
                WHERE e.request_hash = $15::text
                UNION ALL
                SELECT 'key_reused', NULL, NULL, NULL, NULL, NULL, NULL FROM existing WHERE request_hash <> $15::text
                UNION ALL
                SELECT CASE
                           WHEN NOT EXISTS (SELECT 1 FROM within_limit) THEN 'rate_limited'
                           WHEN NOT EXISTS (SELECT 1 FROM project) THEN 'project_not_found'
                           WHEN NOT EXISTS (SELECT 1 FROM allowed) THEN 'project_forbidden'
                           ELSE 'race'
                       END,
                       NULL, NULL, NULL, NULL, NULL, NULL
                WHERE NOT EXISTS (SELECT 1 FROM new_photo) AND NOT EXISTS (SELECT 1 FROM existing)
            )
            SELECT o.*, coalesce(w.request_count, 0) AS request_count,
                   coalesce(\(RateLimitSQL.resetSeconds("w.window_start", windowSeconds: "$17::integer")), $17::integer)
                       AS reset_seconds
            FROM outcome o LEFT JOIN current_window w ON true
            """
    )

    /// One run's outcome; `nil` for `race`.
    enum Outcome: Sendable {
        case created(UploadTarget)
        case replayed(UploadTarget)
        case keyReused
        case projectNotFound
        case projectForbidden
        case rateLimited
        case race
    }

    let photo: NewPhoto
    let idempotency: Idempotency
    let rateLimit: UploadRateLimit

    var bindings: [(any PostgresEncodable)?] {
        let upload = photo.upload
        return [
            photo.photoID, upload.projectID, photo.userID, upload.fileName, upload.mediaType.mimeType,
            upload.fileSize, upload.checksumSHA256, photo.bucket, photo.s3Key, upload.detectionTypes,
            upload.priority.rawValue, photo.uploadExpiresAt, photo.organizationID, idempotency.key,
            idempotency.requestHash, rateLimit.limit, rateLimit.windowSeconds,
        ]
    }

    func decodeRow(_ row: Row) throws -> (outcome: Outcome, rateLimit: RateLimitStatus) {
        let outcome: Outcome =
            switch try row.decode("outcome", as: String.self) {
            case "created": .created(try Self.target(row))
            case "replayed": .replayed(try Self.target(row))
            case "key_reused": .keyReused
            case "project_not_found": .projectNotFound
            case "project_forbidden": .projectForbidden
            case "rate_limited": .rateLimited
            case "race": .race
            case let other: throw PhotoStoreError.unexpectedOutcome(other)
            }
        let status = RateLimitStatus(
            limit: rateLimit.limit,
            used: try row.decode("request_count"),
            resetSeconds: try row.decode("reset_seconds")
        )
        return (outcome, status)
    }

    private static func target(_ row: Row) throws -> UploadTarget {
        UploadTarget(
            photoID: try row.decode("id"),
            s3Key: try row.decode("s3_key"),
            mediaType: try row.decode("mime_type"),
            fileSize: try row.decode("file_size"),
            checksumSHA256: try row.decodeIfPresent("checksum_sha256"),
            status: try row.decode("status")
        )
    }
}
