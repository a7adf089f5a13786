import Domain

/// The one SQL that changes a photo's status, shared by every writer: confirmation, the
/// failures, the detection pipeline's changes and the relay's `uploaded → processing`.
///
/// It is two CTEs, `changed` and `history`, that a statement puts in its `WITH`: the status
/// moves only when the photo is still in the status the caller saw (`from`), the new status's
/// timestamp is set, and a `photo_status_history` row records the move in the same statement.
/// Of two concurrent writers the second waits for the first's row lock, then finds the status
/// moved and changes nothing, which is what makes concurrent completes produce one event.
enum StatusChange {
    /// - Parameters:
    ///   - photos: the condition on `p` that picks the photos (`p.id = $1`).
    ///   - from: SQL for the status the caller saw (`'pending_upload'`, `$2::text`).
    ///   - to: SQL for the new status.
    ///   - assignments: further `SET` items, each starting with `, `.
    ///   - changedBy: SQL for `changed_by`.
    ///   - reason: SQL for the history row's `reason`.
    static func ctes(
        photos: String,
        from: String,
        to: String,
        assignments: String = "",
        changedBy: String,
        reason: String = "NULL"
    ) -> String {
        """
        changed AS (
            UPDATE photos AS p
            SET status = \(to),
                uploaded_at = CASE WHEN \(to) = \(PhotoStatus.uploaded.sqlLiteral) THEN now() ELSE p.uploaded_at END,
                processing_at = CASE WHEN \(to) = \(PhotoStatus.processing.sqlLiteral) THEN now() ELSE p.processing_at END,
                completed_at = CASE WHEN \(to) = \(PhotoStatus.completed.sqlLiteral) THEN now() ELSE p.completed_at END,
                failed_at = CASE WHEN \(to) = \(PhotoStatus.failed.sqlLiteral) THEN now() ELSE p.failed_at END,
                updated_at = now()\(assignments)
            WHERE \(photos) AND p.status = \(from)
            RETURNING p.id
        ), history AS (
            INSERT INTO photo_status_history (photo_id, status, previous_status, changed_by, reason)
            SELECT id, \(to), \(from), \(changedBy), \(reason) FROM changed
        )
        """
    }

    /// What a one-photo change statement selects after the CTEs: 1 when it changed the photo.
    static let changedCount = "SELECT count(*)::integer AS changed FROM changed"
}
