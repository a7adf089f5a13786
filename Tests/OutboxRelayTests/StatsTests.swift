import Foundation
import OutboxRelay
import Postgres
import TestSupport
import Testing

/// `OutboxStatistics` and `outbox-relay stats`: the backlog figures an operator and the relay's
/// metrics read.
@Suite(.requiresDatabase, .offTheCooperativePool) struct StatsTests {
    @Test func anEmptyOutboxHasNoOldestAge() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let statistics = try await runBlocking { try OutboxStatistics.read(on: try database.connect()) }
            #expect(
                statistics
                    == OutboxStatistics(pending: 0, due: 0, leased: 0, oldestPendingAgeSeconds: nil, deadLetters: 0)
            )
        }
    }

    @Test func countsEventsInEveryState() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            // libpq blocks: the rows are written and read off the cooperative pool.
            let statistics = try await runBlocking {
                let connection = try database.connect()
                // Due, never claimed; the oldest, 10 minutes old.
                try DeadLetterFixtures.insertOutboxEvent(connection, createdSecondsAgo: 600, dueInSeconds: -5)
                // Backing off after a failure: not due yet.
                try DeadLetterFixtures.insertOutboxEvent(connection, createdSecondsAgo: 300, dueInSeconds: 60)
                // Held by a live lease (a claim moves next_attempt_at to the lease's end).
                try DeadLetterFixtures.insertOutboxEvent(
                    connection,
                    createdSecondsAgo: 200,
                    dueInSeconds: 30,
                    leaseEndsInSeconds: 30
                )
                // Its relay died: the lease ran out, so it is due again.
                try DeadLetterFixtures.insertOutboxEvent(
                    connection,
                    createdSecondsAgo: 100,
                    dueInSeconds: -1,
                    leaseEndsInSeconds: -1
                )
                try DeadLetterFixtures.insertDeadLetter(connection)
                try DeadLetterFixtures.insertDeadLetter(connection, ageSeconds: 86_400)
                return try OutboxStatistics.read(on: connection)
            }
            #expect(statistics.pending == 4)
            #expect(statistics.due == 2)
            #expect(statistics.leased == 1)
            #expect(statistics.deadLetters == 2)
            let age = try #require(statistics.oldestPendingAgeSeconds)
            #expect(age >= 600 && age < 660, "oldest pending age \(age)")
        }
    }

    @Test func statsCommandPrintsATableAndDocumentedJSON() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            try await runBlocking {
                let connection = try database.connect()
                try DeadLetterFixtures.insertOutboxEvent(connection, createdSecondsAgo: 90)
                try DeadLetterFixtures.insertOutboxEvent(connection, dueInSeconds: 30, leaseEndsInSeconds: 30)
                try DeadLetterFixtures.insertDeadLetter(connection)
            }

            let table = try await DeadLetterFixtures.runCLI(["stats"], database: database)
            #expect(table.status == 0, "\(table.standardError)")
            let lines = table.standardOutput.split(separator: "\n").map(String.init)
            #expect(lines.first?.hasPrefix("STATISTIC") == true, "\(table.standardOutput)")
            #expect(lines.contains { $0.hasPrefix("pending") && $0.hasSuffix(" 2") })
            #expect(lines.contains { $0.hasPrefix("due") && $0.hasSuffix(" 1") })
            #expect(lines.contains { $0.hasPrefix("leased") && $0.hasSuffix(" 1") })
            #expect(lines.contains { $0.hasPrefix("oldest pending age") && $0.contains("1m") })
            #expect(lines.contains { $0.hasPrefix("dead letters") && $0.hasSuffix(" 1") })

            let json = try await DeadLetterFixtures.runCLI(["stats", "--json"], database: database)
            #expect(json.status == 0, "\(json.standardError)")
            let document = try DeadLetterFixtures.json(json)
            #expect(Set(document.keys) == ["pending", "due", "leased", "oldest_pending_age_seconds", "dead_letters"])
            #expect(document["pending"] as? Int == 2)
            #expect(document["due"] as? Int == 1)
            #expect(document["leased"] as? Int == 1)
            #expect(document["dead_letters"] as? Int == 1)
            let age = try #require(document["oldest_pending_age_seconds"] as? Double)
            #expect(age >= 90 && age < 150)
        }
    }

    @Test func statsJSONOfAnEmptyOutboxHasANullAge() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let child = try await DeadLetterFixtures.runCLI(["stats", "--json"], database: database)
            #expect(child.status == 0, "\(child.standardError)")
            let document = try DeadLetterFixtures.json(child)
            #expect(document["oldest_pending_age_seconds"] is NSNull)
            #expect(document["pending"] as? Int == 0)
        }
    }

    @Test func statsOnAnUnreachableDatabaseExitsOneWithOneLine() async throws {
        let child = try await DeadLetterFixtures.runCLI(["stats"])
        #expect(child.status == 1)
        #expect(child.errorLines.count == 1, "\(child.standardError)")
        #expect(child.errorLines.first?.hasPrefix("outbox-relay: error: cannot connect") == true)
        #expect(child.standardOutput.isEmpty)
    }

    @Test func statsOnAnUnmigratedDatabaseSaysToMigrate() async throws {
        try await TestDatabase.withFresh { database in
            let child = try await DeadLetterFixtures.runCLI(["stats"], database: database)
            #expect(child.status == 1)
            #expect(child.errorLines.count == 1, "\(child.standardError)")
            #expect(child.errorLines.first?.contains("migrator up") == true, "\(child.standardError)")
        }
    }
}
