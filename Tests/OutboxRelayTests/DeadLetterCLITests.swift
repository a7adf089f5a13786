import Foundation
import OutboxRelay
import Postgres
import TestSupport
import Testing

/// `outbox-relay dead-letters ...` through the built executable: output formats and exit
/// statuses (0 success, 1 failure, 2 usage error).
@Suite(.requiresDatabase, .offTheCooperativePool) struct DeadLetterCLITests {
    // MARK: usage errors exit 2, before any connection

    @Test(arguments: [
        ["dead-letters", "requeue"],
        ["dead-letters", "requeue", "--all", "3f2b8c1e-8a0e-4c1b-9a55-0d6f2a7e4b91"],
        ["dead-letters", "requeue", "not-a-uuid"],
        ["dead-letters", "requeue", "--dry-run"],
        ["dead-letters", "purge"],
        ["dead-letters", "purge", "--older-than", "7x"],
        ["dead-letters", "purge", "--older-than", ""],
        ["dead-letters", "list", "--since", "soon"],
        ["dead-letters", "list", "--limit", "0"],
        ["dead-letters", "list", "--limit", "many"],
        ["dead-letters", "show"],
        ["dead-letters", "show", "12345"],
        ["dead-letters", "frobnicate"],
        ["stats", "--bogus"],
    ])
    func usageErrorsExitTwoWithOneLine(arguments: [String]) async throws {
        let child = try await DeadLetterFixtures.runCLI(arguments)
        #expect(child.status == 2, "outbox-relay \(arguments.joined(separator: " ")): \(child.standardError)")
        #expect(child.errorLines.count == 1, "\(child.standardError)")
        #expect(child.errorLines.first?.hasPrefix("outbox-relay: error: ") == true, "\(child.standardError)")
        #expect(child.standardOutput.isEmpty)
    }

    @Test(arguments: [["dead-letters", "list"], ["dead-letters", "requeue", "--all"], ["stats", "--json"]])
    func unreachableDatabaseExitsOneWithOneLine(arguments: [String]) async throws {
        let child = try await DeadLetterFixtures.runCLI(arguments)
        #expect(child.status == 1, "\(child.standardError)")
        #expect(child.errorLines.count == 1, "\(child.standardError)")
        #expect(child.errorLines.first?.hasPrefix("outbox-relay: error: cannot connect") == true)
    }

    @Test func helpListsTheVerbsAndKeepsRunTheDefault() async throws {
        let child = try await DeadLetterFixtures.runCLI(["--help"])
        #expect(child.status == 0)
        #expect(child.standardOutput.contains("run (default)"), "\(child.standardOutput)")
        #expect(child.standardOutput.contains("dead-letters"))
        #expect(child.standardOutput.contains("stats"))

        // Bare `outbox-relay` is still the relay itself, which (unlike the operator verbs)
        // needs DETECTION_QUEUE_URL, rather than the relay's help text.
        let bare = try await DeadLetterFixtures.runCLI([])
        #expect(bare.status == 1, "\(bare.standardOutput)")
        #expect(bare.standardError.contains("DETECTION_QUEUE_URL"), "\(bare.standardError)")

        let requeueHelp = try await DeadLetterFixtures.runCLI(["dead-letters", "requeue", "--help"])
        #expect(requeueHelp.status == 0)
        #expect(requeueHelp.standardOutput.contains("exit"))
    }

    // MARK: list

    @Test func listPrintsATableNewestFirstAndDocumentedJSON() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let connection = try await database.connection()
            let older = try await connection.blocking { try DeadLetterFixtures.insertDeadLetter($0, ageSeconds: 7200) }
            let newer = try await connection.blocking {
                try DeadLetterFixtures.insertDeadLetter(
                    $0,
                    eventType: "photo.reprocess",
                    errors: ["SQS 400:\nInvalidParameterValue"]
                )
            }

            let table = try await DeadLetterFixtures.runCLI(["dead-letters", "list"], database: database)
            #expect(table.status == 0, "\(table.standardError)")
            let lines = table.standardOutput.split(separator: "\n").map(String.init)
            #expect(lines.count == 3, "\(table.standardOutput)")
            #expect(lines.first?.hasPrefix("ID") == true)
            #expect(lines.dropFirst().first?.hasPrefix(idText(newer.id)) == true)
            #expect(lines.last?.hasPrefix(idText(older.id)) == true)
            // The multi-line error stays on its row.
            #expect(lines.dropFirst().first?.contains("SQS 400: InvalidParameterValue") == true)

            let json = try await DeadLetterFixtures.runCLI(
                ["dead-letters", "list", "--json", "--limit", "1"],
                database: database
            )
            #expect(json.status == 0, "\(json.standardError)")
            let entries = try #require(try DeadLetterFixtures.json(json)["dead_letters"] as? [[String: Any]])
            #expect(entries.count == 1)
            let entry = try #require(entries.first)
            #expect(
                Set(entry.keys) == [
                    "id", "event_id", "event_type", "aggregate_type", "aggregate_id", "attempts", "last_error",
                    "created_at", "dead_lettered_at", "payload", "error_history",
                ]
            )
            #expect(entry["id"] as? String == idText(newer.id))
            #expect(entry["event_id"] as? String == idText(newer.eventID))
            #expect(entry["event_type"] as? String == "photo.reprocess")
            #expect(entry["attempts"] as? Int == 1)
            #expect((entry["payload"] as? [String: Any])?["priority"] as? String == "normal")
            #expect((entry["error_history"] as? [[String: Any]])?.count == 1)

            let filtered = try await DeadLetterFixtures.runCLI(
                ["dead-letters", "list", "--json", "--event-type", "photo.uploaded", "--since", "1d"],
                database: database
            )
            let filteredEntries = try #require(
                try DeadLetterFixtures.json(filtered)["dead_letters"] as? [[String: Any]]
            )
            #expect(filteredEntries.map { $0["id"] as? String } == [idText(older.id)])

            let none = try await DeadLetterFixtures.runCLI(
                ["dead-letters", "list", "--since", "30m", "--event-type", "photo.uploaded"],
                database: database
            )
            #expect(none.status == 0)
            #expect(none.standardOutput == "No dead letters.\n")
        }
    }

    // MARK: show

    @Test func showPrintsThePayloadAndEveryAttemptsError() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let connection = try await database.connection()
            let errors = ["connect timeout", "SQS 500: InternalError", "SQS 503: ServiceUnavailable"]
            let inserted = try await connection.blocking { try DeadLetterFixtures.insertDeadLetter($0, errors: errors) }

            let text = try await DeadLetterFixtures.runCLI(
                ["dead-letters", "show", idText(inserted.eventID)],
                database: database
            )
            #expect(text.status == 0, "\(text.standardError)")
            #expect(text.standardOutput.contains(idText(inserted.id)))
            // Pretty-printed: one key per line.
            #expect(
                text.standardOutput.split(separator: "\n").contains { $0.contains("\"priority\"") && !$0.contains("{") }
            )
            for error in errors { #expect(text.standardOutput.contains(error)) }

            let json = try await DeadLetterFixtures.runCLI(
                ["dead-letters", "show", idText(inserted.id), "--json"],
                database: database
            )
            #expect(json.status == 0, "\(json.standardError)")
            let document = try DeadLetterFixtures.json(json)
            #expect(document["event_id"] as? String == idText(inserted.eventID))
            #expect(document["last_error"] as? String == errors.last)
            let history = try #require(document["error_history"] as? [[String: Any]])
            #expect(history.map { $0["error"] as? String } == errors)
            #expect(history.map { $0["attempt"] as? Int } == [1, 2, 3])
        }
    }

    @Test func showOfAnUnknownIdExitsOne() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let unknown = UUID()
            let child = try await DeadLetterFixtures.runCLI(
                ["dead-letters", "show", idText(unknown)],
                database: database
            )
            #expect(child.status == 1)
            #expect(child.errorLines.count == 1, "\(child.standardError)")
            #expect(child.standardError.contains(idText(unknown)))
            #expect(child.standardOutput.isEmpty)
        }
    }

    // MARK: requeue

    @Test func requeueWithAnUnknownIdMovesTheOthersAndExitsOne() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let connection = try await database.connection()
            let first = try await connection.blocking { try DeadLetterFixtures.insertDeadLetter($0, ageSeconds: 60) }
            let second = try await connection.blocking { try DeadLetterFixtures.insertDeadLetter($0) }
            let unknown = UUID()

            let child = try await DeadLetterFixtures.runCLI(
                ["dead-letters", "requeue", idText(first.id), idText(unknown), idText(second.eventID)],
                database: database
            )
            #expect(child.status == 1, "\(child.standardError)")
            #expect(child.errorLines.count == 1, "\(child.standardError)")
            #expect(child.standardError.contains(idText(unknown)))
            #expect(child.standardOutput.contains(idText(first.eventID)))
            #expect(child.standardOutput.contains(idText(second.eventID)))
            #expect(try await connection.blocking { try DeadLetterFixtures.count($0, "outbox_dead_letters") } == 0)
            let requeued = try await connection.blocking {
                try $0.query("SELECT id FROM outbox_events ORDER BY created_at").rows.map {
                    try $0.decode("id", as: UUID.self)
                }
            }
            #expect(Set(requeued) == [first.eventID, second.eventID])
        }
    }

    @Test func requeueAllWithDryRunChangesNothingThenRequeueAllMovesEverything() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let connection = try await database.connection()
            let first = try await connection.blocking { try DeadLetterFixtures.insertDeadLetter($0, ageSeconds: 60) }
            let second = try await connection.blocking { try DeadLetterFixtures.insertDeadLetter($0) }

            let preview = try await DeadLetterFixtures.runCLI(
                ["dead-letters", "requeue", "--all", "--dry-run", "--json"],
                database: database
            )
            #expect(preview.status == 0, "\(preview.standardError)")
            let document = try DeadLetterFixtures.json(preview)
            #expect(document["dry_run"] as? Bool == true)
            #expect((document["not_found"] as? [String])?.isEmpty == true)
            let wouldMove = try #require(document["requeued"] as? [[String: Any]])
            #expect(wouldMove.map { $0["event_id"] as? String } == [idText(first.eventID), idText(second.eventID)])
            #expect(wouldMove.map { $0["id"] as? String } == [idText(first.id), idText(second.id)])
            #expect(try await connection.blocking { try DeadLetterFixtures.count($0, "outbox_dead_letters") } == 2)
            #expect(try await connection.blocking { try DeadLetterFixtures.count($0, "outbox_events") } == 0)

            let moved = try await DeadLetterFixtures.runCLI(["dead-letters", "requeue", "--all"], database: database)
            #expect(moved.status == 0, "\(moved.standardError)")
            #expect(moved.standardOutput.hasPrefix("Requeued 2 dead letters"), "\(moved.standardOutput)")
            #expect(try await connection.blocking { try DeadLetterFixtures.count($0, "outbox_dead_letters") } == 0)
            #expect(try await connection.blocking { try DeadLetterFixtures.count($0, "outbox_events") } == 2)

            let nothing = try await DeadLetterFixtures.runCLI(["dead-letters", "requeue", "--all"], database: database)
            #expect(nothing.status == 0, "\(nothing.standardError)")
        }
    }

    // MARK: purge

    @Test func purgeWithAndWithoutDryRun() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let connection = try await database.connection()
            try await connection.blocking { try DeadLetterFixtures.insertDeadLetter($0, ageSeconds: 8 * 86_400) }
            try await connection.blocking { try DeadLetterFixtures.insertDeadLetter($0, ageSeconds: 3600) }

            let preview = try await DeadLetterFixtures.runCLI(
                ["dead-letters", "purge", "--older-than", "7d", "--dry-run", "--json"],
                database: database
            )
            #expect(preview.status == 0, "\(preview.standardError)")
            let document = try DeadLetterFixtures.json(preview)
            #expect(document["dry_run"] as? Bool == true)
            #expect(document["purged"] as? Int == 1)
            #expect(document["cutoff"] is String)
            #expect(try await connection.blocking { try DeadLetterFixtures.count($0, "outbox_dead_letters") } == 2)

            let purged = try await DeadLetterFixtures.runCLI(
                ["dead-letters", "purge", "--older-than", "7d"],
                database: database
            )
            #expect(purged.status == 0, "\(purged.standardError)")
            #expect(purged.standardOutput.hasPrefix("Purged 1 dead letter "), "\(purged.standardOutput)")
            #expect(try await connection.blocking { try DeadLetterFixtures.count($0, "outbox_dead_letters") } == 1)

            let all = try await DeadLetterFixtures.runCLI(
                ["dead-letters", "purge", "--older-than", "30m", "--json"],
                database: database
            )
            #expect(try DeadLetterFixtures.json(all)["purged"] as? Int == 1)
            #expect(try await connection.blocking { try DeadLetterFixtures.count($0, "outbox_dead_letters") } == 0)
        }
    }

    private func idText(_ id: UUID) -> String {
        id.uuidString.lowercased()
    }
}
