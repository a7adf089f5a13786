import Foundation
import Postgres
import TestSupport
import Testing

@testable import Migrator

/// The verbs and refusals a DBA expects (issue 19), through the `migrator` executable on a
/// real Postgres: out-of-order files, `baseline`, `repair`, `up --dry-run --sql`, progress lines.
@Suite(.requiresDatabase, .offTheCooperativePool) struct MigratorDBAVerbsTests {
    /// Two files, each creating a table.
    static let tablesAAndB = [
        "0001_create_a.sql": "CREATE TABLE a (id int);",
        "0002_create_b.sql": "CREATE TABLE b (id int);",
    ]

    /// The `migrations` array of `migrator status --json`.
    static func statusMigrations(_ folder: MigrationFolder, _ database: TestDatabase) async throws -> [[String: Any]] {
        let json = try await runMigrator(["status", "--json", "--dir", folder.path], database: database)
        #expect(json.status == 0, "\(json.standardError)")
        let document = try #require(
            try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [String: Any]
        )
        return try #require(document["migrations"] as? [[String: Any]])
    }

    // MARK: Out-of-order files

    /// A file numbered below the highest applied version, added late (a merge from a long-lived
    /// branch), is refused by `up` and `up --dry-run`, nothing is applied, and `status` says so;
    /// `--allow-out-of-order` applies it.
    @Test func aLateLowerNumberedFileIsRefusedUntilAllowed() async throws {
        let folder = try MigrationFolder([
            "0001_create_a.sql": "CREATE TABLE a (id int);",
            "0003_create_c.sql": "CREATE TABLE c (id int);",
        ])
        defer { folder.remove() }
        try await TestDatabase.withFresh { database in
            let first = try await runMigrator(["up", "--dir", folder.path], database: database)
            #expect(first.status == 0, "\(first.standardError)")
            try folder.write("0002_create_b.sql", "CREATE TABLE b (id int);")
            try folder.write("0004_create_d.sql", "CREATE TABLE d (id int);")

            for arguments in [["up"], ["up", "--dry-run"], ["up", "--dry-run", "--sql"]] {
                let refused = try await runMigrator(arguments + ["--dir", folder.path], database: database)
                #expect(refused.status == 1, "\(arguments): \(refused.standardOutput)")
                #expect(refused.standardError.contains("0002_create_b.sql"))
                #expect(refused.standardError.contains("--allow-out-of-order"))
                #expect(!refused.standardError.contains("0004_create_d.sql"))
            }
            let connection = try database.connect()
            #expect(try connection.appliedVersions() == [1, 3])
            #expect(try !connection.tableExists("d"))

            let table = try await runMigrator(["status", "--dir", folder.path], database: database)
            let lines = table.standardOutput.split(separator: "\n").map(String.init)
            let line2 = try #require(lines.first { $0.hasPrefix("0002") })
            let line4 = try #require(lines.first { $0.hasPrefix("0004") })
            #expect(line2.contains("pending") && line2.contains("out of order"))
            #expect(line4.contains("pending") && !line4.contains("out of order"))

            let migrations = try await Self.statusMigrations(folder, database)
            #expect(migrations.map { $0["out_of_order"] as? Bool } == [false, true, false, false])
            #expect(migrations.map { $0["state"] as? String } == ["applied", "pending", "applied", "pending"])

            let allowed = try await runMigrator(
                ["up", "--allow-out-of-order", "--dir", folder.path],
                database: database
            )
            #expect(allowed.status == 0, "\(allowed.standardError)")
            #expect(try connection.appliedVersions() == [1, 2, 3, 4])
        }
    }

    // MARK: baseline

    /// A database whose schema was made by `psql` is adopted: `baseline 2` records 0001 and 0002
    /// with their checksums and the note `baseline` without running them, and `up` then runs 0003 only.
    @Test func baselineAdoptsASchemaMadeByPsql() async throws {
        let folder = try MigrationFolder([
            "0001_create_a.sql": "CREATE TABLE a (id int);",
            "0002_create_b.sql": "CREATE TABLE b (id int);",
            "0003_create_c.sql": "CREATE TABLE c (id int);",
        ])
        defer { folder.remove() }
        try await TestDatabase.withFresh { database in
            let psql = try await ChildProcess.run(
                URL(fileURLWithPath: "/usr/bin/env"),
                [
                    "psql", "-v", "ON_ERROR_STOP=1", "-X", "-q", database.connectionString, "-c",
                    "CREATE TABLE a (id int); CREATE TABLE b (id int);",
                ]
            )
            #expect(psql.status == 0, "\(psql.standardError)")

            let baseline = try await runMigrator(["baseline", "2", "--dir", folder.path], database: database)
            #expect(baseline.status == 0, "\(baseline.standardError)")
            #expect(baseline.standardOutput == "baselined 0001_create_a.sql\nbaselined 0002_create_b.sql\n")

            let connection = try database.connect()
            let files = try MigrationDirectory(path: folder.path).load()
            let rows = try connection.query(
                "SELECT version, checksum, note FROM schema_migrations ORDER BY version"
            ).rows.map {
                "\(try $0.decode("version", as: Int.self))|\(try $0.decode("checksum", as: String.self))|"
                    + "\(try $0.decode("note", as: String.self))"
            }
            #expect(rows == ["1|\(files[0].checksum)|baseline", "2|\(files[1].checksum)|baseline"])

            let migrations = try await Self.statusMigrations(folder, database)
            #expect(migrations.map { $0["note"] as? String } == ["baseline", "baseline", nil])

            let up = try await runMigrator(["up", "--dir", folder.path], database: database)
            #expect(up.status == 0, "\(up.standardError)")
            #expect(up.standardOutput.contains("applied 0003_create_c.sql"))
            #expect(!up.standardOutput.contains("0001_create_a.sql"))
            #expect(try connection.appliedVersions() == [1, 2, 3])
            let verify = try await runMigrator(["verify", "--dir", folder.path], database: database)
            #expect(verify.status == 0, "\(verify.standardError)")
        }
    }

    /// `baseline` on a database the migrator already runs on is refused and changes nothing; a
    /// version without a file is a usage error.
    @Test func baselineIsRefusedWhereSchemaMigrationsHasRows() async throws {
        let folder = try MigrationFolder(Self.tablesAAndB)
        defer { folder.remove() }
        try await TestDatabase.withFresh { database in
            let up = try await runMigrator(["up", "--to", "1", "--dir", folder.path], database: database)
            #expect(up.status == 0, "\(up.standardError)")
            let before = try database.connect().migrationRows()

            let refused = try await runMigrator(["baseline", "2", "--dir", folder.path], database: database)
            #expect(refused.status == 1)
            #expect(refused.standardError.contains("already has 1 row"))
            #expect(try database.connect().migrationRows() == before)

            let unknown = try await runMigrator(["baseline", "7", "--dir", folder.path], database: database)
            #expect(unknown.status == 2, "\(unknown.standardError)")
        }
    }

    /// A database migrated by the migrator before `note` existed: `status` reads it as it is,
    /// and the next `up` adds the column (once) and applies the rest.
    @Test func aSchemaMigrationsTableWithoutNoteKeepsWorking() async throws {
        let folder = try MigrationFolder(Self.tablesAAndB)
        defer { folder.remove() }
        try await TestDatabase.withFresh { database in
            let connection = try database.connect()
            let checksum = try #require(try MigrationDirectory(path: folder.path).load().first?.checksum)
            // The table as the previous migrator made it, written out: SchemaMigrationsTable.createSQL
            // may change, this shape may not.
            try connection.executeScript(
                """
                CREATE TABLE schema_migrations (
                    version      bigint      PRIMARY KEY,
                    name         text        NOT NULL,
                    checksum     text        NOT NULL,
                    applied_at   timestamptz NOT NULL DEFAULT now(),
                    execution_ms bigint      NOT NULL,
                    applied_by   text        NOT NULL DEFAULT current_user
                );
                CREATE TABLE a (id int);
                """
            )
            try connection.query(
                "INSERT INTO schema_migrations (version, name, checksum, execution_ms) VALUES (1, 'create_a', $1, 3)",
                [checksum]
            )
            let migrations = try await Self.statusMigrations(folder, database)
            #expect(migrations.map { $0["state"] as? String } == ["applied", "pending"])
            let noteColumn =
                "SELECT 1 FROM pg_attribute WHERE attrelid = 'schema_migrations'::regclass AND attname = 'note'"
            #expect(try connection.query(noteColumn).rows.isEmpty, "status must not change the table")

            let up = try await runMigrator(["up", "--dir", folder.path], database: database)
            #expect(up.status == 0, "\(up.standardError)")
            #expect(try connection.appliedVersions() == [1, 2])
            #expect(try connection.scalar("SELECT count(*) FROM schema_migrations WHERE note IS NULL") == "2")
        }
    }

    // MARK: repair

    /// A comment-only edit of an applied file: `verify` fails, `repair` accepts the new checksum
    /// and writes who, when and why to `schema_migrations_repairs`, `verify` passes, and
    /// `status` shows the repair.
    @Test func repairAcceptsAnEditedFileAndAuditsIt() async throws {
        let folder = try MigrationFolder(["0001_create_a.sql": "CREATE TABLE a (id int);\n"])
        defer { folder.remove() }
        try await TestDatabase.withFresh { database in
            let up = try await runMigrator(["up", "--dir", folder.path], database: database)
            #expect(up.status == 0, "\(up.standardError)")
            let oldChecksum = try #require(try MigrationDirectory(path: folder.path).load().first?.checksum)
            try folder.write("0001_create_a.sql", "-- a's ids come from the client\nCREATE TABLE a (id int);\n")
            let newChecksum = try #require(try MigrationDirectory(path: folder.path).load().first?.checksum)

            let drifted = try await runMigrator(["verify", "--dir", folder.path], database: database)
            #expect(drifted.status == 1)

            let repair = try await runMigrator(
                ["repair", "1", "--reason", "comment only (TICKET-12)", "--dir", folder.path],
                database: database
            )
            #expect(repair.status == 0, "\(repair.standardError)")
            let verify = try await runMigrator(["verify", "--dir", folder.path], database: database)
            #expect(verify.status == 0, "\(verify.standardError)")

            let connection = try database.connect()
            let audit = try connection.query(
                """
                SELECT version::text || '|' || old_checksum || '|' || new_checksum || '|' || repaired_by || '|'
                       || application_name || '|' || reason || '|' || (repaired_at > now() - interval '1 minute')
                       AS row
                FROM schema_migrations_repairs
                """
            ).rows.map { try $0.decode("row", as: String.self) }
            let user = try #require(try connection.scalar("SELECT current_user"))
            #expect(audit == ["1|\(oldChecksum)|\(newChecksum)|\(user)|migrator|comment only (TICKET-12)|true"])
            #expect(try connection.scalar("SELECT checksum FROM schema_migrations WHERE version = 1") == newChecksum)

            let migrations = try await Self.statusMigrations(folder, database)
            let repairs = try #require(migrations.first?["repairs"] as? [[String: Any]])
            #expect(repairs.map { $0["old_checksum"] as? String } == [oldChecksum])
            #expect(repairs.map { $0["reason"] as? String } == ["comment only (TICKET-12)"])
            let table = try await runMigrator(["status", "--dir", folder.path], database: database)
            #expect(
                table.standardOutput.split(separator: "\n").contains { $0.hasPrefix("0001") && $0.contains("repaired") }
            )
        }
    }

    /// Nothing to repair (the file matches, or the version is not applied) fails and writes no audit row.
    @Test func repairRefusesWhenThereIsNothingToRepair() async throws {
        let folder = try MigrationFolder(Self.tablesAAndB)
        defer { folder.remove() }
        try await TestDatabase.withFresh { database in
            let up = try await runMigrator(["up", "--to", "1", "--dir", folder.path], database: database)
            #expect(up.status == 0, "\(up.standardError)")
            for version in ["1", "2", "9"] {
                let repair = try await runMigrator(["repair", version, "--dir", folder.path], database: database)
                #expect(repair.status == 1, "repair \(version): \(repair.standardOutput)")
                #expect(repair.standardError.contains("repair \(version)"))
            }
            #expect(try database.connect().scalar("SELECT count(*) FROM schema_migrations_repairs") == "0")
        }
    }

    // MARK: up --dry-run --sql

    /// The plan names each pending file, whether it runs in a transaction, every statement in
    /// order (the migrator's own included) and the session settings, and changes nothing.
    @Test func dryRunSQLPrintsTheExactPlan() async throws {
        let folder = try MigrationFolder([
            "0001_create_t.sql": "CREATE TABLE t (id int, label text);",
            "0002_label_default.sql":
                "-- labels start empty\nALTER TABLE t ALTER COLUMN label SET DEFAULT '';\nUPDATE t SET label = '' WHERE label IS NULL;\n",
            "0003_label_index.sql":
                "-- migrator: no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_label_idx ON t (label);\n",
        ])
        defer { folder.remove() }
        try await TestDatabase.withFresh { database in
            let up = try await runMigrator(["up", "--to", "1", "--dir", folder.path], database: database)
            #expect(up.status == 0, "\(up.standardError)")
            let files = try MigrationDirectory(path: folder.path).load()
            let before = try database.connect().migrationRows()

            let plan = try await runMigrator(
                ["up", "--dry-run", "--sql", "--lock-timeout", "2s", "--dir", folder.path],
                database: database
            )
            #expect(plan.status == 0, "\(plan.standardError)")
            let expected = """
                -- migrator up --dry-run --sql: 2 pending file(s); nothing has been run.
                -- session: application_name = 'migrator'
                -- session: statement_timeout = 0 (the migrator never sets a statement timeout)
                -- session: lock_timeout = '2000ms' while each file runs
                -- the migration advisory lock is held from before the first file until after the last

                -- 0002_label_default.sql: in one transaction, with its schema_migrations row
                BEGIN;
                SELECT set_config('lock_timeout', '2000ms', true);
                -- labels start empty
                ALTER TABLE t ALTER COLUMN label SET DEFAULT '';
                UPDATE t SET label = '' WHERE label IS NULL;
                INSERT INTO schema_migrations (version, name, checksum, execution_ms) VALUES (2, 'label_default', '\(files[1].checksum)', <elapsed ms>);
                COMMIT;

                -- 0003_label_index.sql: no transaction; each statement runs on its own, the schema_migrations row after the last one
                SELECT set_config('lock_timeout', '2000ms', false);
                -- migrator: no-transaction
                CREATE INDEX CONCURRENTLY IF NOT EXISTS t_label_idx ON t (label);
                INSERT INTO schema_migrations (version, name, checksum, execution_ms) VALUES (3, 'label_index', '\(files[2].checksum)', <elapsed ms>);
                RESET lock_timeout;

                """
            #expect(plan.standardOutput == expected)
            #expect(try database.connect().migrationRows() == before)
            #expect(try database.connect().indexIsValid("t_label_idx") == nil)

            let withoutDryRun = try await runMigrator(["up", "--sql", "--dir", folder.path], database: database)
            #expect(withoutDryRun.status == 2)
        }
    }

    // MARK: Progress

    /// `up` prints each file when it starts and how long it took when it ends, on stdout.
    @Test func upPrintsEachFileAsItStartsAndEnds() async throws {
        let folder = try MigrationFolder([
            "0001_create_t.sql": "CREATE TABLE t (id int);",
            "0002_slow.sql": "-- migrator: no-transaction\nSELECT pg_sleep(0.3);\n",
        ])
        defer { folder.remove() }
        try await TestDatabase.withFresh { database in
            let up = try await runMigrator(["up", "--dir", folder.path], database: database)
            #expect(up.status == 0, "\(up.standardError)")
            let lines = up.standardOutput.split(separator: "\n").map(String.init)
            #expect(lines.count == 4, "\(lines)")
            guard lines.count == 4 else { return }
            #expect(lines[0] == "applying 0001_create_t.sql (in a transaction)")
            #expect(lines[1].wholeMatch(of: /applied 0001_create_t\.sql in \d+\.\d{3} s/) != nil, "\(lines[1])")
            #expect(lines[2] == "applying 0002_slow.sql (no transaction)")
            let slow = try #require(lines[3].wholeMatch(of: /applied 0002_slow\.sql in (\d+\.\d{3}) s/))
            #expect((Double(slow.1) ?? 0) >= 0.3)
        }
    }
}
