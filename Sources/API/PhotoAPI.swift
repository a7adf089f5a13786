import AWS
import AppConfig
import Auth
import HTTPSupport
import Hummingbird
import Logging
import Operations
import Postgres
import ServiceLifecycle

/// Builds the `photo-api` application from its configuration.
///
/// The returned application owns every long-running piece as a `Service` (the connection
/// pool first, so it closes last), and `runService()` shuts them down on SIGTERM.
public enum PhotoAPI {
    /// Opens the pool and refuses to go on when the schema is behind this build.
    public static func makeApplication(
        configuration: APIConfiguration,
        logger: Logger
    ) async throws -> some ApplicationProtocol {
        let pool = try await DatabaseBootstrap.openPool(
            settings: configuration.database.settings,
            maximumConnections: configuration.databasePoolSize,
            logger: logger
        )
        // Fetches the JWKS (when configured) before the first request can need it.
        let authentication: Authentication
        do {
            authentication = try await Authentication.start(configuration: configuration.auth, logger: logger)
        } catch {
            await pool.shutdown()
            throw error
        }
        let storageHTTP = CurlHTTPClient(concurrency: storageConcurrency)
        let storage = makeStorage(configuration: configuration, http: storageHTTP)
        let router = makeRouter(
            pool: pool,
            configuration: configuration,
            verifier: authentication.verifier,
            storage: storage,
            logger: logger
        )
        var services: [any Service] = [pool] + authentication.services + [CurlHTTPClientService(client: storageHTTP)]
        if configuration.confirmation.reconcileEnabled {
            services.append(makeReconciler(pool: pool, configuration: configuration, storage: storage, logger: logger))
        }
        return Application(
            router: router,
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.port),
                serverName: "photo-api"
            ),
            services: services,
            logger: logger
        )
    }

    /// Threads for S3 calls (confirmations and reconciliation); each blocks in libcurl.
    public static let storageConcurrency = 16

    /// Reads uploaded objects with the configured retries (`STORAGE_RETRY_BASE_MS`: base, 2x, 4x).
    public static func makeStorage(configuration: APIConfiguration, http: CurlHTTPClient) -> S3ObjectReader {
        let base = configuration.confirmation.storageRetryBaseMilliseconds
        return S3ObjectReader(
            presigner: configuration.aws.makeS3Presigner(),
            http: http,
            retryDelays: [1, 2, 4].map { Duration.milliseconds(base * $0) }
        )
    }

    /// The background reconciliation of expired pending uploads, as a `Service`.
    public static func makeReconciler(
        pool: ConnectionPool,
        configuration: APIConfiguration,
        storage: S3ObjectReader,
        logger: Logger
    ) -> UploadReconciler {
        let settings = configuration.confirmation
        return UploadReconciler(
            pool: pool,
            confirmer: UploadConfirmer(pool: pool, objects: storage, bucket: configuration.aws.bucket),
            settings: .init(
                graceSeconds: settings.reconcileGraceSeconds,
                interval: .seconds(settings.reconcileIntervalSeconds),
                batchSize: settings.reconcileBatchSize
            ),
            logger: logger
        )
    }

    /// Every route and middleware of the API, without opening anything: `pool` is only used by
    /// handlers. The OpenAPI test reads the route table from it.
    public static func makeRouter(
        pool: ConnectionPool,
        configuration: APIConfiguration,
        verifier: TokenVerifier,
        storage: S3ObjectReader,
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
        let photoRoutes = PhotoRoutes(pool: pool, configuration: configuration, logger: logger)
        photoRoutes.add(to: version1)
        PhotoLifecycleRoutes(
            photos: photoRoutes,
            confirmer: UploadConfirmer(pool: pool, objects: storage, bucket: configuration.aws.bucket),
            pool: pool
        ).add(to: version1)
        // Last: the route table used to answer 405 instead of 404 (routes added after it 404).
        routeIndex.index(router)
        return router
    }
}
