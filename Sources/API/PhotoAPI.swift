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
    ///
    /// Four, about twice the cores of the machines this runs on: enough to overlap one
    /// statement's round trip with another's execution, while requests beyond that wait in the
    /// pool's queue. With 16, up to 16 pool threads and 16 busy Postgres backends competed for
    /// two cores and the upload-url p99 under wrk -c64 was 170-290 ms against 35 ms with 4, at
    /// the same throughput (docs/benchmarks.md).
    public static let defaultPoolSize = 4

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
        // Fetches the JWKS (when configured) before the first request can need it.
        let authentication: Authentication
        do {
            authentication = try await Authentication.start(configuration: configuration.auth, logger: logger)
        } catch {
            await pool.shutdown()
            throw error
        }
        let router = makeRouter(
            pool: pool,
            configuration: configuration,
            verifier: authentication.verifier,
            logger: logger
        )
        return Application(
            router: router,
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.port),
                serverName: "photo-api"
            ),
            services: [pool] + authentication.services,
            logger: logger
        )
    }

    /// Every route and middleware of the API, without opening anything: `pool` is only used by
    /// handlers. The OpenAPI test reads the route table from it.
    public static func makeRouter(
        pool: ConnectionPool,
        configuration: APIConfiguration,
        verifier: TokenVerifier,
        logger: Logger
    ) -> Router<APIRequestContext> {
        let router = Router(context: APIRequestContext.self)
        let routeIndex = RouteMethodIndex()
        // Middleware first: Hummingbird applies it only to routes added after it.
        APIRoutes.addMiddleware(to: router, routeIndex: routeIndex)
        HealthRoutes.add(to: router, pool: pool)
        OpenAPIDocument.add(to: router)
        // `/api/v1` endpoints go on this group, behind bearer-token authentication.
        let version1 = APIRoutes.addVersion1(to: router, verifier: verifier)
        PhotoRoutes(pool: pool, configuration: configuration, logger: logger).add(to: version1)
        // Last: the route table used to answer 405 instead of 404 (routes added after it 404).
        routeIndex.index(router)
        return router
    }
}
