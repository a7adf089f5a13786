import Foundation
import OutboxRelay
import Postgres
import TestSupport
import Testing

/// The relay's statements against a migrated database, without SQS.
/// The statements block on libpq, so every call on the test's connection runs off the
/// cooperative pool (`Connection.blocking`); the expectations stay in the test's task.
@Suite(.requiresDatabase, .offTheCooperativePool) struct OutboxClaimsTests {
    /// A project, `count` photos in `uploaded` and one `photo.uploaded` event each.
    private static func seed(_ connection: Connection, count: Int) throws -> [UUID] {
        let project = UUID()
        try connection.query(
            "INSERT INTO projects (id, organization_id, name) VALUES ($1, $2, 'site')",
            [project, UUID()]
        )
        try connection.query(
            """
            INSERT INTO photos (id, project_id, user_id, file_name, mime_type, file_size, s3_bucket, s3_key,
                status, upload_expires_at, uploaded_at)
            SELECT gen_random_uuid(), $1::uuid, gen_random_uuid(), 'a.jpg', 'image/jpeg', 2048, 'bucket',
                'key-' || g || '-' || $1::text, 'uploaded', now(), now()
            FROM generate_series(1, $2) AS g
            """,
            [project, count]
        )
        let rows = try connection.query(
            """
            INSERT INTO outbox_events (id, event_type, aggregate_id, payload, created_at)
            SELECT gen_random_uuid(), 'photo.uploaded', id, jsonb_build_object('photo_id', id), clock_timestamp()
            FROM photos WHERE project_id = $1
            RETURNING id
            """,
            [project]
        )
        return try rows.rows.map { try $0.decode("id", as: UUID.self) }
    }

    @Test func claimsLeaseEventsSoThatASecondClaimSkipsThem() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let connection = try await database.connection()
            let ids = try await connection.blocking { try Self.seed($0, count: 30) }
            let first = try await Self.claim(relayID: "a", limit: 20, on: connection)
            let second = try await Self.claim(relayID: "b", limit: 20, on: connection)
            #expect(first.events.count == 20)
            #expect(second.events.count == 10)
            #expect(Set(first.events.map(\.id)).isDisjoint(with: second.events.map(\.id)))
            #expect(Set(first.events.map(\.id) + second.events.map(\.id)) == Set(ids))
            #expect(first.events.allSatisfy { $0.attempts == 1 })
            let third = try await Self.claim(relayID: "c", limit: 20, on: connection)
            #expect(third.events.isEmpty)
            let holders = try await connection.blocking {
                try $0.query("SELECT DISTINCT claimed_by FROM outbox_events ORDER BY 1")
            }
            #expect(try holders.rows.map { try $0.decode("claimed_by", as: String.self) } == ["a", "b"])
        }
    }

    @Test func deliveryDeletesEventsAndMovesPhotosToProcessingInOneGo() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let connection = try await database.connection()
            _ = try await connection.blocking { try Self.seed($0, count: 5) }
            let claim = try await Self.claim(relayID: "a", on: connection)
            var outcome = ClaimOutcome()
            outcome.delivered = claim.events.map(\.id)
            let counts = try await Self.retire(outcome, claim.token, on: connection)
            #expect(counts.delivered == 5)
            #expect(try await Self.count("SELECT count(*) AS n FROM outbox_events", on: connection) == 0)
            let statuses = try await connection.blocking {
                try $0.query("SELECT DISTINCT status FROM photos").rows.map {
                    try $0.decode("status", as: String.self)
                }
            }
            #expect(statuses == ["processing"])
            let history = try await Self.count(
                "SELECT count(*) AS n FROM photo_status_history WHERE status = 'processing' AND previous_status = 'uploaded' AND changed_by = 'relay'",
                on: connection
            )
            #expect(history == 5)
            #expect(
                try await Self.count("SELECT count(*) AS n FROM photos WHERE processing_at IS NULL", on: connection)
                    == 0
            )
        }
    }

    @Test func retriesKeepTheErrorHistoryAndWaitForTheBackoff() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let connection = try await database.connection()
            _ = try await connection.blocking { try Self.seed($0, count: 2) }
            let claim = try await Self.claim(relayID: "a", on: connection)
            var outcome = ClaimOutcome()
            outcome.retries = claim.events.map { ($0.id, "SQS InternalError: boom", 60_000) }
            #expect(try await Self.retire(outcome, claim.token, on: connection).retried == 2)
            let result = try await connection.blocking {
                try $0.query(
                    """
                    SELECT min(attempts) AS attempts, bool_and(claim_token IS NULL) AS released,
                        bool_and(next_attempt_at > now() + interval '50 seconds') AS waiting,
                        min(last_error) AS error, min(jsonb_array_length(error_history)) AS history
                    FROM outbox_events
                    """
                )
            }
            let row = try #require(result.first)
            #expect(try row.decode("attempts", as: Int.self) == 1)
            #expect(try row.decode("released", as: Bool.self))
            #expect(try row.decode("waiting", as: Bool.self))
            #expect(try row.decode("error", as: String.self) == "SQS InternalError: boom")
            #expect(try row.decode("history", as: Int.self) == 1)
            // Not due yet: nothing to claim.
            #expect(try await Self.claim(relayID: "b", on: connection).events.isEmpty)
        }
    }

    @Test func deadLettersMoveWithTheirWholeHistory() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let connection = try await database.connection()
            let ids = try await connection.blocking { try Self.seed($0, count: 1) }
            var claim = try await Self.claim(relayID: "a", on: connection)
            var outcome = ClaimOutcome()
            outcome.retries = [(ids[0], "first failure", 0)]
            _ = try await Self.retire(outcome, claim.token, on: connection)
            claim = try await Self.claim(relayID: "a", on: connection)
            outcome = ClaimOutcome()
            outcome.deadLetters = [(ids[0], "second failure")]
            #expect(try await Self.retire(outcome, claim.token, on: connection).deadLettered == 1)
            #expect(try await Self.count("SELECT count(*) AS n FROM outbox_events", on: connection) == 0)
            let result = try await connection.blocking {
                try $0.query(
                    "SELECT event_id, attempts, last_error, error_history::text AS history FROM outbox_dead_letters"
                )
            }
            let dead = try #require(result.first)
            #expect(try dead.decode("event_id", as: UUID.self) == ids[0])
            #expect(try dead.decode("attempts", as: Int.self) == 2)
            #expect(try dead.decode("last_error", as: String.self) == "second failure")
            let history = try dead.decode("history", as: String.self)
            #expect(history.contains("first failure") && history.contains("second failure"))
        }
    }

    @Test func releaseGivesEventsBackWithoutCountingTheAttempt() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let connection = try await database.connection()
            _ = try await connection.blocking { try Self.seed($0, count: 3) }
            let claim = try await Self.claim(relayID: "a", on: connection)
            var outcome = ClaimOutcome()
            outcome.released = claim.events.map(\.id)
            #expect(try await Self.retire(outcome, claim.token, on: connection).released == 3)
            let again = try await Self.claim(relayID: "b", on: connection)
            #expect(again.events.count == 3)
            #expect(again.events.allSatisfy { $0.attempts == 1 })
        }
    }

    @Test func aLapsedLeaseIsTakenOverAndTheOldTokenChangesNothing() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let connection = try await database.connection()
            _ = try await connection.blocking { try Self.seed($0, count: 4) }
            let stale = try await Self.claim(relayID: "dead-relay", lease: .milliseconds(1), on: connection)
            #expect(stale.events.count == 4)
            try await Task.sleep(for: .milliseconds(20))
            let takeover = try await Self.claim(relayID: "live-relay", on: connection)
            #expect(takeover.events.count == 4)
            #expect(takeover.events.allSatisfy { $0.attempts == 2 })
            var late = ClaimOutcome()
            late.delivered = stale.events.map(\.id)
            #expect(try await Self.retire(late, stale.token, on: connection) == RetireCounts())
            #expect(try await Self.count("SELECT count(*) AS n FROM outbox_events", on: connection) == 4)
            var current = ClaimOutcome()
            current.delivered = takeover.events.map(\.id)
            #expect(try await Self.retire(current, takeover.token, on: connection).delivered == 4)
        }
    }

    /// `OutboxClaims.claim` off the cooperative pool.
    private static func claim(
        relayID: String,
        limit: Int = 10,
        lease: Duration = .seconds(60),
        on connection: Connection
    ) async throws -> Claim {
        try await connection.blocking { try OutboxClaims.claim(limit: limit, relayID: relayID, lease: lease, on: $0) }
    }

    /// `OutboxClaims.retire` off the cooperative pool.
    private static func retire(
        _ outcome: ClaimOutcome,
        _ token: UUID,
        on connection: Connection
    ) async throws
        -> RetireCounts
    {
        try await connection.blocking { try OutboxClaims.retire(outcome, token: token, on: $0) }
    }

    /// The `n` of a `SELECT count(*) AS n ...`, off the cooperative pool.
    private static func count(_ sql: String, on connection: Connection) async throws -> Int? {
        try await connection.blocking { try $0.query(sql).first?.decode("n", as: Int.self) }
    }
}
