/// Why a migrator command failed. `description` is one line for an operator, naming the file.
public struct MigratorError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// A file in the directory looks like a migration but is misnamed.
        case invalidFileName
        /// Two files carry the same version number.
        case duplicateVersion
        /// The migrations directory cannot be read, or a file cannot be written.
        case fileSystem
        /// An applied file was edited after it was applied.
        case checksumMismatch
        /// An applied version has no file any more.
        case missingFile
        /// A migration's SQL failed; its transaction was rolled back.
        case migrationFailed
        /// Another migrator held the advisory lock for longer than the wait allows.
        case lockTimeout
        /// `--to` names a version that has no file.
        case unknownVersion
        /// `new` was given a name that cannot become a file name.
        case invalidName
        /// Postgres could not be reached or failed outside a migration.
        case database
        /// Pending files numbered below the highest applied version, without `--allow-out-of-order`.
        case outOfOrder
        /// `baseline` on a database that already has `schema_migrations` rows.
        case alreadyMigrated
        /// `repair` of a version that is not applied, has no file, or needs no repair.
        case nothingToRepair
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// Errors in what the operator typed, which the CLI reports with exit status 2.
    public var isUsageError: Bool {
        code == .unknownVersion || code == .invalidName
    }

    public var description: String { message }
}
