import Domain
import Foundation
import Postgres

/// The moves of a photo through its lifecycle (docs/architecture.md), each one statement of
/// data-modifying CTEs around ``StatusChange``, so the status, its history row and (for
/// confirmation) the `photo.uploaded` outbox event commit together or not at all.
///
/// Every move is conditional on the status the caller saw: `false` (or 0) means the photo had
/// moved on, and nothing was written.
public enum PhotoLifecycle {
    /// The metadata a confirmation stores, and the event it hands to the relay.
    public struct Confirmation: Sendable {
        public let width: Int
        public let height: Int
        /// `s3_etag`: the `ETag` of the object that was validated.
        public let s3ETag: String
        /// `s3_version_id`: its `VersionId` in a versioned bucket.
        public let s3VersionID: String?
        /// `exif_data`: a JSON object's text, `{}` when there is none.
        public let exifJSON: String
        public let eventID: UUID
        public let event: PhotoUploadedEvent
        /// The trace of the request that confirms, stored with the event so the relay sends
        /// it on as the message's `traceparent` and `tracestate`.
        public let trace: TraceContext?

        public init(
            width: Int,
            height: Int,
            s3ETag: String,
            s3VersionID: String?,
            exifJSON: String,
            eventID: UUID,
            event: PhotoUploadedEvent,
            trace: TraceContext? = nil
        ) {
            self.width = width
            self.height = height
            self.s3ETag = s3ETag
            self.s3VersionID = s3VersionID
            self.exifJSON = exifJSON
            self.eventID = eventID
            self.event = event
            self.trace = trace
        }
    }

    /// `pending_upload → uploaded` with the photo's metadata and its `photo.uploaded` event;
    /// `true` when this call confirmed it.
    public static func confirm(
        _ photoID: UUID,
        _ confirmation: Confirmation,
        changedBy: ChangedBy,
        pool: ConnectionPool
    ) async throws -> Bool {
        try await changesThePhoto(
            ConfirmUpload(photoID: photoID, confirmation: confirmation, changedBy: changedBy),
            pool
        )
    }

    /// `pending_upload → failed` with `error` (`invalid_upload: ...`); `true` when this call
    /// failed it. The API fails uploads; detections fail through ``changeStatus``.
    ///
    /// The object that was refused is recorded (`s3_etag`, `s3_version_id`: what was judged) and
    /// its deletion is due at once (``ObjectDeletions``): a failed upload must leave nothing in
    /// the bucket.
    public static func failUpload(
        _ photoID: UUID,
        error: String,
        s3ETag: String? = nil,
        s3VersionID: String? = nil,
        changedBy: ChangedBy,
        pool: ConnectionPool
    ) async throws -> Bool {
        try await changesThePhoto(
            FailUpload(
                photoID: photoID,
                error: error,
                changedBy: changedBy,
                s3ETag: s3ETag,
                s3VersionID: s3VersionID
            ),
            pool
        )
    }

    /// `pending_upload → failed` with `upload_expired`, for the reconciler: `true` when this call
    /// failed the photo.
    ///
    /// The expiry is checked again in the statement (`upload_expires_at` more than
    /// `graceSeconds` ago), not only when the photo was claimed: between the claim and this
    /// call the reconciler HEADs S3, and an idempotent replay of the upload-url request may have
    /// issued a fresh URL meanwhile, pushing `upload_expires_at` out. Failing on the stale HEAD
    /// would fail an upload the client is entitled to finish.
    public static func expireUpload(
        _ photoID: UUID,
        graceSeconds: Int,
        changedBy: ChangedBy,
        pool: ConnectionPool
    ) async throws -> Bool {
        try await changesThePhoto(
            ExpireUpload(photoID: photoID, changedBy: changedBy, graceSeconds: graceSeconds),
            pool
        )
    }

    /// `from → to` for the detection pipeline, with its result (kept when `nil`) and, for
    /// `failed`, its error; `true` when this call changed the photo.
    public static func changeStatus(
        _ photoID: UUID,
        from: PhotoStatus,
        to: PhotoStatus,
        resultJSON: String?,
        error: String?,
        changedBy: ChangedBy,
        pool: ConnectionPool
    ) async throws -> Bool {
        let change = ChangeStatus(
            photoID: photoID,
            from: from,
            to: to,
            resultJSON: resultJSON,
            error: error,
            changedBy: changedBy
        )
        return try await changesThePhoto(change, pool)
    }

    /// `uploaded → processing` for the photos whose events SQS accepted, as CTEs for the relay's
    /// own statement, which deletes those events: the move commits with the delivery, in the
    /// same statement and round trip. `photoIDs` is SQL selecting one `uuid` column (the
    /// delivered events' `aggregate_id`s); the statement reads the photos moved from `changed`.
    ///
    /// The SQL is this module's, as is every statement on `photos`; only its place in a `WITH`
    /// is the relay's.
    public static func processingCommonTableExpressions(photoIDs: String) -> String {
        processing(photos: "p.id IN (\(photoIDs))").commonTableExpressions
    }

    /// The relay's move, of the photos `photos` picks.
    static func processing(photos: String) -> StatusChange {
        var change = StatusChange(from: .uploaded, to: .processing, changedBy: ChangedBy.relay.sqlLiteral)
        change.photos = photos
        return change
    }

    /// Claims up to `limit` photos still `pending_upload` whose URL expired more than
    /// `graceSeconds` ago and that no replica holds, for `claimSeconds`. `SKIP LOCKED` lets
    /// replicas claim side by side without waiting on each other.
    public static func claimExpiredUploads(
        graceSeconds: Int,
        limit: Int,
        claimSeconds: Int,
        pool: ConnectionPool
    ) async throws -> [UUID] {
        try await pool.execute(
            ClaimExpiredUploads(graceSeconds: graceSeconds, limit: limit, claimSeconds: claimSeconds)
        )
    }

    /// Runs a one-photo change on its own: whether it moved the photo.
    private static func changesThePhoto(_ change: some PhotoChange, _ pool: ConnectionPool) async throws -> Bool {
        try await pool.execute(change).first == 1
    }
}

/// `$1` photo, `$2`/`$3` dimensions, `$4` EXIF, `$5` event id, `$6` event payload, `$7` who,
/// `$8`/`$9` the validated object's `ETag` and version id, `$10`/`$11` the request's
/// `traceparent` and `tracestate`. The statement-level trigger on
/// `outbox_events` sends the NOTIFY that wakes the relays.
struct ConfirmUpload: PhotoChange {
    static let prepared = StatusChange(
        from: .pendingUpload,
        to: .uploaded,
        assignments: [
            "width = $2", "height = $3", "exif_data = $4::jsonb", "reconcile_claimed_until = NULL",
            "s3_etag = $8::text", "s3_version_id = $9::text",
        ],
        changedBy: "$7",
        followedBy: [
            """
            event AS (
                INSERT INTO outbox_events (id, event_type, aggregate_id, payload, traceparent, tracestate)
                SELECT $5, '\(PhotoUploadedEvent.eventType)', id, $6::jsonb, $10::text, $11::text FROM changed
            )
            """
        ]
    ).prepared("photo_store_confirm_upload")

    let photoID: UUID
    let confirmation: PhotoLifecycle.Confirmation
    let changedBy: ChangedBy

    var bindings: [(any PostgresEncodable)?] {
        [
            photoID, confirmation.width, confirmation.height, confirmation.exifJSON, confirmation.eventID,
            confirmation.event.payloadJSON(), changedBy, confirmation.s3ETag, confirmation.s3VersionID,
            confirmation.trace?.traceParent, confirmation.trace?.traceState,
        ]
    }
}

/// `$1` photo, `$2` error (also the history row's reason), `$3` who, `$4`/`$5` the refused
/// object's `ETag` and version id. The object's deletion is due at once.
struct FailUpload: PhotoChange {
    static let prepared = StatusChange(
        from: .pendingUpload,
        to: .failed,
        assignments: [
            "error = $2", "reconcile_claimed_until = NULL", "s3_etag = $4::text", "s3_version_id = $5::text",
            "object_delete_due_at = now()",
        ],
        changedBy: "$3",
        reason: "$2"
    ).prepared("photo_store_fail_upload")

    let photoID: UUID
    let error: String
    let changedBy: ChangedBy
    let s3ETag: String?
    let s3VersionID: String?

    var bindings: [(any PostgresEncodable)?] { [photoID, error, changedBy, s3ETag, s3VersionID] }
}

/// `$1` photo, `$2` who, `$3` the grace period in seconds: fails the photo as `upload_expired`
/// only while its URL is still expired by more than the grace period.
struct ExpireUpload: PhotoChange {
    static let error = "upload_expired"

    static let prepared: PreparedStatement = {
        var change = StatusChange(
            from: .pendingUpload,
            to: .failed,
            assignments: ["error = '\(error)'", "reconcile_claimed_until = NULL"],
            changedBy: "$2",
            reason: "'\(error)'"
        )
        change.photos = "p.id = $1 AND p.upload_expires_at < now() - make_interval(secs => $3::integer)"
        return change.prepared("photo_store_expire_upload")
    }()

    let photoID: UUID
    let changedBy: ChangedBy
    let graceSeconds: Int

    var bindings: [(any PostgresEncodable)?] { [photoID, changedBy, graceSeconds] }
}

/// `$1` photo, `$2` the status seen, `$3` the new one, `$4` result JSON or NULL (keeps the
/// stored one), `$5` error or NULL (stored only with `failed`), `$6` who.
struct ChangeStatus: PhotoChange {
    static let prepared: PreparedStatement = {
        var change = StatusChange(from: "$2::text", to: "$3::text", changedBy: "$6")
        change.assignments = [
            "detection_result = coalesce($4::jsonb, p.detection_result)",
            "error = CASE WHEN $3::text = \(PhotoStatus.failed.sqlLiteral) THEN coalesce($5::text, p.error) ELSE p.error END",
        ]
        change.reason = "$5::text"
        return change.prepared("photo_store_change_status")
    }()

    let photoID: UUID
    let from: PhotoStatus
    let to: PhotoStatus
    let resultJSON: String?
    let error: String?
    let changedBy: ChangedBy

    var bindings: [(any PostgresEncodable)?] { [photoID, from.rawValue, to.rawValue, resultJSON, error, changedBy] }
}

/// The relay's move on its own, `$1` the photos: for tests of the SQL the relay composes. The
/// move is an allowed one of `Domain`'s transition table (`PhotoStatus.allowedTransitions`).
struct MarkProcessing: PhotoChange {
    static let prepared = PhotoLifecycle.processing(photos: "p.id = ANY($1::uuid[])")
        .prepared("photo_store_mark_processing")

    let photoIDs: [UUID]

    var bindings: [(any PostgresEncodable)?] { [photoIDs] }
}

struct ClaimExpiredUploads: Statement {
    static let prepared = PreparedStatement(
        name: "photo_store_claim_expired_uploads",
        sql: """
            UPDATE photos p
            SET reconcile_claimed_until = now() + make_interval(secs => $3::integer)
            FROM (
                SELECT id FROM photos
                WHERE status = \(PhotoStatus.pendingUpload.sqlLiteral)
                  AND upload_expires_at < now() - make_interval(secs => $1::integer)
                  AND (reconcile_claimed_until IS NULL OR reconcile_claimed_until < now())
                ORDER BY upload_expires_at
                LIMIT $2
                FOR UPDATE SKIP LOCKED
            ) due
            WHERE p.id = due.id
            RETURNING p.id
            """
    )

    let graceSeconds: Int
    let limit: Int
    let claimSeconds: Int

    var bindings: [(any PostgresEncodable)?] { [graceSeconds, limit, claimSeconds] }

    func decodeRow(_ row: Row) throws -> UUID { try row.decode("id") }
}
