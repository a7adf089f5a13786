import AWS
import AppConfig
import Auth
import HTTPSupport
import Hummingbird
import Logging
import Operations
import PhotoStore
import Postgres
import ServiceLifecycle
import TraceExport

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
            configuration.database,
            connections: configuration.databasePoolSize,
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
        // The credential chain, before the first request can need it: no source at all stops
        // the process (unless development against a local endpoint).
        // No region configured: instance metadata's, as the SDKs, before anything signs.
        var configuration = configuration
        configuration.aws = await configuration.aws.resolvingRegion(http: storageHTTP, logger: logger)
        let credentials: CredentialCache?
        do {
            credentials = try await configuration.aws.startCredentials(http: storageHTTP, logger: logger)
        } catch {
            await storageHTTP.shutdown()
            await pool.shutdown()
            throw error
        }
        let components = Components(
            pool: pool,
            configuration: configuration,
            http: storageHTTP,
            credentials: credentials
        )
        let router = makeRouter(
            components: components,
            configuration: configuration,
            verifier: authentication.verifier,
            logger: logger
        )
        var services: [any Service] = [pool] + authentication.services + [CurlHTTPClientService(client: storageHTTP)]
        // First, so it stops last and sends the spans of the requests that shutdown finished.
        if let spanExport = TracingBootstrap.start(configuration.tracing, logger: logger) {
            services.insert(spanExport, at: 0)
        }
        // After the HTTP client, so it stops first; it refreshes ahead of expiry.
        if let credentials {
            services.append(credentials)
        }
        if configuration.confirmation.reconcileEnabled {
            services.append(makeReconciler(components: components, configuration: configuration, logger: logger))
        }
        return Application(
            router: router,
            server: configuration.http.server,
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

    /// The pieces the routes and the reconciler share, each built once per application.
    public struct Components: Sendable {
        let pool: ConnectionPool
        /// Signs upload URLs and the confirmation's S3 reads with the current credentials;
        /// formats `s3_url`s.
        let presigners: S3PresignerSource
        let inserts: PhotoInsertBatcher
        let confirmer: UploadConfirmer

        /// - Parameters:
        ///   - http: the libcurl client for S3 calls, owned by the caller.
        ///   - credentials: the process's credential cache; `nil` uses the environment's static
        ///     keys, if any.
        public init(
            pool: ConnectionPool,
            configuration: APIConfiguration,
            http: CurlHTTPClient,
            credentials: CredentialCache? = nil
        ) {
            self.pool = pool
            presigners = S3PresignerSource(
                configuration: configuration.aws,
                credentials: credentials ?? configuration.aws.credentials.map { CredentialCache(static: $0) }
            )
            // Half the pool, so that reads and completions find a connection while uploads queue.
            // The upload-url budget is counted by the insert statements, in Postgres, so that
            // every replica shares it.
            inserts = PhotoInsertBatcher(
                pool: pool,
                maximumConcurrentBatches: pool.maximumConnections / 2,
                rateLimit: UploadRateLimit(limit: configuration.uploads.rateLimitPerMinute)
            )
            let base = configuration.confirmation.storageRetryBaseMilliseconds
            // The configured retries: `STORAGE_RETRY_BASE_MS`, then twice and four times that.
            let storage = S3ObjectReader(
                presigners: presigners,
                http: http,
                retryDelays: [1, 2, 4].map { Duration.milliseconds(base * $0) }
            )
            // No retries within a deletion: the photo's failure is already answered, and a
            // deletion S3 refuses stays due for the reconciler's next passes.
            let remover = S3ObjectRemover(
                transport: S3ObjectReader(presigners: presigners, http: http, retryDelays: [])
            )
            confirmer = UploadConfirmer(
                pool: pool,
                objects: storage,
                bucket: configuration.aws.bucket,
                cleaner: FailedUploadCleaner(
                    pool: pool,
                    remover: remover,
                    sweepGraceSeconds: configuration.confirmation.reconcileGraceSeconds
                )
            )
        }
    }

    /// The background reconciliation of expired pending uploads, as a `Service`.
    public static func makeReconciler(
        components: Components,
        configuration: APIConfiguration,
        logger: Logger
    ) -> UploadReconciler {
        let settings = configuration.confirmation
        return UploadReconciler(
            pool: components.pool,
            confirmer: components.confirmer,
            settings: .init(
                graceSeconds: settings.reconcileGraceSeconds,
                interval: .seconds(settings.reconcileIntervalSeconds),
                batchSize: settings.reconcileBatchSize
            ),
            logger: logger
        )
    }

    /// Every route and middleware of the API, without opening anything: the pool is only used
    /// by handlers. The OpenAPI test reads the route table from it.
    public static func makeRouter(
        components: Components,
        configuration: APIConfiguration,
        verifier: TokenVerifier,
        logger: Logger
    ) -> Router<APIRequestContext> {
        let router = Router(context: APIRequestContext.self)
        let routeIndex = RouteMethodIndex()
        // Middleware first: Hummingbird applies it only to routes added after it.
        APIRoutes.addMiddleware(to: router, routeIndex: routeIndex, cors: configuration.cors)
        // `/readyz`: the database first, then the AWS credentials (expired and not refreshed).
        HealthRoutes.add(to: router, readiness: ReadinessProbe(pool: components.pool)) {
            [credentials = components.presigners.credentials] in
            credentials?.unavailability.map {
                HealthRoutes.Outage(reason: SQSOutageReason.credentialsUnavailable.reason, detail: $0.description)
            }
        }
        OpenAPIDocument.add(to: router)
        // `/api/v1` endpoints go on this group, behind bearer-token authentication.
        let version1 = APIRoutes.addVersion1(to: router, verifier: verifier)
        let shapes = PhotoShapes(
            presigner: components.presigners.urlFormatter,
            downloads: DownloadURLs(
                presigners: components.presigners,
                lifetimeSeconds: configuration.uploads.downloadURLLifetimeSeconds
            )
        )
        if !components.presigners.canSign {
            logger.warning("no AWS credentials configured: POST /api/v1/photos/upload-url will answer 503")
        }
        PhotoRoutes(
            pool: components.pool,
            uploads: PhotoUploads(pool: components.pool, inserts: components.inserts),
            limits: configuration.uploads,
            bucket: configuration.aws.bucket,
            presigners: components.presigners,
            shapes: shapes
        ).add(to: version1)
        PhotoLifecycleRoutes(
            pool: components.pool,
            confirmer: components.confirmer,
            rateLimiter: UserRateLimiter(limit: configuration.uploads.completeRateLimitPerMinute),
            shapes: shapes
        ).add(to: version1)
        // Last: the route table used to answer 405 instead of 404 (routes added after it 404).
        routeIndex.index(router)
        return router
    }
}
