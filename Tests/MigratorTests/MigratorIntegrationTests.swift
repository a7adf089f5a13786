import Foundation
import Postgres
import TestSupport
import Testing

@testable import Migrator

/// The migrator library against a real Postgres: every test has its own fresh database and
/// its own directory of migration files.
@Suite(.requiresDatabase, .offTheCooperativePool) struct MigratorIntegrationTests {
    // MARK: The repository's sql/ directory

    @Test func upOnFreshDatabaseAppliesEveryRepositoryFile() async throws {
        try await TestDatabase.withFresh { database in
            let migrator = makeMigrator(database, directory: repositorySQLDirectory)
            let onDisk = try MigrationDirectory(path: repositorySQLDirectory).load()
            #expect(!onDisk.isEmpty)

            let applied = try migrator.up()
            #expect(applied.map(\.fileName) == onDisk.map(\.fileName))

            let connection = try database.connect()
            for table in contractTables {
                #expect(try connection.tableExists(table), "table \(table) is missing after up")
            }
            #expect(try connection.appliedVersions() == onDisk.map(\.version))

            let statuses = try migrator.status()
            #expect(statuses.count == onDisk.count)
            #expect(statuses.allSatisfy { $0.state == .applied && $0.drift == .none })
            #expect(try SchemaRequirement.currentVersion(on: connection) == onDisk.last?.version)
            try migrator.verify()
        }
    }

    /// A photo row for the schema's rules: valid as made, with one field changed per case.
    struct PhotoRowCase: Sendable {
        var rule: String
        var fileName = "a.jpg"
        var mimeType = "image/jpeg"
        var fileSize = 1
        var status = "pending_upload"
        var priority = "normal"
        var width: Int? = 4000
        var height: Int? = 3000
        var exifData = "{}"
        /// Which status's timestamp column (`uploaded_at`, ...) is set; none by default.
        var timestampOf: String?

        var parameters: [(any PostgresEncodable)?] {
            [fileName, mimeType, fileSize, status, priority, width, height, exifData, timestampOf]
        }

        static let insert = """
            INSERT INTO photos (id, project_id, user_id, file_name, mime_type, file_size, s3_bucket, s3_key,
                                status, priority, width, height, exif_data, upload_expires_at,
                                uploaded_at, processing_at, completed_at, failed_at)
            SELECT gen_random_uuid(), id, gen_random_uuid(), $1::text, $2::text, $3::bigint, 'b',
                   gen_random_uuid()::text, $4::text, $5::text, $6::integer, $7::integer, $8::jsonb, now(),
                   CASE WHEN $9::text = 'uploaded' THEN now() END, CASE WHEN $9::text = 'processing' THEN now() END,
                   CASE WHEN $9::text = 'completed' THEN now() END, CASE WHEN $9::text = 'failed' THEN now() END
            FROM projects
            """
    }

    /// The rules on a photo row hold at the database, whichever way the schema expresses them
    /// (0003 made the single-column ones domains): the contract's five statuses, and the
    /// service's own rules on the other columns. One database for all the cases, so that this
    /// test does not hold the cooperative threads for a dozen migrations.
    @Test func theSchemaRefusesRowsBreakingARule() async throws {
        let breakingOneRule = [
            PhotoRowCase(rule: "status outside the five", status: "bogus"),
            PhotoRowCase(rule: "MIME type outside the two", mimeType: "image/gif"),
            PhotoRowCase(rule: "priority outside the three", priority: "urgent"),
            PhotoRowCase(rule: "empty file name", fileName: ""),
            PhotoRowCase(rule: "file name over 255 characters", fileName: String(repeating: "a", count: 256)),
            PhotoRowCase(rule: "zero bytes", fileSize: 0),
            PhotoRowCase(rule: "zero width", width: 0),
            PhotoRowCase(rule: "negative height", height: -1),
            PhotoRowCase(rule: "EXIF data that is not an object", exifData: "[]"),
            PhotoRowCase(rule: "uploaded without uploaded_at", status: "uploaded"),
            PhotoRowCase(rule: "processing without processing_at", status: "processing"),
            PhotoRowCase(rule: "completed without completed_at", status: "completed"),
            PhotoRowCase(rule: "failed without failed_at", status: "failed"),
            PhotoRowCase(rule: "uploaded with processing_at only", status: "uploaded", timestampOf: "processing"),
            PhotoRowCase(rule: "processing with completed_at only", status: "processing", timestampOf: "completed"),
            PhotoRowCase(rule: "completed with failed_at only", status: "completed", timestampOf: "failed"),
            PhotoRowCase(rule: "failed with uploaded_at only", status: "failed", timestampOf: "uploaded"),
        ]
        // At the edges of the rules: each status with only its own timestamp, no dimensions yet,
        // the shortest and longest names, one byte, one pixel.
        let withinTheRules =
            ["pending_upload", "uploaded", "processing", "completed", "failed"].map {
                PhotoRowCase(rule: "valid \($0)", status: $0, timestampOf: $0)
            } + [
                PhotoRowCase(rule: "no dimensions", width: nil, height: nil),
                PhotoRowCase(rule: "one-character name", fileName: "a"),
                PhotoRowCase(rule: "255-character name", fileName: String(repeating: "é", count: 255)),
                PhotoRowCase(rule: "one byte, one pixel", fileSize: 1, width: 1, height: 1),
            ]
        try await TestDatabase.withFresh { database in
            let connection = try migratedWithOneProject(database)
            for row in breakingOneRule {
                let refused = #expect(throws: PostgresError.self, "\(row.rule)") {
                    try connection.query(PhotoRowCase.insert, row.parameters)
                }
                #expect(refused?.sqlState == "23514", "\(row.rule): \(String(describing: refused))")
            }
            for row in withinTheRules {
                #expect(throws: Never.self, "\(row.rule)") { try connection.query(PhotoRowCase.insert, row.parameters) }
            }
            #expect(try connection.scalar("SELECT count(*) FROM photos") == "\(withinTheRules.count)")
        }
    }

    @Test func historyRowsTakeOnlyTheFiveStatuses() async throws {
        try await TestDatabase.withFresh { database in
            let connection = try migratedWithOneProject(database)
            try connection.query(
                """
                INSERT INTO photos (id, project_id, user_id, file_name, mime_type, file_size, s3_bucket, s3_key,
                                    upload_expires_at)
                SELECT gen_random_uuid(), id, gen_random_uuid(), 'a.jpg', 'image/jpeg', 1, 'b', 'k', now() FROM projects
                """
            )
            for (status, previous) in [("bogus", nil), ("uploaded", "Pending_upload")] {
                let refused = #expect(throws: PostgresError.self) {
                    try connection.query(
                        """
                        INSERT INTO photo_status_history (photo_id, status, previous_status, changed_by)
                        SELECT id, $1::text, $2::text, 'test' FROM photos
                        """,
                        [status, previous]
                    )
                }
                #expect(refused?.sqlState == "23514")
            }
            // Within the rules: a first row without a previous status, then a change.
            try connection.query(
                """
                INSERT INTO photo_status_history (photo_id, status, previous_status, changed_by)
                SELECT id, 'pending_upload', NULL, 'test' FROM photos
                """
            )
            try connection.query(
                """
                INSERT INTO photo_status_history (photo_id, status, previous_status, changed_by)
                SELECT id, 'uploaded', 'pending_upload', 'test' FROM photos
                """
            )
        }
    }

    /// 0003 on a database that already has photos: the rows stay as they were, and the
    /// statistics the type change dropped are gathered again.
    @Test func theDomainsMigrationKeepsExistingRowsAndTheirStatistics() async throws {
        try await TestDatabase.withFresh { database in
            let migrator = makeMigrator(database, directory: repositorySQLDirectory)
            try migrator.up(to: 2)
            let connection = try database.connect()
            try connection.query(
                "INSERT INTO projects (id, organization_id, name) VALUES ($1, $2, 'p')",
                [UUID(), UUID()]
            )
            for status in ["pending_upload", "uploaded", "processing", "completed", "failed"] {
                try connection.query(
                    PhotoRowCase.insert,
                    PhotoRowCase(rule: "existing", status: status, timestampOf: status).parameters
                )
            }
            try connection.query(
                "INSERT INTO photo_status_history (photo_id, status, changed_by) SELECT id, status, 'test' FROM photos"
            )
            let before = try connection.query(
                "SELECT id, status, file_name, file_size, exif_data::text FROM photos ORDER BY id"
            )

            try migrator.up()
            #expect(
                try connection.query("SELECT id, status, file_name, file_size, exif_data::text FROM photos ORDER BY id")
                    .rows.map(\.values) == before.rows.map(\.values)
            )
            #expect(
                try connection.scalar("SELECT count(*) FROM pg_stats WHERE tablename = 'photos' AND attname = 'status'")
                    == "1"
            )
            #expect(
                try connection.scalar(
                    "SELECT count(*) FROM pg_stats WHERE tablename = 'photo_status_history' AND attname = 'status'"
                ) == "1"
            )
        }
    }

    /// A connection to `database` after the repository's migrations, with one project row.
    private func migratedWithOneProject(_ database: TestDatabase) throws -> Connection {
        try makeMigrator(database, directory: repositorySQLDirectory).up()
        let connection = try database.connect()
        try connection.query("INSERT INTO projects (id, organization_id, name) VALUES ($1, $2, 'p')", [UUID(), UUID()])
        return connection
    }

    @Test func secondUpAppliesNothingAndLeavesRowsUnchanged() async throws {
        try await TestDatabase.withFresh { database in
            let migrator = makeMigrator(database, directory: repositorySQLDirectory)
            try migrator.up()
            let connection = try database.connect()
            let before = try connection.migrationRows()
            #expect(!before.isEmpty)

            let second = try migrator.up()
            #expect(second.isEmpty)
            #expect(try connection.migrationRows() == before)
        }
    }

    // MARK: dry run and --to

    @Test func dryRunChangesNothingButReportsPendingFiles() async throws {
        let folder = try MigrationFolder([
            "0001_create_a.sql": "CREATE TABLE a (id int);",
            "0002_create_b.sql": "CREATE TABLE b (id int);",
        ])
        defer { folder.remove() }
        try await TestDatabase.withFresh { database in
            let migrator = makeMigrator(database, directory: folder.path)
            let connection = try database.connect()

            let wouldApply = try migrator.up(dryRun: true)
            #expect(wouldApply.map(\.version) == [1, 2])
            #expect(try !connection.tableExists("schema_migrations"))
            #expect(try !connection.tableExists("a"))
            #expect(try !connection.tableExists("b"))

            // Partly migrated: the dry run reports only what is left and still changes nothing.
            try migrator.up(to: 1)
            let rows = try connection.migrationRows()
            #expect(try migrator.up(dryRun: true).map(\.version) == [2])
            #expect(try migrator.up(to: 2, dryRun: true).map(\.version) == [2])
            #expect(try connection.migrationRows() == rows)
            #expect(try !connection.tableExists("b"))
        }
    }

    @Test func upToStopsAtThatVersion() async throws {
        let folder = try MigrationFolder([
            "0001_create_a.sql": "CREATE TABLE a (id int);",
            "0002_create_b.sql": "CREATE TABLE b (id int);",
            "0003_create_c.sql": "CREATE TABLE c (id int);",
        ])
        defer { folder.remove() }
        try await TestDatabase.withFresh { database in
            let migrator = makeMigrator(database, directory: folder.path)
            let connection = try database.connect()

            #expect(try migrator.up(to: 2).map(\.version) == [1, 2])
            #expect(try connection.appliedVersions() == [1, 2])
            #expect(try connection.tableExists("b"))
            #expect(try !connection.tableExists("c"))
            #expect(try migrator.status().map(\.state) == [.applied, .applied, .pending])

            // A target that is already applied is not an error and does nothing.
            #expect(try migrator.up(to: 1).isEmpty)
            #expect(try migrator.up().map(\.version) == [3])
        }
    }

    @Test func unknownTargetVersionFailsWithUnknownVersionAndAppliesNothing() async throws {
        let folder = try MigrationFolder(["0001_create_a.sql": "CREATE TABLE a (id int);"])
        defer { folder.remove() }
        try await TestDatabase.withFresh { database in
            let migrator = makeMigrator(database, directory: folder.path)
            let error = #expect(throws: MigratorError.self) { try migrator.up(to: 999) }
            #expect(error?.code == .unknownVersion)
            #expect(error?.isUsageError == true)
            #expect(error?.description.contains("999") == true)
            let connection = try database.connect()
            #expect(try !connection.tableExists("a"))
            #expect(try connection.appliedVersions().isEmpty)
        }
    }

    // MARK: drift

    @Test func editedAppliedFileFailsVerifyAndUpNamingTheFile() async throws {
        let folder = try MigrationFolder([
            "0001_create_a.sql": "CREATE TABLE a (id int);",
            "0002_create_b.sql": "CREATE TABLE b (id int);",
        ])
        defer { folder.remove() }
        try await TestDatabase.withFresh { database in
            let migrator = makeMigrator(database, directory: folder.path)
            try migrator.up(to: 1)
            try folder.write("0001_create_a.sql", "CREATE TABLE a (id bigint);")

            let verifyError = #expect(throws: MigratorError.self) { try migrator.verify() }
            #expect(verifyError?.code == .checksumMismatch)
            #expect(verifyError?.description.contains("0001_create_a.sql") == true)

            let upError = #expect(throws: MigratorError.self) { try migrator.up() }
            #expect(upError?.code == .checksumMismatch)
            #expect(upError?.description.contains("0001_create_a.sql") == true)
            // The pending file was not applied behind the drift.
            #expect(try database.connect().appliedVersions() == [1])
            #expect(try !database.connect().tableExists("b"))

            let dryRunError = #expect(throws: MigratorError.self) { try migrator.up(dryRun: true) }
            #expect(dryRunError?.code == .checksumMismatch)

            let statuses = try migrator.status()
            #expect(statuses.first?.drift == .checksumChanged)

            // Through the binary: exit 1, the file named on stderr.
            for verb in ["verify", "up"] {
                let child = try await runMigrator([verb, "--dir", folder.path], database: database)
                #expect(child.status == 1, "migrator \(verb): \(child.standardError)")
                #expect(child.standardError.contains("0001_create_a.sql"), "migrator \(verb): \(child.standardError)")
            }
        }
    }

    @Test func appliedVersionWithoutFileFailsVerifyWithMissingFile() async throws {
        let folder = try MigrationFolder([
            "0001_create_a.sql": "CREATE TABLE a (id int);",
            "0002_create_b.sql": "CREATE TABLE b (id int);",
        ])
        defer { folder.remove() }
        try await TestDatabase.withFresh { database in
            let migrator = makeMigrator(database, directory: folder.path)
            try migrator.up()
            try folder.delete("0002_create_b.sql")

            let error = #expect(throws: MigratorError.self) { try migrator.verify() }
            #expect(error?.code == .missingFile)
            #expect(error?.description.contains("create_b") == true)
            #expect(try migrator.status().last?.drift == .fileMissing)

            let upError = #expect(throws: MigratorError.self) { try migrator.up() }
            #expect(upError?.code == .missingFile)

            let child = try await runMigrator(["verify", "--dir", folder.path], database: database)
            #expect(child.status == 1)
        }
    }

    // MARK: failures roll back

    @Test func failingFileRollsBackCompletely() async throws {
        let folder = try MigrationFolder([
            "0001_create_ok.sql": "CREATE TABLE ok (id int);",
            "0002_breaks.sql": "CREATE TABLE a (id int);\nINSERT INTO a VALUES (1);\nSELECT 1/0;\n",
            "0003_after.sql": "CREATE TABLE after_break (id int);",
        ])
        defer { folder.remove() }
        try await TestDatabase.withFresh { database in
            let migrator = makeMigrator(database, directory: folder.path)
            let error = #expect(throws: MigratorError.self) { try migrator.up() }
            #expect(error?.code == .migrationFailed)
            #expect(error?.description.contains("0002_breaks.sql") == true)
            #expect(error?.description.contains("22012") == true)  // division_by_zero

            let connection = try database.connect()
            #expect(try !connection.tableExists("a"))
            #expect(try !connection.tableExists("after_break"))
            #expect(try connection.tableExists("ok"))
            #expect(try connection.appliedVersions() == [1])
            #expect(try migrator.status().map(\.state) == [.applied, .pending, .pending])
            // The failed connection released the migration lock: another run can start at once.
            #expect(
                try connection.scalar(
                    """
                    SELECT count(*) FROM pg_locks
                    WHERE locktype = 'advisory'
                      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                    """
                ) == "0"
            )

            // The binary: exit 1, the file named, still nothing partial.
            let child = try await runMigrator(["up", "--dir", folder.path], database: database)
            #expect(child.status == 1)
            #expect(child.errorLines.contains { $0.contains("0002_breaks.sql") }, "\(child.standardError)")
            #expect(try !connection.tableExists("a"))
            #expect(try connection.appliedVersions() == [1])
        }
    }

    // MARK: no-transaction files and statement splitting

    @Test func noTransactionFileWithConcurrentIndexAndTrickyStatementsApplies() async throws {
        let folder = try MigrationFolder([
            "0001_items.sql": """
            CREATE TABLE items (id int PRIMARY KEY, note text);
            """,
            "0002_concurrent_index.sql": #"""
            -- migrator: no-transaction
            -- Everything below runs statement by statement; a comment with a semicolon; here.
            INSERT INTO items VALUES (1, 'a;b'), (2, 'it''s; quoted');
            /* a block comment; /* nested; */ still inside; */
            INSERT INTO items VALUES (3, E'back\'slash;');
            CREATE FUNCTION semi() RETURNS text LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM 1;
                RETURN 'x;y';
            END;
            $$;
            CREATE FUNCTION tagged() RETURNS text LANGUAGE sql AS $body$ SELECT 'p;q' $body$;
            CREATE INDEX CONCURRENTLY IF NOT EXISTS items_note_idx ON items (note);
            -- trailing comment only; nothing to run
            """#,
        ])
        defer { folder.remove() }
        try await TestDatabase.withFresh { database in
            let migrator = makeMigrator(database, directory: folder.path)
            #expect(try migrator.up().map(\.version) == [1, 2])

            let connection = try database.connect()
            #expect(try connection.indexIsValid("items_note_idx") == true)
            let notes = try connection.query("SELECT note FROM items ORDER BY id").rows.map {
                try $0.decode("note", as: String.self)
            }
            #expect(notes == ["a;b", "it's; quoted", "back'slash;"])
            #expect(try connection.scalar("SELECT semi()") == "x;y")
            #expect(try connection.scalar("SELECT tagged()") == "p;q")
            #expect(try connection.appliedVersions() == [1, 2])
        }
    }

    @Test func transactionalFileWithTrickyStatementsApplies() async throws {
        let folder = try MigrationFolder([
            "0001_tricky.sql": #"""
            -- a leading comment; with a semicolon
            CREATE TABLE "odd;name" (id int, note text);
            INSERT INTO "odd;name" VALUES (1, 'a;b'), (2, E'c\';d');
            CREATE FUNCTION semi() RETURNS text LANGUAGE plpgsql AS $fn$ BEGIN RETURN 'x;y'; END; $fn$;
            /* closing block comment; */
            """#
        ])
        defer { folder.remove() }
        try await TestDatabase.withFresh { database in
            try makeMigrator(database, directory: folder.path).up()
            let connection = try database.connect()
            #expect(try connection.scalar(#"SELECT count(*) FROM "odd;name""#) == "2")
            #expect(try connection.scalar(#"SELECT note FROM "odd;name" WHERE id = 2"#) == "c';d")
            #expect(try connection.scalar("SELECT semi()") == "x;y")
        }
    }

    @Test func concurrentIndexInsideATransactionalFileFailsAndRollsBack() async throws {
        // Without the marker the file runs in a transaction, which Postgres refuses for
        // CREATE INDEX CONCURRENTLY: proof that the marker is what makes the difference.
        let folder = try MigrationFolder([
            "0001_t.sql": "CREATE TABLE t (id int);",
            "0002_index.sql": "CREATE TABLE u (id int);\nCREATE INDEX CONCURRENTLY t_id_idx ON t (id);",
        ])
        defer { folder.remove() }
        try await TestDatabase.withFresh { database in
            let migrator = makeMigrator(database, directory: folder.path)
            let error = #expect(throws: MigratorError.self) { try migrator.up() }
            #expect(error?.code == .migrationFailed)
            #expect(error?.description.contains("0002_index.sql") == true)
            let connection = try database.connect()
            #expect(try !connection.tableExists("u"))
            #expect(try connection.appliedVersions() == [1])
        }
    }

    // MARK: session settings during a migration

    @Test func lockTimeoutMakesABlockedMigrationFailQuickly() async throws {
        let folder = try MigrationFolder(["0001_t.sql": "CREATE TABLE t (id int);"])
        defer { folder.remove() }
        try await TestDatabase.withFresh { database in
            let migrator = makeMigrator(
                database,
                directory: folder.path,
                options: .init(lockTimeout: .milliseconds(200))
            )
            try migrator.up()
            try folder.write("0002_alter_t.sql", "ALTER TABLE t ADD COLUMN x int;")

            let holder = try database.connect()
            try holder.query("BEGIN")
            try holder.query("LOCK TABLE t IN ACCESS EXCLUSIVE MODE")

            let clock = ContinuousClock()
            let started = clock.now
            let error = #expect(throws: MigratorError.self) { try migrator.up() }
            let elapsed = clock.now - started
            try holder.query("ROLLBACK")

            #expect(error?.code == .migrationFailed)
            #expect(error?.description.contains("55P03") == true, "\(error.map { "\($0)" } ?? "no error")")
            #expect(error?.description.contains("0002_alter_t.sql") == true)
            // SQLSTATE 55P03 says the lock_timeout ended the wait; no upper bound on the time,
            // which would measure the machine's load rather than the migrator.
            #expect(elapsed >= .milliseconds(150), "up failed after \(elapsed), before the lock_timeout could expire")
            #expect(try migrator.status().map(\.state) == [.applied, .pending])

            // With the lock gone the same file applies.
            #expect(try migrator.up().map(\.version) == [2])
        }
    }

    @Test func lockTimeoutIsSetWhileAMigrationRuns() async throws {
        let folder = try MigrationFolder([
            "0001_lt.sql": "CREATE TABLE lt AS SELECT current_setting('lock_timeout') AS v;",
            "0002_lt_no_transaction.sql": """
            -- migrator: no-transaction
            CREATE TABLE lt2 AS SELECT current_setting('lock_timeout') AS v;
            """,
        ])
        defer { folder.remove() }
        try await TestDatabase.withFresh { database in
            try makeMigrator(database, directory: folder.path).up()
            let connection = try database.connect()
            #expect(try connection.scalar("SELECT v FROM lt") == "5s")
            #expect(try connection.scalar("SELECT v FROM lt2") == "5s")
        }
    }

    @Test func lockTimeoutOptionIsWhatTheMigrationSees() async throws {
        let folder = try MigrationFolder([
            "0001_lt.sql": "CREATE TABLE lt AS SELECT current_setting('lock_timeout') AS v;"
        ])
        defer { folder.remove() }
        try await TestDatabase.withFresh { database in
            try makeMigrator(database, directory: folder.path, options: .init(lockTimeout: .milliseconds(1500))).up()
            #expect(try database.connect().scalar("SELECT v FROM lt") == "1500ms")
        }
    }

    @Test func migrationsRunUnderApplicationNameMigrator() async throws {
        let folder = try MigrationFolder([
            "0001_seen.sql": "CREATE TABLE seen AS SELECT current_setting('application_name') AS name;"
        ])
        defer { folder.remove() }
        try await TestDatabase.withFresh { database in
            // DATABASE_URL names another application: the migrator's own name wins.
            let separator = database.connectionString.contains("?") ? "&" : "?"
            let child = try await ChildProcess.run(
                try TestPaths.executable("migrator"),
                ["up", "--dir", folder.path],
                environment: [
                    "DATABASE_URL": database.connectionString + separator + "application_name=somebody_else",
                    "LOG_LEVEL": "error",
                ]
            )
            #expect(child.status == 0, "\(child.standardError)")
            #expect(try database.connect().scalar("SELECT name FROM seen") == "migrator")
        }
    }

    // MARK: the advisory lock

    @Test func migratorWaitingForTheLockGivesUpAfterTheWaitTimeout() async throws {
        let folder = try MigrationFolder(["0001_create_a.sql": "CREATE TABLE a (id int);"])
        defer { folder.remove() }
        try await TestDatabase.withFresh { database in
            let holder = try database.connect()
            try holder.query("SELECT pg_advisory_lock($1)", [SchemaMigrationsTable.lockKey])

            let migrator = makeMigrator(
                database,
                directory: folder.path,
                options: .init(lockWaitTimeout: .milliseconds(300))
            )
            let clock = ContinuousClock()
            let started = clock.now
            let error = #expect(throws: MigratorError.self) { try migrator.up() }
            let elapsed = clock.now - started
            #expect(error?.code == .lockTimeout)
            // (No upper bound: how soon after its timeout the failure arrives measures the
            // machine's load, not the migrator; the error's code says the wait timed out.)
            #expect(elapsed >= .milliseconds(300))
            #expect(try !holder.tableExists("a"))
            #expect(try !holder.tableExists("schema_migrations"))

            try holder.query("SELECT pg_advisory_unlock($1)", [SchemaMigrationsTable.lockKey])
            #expect(try migrator.up().map(\.version) == [1])
        }
    }

    @Test func freshlyCreatedTemplateFileApplies() async throws {
        let folder = try MigrationFolder()
        defer { folder.remove() }
        let directory = MigrationDirectory(path: folder.path)
        _ = try directory.createFile(named: "nothing yet")
        try await TestDatabase.withFresh { database in
            let applied = try makeMigrator(database, directory: folder.path).up()
            #expect(applied.map(\.fileName) == ["0001_nothing_yet.sql"])
            #expect(try database.connect().appliedVersions() == [1])
        }
    }

    // MARK: SchemaRequirement

    @Test func schemaRequirementFailsOnAnEmptyDatabaseAndPassesAfterUp() async throws {
        try await TestDatabase.withFresh { database in
            let connection = try database.connect()
            #expect(try SchemaRequirement.currentVersion(on: connection) == 0)
            let error = #expect(throws: SchemaRequirement.SchemaBehind.self) {
                try SchemaRequirement.check(on: connection)
            }
            #expect(error?.currentVersion == 0)
            #expect(error?.requiredVersion == SchemaRequirement.requiredVersion)
            #expect(error?.description.contains("migrator up") == true)

            try makeMigrator(database, directory: repositorySQLDirectory).up()
            try SchemaRequirement.check(on: connection)
            #expect(try SchemaRequirement.currentVersion(on: connection) >= SchemaRequirement.requiredVersion)
            // A build that needs a newer schema than sql/ provides still refuses.
            #expect(throws: SchemaRequirement.SchemaBehind.self) {
                try SchemaRequirement.check(on: connection, requiredVersion: 1_000_000)
            }
        }
    }

    @Test func repositorySQLDirectoryProvidesTheRequiredVersion() throws {
        let files = try MigrationDirectory(path: repositorySQLDirectory).load()
        #expect((files.last?.version ?? 0) >= SchemaRequirement.requiredVersion)
    }
}
