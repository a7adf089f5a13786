import AWS
import AppConfig
import Auth
import HTTPSupport
import Operations
import Postgres
import TraceExport

/// Limits on uploads and upload URLs.
public struct UploadConfiguration: Sendable {
    public let minimumBytes: Int
    public let maximumBytes: Int
    public let urlLifetimeSeconds: Int
    /// Lifetime of a photo's `download_url` (`DOWNLOAD_URL_TTL_SECONDS`): short, since a new one
    /// comes with every read of the photo.
    public let downloadURLLifetimeSeconds: Int
    /// Upload URLs one user may be issued per minute (`RATE_LIMIT_PER_MINUTE`), counted in
    /// Postgres across every replica (`UploadRateLimit`).
    public let rateLimitPerMinute: Int
    /// `complete` calls one user may make per minute (`COMPLETE_RATE_LIMIT_PER_MINUTE`), a budget
    /// of its own: each call may read from S3. Counted in each process's memory (`UserRateLimiter`). Six times the upload-URL default, so a client
    /// that completes every upload, and retries some, never meets it.
    public let completeRateLimitPerMinute: Int

    public init(environment: EnvironmentReader) throws {
        minimumBytes = try environment.integer("MIN_UPLOAD_BYTES", default: 1024, range: 1...Int(Int32.max))
        // S3 takes at most 5 GiB in one PUT.
        maximumBytes = try environment.integer("MAX_UPLOAD_BYTES", default: 52_428_800, range: 1...5_368_709_120)
        guard minimumBytes <= maximumBytes else {
            throw ConfigurationError(
                variable: "MIN_UPLOAD_BYTES",
                reason: "(\(minimumBytes)) must not exceed MAX_UPLOAD_BYTES (\(maximumBytes))"
            )
        }
        // SigV4 query signatures live at most 7 days.
        urlLifetimeSeconds = try environment.integer("UPLOAD_URL_TTL_SECONDS", default: 900, range: 1...604_800)
        downloadURLLifetimeSeconds = try environment.integer(
            "DOWNLOAD_URL_TTL_SECONDS",
            default: 300,
            range: 1...604_800
        )
        rateLimitPerMinute = try environment.integer("RATE_LIMIT_PER_MINUTE", default: 100, range: 1...1_000_000)
        completeRateLimitPerMinute = try environment.integer(
            "COMPLETE_RATE_LIMIT_PER_MINUTE",
            default: 600,
            range: 1...1_000_000
        )
    }
}

/// How `photo-api` confirms uploads: S3 retries and the background reconciliation of photos
/// whose upload URL expired without a confirmation.
public struct ConfirmationConfiguration: Sendable {
    /// The first pause before retrying a failed S3 call (`STORAGE_RETRY_BASE_MS`); the next two
    /// are twice and four times as long (the contract's 1 s, 2 s, 4 s by default).
    public let storageRetryBaseMilliseconds: Int
    /// How long after its URL expired a `pending_upload` photo is left alone
    /// (`RECONCILE_GRACE_SECONDS`), so a client that finished its PUT at the last second can still
    /// confirm it itself.
    public let reconcileGraceSeconds: Int
    /// The pause between reconciliation passes (`RECONCILE_INTERVAL_SECONDS`).
    public let reconcileIntervalSeconds: Int
    /// Photos one pass claims at most (`RECONCILE_BATCH`).
    public let reconcileBatchSize: Int
    /// Whether this replica runs the reconciler at all (`RECONCILE_ENABLED`); any number may.
    public let reconcileEnabled: Bool

    public init(environment: EnvironmentReader) throws {
        storageRetryBaseMilliseconds = try environment.integer(
            "STORAGE_RETRY_BASE_MS",
            default: 1000,
            range: 0...60_000
        )
        reconcileGraceSeconds = try environment.integer("RECONCILE_GRACE_SECONDS", default: 300, range: 0...604_800)
        reconcileIntervalSeconds = try environment.integer("RECONCILE_INTERVAL_SECONDS", default: 60, range: 1...86_400)
        reconcileBatchSize = try environment.integer("RECONCILE_BATCH", default: 50, range: 1...1000)
        reconcileEnabled = try environment.boolean("RECONCILE_ENABLED", default: true)
    }
}

/// Everything `photo-api` reads at start.
public struct APIConfiguration: Sendable {
    public let appEnvironment: String
    public let host: String
    public let port: Int
    public let database: DatabaseConfiguration
    public internal(set) var aws: AWSConfiguration
    public let auth: AuthConfiguration
    /// `OTEL_*`: span export (none unless an endpoint is set).
    public let tracing: TracingConfiguration
    public let uploads: UploadConfiguration
    public let confirmation: ConfirmationConfiguration
    /// Postgres connections in photo-api's pool (`DATABASE_POOL_SIZE`); each runs on a thread
    /// of its own (see `ConnectionPool`).
    ///
    /// Four by default, about twice the cores of the machines this runs on: enough to overlap one
    /// statement's round trip with another's execution, while requests beyond that wait in the
    /// pool's queue. With 16, up to 16 pool threads and 16 busy Postgres backends competed for
    /// two cores and the upload-url p99 under wrk -c64 was 170-290 ms against 35 ms with 4, at
    /// the same throughput (docs/benchmarks.md).
    public let databasePoolSize: Int
    /// The HTTP connections' idle timeout.
    public let http: HTTPServerConfiguration
    /// Browser origins allowed to call the API (`CORS_ALLOWED_ORIGINS`); none by default.
    public let cors: CORSConfiguration

    public init(environment: EnvironmentReader = EnvironmentReader()) throws {
        appEnvironment = environment.string("APP_ENV", default: "development")
        host = environment.string("HOST", default: "0.0.0.0")
        port = try environment.port("PORT", default: 8080)
        database = try DatabaseConfiguration(environment: environment, applicationName: "photo-api")
        uploads = try UploadConfiguration(environment: environment)
        aws = try AWSConfiguration(
            environment: environment,
            appEnvironment: appEnvironment,
            // The refresh window keeps clear of the longer of the two URL lifetimes.
            uploadURLLifetimeSeconds: max(uploads.urlLifetimeSeconds, uploads.downloadURLLifetimeSeconds)
        )
        auth = try AuthConfiguration(environment: environment, appEnvironment: appEnvironment)
        tracing = try TracingConfiguration(environment: environment, defaultServiceName: "photo-api")
        confirmation = try ConfirmationConfiguration(environment: environment)
        databasePoolSize = try environment.integer("DATABASE_POOL_SIZE", default: 4, range: 1...500)
        http = try HTTPServerConfiguration(environment: environment)
        cors = try CORSConfiguration(environment: environment, appEnvironment: appEnvironment)
    }
}
