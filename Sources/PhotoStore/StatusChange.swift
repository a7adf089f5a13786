import Domain
import Postgres

/// The one SQL that changes a photo's status, shared by every writer: confirmation, the
/// failures, the detection pipeline's changes and the relay's `uploaded → processing`.
///
/// A change is two CTEs, `changed` and `history`: the status moves only when the photo is still
/// in the status the caller saw (`from`), the new status's timestamp is set, and a
/// `photo_status_history` row records the move in the same statement. Of two concurrent writers
/// the second waits for the first's row lock, then finds the status moved and changes nothing,
/// which is what makes concurrent completes produce one event. The statement answers with the
/// number of photos it moved.
struct StatusChange {
    /// The condition on `p` that picks the photos.
    var photos = "p.id = $1"
    /// SQL for the status the caller saw (`'pending_upload'`, `$2::text`).
    let from: String
    /// SQL for the new status.
    let to: String
    /// Further `SET` items.
    var assignments: [String] = []
    /// SQL for `changed_by`.
    let changedBy: String
    /// SQL for the history row's `reason`.
    var reason = "NULL"
    /// Further CTEs that read `changed` (the confirmation's outbox event).
    var followedBy: [String] = []

    /// A change between two statuses known when the statement is written.
    init(
        from: PhotoStatus,
        to: PhotoStatus,
        assignments: [String] = [],
        changedBy: String,
        reason: String = "NULL",
        followedBy: [String] = []
    ) {
        self.init(from: from.sqlLiteral, to: to.sqlLiteral, changedBy: changedBy)
        self.assignments = assignments
        self.reason = reason
        self.followedBy = followedBy
    }

    init(from: String, to: String, changedBy: String) {
        self.from = from
        self.to = to
        self.changedBy = changedBy
    }

    /// The statement, prepared as `name`.
    func prepared(_ name: String) -> PreparedStatement {
        PreparedStatement(
            name: name,
            sql: "WITH \(commonTableExpressions)\nSELECT count(*)::integer AS changed FROM changed"
        )
    }

    /// The `changed` and `history` CTEs (and ``followedBy``), for a `WITH`: a statement reads the
    /// photos moved from `changed`.
    var commonTableExpressions: String {
        let timestamps = [PhotoStatus.uploaded, .processing, .completed, .failed].map { status in
            "\(status.rawValue)_at = CASE WHEN \(to) = \(status.sqlLiteral) THEN now() ELSE p.\(status.rawValue)_at END"
        }
        let set = (["status = \(to)"] + timestamps + ["updated_at = now()"] + assignments).joined(
            separator: ",\n        "
        )
        let ctes =
            [
                """
                changed AS (
                    UPDATE photos AS p
                    SET \(set)
                    WHERE \(photos) AND p.status = \(from)
                    RETURNING p.id
                )
                """,
                """
                history AS (
                    INSERT INTO photo_status_history (photo_id, status, previous_status, changed_by, reason)
                    SELECT id, \(to), \(from), \(changedBy), \(reason) FROM changed
                )
                """,
            ] + followedBy
        return ctes.joined(separator: ",\n")
    }
}

/// A statement built from a ``StatusChange``: its row is the number of photos it moved.
protocol PhotoChange: Statement where Output == Int {}

extension PhotoChange {
    func decodeRow(_ row: Row) throws -> Int { try row.decode("changed") }
}
