import Postgres

/// A snapshot of the relay's backlog: what `outbox-relay stats` prints and what the relay's
/// metrics loop exports every few seconds.
public struct OutboxStatistics: Sendable, Equatable {
    /// Every row of `outbox_events`: delivered events are deleted, so this is the backlog.
    public var pending: Int
    /// Events a relay may claim now: their next attempt is due and no live lease holds them.
    public var due: Int
    /// Events a relay holds right now (a claim whose lease has not run out).
    public var leased: Int
    /// Seconds since the oldest undelivered event was committed; `nil` when the outbox is
    /// empty. The lag alert watches this rather than `pending`, because a busy but healthy
    /// outbox has many rows yet none of them old.
    public var oldestPendingAgeSeconds: Double?
    /// Rows of `outbox_dead_letters`, waiting for an operator.
    public var deadLetters: Int

    public init(pending: Int, due: Int, leased: Int, oldestPendingAgeSeconds: Double?, deadLetters: Int) {
        self.pending = pending
        self.due = due
        self.leased = leased
        self.oldestPendingAgeSeconds = oldestPendingAgeSeconds
        self.deadLetters = deadLetters
    }

    /// All figures in one statement, so they come from one snapshot and one round trip.
    ///
    /// `outbox_events` only holds undelivered events, so one pass over it with filtered
    /// aggregates is the cheapest way to get the count, the due/leased split and the oldest
    /// `created_at` at once; separate index scans would visit the same rows again, and the
    /// churn of claims and deletes keeps that table's visibility map too sparse for
    /// index-only scans. A claim moves `next_attempt_at` to the end of its lease, so `due` is
    /// what the claim query (on `outbox_events_due_idx`) would take now. `outbox_dead_letters`
    /// grows until purged, but it is append-mostly: once autovacuum has marked its pages
    /// all-visible the count is an index-only scan of the narrow `dead_lettered_at` index.
    static let snapshotSQL = """
        SELECT
            count(*) AS pending,
            count(*) FILTER (
                WHERE next_attempt_at <= now()
                    AND (claim_token IS NULL OR lease_until IS NULL OR lease_until <= now())
            ) AS due,
            count(*) FILTER (WHERE claim_token IS NOT NULL AND lease_until > now()) AS leased,
            extract(epoch FROM now() - min(created_at))::float8 AS oldest_pending_age_seconds,
            (SELECT count(*) FROM outbox_dead_letters) AS dead_letters
        FROM outbox_events
        """

    public static func read(on connection: Connection) throws -> OutboxStatistics {
        guard let row = try connection.query(snapshotSQL).first else {
            throw PostgresError(code: .decodingFailed, message: "the outbox statistics query returned no row")
        }
        return OutboxStatistics(
            pending: try row.decode("pending"),
            due: try row.decode("due"),
            leased: try row.decode("leased"),
            // A writer whose transaction began after ours can commit a created_at slightly
            // ahead of our now(); an age below zero would only confuse a dashboard.
            oldestPendingAgeSeconds: try row.decodeIfPresent("oldest_pending_age_seconds", as: Double.self)
                .map { max($0, 0) },
            deadLetters: try row.decode("dead_letters")
        )
    }
}
