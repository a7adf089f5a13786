import Foundation
import Postgres
import TestSupport
import Testing

@testable import Migrator

/// The `migrator` executable: exit statuses, output formats, and concurrent runs.
@Suite(.requiresDatabase, .offTheCooperativePool) struct MigratorCLITests {
    // MARK: usage errors exit 2

    @Test(arguments: [
        ["bogus"],
        ["up", "--to", "abc"],
        ["up", "--lock-timeout", "soon"],
        ["status", "--unknown-flag"],
        ["new"],
    ])
    func usageErrorsExitTwo(arguments: [String]) async throws {
        let child = try await runMigrator(arguments)
        #expect(child.status == 2, "migrator \(arguments.joined(separator: " ")): \(child.standardError)")
        #expect(!child.standardError.isEmpty)
    }

    /// An absurd `--lock-timeout` is an operator's typo: it must be a usage error, not a crash
    /// (a trap ends the process with a signal, not an exit status).
    @Test(arguments: ["999999999999999999d", "10000000000000000s"])
    func hugeLockTimeoutIsAUsageErrorNotACrash(value: String) async throws {
        let folder = try MigrationFolder(["0001_fine.sql": "SELECT 1;"])
        defer { folder.remove() }
        try await TestDatabase.withFresh { database in
            let child = try await runMigrator(
                ["up", "--dir", folder.path, "--lock-timeout", value],
                database: database
            )
            #expect(
                child.process.terminationReason == .exit,
                "migrator was killed by signal \(child.status): \(child.errorLines.prefix(2).joined(separator: " | "))"
            )
            #expect(child.status == 2)
            #expect(try database.connect().appliedVersions().isEmpty)
        }
    }

    /// The services' `DATABASE_STATEMENT_TIMEOUT_MS` does not reach the migrator: a migration
    /// may run far longer than any request (`CREATE INDEX CONCURRENTLY` on a large table).
    @Test func aMigrationOutlastsTheServicesStatementTimeout() async throws {
        let folder = try MigrationFolder(["0001_slow.sql": "SELECT pg_sleep(1.5);\nCREATE TABLE slow_done (id int);"])
        defer { folder.remove() }
        try await TestDatabase.withFresh { database in
            let child = try await runMigrator(
                ["up", "--dir", folder.path],
                database: database,
                environment: ["DATABASE_STATEMENT_TIMEOUT_MS": "200"]
            )
            #expect(child.status == 0, "\(child.standardError)")
            #expect(try database.connect().appliedVersions() == [1])
        }
    }

    @Test func newWithInvalidNameExitsTwoAndCreatesNothing() async throws {
        let folder = try MigrationFolder()
        defer { folder.remove() }
        let child = try await runMigrator(["new", "9bad", "--dir", folder.path])
        #expect(child.status == 2, "\(child.standardError)")
        #expect(child.standardError.contains("9bad"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
    }

    @Test func upToUnknownVersionOnRepositorySQLExitsTwo() async throws {
        try await TestDatabase.withFresh { database in
            let child = try await runMigrator(
                ["up", "--to", "999", "--dir", repositorySQLDirectory],
                database: database
            )
            #expect(child.status == 2, "\(child.standardError)")
            #expect(child.standardError.contains("999"))
            #expect(try database.connect().appliedVersions().isEmpty)
        }
    }

    @Test func helpExitsZero() async throws {
        let child = try await runMigrator(["--help"])
        #expect(child.status == 0)
        #expect((child.standardOutput + child.standardError).contains("up"))
    }

    // MARK: new

    @Test func newCreatesNumberedSnakeCaseFiles() async throws {
        let folder = try MigrationFolder()
        defer { folder.remove() }
        let first = try await runMigrator(["new", "Add photo tags", "--dir", folder.path])
        #expect(first.status == 0, "\(first.standardError)")
        let firstPath = folder.path + "/0001_add_photo_tags.sql"
        #expect(FileManager.default.fileExists(atPath: firstPath))
        #expect(first.standardOutput.contains("0001_add_photo_tags.sql"))

        let second = try await runMigrator(["new", "add_index", "--dir", folder.path])
        #expect(second.status == 0, "\(second.standardError)")
        #expect(FileManager.default.fileExists(atPath: folder.path + "/0002_add_index.sql"))
        #expect(try MigrationDirectory(path: folder.path).load().map(\.version) == [1, 2])
    }

    // MARK: status, verify, dry run

    @Test func statusReportsAppliedAndPendingAsTableAndJSON() async throws {
        let folder = try MigrationFolder([
            "0001_create_a.sql": "CREATE TABLE a (id int);",
            "0002_create_b.sql": "CREATE TABLE b (id int);",
        ])
        defer { folder.remove() }
        try await TestDatabase.withFresh { database in
            let up = try await runMigrator(["up", "--to", "1", "--dir", folder.path], database: database)
            #expect(up.status == 0, "\(up.standardError)")
            #expect(up.standardOutput.contains("applied 0001_create_a.sql"))

            let table = try await runMigrator(["status", "--dir", folder.path], database: database)
            #expect(table.status == 0, "\(table.standardError)")
            let lines = table.standardOutput.split(separator: "\n").map(String.init)
            let line1 = try #require(lines.first { $0.hasPrefix("0001") })
            let line2 = try #require(lines.first { $0.hasPrefix("0002") })
            #expect(line1.contains("create_a") && line1.contains("applied"))
            #expect(line2.contains("create_b") && line2.contains("pending"))

            let json = try await runMigrator(["status", "--json", "--dir", folder.path], database: database)
            #expect(json.status == 0, "\(json.standardError)")
            let document = try #require(
                try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [String: Any]
            )
            #expect(document["current_version"] as? Int == 1)
            let migrations = try #require(document["migrations"] as? [[String: Any]])
            #expect(migrations.map { $0["version"] as? Int } == [1, 2])
            #expect(migrations.map { $0["state"] as? String } == ["applied", "pending"])

            let verify = try await runMigrator(["verify", "--dir", folder.path], database: database)
            #expect(verify.status == 0, "\(verify.standardError)")

            let dryRun = try await runMigrator(["up", "--dry-run", "--dir", folder.path], database: database)
            #expect(dryRun.status == 0, "\(dryRun.standardError)")
            #expect(dryRun.standardOutput.contains("0002_create_b.sql"))
            #expect(try !database.connect().tableExists("b"))
            #expect(try database.connect().appliedVersions() == [1])
        }
    }

    @Test func misnamedFileMakesCommandsFailNamingIt() async throws {
        let folder = try MigrationFolder(["0001_fine.sql": "SELECT 1;", "abc.sql": "SELECT 2;"])
        defer { folder.remove() }
        try await TestDatabase.withFresh { database in
            let child = try await runMigrator(["up", "--dir", folder.path], database: database)
            #expect(child.status == 1, "\(child.standardError)")
            #expect(child.standardError.contains("abc.sql"))
            #expect(try database.connect().appliedVersions().isEmpty)
        }
    }

    @Test func unreachableDatabaseExitsOne() async throws {
        let folder = try MigrationFolder(["0001_fine.sql": "SELECT 1;"])
        defer { folder.remove() }
        let child = try await runMigrator(["status", "--dir", folder.path])  // port 1: nothing listens
        #expect(child.status == 1, "\(child.standardError)")
        #expect(child.errorLines.first?.hasPrefix("migrator: error: cannot connect") == true, "\(child.standardError)")
    }

    @Test func malformedDatabaseURLExitsOneNamingIt() async throws {
        let folder = try MigrationFolder(["0001_fine.sql": "SELECT 1;"])
        defer { folder.remove() }
        let child = try await ChildProcess.run(
            try TestPaths.executable("migrator"),
            ["status", "--dir", folder.path],
            environment: ["DATABASE_URL": "host=localhost port", "LOG_LEVEL": "error"]
        )
        #expect(child.status == 1, "\(child.standardError)")
        #expect(child.standardError.contains("DATABASE_URL"))
    }

    // MARK: concurrency

    @Test func fourConcurrentMigratorProcessesApplyEachVersionOnce() async throws {
        let folder = try MigrationFolder([
            "0001_create_t.sql": "CREATE TABLE t (id int PRIMARY KEY, label text);",
            "0002_slow.sql": "INSERT INTO t VALUES (1, 'one');\nSELECT pg_sleep(0.3);\n",
            "0003_index_concurrently.sql": """
            -- migrator: no-transaction
            CREATE INDEX CONCURRENTLY IF NOT EXISTS t_label_idx ON t (label);
            """,
            "0004_more.sql": "INSERT INTO t VALUES (2, 'two');",
        ])
        defer { folder.remove() }
        try await TestDatabase.withFresh { database in
            let executable = try TestPaths.executable("migrator")
            let environment = ["DATABASE_URL": database.connectionString, "LOG_LEVEL": "error"]
            let children = try (0..<4).map { _ in
                try ChildProcess(executable, ["up", "--dir", folder.path], environment: environment)
            }
            // Start all four before waiting for any, so that they really race.
            for child in children { try child.start() }
            for child in children { try await child.wait(timeout: .seconds(60)) }

            for child in children {
                #expect(child.status == 0, "\(child.standardError)")
            }
            // Each file was applied by exactly one of the four.
            let appliedLines = children.flatMap { $0.standardOutput.split(separator: "\n") }
                .filter { $0.hasPrefix("applied ") }
                .map { $0.split(separator: " ").prefix(2).joined(separator: " ") }  // without " in N.NNN s"
                .sorted()
            #expect(
                appliedLines == [
                    "applied 0001_create_t.sql", "applied 0002_slow.sql",
                    "applied 0003_index_concurrently.sql", "applied 0004_more.sql",
                ]
            )
            let connection = try database.connect()
            #expect(
                try connection.query(
                    "SELECT version, count(*) AS n FROM schema_migrations GROUP BY version ORDER BY version"
                )
                .rows.map { "\(try $0.decode("version", as: Int.self))x\(try $0.decode("n", as: Int.self))" }
                    == ["1x1", "2x1", "3x1", "4x1"]
            )
            #expect(try connection.scalar("SELECT count(*) FROM t") == "2")
            #expect(try connection.indexIsValid("t_label_idx") == true)
        }
    }
}
