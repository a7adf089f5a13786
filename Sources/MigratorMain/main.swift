import AppConfig
import ArgumentParser
import Foundation
import Logging
import Migrator
import Postgres
import Telemetry

/// `migrator`: owns the schema. Exit status 0 on success, 1 on failure, 2 on a usage error.
struct MigratorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrator",
        abstract: "Applies and checks the sql/NNNN_name.sql migrations.",
        discussion: """
            Connects with DATABASE_URL (or the PG* variables when it is unset). Its statements are \
            never timed out. Environment variables (docs/configuration.md):

            \(ConfigurationVariable.helpText(for: .migrator))

            Exit status: 0 success, 1 failure (a migration failed, a checksum changed, the database \
            is unreachable), 2 usage error.
            """,
        version: BuildInfo.versionLine,
        subcommands: [Up.self, Status.self, Verify.self, New.self, Baseline.self, Repair.self, Lint.self]
    )
}

struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: "Directory of migration files.")
    var dir: String = "sql"
}

struct Up: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending migrations in order.")

    @OptionGroup var common: CommonOptions

    @Option(name: .long, help: "Apply up to and including this version.")
    var to: Int?

    @Flag(name: .long, help: "Print what would be applied and change nothing.")
    var dryRun = false

    @Flag(
        name: .long,
        help: "With --dry-run: print the statements in order, the transactions and the session settings."
    )
    var sql = false

    @Flag(name: .long, help: "Apply pending files numbered below the highest applied version too.")
    var allowOutOfOrder = false

    @Option(name: .long, help: "lock_timeout while a migration runs, e.g. 5s or 500ms.")
    var lockTimeout: String = "5s"

    @Option(name: .long, help: "How long to wait for another migrator, e.g. 5m.")
    var lockWait: String = "5m"

    func validate() throws {
        // Postgres takes lock_timeout in milliseconds up to 2^31-1 (about 24 days); 0 would
        // switch the protection off, so it is refused too.
        guard let timeout = DurationText.parse(lockTimeout), timeout >= .milliseconds(1), timeout <= .seconds(86_400)
        else {
            throw ValidationError("--lock-timeout must be a duration from 1ms to 24h, e.g. 5s, got '\(lockTimeout)'")
        }
        guard let wait = DurationText.parse(lockWait), wait <= .seconds(86_400) else {
            throw ValidationError("--lock-wait must be a duration up to 24h, e.g. 5m, got '\(lockWait)'")
        }
        if sql && !dryRun {
            throw ValidationError("--sql only goes with --dry-run")
        }
    }

    func run() throws {
        let options = Migrator.Options(
            lockTimeout: DurationText.parse(lockTimeout) ?? .seconds(5),
            lockWaitTimeout: DurationText.parse(lockWait) ?? .seconds(300)
        )
        let migrator = try makeMigrator(common, options: options)
        if sql {
            let plan = try reportingFailure { try migrator.plan(to: to, allowOutOfOrder: allowOutOfOrder) }
            print(plan.text, terminator: "")
            return
        }
        let files = try reportingFailure {
            try migrator.up(to: to, dryRun: dryRun, allowOutOfOrder: allowOutOfOrder) { progress in
                // Flushed line by line: an operator watching a long CREATE INDEX CONCURRENTLY sees
                // which file it is in while it runs, not when the process ends.
                print(ProgressLine.text(progress))
                fflush(nil)
            }
        }
        if files.isEmpty {
            print("Nothing to apply: the schema is up to date.")
        }
        if dryRun {
            for file in files {
                print("would apply \(file.fileName)")
            }
        }
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show each version as applied or pending.")

    @OptionGroup var common: CommonOptions

    @Flag(name: .long, help: "Print JSON instead of a table.")
    var json = false

    func run() throws {
        let migrator = try makeMigrator(common)
        let statuses = try reportingFailure { try migrator.status() }
        print(json ? StatusReport.json(statuses) : StatusReport.table(statuses), terminator: "")
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fail if an applied migration file changed or is missing."
    )

    @OptionGroup var common: CommonOptions

    func run() throws {
        let migrator = try makeMigrator(common)
        let statuses = try reportingFailure { try migrator.verify() }
        let applied = statuses.filter { $0.state == .applied }.count
        print("OK: \(applied) applied migration(s) match their files; \(statuses.count - applied) pending.")
    }
}

struct Baseline: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record versions up to VERSION as applied without running them (adopt an existing database)."
    )

    @OptionGroup var common: CommonOptions

    @Argument(help: "The last version the existing schema already has.")
    var version: Int

    func run() throws {
        let migrator = try makeMigrator(common)
        let files = try reportingFailure { try migrator.baseline(version: version) }
        for file in files {
            print("baselined \(file.fileName)")
        }
    }
}

struct Repair: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Accept an applied file's current checksum, recording who, when and why."
    )

    @OptionGroup var common: CommonOptions

    @Argument(help: "The applied version whose file was edited without changing what it does.")
    var version: Int

    @Option(name: .long, help: "Why the file changed, kept in schema_migrations_repairs.")
    var reason: String?

    func run() throws {
        let migrator = try makeMigrator(common)
        let repair = try reportingFailure { try migrator.repair(version: version, reason: reason) }
        print(
            "repaired \(String(format: "%04d", repair.version)): checksum \(repair.oldChecksum) -> \(repair.newChecksum) "
                + "by \(repair.repairedBy)"
        )
    }
}

struct Lint: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Flag statements that lock or rewrite big tables, or cannot run as the file would run them.",
        discussion: """
            Exit status 1 when there are findings. `-- migrator: allow <rule> <reason>` just above a \
            statement silences one finding of that rule on it; for an applied file, whose bytes must not \
            change, put the same lines in FILE.allow next to it. Needs no database.
            """
    )

    @OptionGroup var common: CommonOptions

    @Argument(help: "Files or directories to lint (default: --dir).")
    var paths: [String] = []

    func run() throws {
        let findings = try reportingFailure { try MigrationLinter.lint(paths: paths.isEmpty ? [common.dir] : paths) }
        for finding in findings {
            print(finding.description)
        }
        guard findings.isEmpty else {
            throw MigratorFailure(message: "\(findings.count) lint finding(s)", exitCode: 1)
        }
        print("OK: no lint findings.")
    }
}

struct New: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create the next sql/NNNN_name.sql file.")

    @OptionGroup var common: CommonOptions

    @Argument(help: "What the migration does, in snake_case (spaces and dashes are converted).")
    var name: String

    func run() throws {
        let path = try reportingFailure { try MigrationDirectory(path: common.dir).createFile(named: name) }
        print(path)
    }
}

private func makeMigrator(_ common: CommonOptions, options: Migrator.Options = .init()) throws -> Migrator {
    do {
        let database = try DatabaseConfiguration(
            environment: EnvironmentReader(),
            applicationName: "migrator",
            statementsRunUnbounded: true
        )
        return Migrator(
            directory: MigrationDirectory(path: common.dir),
            settings: database.settings,
            options: options,
            logger: Logger(label: "migrator")
        )
    } catch {
        throw MigratorFailure(message: "\(error)", exitCode: 1)
    }
}

/// Turns a `MigratorError` into the CLI's exit status: 2 for usage errors, 1 otherwise.
private func reportingFailure<Value>(_ body: () throws -> Value) throws -> Value {
    do {
        return try body()
    } catch let error as MigratorError {
        throw MigratorFailure(message: error.description, exitCode: error.isUsageError ? 2 : 1)
    }
}

struct MigratorFailure: Error {
    let message: String
    let exitCode: Int32
}

let environment = EnvironmentReader()
guard let logLevel = Observability.logLevel(from: environment.string("LOG_LEVEL")) else {
    FileHandle.standardError.write(
        Data("migrator: LOG_LEVEL must be one of trace, debug, info, notice, warning, error, critical\n".utf8)
    )
    exit(2)
}
Observability.bootstrap(logLevel: logLevel)

do {
    var command = try MigratorCommand.parseAsRoot()
    do {
        try command.run()
    } catch let failure as MigratorFailure {
        FileHandle.standardError.write(Data("migrator: error: \(failure.message)\n".utf8))
        exit(failure.exitCode)
    } catch {
        MigratorCommand.exit(withError: error)
    }
} catch {
    // Parsing failed: a usage error (or --help, which exits 0).
    let code = MigratorCommand.exitCode(for: error)
    if code == .success {
        MigratorCommand.exit(withError: error)
    }
    FileHandle.standardError.write(Data((MigratorCommand.fullMessage(for: error) + "\n").utf8))
    exit(2)
}
