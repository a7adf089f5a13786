import Foundation
import Postgres

/// A row of `schema_migrations`.
public struct AppliedMigration: Sendable, Equatable {
    public let version: Int
    public let name: String
    public let checksum: String
    public let appliedAt: Date
    public let executionMilliseconds: Int
    /// How the row came to be when not by running the file: `baseline` for `migrator baseline`.
    public let note: String?
}

/// A row of `schema_migrations_repairs`: one `migrator repair`, who ran it, when and why.
public struct MigrationRepair: Sendable, Equatable {
    public let version: Int
    public let oldChecksum: String
    public let newChecksum: String
    public let repairedBy: String
    public let applicationName: String
    public let repairedAt: Date
    public let reason: String?
}

/// The statements on `schema_migrations`, which the migrator itself creates and owns.
enum SchemaMigrationsTable {
    /// The advisory lock key every migrator agrees on ("photomig" in ASCII).
    static let lockKey: Int64 = 0x7068_6f74_6f6d_6967

    static let tryLockSQL = "SELECT pg_try_advisory_lock($1) AS locked"
    static let unlockSQL = "SELECT pg_advisory_unlock($1)"

    static let createSQL = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version      bigint      PRIMARY KEY,
            name         text        NOT NULL,
            checksum     text        NOT NULL,
            applied_at   timestamptz NOT NULL DEFAULT now(),
            execution_ms bigint      NOT NULL,
            applied_by   text        NOT NULL DEFAULT current_user
        )
        """

    /// `baseline` rows say so; added to tables created before the column existed. A nullable column
    /// without a default changes only the catalog.
    static let addNoteColumnSQL = "ALTER TABLE schema_migrations ADD COLUMN note text"

    static let hasNoteColumnSQL = """
        SELECT EXISTS (
            SELECT 1 FROM pg_attribute
            WHERE attrelid = to_regclass('schema_migrations') AND attname = 'note' AND NOT attisdropped
        ) AS present
        """

    /// The audit trail of `migrator repair`; bookkeeping of the migrator like `schema_migrations`,
    /// not part of the application's schema in `sql/`.
    static let createRepairsSQL = """
        CREATE TABLE IF NOT EXISTS schema_migrations_repairs (
            id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            version          bigint      NOT NULL,
            old_checksum     text        NOT NULL,
            new_checksum     text        NOT NULL,
            repaired_by      text        NOT NULL DEFAULT current_user,
            application_name text        NOT NULL DEFAULT current_setting('application_name'),
            repaired_at      timestamptz NOT NULL DEFAULT now(),
            reason           text
        )
        """

    static let repairsExistSQL = "SELECT to_regclass('schema_migrations_repairs') IS NOT NULL AS present"

    static let selectRepairsSQL = """
        SELECT version, old_checksum, new_checksum, repaired_by, application_name, repaired_at, reason
        FROM schema_migrations_repairs
        ORDER BY version, repaired_at, id
        """

    static let insertRepairSQL = """
        INSERT INTO schema_migrations_repairs (version, old_checksum, new_checksum, reason)
        VALUES ($1, $2, $3, $4)
        """

    static let updateChecksumSQL = "UPDATE schema_migrations SET checksum = $2 WHERE version = $1 AND checksum = $3"

    static let insertBaselineSQL = """
        INSERT INTO schema_migrations (version, name, checksum, execution_ms, note)
        VALUES ($1, $2, $3, 0, 'baseline')
        """

    static let countSQL = "SELECT count(*)::bigint AS rows FROM schema_migrations"

    static let existsSQL = "SELECT to_regclass('schema_migrations') IS NOT NULL AS present"

    /// `note` through `to_jsonb` so that tables made before the column existed read too.
    static let selectSQL = """
        SELECT version, name, checksum, applied_at, execution_ms, to_jsonb(schema_migrations) ->> 'note' AS note
        FROM schema_migrations
        ORDER BY version
        """

    static let insertSQL = """
        INSERT INTO schema_migrations (version, name, checksum, execution_ms)
        VALUES ($1, $2, $3, $4)
        """

    static let currentVersionSQL = "SELECT coalesce(max(version), 0) AS version FROM schema_migrations"

    /// Creates the migrator's bookkeeping tables, and adds columns newer migrators need. Run under
    /// the advisory lock.
    static func create(on connection: Connection, lockTimeout: Duration) throws {
        try connection.query(createSQL)
        // Checked first: ALTER TABLE ... IF NOT EXISTS would still take the table's ACCESS
        // EXCLUSIVE lock on every run. Under lock_timeout like any migration, so that it never
        // queues in front of the services' reads of schema_migrations.
        if try connection.query(hasNoteColumnSQL).first?.decode("present", as: Bool.self) != true {
            try connection.transaction { connection in
                try connection.query("SELECT set_config('lock_timeout', $1, true)", ["\(lockTimeout.milliseconds)ms"])
                try connection.query(addNoteColumnSQL)
            }
        }
        try connection.query(createRepairsSQL)
    }

    /// Every repair in version order; none when no repair was ever made.
    static func repairs(on connection: Connection) throws -> [MigrationRepair] {
        guard try connection.query(repairsExistSQL).first?.decode("present", as: Bool.self) == true else { return [] }
        return try connection.query(selectRepairsSQL).rows.map { row in
            MigrationRepair(
                version: try row.decode("version"),
                oldChecksum: try row.decode("old_checksum"),
                newChecksum: try row.decode("new_checksum"),
                repairedBy: try row.decode("repaired_by"),
                applicationName: try row.decode("application_name"),
                repairedAt: try row.decode("repaired_at"),
                reason: try row.decodeIfPresent("reason")
            )
        }
    }

    static func rowCount(on connection: Connection) throws -> Int {
        try connection.query(countSQL).first?.decode("rows", as: Int.self) ?? 0
    }

    static func exists(on connection: Connection) throws -> Bool {
        try connection.query(existsSQL).first?.decode("present", as: Bool.self) ?? false
    }

    /// Applied rows in version order; none when the table does not exist yet.
    static func appliedMigrations(on connection: Connection) throws -> [AppliedMigration] {
        guard try exists(on: connection) else { return [] }
        return try connection.query(selectSQL).rows.map { row in
            AppliedMigration(
                version: try row.decode("version"),
                name: try row.decode("name"),
                checksum: try row.decode("checksum"),
                appliedAt: try row.decode("applied_at"),
                executionMilliseconds: try row.decode("execution_ms"),
                note: try row.decodeIfPresent("note")
            )
        }
    }

    static func record(_ file: MigrationFile, elapsed: Duration, on connection: Connection) throws {
        try connection.query(insertSQL, [file.version, file.name, file.checksum, Int(elapsed.milliseconds)])
    }

    /// The highest applied version, 0 for an empty or unmigrated database.
    static func currentVersion(on connection: Connection) throws -> Int {
        guard try exists(on: connection) else { return 0 }
        return try connection.query(currentVersionSQL).first?.decode("version", as: Int.self) ?? 0
    }
}
