import Foundation
import Postgres

/// A row of `schema_migrations`.
public struct AppliedMigration: Sendable, Equatable {
    public let version: Int
    public let name: String
    public let checksum: String
    public let appliedAt: Date
    public let executionMilliseconds: Int
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

    static let existsSQL = "SELECT to_regclass('schema_migrations') IS NOT NULL AS present"

    static let selectSQL = """
        SELECT version, name, checksum, applied_at, execution_ms
        FROM schema_migrations
        ORDER BY version
        """

    static let insertSQL = """
        INSERT INTO schema_migrations (version, name, checksum, execution_ms)
        VALUES ($1, $2, $3, $4)
        """

    static let currentVersionSQL = "SELECT coalesce(max(version), 0) AS version FROM schema_migrations"

    static func create(on connection: Connection) throws {
        try connection.query(createSQL)
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
                executionMilliseconds: try row.decode("execution_ms")
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
