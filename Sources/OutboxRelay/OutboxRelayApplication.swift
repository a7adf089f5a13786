import AppConfig
import Hummingbird
import Logging
import Migrator
import Operations
import Postgres

/// Builds the `outbox-relay run` process: its connection pool and its operational HTTP
/// endpoints (`/healthz`, `/readyz`, `/metrics`) on `RELAY_METRICS_PORT`.
public enum OutboxRelayApplication {
    /// Connections for claiming and retiring events; LISTEN uses one more of its own.
    public static let defaultPoolSize = 8

    /// Opens the pool and refuses to go on when the schema is behind this build.
    public static func makeApplication(
        configuration: RelayConfiguration,
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
                address: .hostname(configuration.metricsHost, port: configuration.metricsPort),
                serverName: "outbox-relay"
            ),
            services: [pool],
            logger: logger
        )
    }
}
