import Foundation
import Postgres

/// An event the relay gave up on, as `outbox_dead_letters` keeps it.
public struct DeadLetter: Sendable, Equatable {
    /// One failed attempt from `error_history`.
    public struct AttemptError: Sendable, Equatable {
        /// The attempt number the relay recorded; `nil` when the entry has none.
        public var attempt: Int?
        /// When the attempt failed, as the relay wrote it (kept as text so that no format is
        /// assumed and nothing is lost in a round trip).
        public var at: String?
        public var error: String

        public init(attempt: Int?, at: String?, error: String) {
            self.attempt = attempt
            self.at = at
            self.error = error
        }
    }

    /// The dead letter's own id.
    public var id: UUID
    /// The original `outbox_events.id`; requeue reuses it so consumers can deduplicate.
    public var eventID: UUID
    public var eventType: String
    public var aggregateType: String
    public var aggregateID: UUID
    /// The SQS message body, as Postgres prints the `jsonb`.
    public var payloadJSON: String
    public var attempts: Int
    public var lastError: String?
    /// The `error_history` array as Postgres prints the `jsonb`, every field the relay wrote.
    public var errorHistoryJSON: String
    public var createdAt: Date
    public var deadLetteredAt: Date

    public init(
        id: UUID,
        eventID: UUID,
        eventType: String,
        aggregateType: String,
        aggregateID: UUID,
        payloadJSON: String,
        attempts: Int,
        lastError: String?,
        errorHistoryJSON: String,
        createdAt: Date,
        deadLetteredAt: Date
    ) {
        self.id = id
        self.eventID = eventID
        self.eventType = eventType
        self.aggregateType = aggregateType
        self.aggregateID = aggregateID
        self.payloadJSON = payloadJSON
        self.attempts = attempts
        self.lastError = lastError
        self.errorHistoryJSON = errorHistoryJSON
        self.createdAt = createdAt
        self.deadLetteredAt = deadLetteredAt
    }

    /// Every attempt's error, oldest first.
    ///
    /// Entries are read leniently: the history is evidence for an operator, so an entry of an
    /// unexpected shape is shown as its JSON text rather than hidden or made fatal.
    public var errorHistory: [AttemptError] {
        guard let entries = try? JSONSerialization.jsonObject(with: Data(errorHistoryJSON.utf8)) as? [Any] else {
            return []
        }
        return entries.map { entry in
            guard let object = entry as? [String: Any], let error = object["error"] else {
                return AttemptError(attempt: nil, at: nil, error: Self.jsonText(entry))
            }
            return AttemptError(
                attempt: (object["attempt"] as? NSNumber)?.intValue,
                at: object["at"].map { $0 as? String ?? Self.jsonText($0) },
                error: error as? String ?? Self.jsonText(error)
            )
        }
    }

    private static func jsonText(_ value: Any) -> String {
        guard
            let data = try? JSONSerialization.data(
                withJSONObject: value,
                options: [.fragmentsAllowed, .sortedKeys, .withoutEscapingSlashes]
            )
        else { return "\(value)" }
        return String(decoding: data, as: UTF8.self)
    }
}

/// What a requeue moved (or, in a dry run, would move) back into `outbox_events`.
public struct RequeueResult: Sendable, Equatable {
    public struct Event: Sendable, Equatable {
        public var deadLetterID: UUID
        /// The id the event has again in `outbox_events`.
        public var eventID: UUID
        public var eventType: String

        public init(deadLetterID: UUID, eventID: UUID, eventType: String) {
            self.deadLetterID = deadLetterID
            self.eventID = eventID
            self.eventType = eventType
        }
    }

    /// Oldest dead letter first.
    public var requeued: [Event]
    /// Requested ids that matched neither a dead letter's id nor its event id, in the order
    /// they were given.
    public var notFound: [UUID]
    public var dryRun: Bool
}

/// What a purge deleted (or, in a dry run, would delete).
public struct PurgeResult: Sendable, Equatable {
    public var count: Int
    /// Dead letters dead-lettered before this instant are (or would be) purged.
    public var cutoff: Date
    public var dryRun: Bool
}

/// The operator's view of `outbox_dead_letters`: list, inspect, requeue, purge.
///
/// Every statement is set-based, so requeuing ten thousand dead letters costs one round trip,
/// and every change is one statement, so it is one transaction: it happens entirely or not
/// at all, whatever breaks in the middle.
public enum DeadLetterStore {
    static let columns = """
        id, event_id, event_type, aggregate_type, aggregate_id, payload::text AS payload, attempts,
        last_error, error_history::text AS error_history, created_at, dead_lettered_at
        """

    /// Newest first. A parameter that is NULL switches its filter off; libpq's unnamed
    /// statements are planned with the actual values, so the unused branch folds away and the
    /// `dead_lettered_at` / `(event_type, dead_lettered_at)` indexes serve the order.
    static let listSQL = """
        SELECT \(columns)
        FROM outbox_dead_letters
        WHERE ($2::text IS NULL OR event_type = $2::text)
            AND ($3::float8 IS NULL OR dead_lettered_at >= now() - make_interval(secs => $3::float8))
        ORDER BY dead_lettered_at DESC, id DESC
        LIMIT $1
        """

    /// Either id names the row: operators copy whichever one their log or alert showed. The
    /// dead letter's own id wins should the two ever name different rows.
    static let showSQL = """
        SELECT \(columns)
        FROM outbox_dead_letters
        WHERE id = $1::uuid OR event_id = $1::uuid
        ORDER BY (id = $1::uuid) DESC
        LIMIT 1
        """

    static let requeuePreviewSQL = """
        SELECT id, event_id, event_type
        FROM outbox_dead_letters
        WHERE id = ANY($1::uuid[]) OR event_id = ANY($1::uuid[])
        ORDER BY dead_lettered_at, id
        """

    static let requeueAllPreviewSQL = """
        SELECT id, event_id, event_type
        FROM outbox_dead_letters
        ORDER BY dead_lettered_at, id
        """

    static let requeueSQL = moveToOutboxSQL(matching: "WHERE id = ANY($1::uuid[]) OR event_id = ANY($1::uuid[])")

    static let requeueAllSQL = moveToOutboxSQL(matching: "")

    static let purgePreviewSQL = """
        SELECT count(*) AS purged, now() - make_interval(secs => $1::float8) AS cutoff
        FROM outbox_dead_letters
        WHERE dead_lettered_at < now() - make_interval(secs => $1::float8)
        """

    static let purgeSQL = """
        WITH purged AS (
            DELETE FROM outbox_dead_letters
            WHERE dead_lettered_at < now() - make_interval(secs => $1::float8)
            RETURNING 1
        )
        SELECT count(*) AS purged, now() - make_interval(secs => $1::float8) AS cutoff
        FROM purged
        """

    /// Deletes the matching dead letters and inserts them back into `outbox_events` in one
    /// statement.
    ///
    /// - The event keeps its id (consumers deduplicate on it), its payload, its `created_at`
    ///   and its error history; `attempts` starts again at 0 so it gets the full retry budget,
    ///   and it is due at once.
    /// - The DELETE locks the rows it moves, so two operators requeuing at once cannot both
    ///   insert the same event: the second finds the rows gone and moves nothing.
    /// - The insert fires `outbox_events_notify_on_insert`, so a running relay wakes at commit.
    /// - Should an event with the same id already be in the outbox, the unique violation
    ///   aborts the whole statement: a dead letter is never deleted without its event
    ///   being back in the outbox.
    private static func moveToOutboxSQL(matching condition: String) -> String {
        """
        WITH moved AS (
            DELETE FROM outbox_dead_letters
            \(condition)
            RETURNING id, event_id, event_type, aggregate_type, aggregate_id, payload, last_error,
                error_history, created_at, dead_lettered_at, traceparent, tracestate
        ),
        inserted AS (
            INSERT INTO outbox_events (
                id, event_type, aggregate_type, aggregate_id, payload, attempts, next_attempt_at,
                last_error, error_history, created_at, traceparent, tracestate
            )
            SELECT event_id, event_type, aggregate_type, aggregate_id, payload, 0, now(),
                last_error, error_history, created_at, traceparent, tracestate
            FROM moved
            RETURNING id
        )
        SELECT moved.id, moved.event_id, moved.event_type
        FROM moved
        JOIN inserted ON inserted.id = moved.event_id
        ORDER BY moved.dead_lettered_at, moved.id
        """
    }

    /// The newest `limit` dead letters, optionally only of one event type and only those
    /// dead-lettered within the last `since`.
    public static func list(
        on connection: Connection,
        limit: Int = 50,
        eventType: String? = nil,
        since: Duration? = nil
    ) throws -> [DeadLetter] {
        try connection.query(listSQL, [max(limit, 0), eventType, since.map(seconds)]).rows.map(deadLetter)
    }

    /// The dead letter whose id or original event id is `id`.
    public static func show(on connection: Connection, id: UUID) throws -> DeadLetter? {
        try connection.query(showSQL, [id]).first.map(deadLetter)
    }

    /// Moves the dead letters named by `ids` (dead-letter ids or event ids, mixed freely) back
    /// into the outbox. Ids that match nothing are reported in `notFound` and do not stop the
    /// others: an operator pasting a list, one of which a colleague already requeued, wants
    /// the rest moved and the stray one named.
    public static func requeue(on connection: Connection, ids: [UUID], dryRun: Bool = false) throws -> RequeueResult {
        var unique: [UUID] = []
        var seen = Set<UUID>()
        for id in ids where seen.insert(id).inserted { unique.append(id) }
        let events = try connection.query(dryRun ? requeuePreviewSQL : requeueSQL, [unique]).rows.map(requeuedEvent)
        let matched = Set(events.flatMap { [$0.deadLetterID, $0.eventID] })
        return RequeueResult(requeued: events, notFound: unique.filter { !matched.contains($0) }, dryRun: dryRun)
    }

    /// Moves every dead letter back into the outbox.
    public static func requeueAll(on connection: Connection, dryRun: Bool = false) throws -> RequeueResult {
        let events = try connection.query(dryRun ? requeueAllPreviewSQL : requeueAllSQL).rows.map(requeuedEvent)
        return RequeueResult(requeued: events, notFound: [], dryRun: dryRun)
    }

    /// Deletes the dead letters dead-lettered more than `olderThan` ago, for good.
    public static func purge(
        on connection: Connection,
        olderThan: Duration,
        dryRun: Bool = false
    ) throws
        -> PurgeResult
    {
        guard let row = try connection.query(dryRun ? purgePreviewSQL : purgeSQL, [seconds(olderThan)]).first else {
            throw PostgresError(code: .decodingFailed, message: "the purge statement returned no row")
        }
        return PurgeResult(count: try row.decode("purged"), cutoff: try row.decode("cutoff"), dryRun: dryRun)
    }

    /// Postgres intervals have microsecond resolution; a `Duration` becomes fractional seconds
    /// for `make_interval(secs => ...)`.
    private static func seconds(_ duration: Duration) -> Double {
        let components = duration.components
        return Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    private static func deadLetter(_ row: Row) throws -> DeadLetter {
        DeadLetter(
            id: try row.decode("id"),
            eventID: try row.decode("event_id"),
            eventType: try row.decode("event_type"),
            aggregateType: try row.decode("aggregate_type"),
            aggregateID: try row.decode("aggregate_id"),
            payloadJSON: try row.decode("payload"),
            attempts: try row.decode("attempts"),
            lastError: try row.decodeIfPresent("last_error"),
            errorHistoryJSON: try row.decode("error_history"),
            createdAt: try row.decode("created_at"),
            deadLetteredAt: try row.decode("dead_lettered_at")
        )
    }

    private static func requeuedEvent(_ row: Row) throws -> RequeueResult.Event {
        RequeueResult.Event(
            deadLetterID: try row.decode("id"),
            eventID: try row.decode("event_id"),
            eventType: try row.decode("event_type")
        )
    }
}
