import Postgres

/// The schema version the services of this build need, and the start-up check against it.
///
/// `photo-api` and `outbox-relay` run `check` before serving, so a deploy that forgot
/// `migrator up` fails at once with one clear line instead of with SQL errors under load.
public enum SchemaRequirement {
    /// The highest migration in `sql/` that the code of this build relies on. Raise it in the
    /// same change that adds a migration the services use.
    ///
    /// 8: `photos.object_delete_due_at` (`0007_object_deletion.sql`), which `photo-api` sets when
    /// it fails an upload, and its index (`0008_object_deletion_index.sql`), which the
    /// reconciler's claim of due deletions relies on. (6 added `rate_limit_windows`, where
    /// `photo-api` counts every upload-url request; 5 `outbox_events.traceparent` / `tracestate`,
    /// which `photo-api` writes with every event and the relay reads and keeps in dead letters;
    /// 4 `photos.s3_etag` and `s3_version_id`; 0003 changed column types only.)
    public static let requiredVersion = 8

    /// The schema is older than this build needs.
    public struct SchemaBehind: Error, CustomStringConvertible, Sendable {
        public let currentVersion: Int
        public let requiredVersion: Int

        public var description: String {
            "database schema is at version \(currentVersion) but this build needs version \(requiredVersion): "
                + "run `migrator up` first"
        }
    }

    /// The database's current schema version (0 when never migrated).
    public static func currentVersion(on connection: Connection) throws -> Int {
        try SchemaMigrationsTable.currentVersion(on: connection)
    }

    /// Throws `SchemaBehind` unless the database is at `requiredVersion` or newer.
    public static func check(
        on connection: Connection,
        requiredVersion: Int = SchemaRequirement.requiredVersion
    ) throws {
        let current = try currentVersion(on: connection)
        if current < requiredVersion {
            throw SchemaBehind(currentVersion: current, requiredVersion: requiredVersion)
        }
    }
}
