import Domain
import Foundation
import PhotoStore
import Postgres
import UUIDCoding

/// An event a relay has claimed: it holds the lease until `retire` or `release`.
public struct ClaimedEvent: Sendable, Equatable {
    public let id: UUID
    public let eventType: String
    public let aggregateID: UUID
    /// The SQS message body, as stored.
    public let payload: String
    /// Attempts including the current one (incremented by the claim).
    public let attempts: Int
    public let createdAt: Date
    /// The writing request's trace (`traceparent`, `tracestate`), sent on as message
    /// attributes; `nil` for events written without one.
    public let traceParent: String?
    public let traceState: String?

    public init(
        id: UUID,
        eventType: String,
        aggregateID: UUID,
        payload: String,
        attempts: Int,
        createdAt: Date,
        traceParent: String? = nil,
        traceState: String? = nil
    ) {
        self.id = id
        self.eventType = eventType
        self.aggregateID = aggregateID
        self.payload = payload
        self.attempts = attempts
        self.createdAt = createdAt
        self.traceParent = traceParent
        self.traceState = traceState
    }

    /// The trace id of ``traceParent``, for log lines; `nil` without a valid one.
    public var traceID: String? { TraceContext(traceParent: traceParent)?.traceID }
}

/// A claim: the events and the fencing token that every later change must present.
public struct Claim: Sendable {
    public let token: UUID
    public let events: [ClaimedEvent]
}

/// What became of a claimed batch, applied in one transaction by `OutboxClaims.retire`.
public struct ClaimOutcome: Sendable {
    /// Accepted by SQS: deleted, and their photos move `uploaded → processing`.
    public var delivered: [UUID] = []
    /// Failed, will be tried again after the delay.
    public var retries: [(id: UUID, error: String, delayMilliseconds: Int64)] = []
    /// Out of attempts, or refused permanently: moved to `outbox_dead_letters`.
    public var deadLetters: [(id: UUID, error: String)] = []
    /// Never reached SQS because SQS was unavailable: back to the queue, attempt not counted.
    public var released: [UUID] = []

    public init() {}
}

/// Counts of what `retire` changed (fenced rows only: a lapsed lease changes nothing).
public struct RetireCounts: Sendable, Equatable {
    public var delivered = 0
    public var retried = 0
    public var deadLettered = 0
    public var released = 0

    public init() {}
}

/// The relay's statements on `outbox_events`. Every one is a short, set-based statement; no
/// transaction or row lock is held while SQS is called.
///
/// Leases: a claim sets `claim_token`, `claimed_by`, `lease_until` and moves `next_attempt_at`
/// to the end of the lease, so the claim query (`next_attempt_at <= now()`) skips leased events
/// and takes them over by itself once a lease lapses. Every later statement is fenced by the
/// claim token: a relay whose lease lapsed and was taken over cannot touch the events again.
public enum OutboxClaims {
    static let claimStatement = PreparedStatement(
        name: "outbox_claim",
        sql: """
            WITH due AS (
                SELECT id FROM outbox_events
                WHERE next_attempt_at <= now()
                ORDER BY next_attempt_at, created_at
                LIMIT $1
                FOR UPDATE SKIP LOCKED
            )
            UPDATE outbox_events AS e
            SET attempts = e.attempts + 1,
                claimed_by = $2,
                claim_token = $3,
                lease_until = now() + $4 * interval '1 millisecond',
                next_attempt_at = now() + $4 * interval '1 millisecond'
            FROM due
            WHERE e.id = due.id
            RETURNING e.id, e.event_type, e.aggregate_id, e.payload::text AS payload, e.attempts, e.created_at,
                e.traceparent, e.tracestate
            """
    )

    /// Deletes delivered events and, in the same statement, moves their photos
    /// `uploaded → processing` with a history row (docs/architecture.md), with `PhotoStore`'s SQL
    /// for that move.
    static let deliverStatement = PreparedStatement(
        name: "outbox_deliver",
        sql: """
            WITH delivered AS (
                DELETE FROM outbox_events
                WHERE id = ANY($1::uuid[]) AND claim_token = $2
                RETURNING event_type, aggregate_id
            ),
            \(PhotoLifecycle.processingCommonTableExpressions(
                photoIDs: "SELECT aggregate_id FROM delivered WHERE event_type = '\(PhotoUploadedEvent.eventType)'"
            ))
            SELECT (SELECT count(*) FROM delivered) AS delivered, (SELECT count(*) FROM changed) AS moved
            """
    )

    static let retryStatement = PreparedStatement(
        name: "outbox_retry",
        sql: """
            UPDATE outbox_events AS e
            SET last_error = f.error,
                error_history = e.error_history
                    || jsonb_build_array(jsonb_build_object('attempt', e.attempts, 'at', now(), 'error', f.error)),
                next_attempt_at = now() + f.delay_ms * interval '1 millisecond',
                claim_token = NULL, claimed_by = NULL, lease_until = NULL
            FROM unnest($1::uuid[], $2::text[], $3::bigint[]) AS f(id, error, delay_ms)
            WHERE e.id = f.id AND e.claim_token = $4
            """
    )

    static let deadLetterStatement = PreparedStatement(
        name: "outbox_dead_letter",
        sql: """
            WITH dead AS (
                DELETE FROM outbox_events AS e
                USING unnest($1::uuid[], $2::text[]) AS f(id, error)
                WHERE e.id = f.id AND e.claim_token = $3
                RETURNING e.id, e.event_type, e.aggregate_type, e.aggregate_id, e.payload, e.attempts,
                    e.error_history, e.created_at, f.error, e.traceparent, e.tracestate
            )
            INSERT INTO outbox_dead_letters
                (event_id, event_type, aggregate_type, aggregate_id, payload, attempts, last_error, error_history, created_at,
                 traceparent, tracestate)
            SELECT id, event_type, aggregate_type, aggregate_id, payload, attempts, error,
                error_history || jsonb_build_array(jsonb_build_object('attempt', attempts, 'at', now(), 'error', error)),
                created_at, traceparent, tracestate
            FROM dead
            ON CONFLICT (event_id) DO UPDATE
            SET attempts = outbox_dead_letters.attempts + EXCLUDED.attempts,
                last_error = EXCLUDED.last_error,
                error_history = outbox_dead_letters.error_history || EXCLUDED.error_history,
                dead_lettered_at = now()
            """
    )

    /// Gives events back without counting the attempt the claim added.
    static let releaseStatement = PreparedStatement(
        name: "outbox_release",
        sql: """
            UPDATE outbox_events
            SET attempts = greatest(attempts - 1, 0),
                next_attempt_at = now(),
                claim_token = NULL, claimed_by = NULL, lease_until = NULL
            WHERE id = ANY($1::uuid[]) AND claim_token = $2
            """
    )

    /// Claims up to `limit` due events for `relayID`, holding them for `lease`.
    public static func claim(
        limit: Int,
        relayID: String,
        lease: Duration,
        on connection: Connection
    ) throws -> Claim {
        let token = UUID.randomVersion4()
        let leaseMilliseconds = Int(
            lease.components.seconds * 1000 + lease.components.attoseconds / 1_000_000_000_000_000
        )
        let rows = try connection.execute(claimStatement, [limit, relayID, token, leaseMilliseconds]).rows
        let events = try rows.map { row in
            ClaimedEvent(
                id: try row.decode("id"),
                eventType: try row.decode("event_type"),
                aggregateID: try row.decode("aggregate_id"),
                payload: try row.decode("payload"),
                attempts: try row.decode("attempts"),
                createdAt: try row.decode("created_at"),
                traceParent: try row.decodeIfPresent("traceparent", as: String.self),
                traceState: try row.decodeIfPresent("tracestate", as: String.self)
            )
        }
        return Claim(token: token, events: events.sorted { $0.createdAt < $1.createdAt })
    }

    /// Applies a batch's outcome in one transaction.
    @discardableResult
    public static func retire(_ outcome: ClaimOutcome, token: UUID, on connection: Connection) throws -> RetireCounts {
        try connection.transaction { connection in
            var counts = RetireCounts()
            if !outcome.delivered.isEmpty {
                let row = try connection.execute(deliverStatement, [outcome.delivered, token]).first
                counts.delivered = try row?.decode("delivered", as: Int.self) ?? 0
            }
            if !outcome.retries.isEmpty {
                counts.retried =
                    try connection.execute(
                        retryStatement,
                        [
                            outcome.retries.map(\.id), outcome.retries.map(\.error),
                            outcome.retries.map(\.delayMilliseconds), token,
                        ]
                    ).affectedRows
            }
            if !outcome.deadLetters.isEmpty {
                counts.deadLettered =
                    try connection.execute(
                        deadLetterStatement,
                        [outcome.deadLetters.map(\.id), outcome.deadLetters.map(\.error), token]
                    ).affectedRows
            }
            if !outcome.released.isEmpty {
                counts.released = try connection.execute(releaseStatement, [outcome.released, token]).affectedRows
            }
            return counts
        }
    }
}
