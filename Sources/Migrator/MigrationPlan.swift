/// What `up` would send, file by file, for `migrator up --dry-run --sql`.
public struct MigrationPlan: Sendable, Equatable {
    /// The session the statements would run in, read from the dry run's own connection, which is
    /// opened the way `up` opens its connection.
    public struct Session: Sendable, Equatable {
        public let applicationName: String
        public let statementTimeout: String
        /// `lock_timeout` while each file runs, as the migrator sets it (e.g. `5000ms`).
        public let lockTimeout: String
    }

    public let session: Session
    public let files: [MigrationFile]

    /// The statements of `file` in the order `up` would send them, each ending in `;`, with the
    /// migrator's own statements (transaction, `lock_timeout`, the `schema_migrations` row).
    /// The row's `execution_ms` is only known after the run, so it shows as `<elapsed ms>`.
    public func statements(of file: MigrationFile) -> [String] {
        let body = SQLStatementSplitter.split(file.sql).map { $0 + ";" }
        let row =
            "INSERT INTO schema_migrations (version, name, checksum, execution_ms) "
            + "VALUES (\(file.version), '\(file.name)', '\(file.checksum)', <elapsed ms>);"
        if file.runsInTransaction {
            return ["BEGIN;", "SELECT set_config('lock_timeout', '\(session.lockTimeout)', true);"] + body + [
                row, "COMMIT;",
            ]
        }
        return ["SELECT set_config('lock_timeout', '\(session.lockTimeout)', false);"] + body + [
            row, "RESET lock_timeout;",
        ]
    }

    /// The whole plan as SQL with comments: the session settings, then per file whether it runs
    /// in a transaction and its statements.
    public var text: String {
        var lines = [
            "-- migrator up --dry-run --sql: \(files.count) pending file(s); nothing has been run.",
            "-- session: application_name = '\(session.applicationName)'",
            "-- session: statement_timeout = \(session.statementTimeout) (the migrator never sets a statement timeout)",
            "-- session: lock_timeout = '\(session.lockTimeout)' while each file runs",
            "-- the migration advisory lock is held from before the first file until after the last",
        ]
        for file in files {
            lines.append("")
            if file.runsInTransaction {
                lines.append("-- \(file.fileName): in one transaction, with its schema_migrations row")
            } else {
                lines.append(
                    "-- \(file.fileName): no transaction; each statement runs on its own, "
                        + "the schema_migrations row after the last one"
                )
            }
            lines += statements(of: file)
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
