import AWS
import Foundation
import Postgres

/// `DATABASE_URL`, checked with libpq's own parser.
public struct DatabaseConfiguration: Sendable {
    public let settings: ConnectionSettings

    /// - Parameter applicationName: what `pg_stat_activity.application_name` shows.
    public init(environment: EnvironmentReader, applicationName: String) throws {
        let connectionString = environment.string("DATABASE_URL", default: "")
        do {
            settings = try ConnectionSettings(connectionString: connectionString, applicationName: applicationName)
        } catch {
            // libpq's parse error quotes the offending token, which can be the password.
            throw ConfigurationError(
                variable: "DATABASE_URL",
                reason:
                    "is not a valid libpq connection string (postgresql://user:password@host:port/db or key=value pairs)"
            )
        }
    }
}

/// Credentials, region, endpoints and bucket for S3 and SQS.
public struct AWSConfiguration: Sendable {
    public let region: String
    public let accessKeyID: String?
    public let secretAccessKey: String?
    public let sessionToken: String?
    /// `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`; `nil` means AWS itself.
    public let s3Endpoint: URL?
    /// `AWS_ENDPOINT_URL_SQS`, else `AWS_ENDPOINT_URL`; `nil` means AWS itself.
    public let sqsEndpoint: URL?
    public let forcePathStyle: Bool
    public let bucket: String

    public init(environment: EnvironmentReader, appEnvironment: String) throws {
        region = environment.string("AWS_REGION", default: "us-east-1")
        guard region.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }) else {
            throw ConfigurationError(variable: "AWS_REGION", reason: "must look like us-east-1, got '\(region)'")
        }
        accessKeyID = environment.string("AWS_ACCESS_KEY_ID")
        secretAccessKey = environment.string("AWS_SECRET_ACCESS_KEY")
        sessionToken = environment.string("AWS_SESSION_TOKEN")
        if (accessKeyID == nil) != (secretAccessKey == nil) {
            let missing = accessKeyID == nil ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY"
            throw ConfigurationError(
                variable: missing,
                reason: "is required when the other half of the key pair is set"
            )
        }
        let sharedEndpoint = try environment.url("AWS_ENDPOINT_URL")
        s3Endpoint = try environment.url("AWS_ENDPOINT_URL_S3") ?? sharedEndpoint
        sqsEndpoint = try environment.url("AWS_ENDPOINT_URL_SQS") ?? sharedEndpoint
        forcePathStyle = try environment.boolean("S3_FORCE_PATH_STYLE", default: s3Endpoint != nil)
        bucket = environment.string("PHOTOS_BUCKET", default: "companycam-photos-\(appEnvironment)")
        guard Self.isValidBucketName(bucket) else {
            throw ConfigurationError(
                variable: "PHOTOS_BUCKET",
                reason: "must be a valid S3 bucket name (3-63 lower-case letters, digits, '-' and '.'), got '\(bucket)'"
            )
        }
    }

    /// The static credentials, when both halves are set.
    public var credentials: AWSCredentials? {
        guard let accessKeyID, let secretAccessKey else { return nil }
        return AWSCredentials(accessKeyID: accessKeyID, secretAccessKey: secretAccessKey, sessionToken: sessionToken)
    }

    /// The signer of the photos bucket. Without credentials it still formats object URLs
    /// (`s3_url`); what it would sign is useless, so callers check ``credentials`` first.
    public func makeS3Presigner() -> S3Presigner {
        S3Presigner(
            region: region,
            credentials: credentials ?? AWSCredentials(accessKeyID: "", secretAccessKey: "", sessionToken: nil),
            endpoint: s3Endpoint,
            forcePathStyle: forcePathStyle,
            bucket: bucket
        )
    }

    static func isValidBucketName(_ name: String) -> Bool {
        (3...63).contains(name.count)
            && name.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-" || $0 == ".") }
            && name.first.map { $0.isLetter || $0.isNumber } == true
            && name.last.map { $0.isLetter || $0.isNumber } == true
    }
}

/// How tokens are verified (contract section 3).
public struct AuthConfiguration: Sendable {
    /// jwt-kit refuses HMAC keys shorter than this, so it is checked here, at start.
    public static let minimumSecretBytes = 32

    public let hs256Secret: String?
    public let jwksURL: URL?
    public let issuer: String?
    public let audience: String?

    public init(environment: EnvironmentReader) throws {
        hs256Secret = environment.string("JWT_HS256_SECRET")
        jwksURL = try environment.url("JWT_JWKS_URL")
        issuer = environment.string("JWT_ISSUER")
        audience = environment.string("JWT_AUDIENCE")
        if let hs256Secret, hs256Secret.utf8.count < Self.minimumSecretBytes {
            throw ConfigurationError(
                variable: "JWT_HS256_SECRET",
                reason: "must be at least \(Self.minimumSecretBytes) bytes, got \(hs256Secret.utf8.count)"
            )
        }
        if hs256Secret == nil, jwksURL == nil {
            throw ConfigurationError(
                variable: "JWT_HS256_SECRET",
                reason: "or JWT_JWKS_URL is required: the API cannot verify tokens without one"
            )
        }
    }
}

/// Limits on uploads and upload URLs.
public struct UploadConfiguration: Sendable {
    public let minimumBytes: Int
    public let maximumBytes: Int
    public let urlLifetimeSeconds: Int
    public let rateLimitPerMinute: Int

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
        rateLimitPerMinute = try environment.integer("RATE_LIMIT_PER_MINUTE", default: 100, range: 1...1_000_000)
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
    public let aws: AWSConfiguration
    public let auth: AuthConfiguration
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

    public init(environment: EnvironmentReader = EnvironmentReader()) throws {
        appEnvironment = environment.string("APP_ENV", default: "development")
        host = environment.string("HOST", default: "0.0.0.0")
        port = try environment.port("PORT", default: 8080)
        database = try DatabaseConfiguration(environment: environment, applicationName: "photo-api")
        aws = try AWSConfiguration(environment: environment, appEnvironment: appEnvironment)
        auth = try AuthConfiguration(environment: environment)
        uploads = try UploadConfiguration(environment: environment)
        confirmation = try ConfirmationConfiguration(environment: environment)
        databasePoolSize = try environment.integer("DATABASE_POOL_SIZE", default: 4, range: 1...500)
    }
}

/// Everything `outbox-relay` reads at start.
public struct RelayConfiguration: Sendable {
    public let appEnvironment: String
    public let database: DatabaseConfiguration
    public let aws: AWSConfiguration
    public let queueURL: URL
    public let metricsHost: String
    public let metricsPort: Int
    public let maxAttempts: Int
    public let backoffBaseMilliseconds: Int
    public let backoffMaxMilliseconds: Int
    public let pollIntervalMilliseconds: Int
    /// Events one worker claims at a time (`RELAY_CLAIM_BATCH`).
    public let claimBatchSize: Int
    /// Claim-send-retire loops running side by side in one relay (`RELAY_WORKERS`).
    public let workers: Int
    /// How long a claim holds its events before another relay may take them over
    /// (`RELAY_LEASE_SECONDS`); it must outlast a send's timeout.
    public let leaseSeconds: Int

    /// FIFO queues need a message group and deduplication id on every message.
    public var isFIFOQueue: Bool { queueURL.path.hasSuffix(".fifo") }

    public init(environment: EnvironmentReader = EnvironmentReader()) throws {
        appEnvironment = environment.string("APP_ENV", default: "development")
        database = try DatabaseConfiguration(environment: environment, applicationName: "outbox-relay")
        aws = try AWSConfiguration(environment: environment, appEnvironment: appEnvironment)
        guard let queueURL = try environment.url("DETECTION_QUEUE_URL") else {
            throw ConfigurationError(variable: "DETECTION_QUEUE_URL", reason: "is required by the relay")
        }
        self.queueURL = queueURL
        metricsHost = environment.string("RELAY_METRICS_HOST", default: "0.0.0.0")
        metricsPort = try environment.port("RELAY_METRICS_PORT", default: 9091)
        maxAttempts = try environment.integer("RELAY_MAX_ATTEMPTS", default: 10, range: 1...1000)
        backoffBaseMilliseconds = try environment.integer("RELAY_BACKOFF_BASE_MS", default: 1000, range: 1...86_400_000)
        backoffMaxMilliseconds = try environment.integer(
            "RELAY_BACKOFF_MAX_MS",
            default: 300_000,
            range: 1...86_400_000
        )
        guard backoffBaseMilliseconds <= backoffMaxMilliseconds else {
            throw ConfigurationError(
                variable: "RELAY_BACKOFF_BASE_MS",
                reason: "(\(backoffBaseMilliseconds)) must not exceed RELAY_BACKOFF_MAX_MS (\(backoffMaxMilliseconds))"
            )
        }
        pollIntervalMilliseconds = try environment.integer("RELAY_POLL_INTERVAL_MS", default: 1000, range: 10...600_000)
        claimBatchSize = try environment.integer("RELAY_CLAIM_BATCH", default: 250, range: 1...10_000)
        workers = try environment.integer("RELAY_WORKERS", default: 4, range: 1...64)
        leaseSeconds = try environment.integer("RELAY_LEASE_SECONDS", default: 60, range: 15...86_400)
    }
}
