import Postgres

/// The upkeep of `idempotency_keys`: `CreateUpload` writes a key per request that sends one and
/// treats a key past `expires_at` as absent, but nothing else removes it, so without a purge
/// the table (and its primary key) would grow by every keyed upload forever.
public enum IdempotencyKeys {
    /// Deletes up to `limit` expired keys, oldest expiry first; the number deleted.
    ///
    /// Bounded so that one call is one short statement whatever the backlog: a caller that gets
    /// `limit` back knows more may be due and calls again. Keys another transaction holds (a
    /// request taking an expired key over) are skipped, not waited for.
    public static func purgeExpired(limit: Int, pool: ConnectionPool) async throws -> Int {
        try await pool.execute(PurgeExpiredIdempotencyKeys(limit: limit)).first ?? 0
    }
}

/// `$1` the most keys to delete. The keys are picked through `idempotency_keys_expires_idx`
/// (`sql/0001`) and deleted by primary key; the outer condition checks the expiry again on
/// the row version the delete sees.
struct PurgeExpiredIdempotencyKeys: Statement {
    static let prepared = PreparedStatement(
        name: "photo_store_purge_expired_idempotency_keys",
        sql: """
            WITH purged AS (
                DELETE FROM idempotency_keys k
                USING (
                    SELECT user_id, key FROM idempotency_keys
                    WHERE expires_at <= now()
                    ORDER BY expires_at
                    LIMIT $1
                    FOR UPDATE SKIP LOCKED
                ) due
                WHERE k.user_id = due.user_id AND k.key = due.key AND k.expires_at <= now()
                RETURNING 1
            )
            SELECT count(*)::integer AS purged FROM purged
            """
    )

    let limit: Int

    var bindings: [(any PostgresEncodable)?] { [limit] }

    func decodeRow(_ row: Row) throws -> Int { try row.decode("purged") }
}
