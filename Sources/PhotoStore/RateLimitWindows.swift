import Foundation
import Postgres

/// The per-user budget of upload-url requests (`RATE_LIMIT_PER_MINUTE`), counted in Postgres
/// (`rate_limit_windows`, `sql/0006`) so that every photo-api process draws on the same one.
///
/// A fixed window per user that opens with the user's first request and lasts `windowSeconds`
/// (the in-process limiter it replaced worked the same way, so clients see no change): one
/// counter row per user, updated in place, where a sliding window would need a row per request
/// or two counters and an estimate. Its known cost is the fixed window's: a client may spend a
/// budget at the end of one window and another at the start of the next. Window boundaries are
/// read from the database's clock (`now()`), so replicas whose clocks differ still agree.
public struct UploadRateLimit: Sendable, Equatable {
    /// Requests counted per window before the next is refused.
    public let limit: Int
    /// The window's length; 60 in production, shorter in tests that watch a window end.
    public let windowSeconds: Int

    public init(limit: Int, windowSeconds: Int = 60) {
        self.limit = max(1, limit)
        self.windowSeconds = max(1, windowSeconds)
    }
}

/// Where a request left its user's window: what the `RateLimit-*` headers report.
public struct RateLimitStatus: Sendable, Equatable {
    /// The budget of a window.
    public let limit: Int
    /// Requests counted in the current window, this one included when it was counted (an
    /// idempotent replay is not); 0 when no window is open.
    public let used: Int
    /// Seconds until the current window ends (at least 1); a full window when none is open.
    public let resetSeconds: Int

    public init(limit: Int, used: Int, resetSeconds: Int) {
        self.limit = limit
        self.used = used
        self.resetSeconds = max(1, resetSeconds)
    }

    /// Requests left in the current window.
    public var remaining: Int { max(0, limit - used) }
}

/// The SQL every counting statement shares.
enum RateLimitSQL {
    /// Counts `source`'s rows, each `(user_id, requests)` with one row per user, into their
    /// users' windows: adds to a window still open (as of `now()`), opens a new one otherwise.
    /// The rows are `(user_id, window_start, request_count)` after counting.
    ///
    /// `ON CONFLICT DO UPDATE` updates the newest committed version of the row, waiting for a
    /// concurrent transaction that holds it, so concurrent requests of one user (on any process)
    /// each see the others' counts; requests of different users touch different rows. `source`
    /// must be ordered by `user_id`, so that two statements counting several users lock their rows
    /// in one order and cannot deadlock. The sum stops at a billion, far above any budget, so a
    /// client that never stops cannot overflow it.
    static func count(_ source: String, windowSeconds: String) -> String {
        """
        INSERT INTO rate_limit_windows AS w (user_id, window_start, request_count)
                \(source)
            ON CONFLICT (user_id) DO UPDATE SET
                window_start = CASE WHEN w.window_start > now() - \(windowSeconds) * interval '1 second'
                                    THEN w.window_start ELSE now() END,
                request_count = CASE WHEN w.window_start > now() - \(windowSeconds) * interval '1 second'
                                     THEN least(w.request_count + EXCLUDED.request_count, 1000000000)
                                     ELSE EXCLUDED.request_count END
            RETURNING user_id, window_start, request_count
        """
    }

    /// Seconds until the window that opened at `windowStart` ends, rounded up.
    static func resetSeconds(_ windowStart: String, windowSeconds: String) -> String {
        """
        ceil(extract(epoch FROM \(windowStart) + \(windowSeconds) * interval '1 second' - now()))::integer
        """
    }
}

/// Counts one request of `userID` that ends before it reaches the upload statements (a body
/// that fails validation, uploads not configured), so that a client sending only bad requests
/// is limited too, and its answer carries the `RateLimit-*` headers.
struct CountRequest: Statement {
    static let prepared = PreparedStatement(
        name: "photo_store_count_rate_limited_request",
        sql: """
            WITH counted AS (
                \(RateLimitSQL.count("SELECT $1::uuid, now(), 1", windowSeconds: "$2::integer"))
            )
            SELECT request_count,
                   \(RateLimitSQL.resetSeconds("window_start", windowSeconds: "$2::integer")) AS reset_seconds
            FROM counted
            """
    )

    let userID: UUID
    let rateLimit: UploadRateLimit

    var bindings: [(any PostgresEncodable)?] { [userID, rateLimit.windowSeconds] }

    func decodeRow(_ row: Row) throws -> RateLimitStatus {
        RateLimitStatus(
            limit: rateLimit.limit,
            used: try row.decode("request_count"),
            resetSeconds: try row.decode("reset_seconds")
        )
    }
}

/// The upkeep of `rate_limit_windows`: a user's row is reused by each new window, but a user
/// who stops uploading leaves one behind.
public enum RateLimitWindows {
    /// How long after it opened a window's row is deleted: long past its end, so that a user
    /// who uploads every few minutes keeps updating one row rather than deleting and inserting.
    public static let purgeAfterSeconds = 3600

    /// Deletes up to `limit` windows that opened more than `olderThanSeconds` ago; the number
    /// deleted. Rows a request holds are skipped, not waited for.
    public static func purgeEnded(
        olderThanSeconds: Int = purgeAfterSeconds,
        limit: Int,
        pool: ConnectionPool
    ) async throws -> Int {
        try await pool.execute(PurgeEndedRateLimitWindows(olderThanSeconds: olderThanSeconds, limit: limit)).first
            ?? 0
    }
}

/// `$1` the age in seconds, `$2` the most rows to delete. A sequential scan: the table has no
/// index on `window_start` on purpose (`sql/0006`) and holds a row per recently active user.
struct PurgeEndedRateLimitWindows: Statement {
    static let prepared = PreparedStatement(
        name: "photo_store_purge_ended_rate_limit_windows",
        sql: """
            WITH purged AS (
                DELETE FROM rate_limit_windows w
                USING (
                    SELECT user_id FROM rate_limit_windows
                    WHERE window_start < now() - $1::integer * interval '1 second'
                    LIMIT $2
                    FOR UPDATE SKIP LOCKED
                ) due
                WHERE w.user_id = due.user_id AND w.window_start < now() - $1::integer * interval '1 second'
                RETURNING 1
            )
            SELECT count(*)::integer AS purged FROM purged
            """
    )

    let olderThanSeconds: Int
    let limit: Int

    var bindings: [(any PostgresEncodable)?] { [olderThanSeconds, limit] }

    func decodeRow(_ row: Row) throws -> Int { try row.decode("purged") }
}
