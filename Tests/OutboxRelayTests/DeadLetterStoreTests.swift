import Foundation
import OutboxRelay
import Postgres
import TestSupport
import Testing

/// `DeadLetterStore` against a migrated database: the statements behind
/// `outbox-relay dead-letters`.
@Suite(.requiresDatabase) struct DeadLetterStoreTests {
    // MARK: list

    @Test func listIsNewestFirstAndHonoursTheLimit() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let connection = try database.connect()
            let threeHours = try DeadLetterFixtures.insertDeadLetter(connection, ageSeconds: 3 * 3600)
            let oneHour = try DeadLetterFixtures.insertDeadLetter(connection, ageSeconds: 3600)
            let twoHours = try DeadLetterFixtures.insertDeadLetter(connection, ageSeconds: 2 * 3600)

            let all = try DeadLetterStore.list(on: connection)
            #expect(all.map(\.id) == [oneHour.id, twoHours.id, threeHours.id])
            #expect(all.map(\.eventID) == [oneHour.eventID, twoHours.eventID, threeHours.eventID])

            let newestTwo = try DeadLetterStore.list(on: connection, limit: 2)
            #expect(newestTwo.map(\.id) == [oneHour.id, twoHours.id])
        }
    }

    @Test func listFiltersByEventTypeAndSince() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let connection = try database.connect()
            let recentUpload = try DeadLetterFixtures.insertDeadLetter(connection, ageSeconds: 60)
            let oldUpload = try DeadLetterFixtures.insertDeadLetter(connection, ageSeconds: 3 * 86_400)
            let recentOther = try DeadLetterFixtures.insertDeadLetter(
                connection,
                eventType: "photo.reprocess",
                ageSeconds: 120
            )

            let uploads = try DeadLetterStore.list(on: connection, eventType: "photo.uploaded")
            #expect(uploads.map(\.id) == [recentUpload.id, oldUpload.id])

            let lastDay = try DeadLetterStore.list(on: connection, since: .seconds(86_400))
            #expect(lastDay.map(\.id) == [recentUpload.id, recentOther.id])

            let both = try DeadLetterStore.list(on: connection, eventType: "photo.reprocess", since: .seconds(86_400))
            #expect(both.map(\.id) == [recentOther.id])

            #expect(try DeadLetterStore.list(on: connection, eventType: "no.such.type").isEmpty)
        }
    }

    // MARK: show

    @Test func showFindsByDeadLetterIdOrEventIdWithEveryError() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let connection = try database.connect()
            let errors = ["connect timeout", "SQS 500: InternalError", "SQS 503:\nServiceUnavailable"]
            let inserted = try DeadLetterFixtures.insertDeadLetter(connection, errors: errors)
            try DeadLetterFixtures.insertDeadLetter(connection)

            let byID = try #require(try DeadLetterStore.show(on: connection, id: inserted.id))
            let byEventID = try #require(try DeadLetterStore.show(on: connection, id: inserted.eventID))
            #expect(byID == byEventID)
            #expect(byID.id == inserted.id)
            #expect(byID.eventID == inserted.eventID)
            #expect(byID.eventType == "photo.uploaded")
            #expect(byID.attempts == 3)
            #expect(byID.lastError == errors.last)
            #expect(byID.errorHistory.map(\.error) == errors)
            #expect(byID.errorHistory.map(\.attempt) == [1, 2, 3])
            #expect(byID.errorHistory.allSatisfy { $0.at != nil })
            let payload = try #require(
                try JSONSerialization.jsonObject(with: Data(byID.payloadJSON.utf8)) as? [String: Any]
            )
            #expect(payload["photo_id"] as? String == "6f1c4a52-0c8e-4a57-9a43-6c1d2b8e9f10")

            #expect(try DeadLetterStore.show(on: connection, id: UUID()) == nil)
        }
    }

    @Test func anErrorHistoryEntryOfAnotherShapeIsShownNotDropped() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let connection = try database.connect()
            let inserted = try DeadLetterFixtures.insertDeadLetter(connection, errors: ["first"])
            try connection.query(
                """
                UPDATE outbox_dead_letters
                SET error_history = error_history || '[{"status": 400}, "plain text"]'::jsonb
                WHERE id = $1
                """,
                [inserted.id]
            )
            let deadLetter = try #require(try DeadLetterStore.show(on: connection, id: inserted.id))
            #expect(deadLetter.errorHistory.map(\.error) == ["first", #"{"status":400}"#, #""plain text""#])
            #expect(deadLetter.errorHistory.map(\.attempt) == [1, nil, nil])
        }
    }

    // MARK: requeue

    @Test func requeueMovesEventsBackUnderTheirEventIdAndWakesTheRelay() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let connection = try database.connect()
            let first = try DeadLetterFixtures.insertDeadLetter(connection, ageSeconds: 120, errors: ["a", "b"])
            let second = try DeadLetterFixtures.insertDeadLetter(connection, ageSeconds: 60, errors: ["c"])
            let untouched = try DeadLetterFixtures.insertDeadLetter(connection)
            let before = try connection.query(
                """
                SELECT event_id, payload::text AS payload, error_history::text AS history, last_error,
                    created_at::text AS created_at
                FROM outbox_dead_letters ORDER BY event_id
                """
            ).rows.filter { try $0.decode("event_id", as: UUID.self) != untouched.eventID }

            let result = try await DeadLetterNotifications.listening(on: database, channel: "outbox_events") {
                notifications in
                // One by its dead-letter id, one by its event id: operators copy either.
                let result = try DeadLetterStore.requeue(on: connection, ids: [first.id, second.eventID])
                try await DeadLetterFixtures.waitUntil("the requeue's NOTIFY arrives") {
                    notifications.notificationCount > 0
                }
                return result
            }

            #expect(result.dryRun == false)
            #expect(result.notFound.isEmpty)
            #expect(result.requeued.map(\.deadLetterID) == [first.id, second.id])
            #expect(result.requeued.map(\.eventID) == [first.eventID, second.eventID])

            let after = try connection.query(
                """
                SELECT id AS event_id, payload::text AS payload, error_history::text AS history, last_error,
                    created_at::text AS created_at, attempts, next_attempt_at <= now() AS due,
                    claim_token IS NULL AS unclaimed
                FROM outbox_events ORDER BY id
                """
            ).rows
            #expect(after.count == 2)
            for (old, new) in zip(before, after) {
                #expect(try new.decode("event_id", as: UUID.self) == old.decode("event_id", as: UUID.self))
                #expect(new["payload"] == old["payload"])
                #expect(new["history"] == old["history"])
                #expect(new["last_error"] == old["last_error"])
                #expect(new["created_at"] == old["created_at"])
                #expect(try new.decode("attempts", as: Int.self) == 0)
                #expect(try new.decode("due", as: Bool.self))
                #expect(try new.decode("unclaimed", as: Bool.self))
            }
            let remaining = try connection.query("SELECT id FROM outbox_dead_letters").rows.map {
                try $0.decode("id", as: UUID.self)
            }
            #expect(remaining == [untouched.id])
        }
    }

    @Test func requeueDryRunReportsAndChangesNothing() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let connection = try database.connect()
            let first = try DeadLetterFixtures.insertDeadLetter(connection, ageSeconds: 60)
            let second = try DeadLetterFixtures.insertDeadLetter(connection)
            let unknown = UUID()

            let preview = try DeadLetterStore.requeue(
                on: connection,
                ids: [second.eventID, unknown, first.id],
                dryRun: true
            )
            #expect(preview.dryRun)
            #expect(preview.requeued.map(\.eventID) == [first.eventID, second.eventID])
            #expect(preview.notFound == [unknown])
            #expect(try DeadLetterFixtures.count(connection, "outbox_dead_letters") == 2)
            #expect(try DeadLetterFixtures.count(connection, "outbox_events") == 0)

            let all = try DeadLetterStore.requeueAll(on: connection, dryRun: true)
            #expect(all.requeued.map(\.deadLetterID) == [first.id, second.id])
            #expect(try DeadLetterFixtures.count(connection, "outbox_dead_letters") == 2)
            #expect(try DeadLetterFixtures.count(connection, "outbox_events") == 0)
        }
    }

    @Test func requeueNamesUnknownIdsAndStillMovesTheOthers() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let connection = try database.connect()
            let known = try DeadLetterFixtures.insertDeadLetter(connection)
            let unknown = UUID()

            // The same dead letter twice (by both its ids) and an id that is no dead letter.
            let result = try DeadLetterStore.requeue(on: connection, ids: [unknown, known.id, known.eventID, unknown])
            #expect(result.requeued.map(\.eventID) == [known.eventID])
            #expect(result.notFound == [unknown])
            #expect(try DeadLetterFixtures.count(connection, "outbox_dead_letters") == 0)
            #expect(try DeadLetterFixtures.count(connection, "outbox_events") == 1)

            // Requeued already: a second requeue finds nothing and says so.
            let again = try DeadLetterStore.requeue(on: connection, ids: [known.id])
            #expect(again.requeued.isEmpty)
            #expect(again.notFound == [known.id])
        }
    }

    @Test func requeueAllMovesEveryDeadLetterOldestFirst() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let connection = try database.connect()
            let older = try DeadLetterFixtures.insertDeadLetter(connection, ageSeconds: 600)
            let newer = try DeadLetterFixtures.insertDeadLetter(connection, eventType: "photo.reprocess")

            let result = try DeadLetterStore.requeueAll(on: connection)
            #expect(result.requeued.map(\.eventID) == [older.eventID, newer.eventID])
            #expect(result.requeued.map(\.eventType) == ["photo.uploaded", "photo.reprocess"])
            #expect(try DeadLetterFixtures.count(connection, "outbox_dead_letters") == 0)
            let ids = try connection.query("SELECT id FROM outbox_events WHERE attempts = 0").rows.map {
                try $0.decode("id", as: UUID.self)
            }
            #expect(Set(ids) == [older.eventID, newer.eventID])

            #expect(try DeadLetterStore.requeueAll(on: connection).requeued.isEmpty)
        }
    }

    /// An event whose id is somehow already in the outbox must not lose its dead letter: the
    /// whole requeue fails and nothing moves.
    @Test func requeueIsAllOrNothingWhenAnEventIsAlreadyInTheOutbox() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let connection = try database.connect()
            let clashing = try DeadLetterFixtures.insertDeadLetter(connection)
            let fine = try DeadLetterFixtures.insertDeadLetter(connection)
            try connection.query(
                "INSERT INTO outbox_events (id, event_type, aggregate_id, payload) VALUES ($1, 'x', gen_random_uuid(), '{}')",
                [clashing.eventID]
            )

            let error = #expect(throws: PostgresError.self) {
                try DeadLetterStore.requeue(on: connection, ids: [clashing.id, fine.id])
            }
            #expect(error?.isUniqueViolation == true, "\(String(describing: error))")
            #expect(try DeadLetterFixtures.count(connection, "outbox_dead_letters") == 2)
            #expect(try DeadLetterFixtures.count(connection, "outbox_events") == 1)
        }
    }

    // MARK: purge

    @Test func purgeDeletesOnlyDeadLettersOlderThanTheCutoff() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let connection = try database.connect()
            try DeadLetterFixtures.insertDeadLetter(connection, ageSeconds: 10 * 86_400)
            try DeadLetterFixtures.insertDeadLetter(connection, ageSeconds: 8 * 86_400)
            let recent = try DeadLetterFixtures.insertDeadLetter(connection, ageSeconds: 86_400)

            let preview = try DeadLetterStore.purge(on: connection, olderThan: .seconds(7 * 86_400), dryRun: true)
            #expect(preview.dryRun)
            #expect(preview.count == 2)
            #expect(abs(preview.cutoff.timeIntervalSinceNow + 7 * 86_400) < 60)
            #expect(try DeadLetterFixtures.count(connection, "outbox_dead_letters") == 3)

            let purged = try DeadLetterStore.purge(on: connection, olderThan: .seconds(7 * 86_400))
            #expect(purged.dryRun == false)
            #expect(purged.count == 2)
            let remaining = try connection.query("SELECT id FROM outbox_dead_letters").rows.map {
                try $0.decode("id", as: UUID.self)
            }
            #expect(remaining == [recent.id])

            #expect(try DeadLetterStore.purge(on: connection, olderThan: .seconds(7 * 86_400)).count == 0)
        }
    }
}
