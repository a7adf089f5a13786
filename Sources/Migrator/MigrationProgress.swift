/// What `Migrator.up` reports while it runs, for the CLI's progress lines.
public enum MigrationProgress: Sendable {
    /// `file` is about to run.
    case started(MigrationFile)
    /// `file` is still running after `elapsed`; `activity` is what its backend does (its wait
    /// event, the phase of a `CREATE INDEX`), from `pg_stat_activity` and
    /// `pg_stat_progress_create_index`.
    case running(MigrationFile, elapsed: Duration, activity: String)
    /// `file` ran and its `schema_migrations` row is written.
    case finished(MigrationFile, elapsed: Duration)
}
