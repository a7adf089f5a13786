import Foundation
import TestSupport
import Testing

@testable import Migrator

/// `migrator lint`: each rule with a case it must flag and a near miss it must not, allow
/// comments, and the repository's own `sql/`.
@Suite(.offTheCooperativePool) struct MigratorLintTests {
    struct RuleCase: Sendable, CustomTestStringConvertible {
        var rule: LintRule
        /// Flagged: exactly `rule`, on `line`.
        var flagged: String
        var line: Int
        /// Not flagged.
        var nearMiss: String

        var testDescription: String { rule.rawValue }
    }

    static let ruleCases: [RuleCase] = [
        RuleCase(
            rule: .indexWithoutConcurrently,
            flagged: "-- an index\nCREATE INDEX photos_x_idx ON photos (x);",
            line: 2,
            nearMiss: "CREATE TABLE t (x int);\nCREATE INDEX ON t (x);"
        ),
        RuleCase(
            rule: .indexWithoutConcurrently,
            flagged: "CREATE UNIQUE INDEX IF NOT EXISTS i ON public.photos USING btree (x);",
            line: 1,
            nearMiss: "-- migrator: no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY i ON photos (x);"
        ),
        RuleCase(
            rule: .columnTypeChange,
            flagged: "SELECT 1;\n\nALTER TABLE photos ALTER COLUMN width TYPE bigint;",
            line: 3,
            nearMiss: "ALTER TABLE photos ALTER COLUMN width SET DEFAULT 1;"
        ),
        RuleCase(
            rule: .constraintWithoutNotValid,
            flagged: "ALTER TABLE photos ADD CONSTRAINT width_positive CHECK (width > 0);",
            line: 1,
            nearMiss: "ALTER TABLE photos ADD CONSTRAINT width_positive CHECK (width > 0) NOT VALID;"
        ),
        RuleCase(
            rule: .constraintWithoutNotValid,
            flagged: "ALTER TABLE photos ADD FOREIGN KEY (project_id) REFERENCES projects (id);",
            line: 1,
            nearMiss: "ALTER TABLE photos ADD FOREIGN KEY (project_id) REFERENCES projects (id) NOT VALID;"
        ),
        RuleCase(
            rule: .setNotNull,
            flagged: "ALTER TABLE photos ALTER COLUMN s3_etag SET NOT NULL;",
            line: 1,
            nearMiss: """
                ALTER TABLE photos VALIDATE CONSTRAINT photos_s3_etag_not_null;
                ALTER TABLE photos ALTER COLUMN s3_etag SET NOT NULL;
                """
        ),
        RuleCase(
            rule: .vacuumFull,
            flagged: "-- migrator: no-transaction\nVACUUM (FULL, ANALYZE) photos;",
            line: 2,
            nearMiss: "-- migrator: no-transaction\nVACUUM (ANALYZE) photos;"
        ),
        RuleCase(
            rule: .cluster,
            flagged: "CLUSTER photos USING photos_pkey;",
            line: 1,
            nearMiss: "ALTER TABLE photos CLUSTER ON photos_pkey;"
        ),
        RuleCase(
            rule: .lockTable,
            flagged: "LOCK TABLE photos IN ACCESS EXCLUSIVE MODE;",
            line: 1,
            nearMiss: "SELECT 'LOCK TABLE photos'; -- LOCK TABLE photos"
        ),
        RuleCase(
            rule: .notInTransaction,
            flagged: "CREATE INDEX CONCURRENTLY i ON photos (x);",
            line: 1,
            nearMiss: "-- migrator: no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS i ON photos (x);"
        ),
        RuleCase(
            rule: .notInTransaction,
            flagged: "SELECT 1;\nVACUUM photos;",
            line: 2,
            nearMiss: "-- migrator: no-transaction\nVACUUM photos;"
        ),
        RuleCase(
            rule: .multipleStatementsWithoutTransaction,
            flagged: """
                -- migrator: no-transaction
                CREATE INDEX CONCURRENTLY IF NOT EXISTS a ON t (x);
                CREATE INDEX CONCURRENTLY IF NOT EXISTS b ON t (y);
                """,
            line: 3,
            nearMiss: "CREATE TABLE t (x int);\nCREATE INDEX a ON t (x);\nCREATE INDEX b ON t (x);"
        ),
        RuleCase(
            rule: .uncheckedBody,
            flagged: "DO $$\nBEGIN\n    EXECUTE 'ALTER TABLE photos ADD COLUMN y int';\nEND\n$$;",
            line: 1,
            nearMiss:
                "DO $$\nBEGIN\n    IF EXISTS (SELECT 1 FROM photos) THEN\n        ANALYZE photos;\n    END IF;\nEND\n$$;"
        ),
        RuleCase(
            rule: .allowComment,
            flagged: "-- migrator: allow no-such-rule because\nSELECT 1;",
            line: 2,
            nearMiss: "-- migrator: allow cluster the table has 12 rows (checked in production)\nCLUSTER photos;"
        ),
    ]

    @Test(arguments: ruleCases)
    func eachRuleFlagsItsCaseAndNotItsNearMiss(_ ruleCase: RuleCase) throws {
        let findings = MigrationLinter.lint(path: "0005_case.sql", sql: ruleCase.flagged)
        #expect(findings.map(\.rule) == [ruleCase.rule], "\(findings)")
        #expect(findings.map(\.line) == [ruleCase.line])
        #expect(
            findings.allSatisfy {
                $0.description.hasPrefix("0005_case.sql:\(ruleCase.line): \(ruleCase.rule.rawValue): ")
            }
        )
        let nearMiss = MigrationLinter.lint(path: "0005_case.sql", sql: ruleCase.nearMiss)
        #expect(nearMiss.isEmpty, "\(nearMiss)")
    }

    /// What `not-in-transaction` flags, Postgres does refuse in a transactional file, and runs in
    /// a no-transaction file, which the linter accepts.
    @Test(
        .requiresDatabase,
        arguments: [
            "CREATE INDEX CONCURRENTLY t_id_idx ON t (id)", "VACUUM t", "REINDEX TABLE CONCURRENTLY t",
            "DROP INDEX CONCURRENTLY IF EXISTS t_none_idx",
        ]
    )
    func whatNotInTransactionFlagsPostgresRefusesInATransaction(statement: String) async throws {
        let inTransaction = "\(statement);\n"
        let alone = "\(MigrationFile.noTransactionMarker)\n\(statement);\n"
        #expect(MigrationLinter.lint(path: "f.sql", sql: inTransaction).map(\.rule) == [.notInTransaction])
        #expect(MigrationLinter.lint(path: "f.sql", sql: alone).isEmpty)

        let folder = try MigrationFolder(["0001_create_t.sql": "CREATE TABLE t (id int);"])
        defer { folder.remove() }
        try await TestDatabase.withFresh { database in
            let migrator = makeMigrator(database, directory: folder.path)
            try migrator.up()
            try folder.write("0002_statement.sql", inTransaction)
            let refusal = #expect(throws: MigratorError.self) { try migrator.up() }
            #expect(
                refusal?.description.contains("cannot run inside a transaction block") == true,
                "\(String(describing: refusal))"
            )
            #expect(try database.connect().appliedVersions() == [1])
            try folder.write("0002_statement.sql", alone)
            let applied = try migrator.up()
            #expect(applied.map(\.version) == [2])
        }
    }

    /// An allow comment silences one finding of its rule on its statement; it needs a reason, and
    /// one that silences nothing is itself a finding (so stale allows do not pile up).
    @Test func allowCommentsSilenceOneFindingAndNeedAReason() {
        let allowed = """
            -- migrator: allow column-type-change photos has under 1000 rows in every environment
            ALTER TABLE photos ALTER COLUMN width TYPE bigint;
            ALTER TABLE photos ALTER COLUMN height TYPE bigint;
            """
        let findings = MigrationLinter.lint(path: "f.sql", sql: allowed)
        #expect(findings.map(\.rule) == [.columnTypeChange])
        #expect(findings.map(\.line) == [3])

        let noReason = MigrationLinter.lint(
            path: "f.sql",
            sql: "-- migrator: allow cluster\nCLUSTER photos;"
        )
        #expect(noReason.map(\.rule) == [.allowComment, .cluster])

        let stale = MigrationLinter.lint(path: "f.sql", sql: "-- migrator: allow cluster no longer needed\nSELECT 1;")
        #expect(stale.map(\.rule) == [.allowComment])
    }

    /// A `FILE.allow` next to an applied file (whose bytes must not change) silences findings in it.
    @Test func anAllowFileSilencesFindingsOfAFileThatMayNotChange() {
        let sql = "ALTER TABLE photos ALTER COLUMN width TYPE bigint;\nCLUSTER photos;\n"
        let findings = MigrationLinter.lint(
            path: "0009_x.sql",
            sql: sql,
            allowFile: "# reviewed\n-- migrator: allow column-type-change applied in 2025 on an empty table\n"
        )
        #expect(findings.map(\.rule) == [.cluster])
        let stale = MigrationLinter.lint(
            path: "0009_x.sql",
            sql: "SELECT 1;",
            allowFile: "-- migrator: allow cluster was needed once\n"
        )
        #expect(
            stale.map(\.description) == [
                "0009_x.sql.allow:1: allow-comment: allow cluster silences nothing in 0009_x.sql"
            ]
        )
    }

    /// What the rules match is code: comments and string literals do not count.
    @Test func commentsAndStringsAreNotStatements() {
        let sql = """
            -- CREATE INDEX later_idx ON photos (x);
            /* VACUUM FULL photos; */
            INSERT INTO notes (text) VALUES ('CLUSTER photos; LOCK TABLE photos');
            """
        #expect(MigrationLinter.lint(path: "f.sql", sql: sql).isEmpty)
    }

    /// `migrator lint sql/` passes on the repository's own files (findings there are allowed
    /// with reasons), as CI runs it.
    @Test func theRepositorysOwnSQLPasses() async throws {
        #expect(try MigrationLinter.lint(paths: [repositorySQLDirectory]).isEmpty)
        let child = try await runMigrator(["lint", repositorySQLDirectory])
        #expect(child.status == 0, "\(child.standardOutput)\(child.standardError)")
        #expect(child.standardOutput == "OK: no lint findings.\n")
    }

    /// The CLI prints each finding as `path:line: rule: message` and exits 1; a directory and a
    /// file argument both work; `--dir` is the default.
    @Test func theCommandPrintsFindingsAndExitsOne() async throws {
        let folder = try MigrationFolder([
            "0001_create_t.sql": "CREATE TABLE t (id int);",
            "0002_index.sql": "SELECT 1;\nCREATE INDEX photos_x_idx ON photos (x);\n",
        ])
        defer { folder.remove() }
        for arguments in [
            ["lint", folder.path], ["lint", "--dir", folder.path], ["lint", folder.path + "/0002_index.sql"],
        ] {
            let child = try await runMigrator(arguments)
            #expect(child.status == 1, "\(arguments)")
            let lines = child.standardOutput.split(separator: "\n")
            #expect(lines.count == 1)
            #expect(lines.first?.hasPrefix("\(folder.path)/0002_index.sql:2: index-without-concurrently: ") == true)
        }
        let clean = try await runMigrator(["lint", folder.path + "/0001_create_t.sql"])
        #expect(clean.status == 0, "\(clean.standardOutput)")
        let missing = try await runMigrator(["lint", folder.path + "/nope.sql"])
        #expect(missing.status == 1)
    }
}
