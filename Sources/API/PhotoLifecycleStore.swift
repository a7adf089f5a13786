import Foundation
import Postgres

/// The SQL that moves photos through their lifecycle (contract section 5): confirmation with its
/// outbox event, failure, the detection pipeline's changes, and reconciliation claims.
///
/// Every change is one statement of data-modifying CTEs, so the status, its history row and (for
/// confirmation) the `photo.uploaded` event commit together or not at all, in one round trip.
/// Every change is also conditional on the status the caller saw (`WHERE status = ...`): of two
/// concurrent writers the second waits for the first's row lock, then finds the status moved and
/// changes nothing. That is what makes concurrent completes produce exactly one event.
enum PhotoLifecycleStore {
    /// `$1` photo, `$2` width, `$3` height, `$4` EXIF JSON, `$5` event id, `$6` event payload,
    /// `$7` who confirmed (`api` or `reconciler`). Returns `changed` = 1 when this call confirmed.
    /// The statement-level trigger on `outbox_events` sends the NOTIFY that wakes the relays.
    static let confirmUpload = PreparedStatement(
        name: "photo_api_confirm_upload",
        sql: """
            WITH confirmed AS (
                UPDATE photos
                SET status = 'uploaded', width = $2, height = $3, exif_data = $4::jsonb,
                    uploaded_at = now(), updated_at = now(), reconcile_claimed_until = NULL
                WHERE id = $1 AND status = 'pending_upload'
                RETURNING id
            ), history AS (
                INSERT INTO photo_status_history (photo_id, status, previous_status, changed_by)
                SELECT id, 'uploaded', 'pending_upload', $7 FROM confirmed
            ), event AS (
                INSERT INTO outbox_events (id, event_type, aggregate_id, payload)
                SELECT $5, 'photo.uploaded', id, $6::jsonb FROM confirmed
            )
            SELECT count(*)::integer AS changed FROM confirmed
            """
    )

    /// `$1` photo, `$2` error (`upload_expired`, `invalid_upload: ...`), `$3` who. Only from
    /// `pending_upload`: the API fails uploads, the pipeline fails detections (``changeStatus``).
    static let failUpload = PreparedStatement(
        name: "photo_api_fail_upload",
        sql: """
            WITH failed AS (
                UPDATE photos
                SET status = 'failed', error = $2, failed_at = now(), updated_at = now(),
                    reconcile_claimed_until = NULL
                WHERE id = $1 AND status = 'pending_upload'
                RETURNING id
            ), history AS (
                INSERT INTO photo_status_history (photo_id, status, previous_status, changed_by, reason)
                SELECT id, 'failed', 'pending_upload', $3, $2 FROM failed
            )
            SELECT count(*)::integer AS changed FROM failed
            """
    )

    /// `$1` photo, `$2` the status the caller saw, `$3` the new status, `$4` result JSON or NULL
    /// (keeps the stored one), `$5` error or NULL, `$6` who. Sets the new status's timestamp.
    static let changeStatus = PreparedStatement(
        name: "photo_api_change_status",
        sql: """
            WITH changed AS (
                UPDATE photos
                SET status = $3::text,
                    processing_at = CASE WHEN $3::text = 'processing' THEN now() ELSE processing_at END,
                    completed_at = CASE WHEN $3::text = 'completed' THEN now() ELSE completed_at END,
                    failed_at = CASE WHEN $3::text = 'failed' THEN now() ELSE failed_at END,
                    detection_result = coalesce($4::jsonb, detection_result),
                    error = CASE WHEN $3::text = 'failed' THEN coalesce($5::text, error) ELSE error END,
                    updated_at = now()
                WHERE id = $1 AND status = $2::text
                RETURNING id
            ), history AS (
                INSERT INTO photo_status_history (photo_id, status, previous_status, changed_by, reason)
                SELECT id, $3::text, $2::text, $6, $5::text FROM changed
            )
            SELECT count(*)::integer AS changed FROM changed
            """
    )

    /// Claims up to `$2` photos still `pending_upload` whose URL expired more than `$1` seconds
    /// ago and that no replica holds, for `$3` seconds. `SKIP LOCKED` lets replicas claim side by
    /// side without waiting on each other.
    static let claimExpiredUploads = PreparedStatement(
        name: "photo_api_claim_expired_uploads",
        sql: """
            UPDATE photos p
            SET reconcile_claimed_until = now() + make_interval(secs => $3::integer)
            FROM (
                SELECT id FROM photos
                WHERE status = 'pending_upload'
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

    /// Runs a one-row `changed` statement; true when it changed the photo.
    static func change(
        _ statement: PreparedStatement,
        _ parameters: [(any PostgresEncodable)?],
        on connection: Connection
    ) throws -> Bool {
        let changed: Int = try connection.execute(statement, parameters).first?.decode("changed") ?? 0
        return changed == 1
    }

    static func claimExpiredUploads(
        graceSeconds: Int,
        limit: Int,
        claimSeconds: Int,
        on connection: Connection
    ) throws -> [UUID] {
        try connection.execute(claimExpiredUploads, [graceSeconds, limit, claimSeconds]).rows.map {
            try $0.decode("id")
        }
    }
}
