import Logging
import Migrator
import Postgres
import Telemetry

/// The start of every process that serves from the database: open the pool, refuse to go on
/// when the schema is behind this build, and close the pool again when that check fails.
///
/// `photo-api` and `outbox-relay` both start this way, so they fail the same way, with
/// `SchemaRequirement`'s one-line message, and neither leaks the pool's threads on the way out.
/// Both export the pool's occupancy on `/metrics`.
public enum DatabaseBootstrap {
    /// A pool of `connections` on the configured database, which is at
    /// `SchemaRequirement.requiredVersion`.
    ///
    /// - Throws: `SchemaRequirement.SchemaBehind` or the connection's error; the pool is shut
    ///   down before the error leaves.
    public static func openPool(
        _ database: DatabaseConfiguration,
        connections: Int,
        logger: Logger
    ) async throws -> ConnectionPool {
        let pool = ConnectionPool(settings: database.settings, maximumConnections: connections, logger: logger)
        do {
            try await pool.withConnection { try SchemaRequirement.check(on: $0) }
        } catch {
            await pool.shutdown()
            throw error
        }
        // The pool's gauges (`postgres_pool_connections` ...) as each scrape finds it.
        Observability.addScrapeHook { [weak pool] in pool?.recordOccupancy() }
        return pool
    }
}
