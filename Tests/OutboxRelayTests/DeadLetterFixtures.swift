import Foundation
import Logging
import Postgres
import Synchronization
import TestSupport
import Testing

/// Rows written straight into the relay's tables, so the operator verbs are tested against
/// exactly the states they must handle, without running a relay.
enum DeadLetterFixtures {
    static let payload = """
        {"photo_id": "6f1c4a52-0c8e-4a57-9a43-6c1d2b8e9f10", "s3_url": "s3://bucket/p/2026/01/02/x.jpg", \
        "detection_types": ["damage", "material"], "priority": "normal"}
        """

    struct Inserted: Sendable {
        let id: UUID
        let eventID: UUID
    }

    /// A dead letter dead-lettered `ageSeconds` ago, whose history holds one entry per error.
    @discardableResult
    static func insertDeadLetter(
        _ connection: Connection,
        eventType: String = "photo.uploaded",
        ageSeconds: Double = 0,
        errors: [String] = ["connect timeout", "SQS 500: InternalError"],
        payload: String = DeadLetterFixtures.payload
    ) throws -> Inserted {
        let row = try #require(
            try connection.query(
                """
                INSERT INTO outbox_dead_letters
                    (event_id, event_type, aggregate_type, aggregate_id, payload, attempts, last_error,
                     error_history, created_at, dead_lettered_at)
                SELECT gen_random_uuid(), $1, 'photo', gen_random_uuid(), $2::jsonb, cardinality($3::text[]),
                    ($3::text[])[cardinality($3::text[])],
                    coalesce(
                        (SELECT jsonb_agg(
                                    jsonb_build_object('attempt', n, 'at', now(), 'error', e) ORDER BY n)
                         FROM unnest($3::text[]) WITH ORDINALITY AS h(e, n)),
                        '[]'),
                    now() - make_interval(secs => $4::float8) - interval '1 hour',
                    now() - make_interval(secs => $4::float8)
                RETURNING id, event_id
                """,
                [eventType, payload, errors, ageSeconds]
            ).first
        )
        return Inserted(id: try row.decode("id"), eventID: try row.decode("event_id"))
    }

    /// An outbox event created `createdSecondsAgo` ago, next due `dueInSeconds` from now
    /// (negative: already due), optionally under a lease ending `leaseEndsInSeconds` from now.
    @discardableResult
    static func insertOutboxEvent(
        _ connection: Connection,
        createdSecondsAgo: Double = 0,
        dueInSeconds: Double = -1,
        leaseEndsInSeconds: Double? = nil
    ) throws -> UUID {
        let id = UUID()
        try connection.query(
            """
            INSERT INTO outbox_events
                (id, event_type, aggregate_id, payload, next_attempt_at, claimed_by, claim_token, lease_until,
                 created_at)
            VALUES ($1, 'photo.uploaded', gen_random_uuid(), $2::jsonb, now() + make_interval(secs => $3::float8),
                CASE WHEN $4::float8 IS NULL THEN NULL ELSE 'relay-test' END,
                CASE WHEN $4::float8 IS NULL THEN NULL ELSE gen_random_uuid() END,
                now() + make_interval(secs => $4::float8),
                now() - make_interval(secs => $5::float8))
            """,
            [id, payload, dueInSeconds, leaseEndsInSeconds, createdSecondsAgo]
        )
        return id
    }

    /// Polls `condition` for up to `timeout`. A wait for something to happen (a LISTEN
    /// connection, a NOTIFY), not a speed check: 15 s, room for a loaded two-core machine
    /// (a CI run once timed out here at 10 s, while suites still ran libpq calls on the
    /// cooperative threads), while a lost notification still fails in seconds.
    static func waitUntil(
        _ what: String,
        timeout: Duration = .seconds(15),
        _ condition: () throws -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        while try !condition() {
            guard ContinuousClock.now < deadline else { throw TestEnvironmentError("timed out waiting until \(what)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// `outbox-relay ARGS` with only `DATABASE_URL` set (no SQS settings: the operator verbs must
    /// not need them); without a database it points at a port nothing listens on.
    static func runCLI(_ arguments: [String], database: TestDatabase? = nil) async throws -> ChildProcess {
        try await ChildProcess.run(
            try TestPaths.executable("outbox-relay"),
            arguments,
            environment: [
                "DATABASE_URL": database?.connectionString ?? "postgresql://nobody@127.0.0.1:1/none",
                "LOG_LEVEL": "error",
            ]
        )
    }

    /// The CLI's JSON output as a dictionary.
    static func json(_ child: ChildProcess) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(child.standardOutput.utf8)) as? [String: Any])
    }

    static func count(_ connection: Connection, _ table: String) throws -> Int {
        try #require(try connection.query("SELECT count(*) AS n FROM \(table)").first).decode("n")
    }
}

/// Records what a `NotificationListener` reports, for tests that wait on `NOTIFY`.
final class DeadLetterNotifications: Sendable {
    private let events = Mutex<[NotificationListener.Event]>([])

    func record(_ event: NotificationListener.Event) {
        events.withLock { $0.append(event) }
    }

    var notificationCount: Int {
        events.withLock { $0.filter { $0 != .connected }.count }
    }

    var isConnected: Bool {
        events.withLock { $0.contains(.connected) }
    }

    /// Listens on `channel` while `body` runs; returns once `body` is done.
    static func listening<Value>(
        on database: TestDatabase,
        channel: String,
        _ body: (DeadLetterNotifications) async throws -> Value
    ) async throws -> Value {
        let notifications = DeadLetterNotifications()
        var logger = Logger(label: "dead-letter-tests")
        logger.logLevel = .critical
        let listener = NotificationListener(settings: database.settings, channels: [channel], logger: logger)
        let task = Task.offTheCooperativePool { try await listener.run { notifications.record($0) } }
        do {
            try await DeadLetterFixtures.waitUntil("the LISTEN connection is up") { notifications.isConnected }
            let value = try await body(notifications)
            task.cancel()
            _ = try? await task.value
            return value
        } catch {
            task.cancel()
            _ = try? await task.value
            throw error
        }
    }
}
