import AppConfig
import Hummingbird
import Logging
import Migrator
import Operations
import Postgres

/// Builds the `photo-api` application from its configuration.
///
/// The returned application owns every long-running piece as a `Service` (the connection
/// pool first, so it closes last), and `runService()` shuts them down on SIGTERM.
public enum PhotoAPI {
    /// Connections in the pool; each runs on a thread of its own, see `ConnectionPool`.
    public static let defaultPoolSize = 16

    /// Opens the pool and refuses to go on when the schema is behind this build.
    public static func makeApplication(
        configuration: APIConfiguration,
        logger: Logger
    ) async throws -> some ApplicationProtocol {
        let pool = ConnectionPool(
            settings: configuration.database.settings,
            maximumConnections: defaultPoolSize,
            logger: logger
        )
        do {
            try await pool.withConnection { try SchemaRequirement.check(on: $0) }
        } catch {
            await pool.shutdown()
            throw error
        }
        let router = Router()
        HealthRoutes.add(to: router, pool: pool)
        return Application(
            router: router,
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.port),
                serverName: "photo-api"
            ),
            services: [pool],
            logger: logger
        )
    }
}
