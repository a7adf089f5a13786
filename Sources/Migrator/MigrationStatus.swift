import Foundation

/// One version as `migrator status` reports it: its file, its `schema_migrations` row, or both.
public struct MigrationStatus: Sendable, Equatable {
    public enum State: String, Sendable {
        case applied
        case pending
    }

    /// How an applied version differs from its file, if at all.
    public enum Drift: String, Sendable {
        case none
        case checksumChanged = "checksum_changed"
        case fileMissing = "file_missing"
    }

    public let version: Int
    public let name: String
    public let file: MigrationFile?
    public let applied: AppliedMigration?
    /// Pending, yet numbered below the highest applied version (a file merged late from a
    /// long-lived branch): `up` refuses it unless told `--allow-out-of-order`.
    public let isOutOfOrder: Bool
    /// The `migrator repair`s of this version, oldest first.
    public let repairs: [MigrationRepair]

    public var state: State { applied == nil ? .pending : .applied }
    public var appliedChecksum: String? { applied?.checksum }

    public var drift: Drift {
        guard let applied else { return .none }
        guard let file else { return .fileMissing }
        return file.checksum == applied.checksum ? .none : .checksumChanged
    }

    static func combine(
        files: [MigrationFile],
        applied: [AppliedMigration],
        repairs: [MigrationRepair] = []
    ) -> [MigrationStatus] {
        let highestApplied = applied.map(\.version).max() ?? 0
        let repairsByVersion = Dictionary(grouping: repairs, by: \.version)
        let appliedByVersion = Dictionary(applied.map { ($0.version, $0) }, uniquingKeysWith: { first, _ in first })
        let filesByVersion = Dictionary(files.map { ($0.version, $0) }, uniquingKeysWith: { first, _ in first })
        let versions = Set(appliedByVersion.keys).union(filesByVersion.keys).sorted()
        return versions.map { version in
            let file = filesByVersion[version]
            let row = appliedByVersion[version]
            return MigrationStatus(
                version: version,
                name: file?.name ?? row?.name ?? "",
                file: file,
                applied: row,
                isOutOfOrder: row == nil && version < highestApplied,
                repairs: repairsByVersion[version] ?? []
            )
        }
    }
}
