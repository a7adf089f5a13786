import Foundation
import Logging
import Postgres

/// Applies, checks and reports the migrations of one directory against one database.
///
/// Every method opens its own connection with `settings` (the `migrator` executable names it
/// `application_name=migrator` in `pg_stat_activity`) and blocks until done: the migrator is a command-line tool, not a
/// server, so there is no event loop to protect.
public struct Migrator: Sendable {
    /// Tuning that operators may override.
    public struct Options: Sendable {
        /// `lock_timeout` while a migration runs: a DDL statement that cannot get its lock in
        /// this time fails instead of queueing, because a queued `ALTER TABLE` blocks every
        /// later query on that table and would stall production traffic.
        public var lockTimeout: Duration = .seconds(5)
        /// How long `up` waits for another migrator to finish before giving up.
        public var lockWaitTimeout: Duration = .seconds(300)
        /// How often `up` reports what a running file is doing (`MigrationProgress.running`).
        public var activityInterval: Duration = .seconds(5)

        public init(
            lockTimeout: Duration = .seconds(5),
            lockWaitTimeout: Duration = .seconds(300),
            activityInterval: Duration = .seconds(5)
        ) {
            self.lockTimeout = lockTimeout
            self.lockWaitTimeout = lockWaitTimeout
            self.activityInterval = activityInterval
        }
    }

    public let directory: MigrationDirectory
    public let settings: ConnectionSettings
    public let options: Options
    public let logger: Logger

    public init(directory: MigrationDirectory, settings: ConnectionSettings, options: Options = .init(), logger: Logger)
    {
        self.directory = directory
        self.settings = settings
        self.options = options
        self.logger = logger
    }

    /// Every file and every applied version, in version order.
    public func status() throws -> [MigrationStatus] {
        let files = try directory.load()
        return try withConnection { connection in
            MigrationStatus.combine(
                files: files,
                applied: try SchemaMigrationsTable.appliedMigrations(on: connection),
                repairs: try SchemaMigrationsTable.repairs(on: connection)
            )
        }
    }

    /// Checks that every applied migration still has its file, unchanged. Throws naming the
    /// first file that drifted; returns the status list when all is well.
    @discardableResult
    public func verify() throws -> [MigrationStatus] {
        let statuses = try status()
        try Self.checkForDrift(statuses)
        return statuses
    }

    /// Applies pending migrations in version order, up to and including `targetVersion` when
    /// given. With `dryRun`, reports what would be applied and changes nothing.
    ///
    /// Concurrent calls (from any number of processes) are serialised by an advisory lock; the
    /// ones that waited find the work done and apply nothing.
    ///
    /// A pending file numbered below the highest applied version is refused (nothing is applied)
    /// unless `allowOutOfOrder`: it was written against an older schema than the one it would now
    /// run on, and someone should look at it first.
    @discardableResult
    public func up(
        to targetVersion: Int? = nil,
        dryRun: Bool = false,
        allowOutOfOrder: Bool = false,
        progress: @escaping @Sendable (MigrationProgress) -> Void = { _ in }
    ) throws -> [MigrationFile] {
        let files = try directory.load()
        if let targetVersion, !files.contains(where: { $0.version == targetVersion }) {
            throw MigratorError(.unknownVersion, "--to \(targetVersion): no migration file has that version")
        }
        return try withConnection { connection in
            if dryRun {
                let applied = try SchemaMigrationsTable.appliedMigrations(on: connection)
                let statuses = MigrationStatus.combine(files: files, applied: applied)
                try Self.checkForDrift(statuses)
                try Self.checkOrder(statuses, upTo: targetVersion, allowOutOfOrder: allowOutOfOrder)
                return Self.pending(statuses, upTo: targetVersion)
            }
            try acquireLock(on: connection)
            defer { _ = try? connection.query(SchemaMigrationsTable.unlockSQL, [SchemaMigrationsTable.lockKey]) }
            try SchemaMigrationsTable.create(on: connection, lockTimeout: options.lockTimeout)
            let applied = try SchemaMigrationsTable.appliedMigrations(on: connection)
            let statuses = MigrationStatus.combine(files: files, applied: applied)
            try Self.checkForDrift(statuses)
            try Self.checkOrder(statuses, upTo: targetVersion, allowOutOfOrder: allowOutOfOrder)
            let pending = Self.pending(statuses, upTo: targetVersion)
            let backendPID = try connection.query("SELECT pg_backend_pid() AS pid").first?.decode("pid", as: Int.self)
            for file in pending {
                progress(.started(file))
                let started = ContinuousClock.now
                let watcher = backendPID.map { pid in
                    MigrationActivityWatcher(settings: settings, backendPID: pid, interval: options.activityInterval) {
                        progress(.running(file, elapsed: ContinuousClock.now - started, activity: $0))
                    }
                }
                watcher?.start()
                defer { watcher?.stop() }
                let elapsed = try apply(file, on: connection)
                watcher?.stop()
                progress(.finished(file, elapsed: elapsed))
            }
            return pending
        }
    }

    /// Records every file up to and including `version` as applied, with its checksum and the note
    /// `baseline`, without running it: for a database whose schema was made another way (by
    /// `psql`, by an older tool). Refused when `schema_migrations` already has rows. Returns the
    /// files recorded.
    @discardableResult
    public func baseline(version: Int) throws -> [MigrationFile] {
        let files = try directory.load()
        guard files.contains(where: { $0.version == version }) else {
            throw MigratorError(.unknownVersion, "baseline \(version): no migration file has that version")
        }
        let recorded = files.filter { $0.version <= version }
        return try withConnection { connection in
            try acquireLock(on: connection)
            defer { _ = try? connection.query(SchemaMigrationsTable.unlockSQL, [SchemaMigrationsTable.lockKey]) }
            try SchemaMigrationsTable.create(on: connection, lockTimeout: options.lockTimeout)
            try connection.transaction { connection in
                let rows = try SchemaMigrationsTable.rowCount(on: connection)
                guard rows == 0 else {
                    throw MigratorError(
                        .alreadyMigrated,
                        "schema_migrations already has \(rows) row(s): baseline is only for a database the migrator "
                            + "has never run on"
                    )
                }
                for file in recorded {
                    try connection.query(
                        SchemaMigrationsTable.insertBaselineSQL,
                        [file.version, file.name, file.checksum]
                    )
                }
            }
            return recorded
        }
    }

    /// Accepts the current checksum of applied `version`'s file (after an edit that changed no
    /// statement, such as a comment), and records the old and new checksum, `current_user`,
    /// `application_name`, the time and `reason` in `schema_migrations_repairs`, in one
    /// transaction. Throws `nothingToRepair` when the version is not applied, has no file, or
    /// already matches.
    @discardableResult
    public func repair(version: Int, reason: String?) throws -> MigrationRepair {
        let files = try directory.load()
        guard let file = files.first(where: { $0.version == version }) else {
            throw MigratorError(.nothingToRepair, "repair \(version): no migration file has that version")
        }
        return try withConnection { connection in
            try acquireLock(on: connection)
            defer { _ = try? connection.query(SchemaMigrationsTable.unlockSQL, [SchemaMigrationsTable.lockKey]) }
            try SchemaMigrationsTable.create(on: connection, lockTimeout: options.lockTimeout)
            return try connection.transaction { connection in
                let applied = try SchemaMigrationsTable.appliedMigrations(on: connection)
                guard let row = applied.first(where: { $0.version == version }) else {
                    throw MigratorError(.nothingToRepair, "repair \(version): \(file.fileName) is not applied")
                }
                guard row.checksum != file.checksum else {
                    throw MigratorError(
                        .nothingToRepair,
                        "repair \(version): \(file.fileName) already matches its checksum in schema_migrations"
                    )
                }
                let reasonText = reason.flatMap { $0.isEmpty ? nil : $0 }
                try connection.query(SchemaMigrationsTable.updateChecksumSQL, [version, file.checksum, row.checksum])
                try connection.query(
                    SchemaMigrationsTable.insertRepairSQL,
                    [version, row.checksum, file.checksum, reasonText]
                )
                return try SchemaMigrationsTable.repairs(on: connection).last { $0.version == version }
                    ?? MigrationRepair(
                        version: version,
                        oldChecksum: row.checksum,
                        newChecksum: file.checksum,
                        repairedBy: "",
                        applicationName: "",
                        repairedAt: Date(),
                        reason: reasonText
                    )
            }
        }
    }

    private static func checkOrder(
        _ statuses: [MigrationStatus],
        upTo targetVersion: Int?,
        allowOutOfOrder: Bool
    )
        throws
    {
        guard !allowOutOfOrder else { return }
        let late = pending(statuses, upTo: targetVersion).filter { file in
            statuses.contains { $0.version == file.version && $0.isOutOfOrder }
        }
        guard !late.isEmpty else { return }
        let highest = statuses.filter { $0.state == .applied }.map(\.version).max() ?? 0
        throw MigratorError(
            .outOfOrder,
            "\(late.map(\.fileName).joined(separator: ", ")) "
                + (late.count == 1 ? "is" : "are")
                + " numbered below the highest applied version \(String(format: "%04d", highest)) and not applied; "
                + "check that it still fits the schema and run `migrator up --allow-out-of-order`, "
                + "or renumber it above \(String(format: "%04d", highest))"
        )
    }

    /// What `up` with the same arguments would run, and the session it would run it in; changes
    /// nothing. Refuses (drift, out of order) exactly as `up` would.
    public func plan(to targetVersion: Int? = nil, allowOutOfOrder: Bool = false) throws -> MigrationPlan {
        let files = try up(to: targetVersion, dryRun: true, allowOutOfOrder: allowOutOfOrder)
        return try withConnection { connection in
            let row = try connection.query(
                "SELECT current_setting('application_name') AS application_name, "
                    + "current_setting('statement_timeout') AS statement_timeout"
            ).first
            return MigrationPlan(
                session: .init(
                    applicationName: try row?.decode("application_name") ?? settings.applicationName,
                    statementTimeout: try row?.decode("statement_timeout") ?? "?",
                    lockTimeout: "\(options.lockTimeout.milliseconds)ms"
                ),
                files: files
            )
        }
    }

    private static func pending(_ statuses: [MigrationStatus], upTo targetVersion: Int?) -> [MigrationFile] {
        statuses.compactMap { status in
            guard status.state == .pending, let file = status.file else { return nil }
            if let targetVersion, file.version > targetVersion { return nil }
            return file
        }
    }

    private static func checkForDrift(_ statuses: [MigrationStatus]) throws {
        for status in statuses {
            switch status.drift {
            case .none:
                continue
            case .checksumChanged:
                let fileName = status.file?.fileName ?? "version \(status.version)"
                throw MigratorError(
                    .checksumMismatch,
                    "\(fileName) was changed after it was applied (checksum \(status.appliedChecksum ?? "?") "
                        + "in schema_migrations, \(status.file?.checksum ?? "?") on disk); "
                        + "restore the file and put the change in a new migration"
                )
            case .fileMissing:
                throw MigratorError(
                    .missingFile,
                    "version \(status.version) (\(status.name)) is applied but has no file in the migrations directory"
                )
            }
        }
    }

    /// Waits for the advisory lock by polling `pg_try_advisory_lock` between short sleeps.
    ///
    /// A waiter blocked inside `pg_advisory_lock` holds a snapshot for as long as it waits;
    /// `CREATE INDEX CONCURRENTLY` run by the lock holder waits for every such snapshot to go
    /// away, and the two would deadlock. Polling holds no snapshot between attempts.
    private func acquireLock(on connection: Connection) throws {
        let clock = ContinuousClock()
        let deadline = clock.now + options.lockWaitTimeout
        var loggedWaiting = false
        while true {
            let result = try connection.query(SchemaMigrationsTable.tryLockSQL, [SchemaMigrationsTable.lockKey])
            if try result.first?.decode("locked", as: Bool.self) == true { return }
            if !loggedWaiting {
                logger.info("another migrator holds the migration lock; waiting for it")
                loggedWaiting = true
            }
            guard clock.now < deadline else {
                throw MigratorError(
                    .lockTimeout,
                    "another migrator still held the migration lock after \(options.lockWaitTimeout)"
                )
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    private func apply(_ file: MigrationFile, on connection: Connection) throws -> Duration {
        let started = ContinuousClock.now
        let lockTimeout = "\(options.lockTimeout.milliseconds)ms"
        logger.info("applying migration", metadata: ["file": "\(file.fileName)"])
        do {
            if file.runsInTransaction {
                try connection.transaction { connection in
                    try connection.query("SELECT set_config('lock_timeout', $1, true)", [lockTimeout])
                    try connection.executeScript(file.sql)
                    try SchemaMigrationsTable.record(file, elapsed: ContinuousClock.now - started, on: connection)
                }
            } else {
                // Each statement on its own, outside any transaction block; the row is written
                // only after all of them succeeded.
                try connection.query("SELECT set_config('lock_timeout', $1, false)", [lockTimeout])
                defer { _ = try? connection.query("RESET lock_timeout") }
                for statement in SQLStatementSplitter.split(file.sql) {
                    try connection.executeScript(statement)
                }
                try SchemaMigrationsTable.record(file, elapsed: ContinuousClock.now - started, on: connection)
            }
        } catch let error as PostgresError {
            var message = "\(file.fileName) failed and was rolled back: \(error)"
            if error.sqlState == "55P03" {
                message += "; a long-running transaction holds a lock it needs, retry when it has finished"
            }
            if !file.runsInTransaction {
                message =
                    "\(file.fileName) (no-transaction) failed: \(error); statements before the failing one stay applied"
            }
            throw MigratorError(.migrationFailed, message)
        }
        let elapsed = ContinuousClock.now - started
        logger.info(
            "applied migration",
            metadata: ["file": "\(file.fileName)", "elapsed_ms": "\(elapsed.milliseconds)"]
        )
        return elapsed
    }

    private func withConnection<Value>(_ body: (Connection) throws -> Value) throws -> Value {
        let connection: Connection
        do {
            connection = try Connection(settings: settings)
        } catch {
            throw MigratorError(.database, "cannot connect to Postgres: \(error)")
        }
        do {
            return try body(connection)
        } catch let error as PostgresError {
            throw MigratorError(.database, "Postgres error: \(error)")
        }
    }
}

extension Duration {
    /// Whole milliseconds, rounded down, saturating at `Int64.max`.
    var milliseconds: Int64 {
        let (whole, overflow) = components.seconds.multipliedReportingOverflow(by: 1000)
        return overflow ? .max : whole + components.attoseconds / 1_000_000_000_000_000
    }
}
