import Foundation
import Logging
import Postgres
import TestSupport
import Testing

@testable import Migrator

/// A temporary directory of migration files, removed by `remove()`.
struct MigrationFolder {
    let url: URL

    init(_ files: [String: String] = [:]) throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("migrator-tests-\(UUID().uuidString.lowercased())", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        for (name, contents) in files {
            try write(name, contents)
        }
    }

    var path: String { url.path }

    func write(_ name: String, _ contents: String) throws {
        try Data(contents.utf8).write(to: url.appendingPathComponent(name))
    }

    func delete(_ name: String) throws {
        try FileManager.default.removeItem(at: url.appendingPathComponent(name))
    }

    func remove() {
        try? FileManager.default.removeItem(at: url)
    }
}

/// The repository's own `sql/` directory.
let repositorySQLDirectory = TestPaths.repositoryRoot.appendingPathComponent("sql").path

/// The tables contract section 7 requires.
let contractTables = [
    "projects", "photos", "photo_status_history", "outbox_events", "outbox_dead_letters",
    "idempotency_keys", "schema_migrations",
]

let quietLogger: Logger = {
    var logger = Logger(label: "migrator-tests")
    logger.logLevel = .critical
    return logger
}()

func makeMigrator(
    _ database: TestDatabase,
    directory: String,
    options: Migrator.Options = .init()
) -> Migrator {
    // As the migrator executable runs (`statementsRunUnbounded`): no statement timeout, so a
    // `CREATE INDEX CONCURRENTLY` waiting for a test's open snapshot is not cancelled at 15 s.
    var settings = database.settings
    settings.timeouts.statement = nil
    return Migrator(
        directory: MigrationDirectory(path: directory),
        settings: settings,
        options: options,
        logger: quietLogger
    )
}

extension Connection {
    func tableExists(_ name: String) throws -> Bool {
        try query("SELECT to_regclass($1) IS NOT NULL AS present", [name]).first?.decode("present", as: Bool.self)
            ?? false
    }

    /// The single text value of a one-row, one-column query.
    func scalar(_ sql: String, _ parameters: [(any PostgresEncodable)?] = []) throws -> String? {
        try query(sql, parameters).first?.values.first ?? nil
    }

    /// `version|checksum|applied_at` of every `schema_migrations` row; empty when the table is absent.
    func migrationRows() throws -> [String] {
        guard try tableExists("schema_migrations") else { return [] }
        return try query(
            "SELECT version::text || '|' || checksum || '|' || applied_at::text AS row FROM schema_migrations ORDER BY version"
        ).rows.map { try $0.decode("row", as: String.self) }
    }

    func appliedVersions() throws -> [Int] {
        guard try tableExists("schema_migrations") else { return [] }
        return try query("SELECT version FROM schema_migrations ORDER BY version").rows.map {
            try $0.decode("version", as: Int.self)
        }
    }

    func indexIsValid(_ name: String) throws -> Bool? {
        try query(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)",
            [name]
        ).first?.decode("indisvalid", as: Bool.self)
    }
}

/// `migrator ARGS` with `DATABASE_URL` pointing at `database` (or a database-less environment).
func runMigrator(
    _ arguments: [String],
    database: TestDatabase? = nil,
    environment extra: [String: String] = [:]
) async throws -> ChildProcess {
    var environment = ["LOG_LEVEL": "error"].merging(extra) { _, new in new }
    // Without a test database, point at a port nothing listens on so an accidental connection
    // fails instead of touching a real server.
    environment["DATABASE_URL"] = database?.connectionString ?? "postgresql://nobody@127.0.0.1:1/none"
    return try await ChildProcess.run(try TestPaths.executable("migrator"), arguments, environment: environment)
}
