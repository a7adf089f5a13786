import Foundation
import OutboxRelay
import Postgres
import TestSupport
import Testing

/// `DeadLetterStore` against a migrated database: the statements behind
/// `outbox-relay dead-letters`.
@Suite(.requiresDatabase, .offTheCooperativePool) struct DeadLetterStoreTests {
    // MARK: list

    @Test func listIsNewestFirstAndHonoursTheLimit() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let connection = try await database.connection()
            let threeHours = try await connection.blocking {
                try DeadLetterFixtures.insertDeadLetter($0, ageSeconds: 3 * 3600)
            }
            let oneHour = try await connection.blocking {
                try DeadLetterFixtures.insertDeadLetter($0, ageSeconds: 3600)
            }
            let twoHours = try await connection.blocking {
                try DeadLetterFixtures.insertDeadLetter($0, ageSeconds: 2 * 3600)
            }

            let all = try await connection.blocking { try DeadLetterStore.list(on: $0) }
            #expect(all.map(\.id) == [oneHour.id, twoHours.id, threeHours.id])
            #expect(all.map(\.eventID) == [oneHour.eventID, twoHours.eventID, threeHours.eventID])

            let newestTwo = try await connection.blocking { try DeadLetterStore.list(on: $0, limit: 2) }
            #expect(newestTwo.map(\.id) == [oneHour.id, twoHours.id])
        }
    }

    @Test func listFiltersByEventTypeAndSince() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let connection = try await database.connection()
            let recentUpload = try await connection.blocking {
                try DeadLetterFixtures.insertDeadLetter($0, ageSeconds: 60)
            }
            let oldUpload = try await connection.blocking {
                try DeadLetterFixtures.insertDeadLetter($0, ageSeconds: 3 * 86_400)
            }
            let recentOther = try await connection.blocking {
                try DeadLetterFixtures.insertDeadLetter(
                    $0,
                    eventType: "photo.reprocess",
                    ageSeconds: 120
                )
            }

            let uploads = try await connection.blocking {
                try DeadLetterStore.list(on: $0, eventType: "photo.uploaded")
            }
            #expect(uploads.map(\.id) == [recentUpload.id, oldUpload.id])

            let lastDay = try await connection.blocking { try DeadLetterStore.list(on: $0, since: .seconds(86_400)) }
            #expect(lastDay.map(\.id) == [recentUpload.id, recentOther.id])

            let both = try await connection.blocking {
                try DeadLetterStore.list(on: $0, eventType: "photo.reprocess", since: .seconds(86_400))
            }
            #expect(both.map(\.id) == [recentOther.id])

            #expect(
                try await connection.blocking { try DeadLetterStore.list(on: $0, eventType: "no.such.type") }.isEmpty
            )
        }
    }

    // MARK: show

    @Test func showFindsByDeadLetterIdOrEventIdWithEveryError() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let connection = try await database.connection()
            let errors = ["connect timeout", "SQS 500: InternalError", "SQS 503:\nServiceUnavailable"]
            let inserted = try await connection.blocking { try DeadLetterFixtures.insertDeadLetter($0, errors: errors) }
            try await connection.blocking { try DeadLetterFixtures.insertDeadLetter($0) }

            let byID = try #require(try await connection.blocking { try DeadLetterStore.show(on: $0, id: inserted.id) })
            let byEventID = try #require(
                try await connection.blocking { try DeadLetterStore.show(on: $0, id: inserted.eventID) }
            )
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

            #expect(try await connection.blocking { try DeadLetterStore.show(on: $0, id: UUID()) } == nil)
        }
    }

    @Test func anErrorHistoryEntryOfAnotherShapeIsShownNotDropped() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let connection = try await database.connection()
            let inserted = try await connection.blocking {
                try DeadLetterFixtures.insertDeadLetter($0, errors: ["first"])
            }
            try await connection.blocking {
                try $0.query(
                    """
                    UPDATE outbox_dead_letters
                    SET error_history = error_history || '[{"status": 400}, "plain text"]'::jsonb
                    WHERE id = $1
                    """,
                    [inserted.id]
                )
            }
            let deadLetter = try #require(
                try await connection.blocking { try DeadLetterStore.show(on: $0, id: inserted.id) }
            )
            #expect(deadLetter.errorHistory.map(\.error) == ["first", #"{"status":400}"#, #""plain text""#])
            #expect(deadLetter.errorHistory.map(\.attempt) == [1, nil, nil])
        }
    }

    // MARK: requeue

    @Test func requeueMovesEventsBackUnderTheirEventIdAndWakesTheRelay() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let connection = try await database.connection()
            let first = try await connection.blocking {
                try DeadLetterFixtures.insertDeadLetter($0, ageSeconds: 120, errors: ["a", "b"])
            }
            let second = try await connection.blocking {
                try DeadLetterFixtures.insertDeadLetter($0, ageSeconds: 60, errors: ["c"])
            }
            let untouched = try await connection.blocking { try DeadLetterFixtures.insertDeadLetter($0) }
            let before = try await connection.blocking {
                try $0.query(
                    """
                    SELECT event_id, payload::text AS payload, error_history::text AS history, last_error,
                        created_at::text AS created_at
                    FROM outbox_dead_letters ORDER BY event_id
                    """
                )
            }.rows.filter { try $0.decode("event_id", as: UUID.self) != untouched.eventID }

            let result = try await DeadLetterNotifications.listening(on: database, channel: "outbox_events") {
                notifications in
                // One by its dead-letter id, one by its event id: operators copy either.
                let result = try await connection.blocking {
                    try DeadLetterStore.requeue(on: $0, ids: [first.id, second.eventID])
                }
                try await DeadLetterFixtures.waitUntil("the requeue's NOTIFY arrives") {
                    notifications.notificationCount > 0
                }
                return result
            }

            #expect(result.dryRun == false)
            #expect(result.notFound.isEmpty)
            #expect(result.requeued.map(\.deadLetterID) == [first.id, second.id])
            #expect(result.requeued.map(\.eventID) == [first.eventID, second.eventID])

            let after = try await connection.blocking {
                try $0.query(
                    """
                    SELECT id AS event_id, payload::text AS payload, error_history::text AS history, last_error,
                        created_at::text AS created_at, attempts, next_attempt_at <= now() AS due,
                        claim_token IS NULL AS unclaimed
                    FROM outbox_events ORDER BY id
                    """
                )
            }.rows
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
            let remaining = try await connection.blocking { try $0.query("SELECT id FROM outbox_dead_letters") }.rows
                .map {
                    try $0.decode("id", as: UUID.self)
                }
            #expect(remaining == [untouched.id])
        }
    }

    @Test func requeueDryRunReportsAndChangesNothing() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let connection = try await database.connection()
            let first = try await connection.blocking { try DeadLetterFixtures.insertDeadLetter($0, ageSeconds: 60) }
            let second = try await connection.blocking { try DeadLetterFixtures.insertDeadLetter($0) }
            let unknown = UUID()

            let preview = try await connection.blocking {
                try DeadLetterStore.requeue(
                    on: $0,
                    ids: [second.eventID, unknown, first.id],
                    dryRun: true
                )
            }
            #expect(preview.dryRun)
            #expect(preview.requeued.map(\.eventID) == [first.eventID, second.eventID])
            #expect(preview.notFound == [unknown])
            #expect(try await connection.blocking { try DeadLetterFixtures.count($0, "outbox_dead_letters") } == 2)
            #expect(try await connection.blocking { try DeadLetterFixtures.count($0, "outbox_events") } == 0)

            let all = try await connection.blocking { try DeadLetterStore.requeueAll(on: $0, dryRun: true) }
            #expect(all.requeued.map(\.deadLetterID) == [first.id, second.id])
            #expect(try await connection.blocking { try DeadLetterFixtures.count($0, "outbox_dead_letters") } == 2)
            #expect(try await connection.blocking { try DeadLetterFixtures.count($0, "outbox_events") } == 0)
        }
    }

    @Test func requeueNamesUnknownIdsAndStillMovesTheOthers() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let connection = try await database.connection()
            let known = try await connection.blocking { try DeadLetterFixtures.insertDeadLetter($0) }
            let unknown = UUID()

            // The same dead letter twice (by both its ids) and an id that is no dead letter.
            let result = try await connection.blocking {
                try DeadLetterStore.requeue(on: $0, ids: [unknown, known.id, known.eventID, unknown])
            }
            #expect(result.requeued.map(\.eventID) == [known.eventID])
            #expect(result.notFound == [unknown])
            #expect(try await connection.blocking { try DeadLetterFixtures.count($0, "outbox_dead_letters") } == 0)
            #expect(try await connection.blocking { try DeadLetterFixtures.count($0, "outbox_events") } == 1)

            // Requeued already: a second requeue finds nothing and says so.
            let again = try await connection.blocking { try DeadLetterStore.requeue(on: $0, ids: [known.id]) }
            #expect(again.requeued.isEmpty)
            #expect(again.notFound == [known.id])
        }
    }

    @Test func requeueAllMovesEveryDeadLetterOldestFirst() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let connection = try await database.connection()
            let older = try await connection.blocking { try DeadLetterFixtures.insertDeadLetter($0, ageSeconds: 600) }
            let newer = try await connection.blocking {
                try DeadLetterFixtures.insertDeadLetter($0, eventType: "photo.reprocess")
            }

            let result = try await connection.blocking { try DeadLetterStore.requeueAll(on: $0) }
            #expect(result.requeued.map(\.eventID) == [older.eventID, newer.eventID])
            #expect(result.requeued.map(\.eventType) == ["photo.uploaded", "photo.reprocess"])
            #expect(try await connection.blocking { try DeadLetterFixtures.count($0, "outbox_dead_letters") } == 0)
            let ids = try await connection.blocking { try $0.query("SELECT id FROM outbox_events WHERE attempts = 0") }
                .rows.map {
                    try $0.decode("id", as: UUID.self)
                }
            #expect(Set(ids) == [older.eventID, newer.eventID])

            #expect(try await connection.blocking { try DeadLetterStore.requeueAll(on: $0) }.requeued.isEmpty)
        }
    }

    /// An event whose id is somehow already in the outbox must not lose its dead letter: the
    /// whole requeue fails and nothing moves.
    @Test func requeueIsAllOrNothingWhenAnEventIsAlreadyInTheOutbox() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let connection = try await database.connection()
            let clashing = try await connection.blocking { try DeadLetterFixtures.insertDeadLetter($0) }
            let fine = try await connection.blocking { try DeadLetterFixtures.insertDeadLetter($0) }
            try await connection.blocking {
                try $0.query(
                    "INSERT INTO outbox_events (id, event_type, aggregate_id, payload) VALUES ($1, 'x', gen_random_uuid(), '{}')",
                    [clashing.eventID]
                )
            }

            let error = await #expect(throws: PostgresError.self) {
                try await connection.blocking { try DeadLetterStore.requeue(on: $0, ids: [clashing.id, fine.id]) }
            }
            #expect(error?.isUniqueViolation == true, "\(String(describing: error))")
            #expect(try await connection.blocking { try DeadLetterFixtures.count($0, "outbox_dead_letters") } == 2)
            #expect(try await connection.blocking { try DeadLetterFixtures.count($0, "outbox_events") } == 1)
        }
    }

    // MARK: purge

    @Test func purgeDeletesOnlyDeadLettersOlderThanTheCutoff() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let connection = try await database.connection()
            try await connection.blocking { try DeadLetterFixtures.insertDeadLetter($0, ageSeconds: 10 * 86_400) }
            try await connection.blocking { try DeadLetterFixtures.insertDeadLetter($0, ageSeconds: 8 * 86_400) }
            let recent = try await connection.blocking {
                try DeadLetterFixtures.insertDeadLetter($0, ageSeconds: 86_400)
            }

            let preview = try await connection.blocking {
                try DeadLetterStore.purge(on: $0, olderThan: .seconds(7 * 86_400), dryRun: true)
            }
            #expect(preview.dryRun)
            #expect(preview.count == 2)
            #expect(abs(preview.cutoff.timeIntervalSinceNow + 7 * 86_400) < 60)
            #expect(try await connection.blocking { try DeadLetterFixtures.count($0, "outbox_dead_letters") } == 3)

            let purged = try await connection.blocking {
                try DeadLetterStore.purge(on: $0, olderThan: .seconds(7 * 86_400))
            }
            #expect(purged.dryRun == false)
            #expect(purged.count == 2)
            let remaining = try await connection.blocking { try $0.query("SELECT id FROM outbox_dead_letters") }.rows
                .map {
                    try $0.decode("id", as: UUID.self)
                }
            #expect(remaining == [recent.id])

            #expect(
                try await connection.blocking { try DeadLetterStore.purge(on: $0, olderThan: .seconds(7 * 86_400)) }
                    .count == 0
            )
        }
    }
}
