import Foundation
import Postgres

/// The bookkeeping of deleting failed uploads' objects (`photos.object_delete_due_at`): which
/// photos have an object to delete, who is deleting it, and whether it must be looked at again.
///
/// A photo that fails validation is due at once (``PhotoLifecycle/failUpload(_:error:s3ETag:s3VersionID:changedBy:pool:)``).
/// `photo-api` deletes right away and reports here; when S3 is down, the reconciler claims the
/// due photos later and retries. The row is never deleted: it keeps the reason.
public enum ObjectDeletions {
    /// A photo whose object versions are to be deleted.
    public struct Due: Sendable, Equatable {
        public let photoID: UUID
        public let s3Key: String
    }

    /// Claims up to `limit` photos whose deletion is due and that no replica holds, for
    /// `claimSeconds`: their due time moves that far ahead, so a replica that dies mid-way
    /// leaves a claim that runs out, and a failed deletion is retried once it has.
    public static func claimDue(limit: Int, claimSeconds: Int, pool: ConnectionPool) async throws -> [Due] {
        try await pool.execute(ClaimDueObjectDeletions(limit: limit, claimSeconds: claimSeconds))
    }

    /// Records that every version of the photo's key was deleted. While the photo's upload URL
    /// (plus `sweepGraceSeconds`, for a PUT that started just before it expired) can still write
    /// the key, the deletion is due again once it cannot; otherwise nothing is left to do.
    public static func finished(_ photoID: UUID, sweepGraceSeconds: Int, pool: ConnectionPool) async throws {
        try await pool.execute(FinishObjectDeletion(photoID: photoID, sweepGraceSeconds: sweepGraceSeconds))
    }
}

/// `$1` how many, `$2` the claim in seconds.
struct ClaimDueObjectDeletions: Statement {
    static let prepared = PreparedStatement(
        name: "photo_store_claim_object_deletions",
        sql: """
            UPDATE photos p
            SET object_delete_due_at = now() + make_interval(secs => $2::integer)
            FROM (
                SELECT id FROM photos
                WHERE object_delete_due_at <= now()
                ORDER BY object_delete_due_at
                LIMIT $1
                FOR UPDATE SKIP LOCKED
            ) due
            WHERE p.id = due.id
            RETURNING p.id, p.s3_key
            """
    )

    let limit: Int
    let claimSeconds: Int

    var bindings: [(any PostgresEncodable)?] { [limit, claimSeconds] }

    func decodeRow(_ row: Row) throws -> ObjectDeletions.Due {
        ObjectDeletions.Due(photoID: try row.decode("id"), s3Key: try row.decode("s3_key"))
    }
}

/// `$1` photo, `$2` the grace after the upload URL's expiry.
struct FinishObjectDeletion: Statement {
    static let prepared = PreparedStatement(
        name: "photo_store_finish_object_deletion",
        sql: """
            UPDATE photos
            SET object_delete_due_at = CASE
                WHEN upload_expires_at + make_interval(secs => $2::integer) > now()
                THEN upload_expires_at + make_interval(secs => $2::integer)
            END
            WHERE id = $1 AND object_delete_due_at IS NOT NULL
            """
    )

    let photoID: UUID
    let sweepGraceSeconds: Int

    var bindings: [(any PostgresEncodable)?] { [photoID, sweepGraceSeconds] }

    func decodeRow(_ row: Row) throws {}
}
