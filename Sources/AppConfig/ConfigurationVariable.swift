/// Every environment variable the processes of this repository read, and which processes read
/// it: the one list.
///
/// ``EnvironmentReader`` refuses, in debug builds (where the tests run), to read a name that is
/// not here, and a test holds `docs/configuration.md` to this list both ways, so a variable can
/// neither be added without being documented nor documented after it is gone. (libpq reads its
/// own `PG*` variables when `DATABASE_URL` is empty; they are libpq's, not listed here.)
public struct ConfigurationVariable: Sendable, Hashable {
    /// A process that reads variables.
    public enum Process: String, Sendable, CaseIterable {
        case photoAPI = "photo-api"
        case outboxRelay = "outbox-relay"
        case migrator
    }

    public let name: String
    public let processes: Set<Process>

    init(_ name: String, _ processes: Set<Process>) {
        self.name = name
        self.processes = processes
    }

    private static let services: Set<Process> = [.photoAPI, .outboxRelay]
    private static let every = Set(Process.allCases)

    public static let all: [ConfigurationVariable] = [
        // Common
        .init("LOG_LEVEL", every),
        .init("APP_ENV", services),
        .init("HTTP_IDLE_TIMEOUT_SECONDS", services),
        // Tracing (OpenTelemetry's names)
        .init("OTEL_EXPORTER_OTLP_ENDPOINT", services),
        .init("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", services),
        .init("OTEL_EXPORTER_OTLP_PROTOCOL", services),
        .init("OTEL_SERVICE_NAME", services),
        .init("OTEL_RESOURCE_ATTRIBUTES", services),
        .init("OTEL_TRACES_SAMPLER", services),
        .init("OTEL_TRACES_SAMPLER_ARG", services),
        .init("OTEL_BSP_SCHEDULE_DELAY", services),
        .init("OTEL_BSP_MAX_QUEUE_SIZE", services),
        // Database
        .init("DATABASE_URL", every),
        .init("DATABASE_POOL_SIZE", [.photoAPI]),
        .init("DATABASE_STATEMENT_TIMEOUT_MS", services),
        .init("DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS", every),
        .init("DATABASE_TCP_USER_TIMEOUT_MS", every),
        // AWS
        .init("AWS_REGION", services),
        .init("AWS_ACCESS_KEY_ID", services),
        .init("AWS_SECRET_ACCESS_KEY", services),
        .init("AWS_SESSION_TOKEN", services),
        .init("PHOTOS_BUCKET", [.photoAPI]),
        .init("AWS_ENDPOINT_URL", services),
        .init("AWS_ENDPOINT_URL_S3", [.photoAPI]),
        .init("AWS_ENDPOINT_URL_SQS", [.outboxRelay]),
        .init("S3_FORCE_PATH_STYLE", [.photoAPI]),
        .init("DETECTION_QUEUE_URL", [.outboxRelay]),
        // AWS credential chain and region
        .init("AWS_DEFAULT_REGION", services),
        .init("AWS_CREDENTIALS_REFRESH_WINDOW_SECONDS", services),
        .init("AWS_WEB_IDENTITY_TOKEN_FILE", services),
        .init("AWS_ROLE_ARN", services),
        .init("AWS_ROLE_SESSION_NAME", services),
        .init("AWS_ENDPOINT_URL_STS", services),
        .init("AWS_PROFILE", services),
        .init("AWS_DEFAULT_PROFILE", services),
        .init("AWS_SHARED_CREDENTIALS_FILE", services),
        .init("AWS_CONFIG_FILE", services),
        .init("HOME", services),
        .init("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", services),
        .init("AWS_CONTAINER_CREDENTIALS_FULL_URI", services),
        .init("AWS_CONTAINER_AUTHORIZATION_TOKEN", services),
        .init("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", services),
        .init("AWS_EC2_METADATA_DISABLED", services),
        .init("AWS_EC2_METADATA_SERVICE_ENDPOINT", services),
        // Authentication
        .init("JWT_HS256_SECRET", [.photoAPI]),
        .init("JWT_JWKS_URL", [.photoAPI]),
        .init("JWT_ISSUER", [.photoAPI]),
        .init("JWT_AUDIENCE", [.photoAPI]),
        // Browsers
        .init("CORS_ALLOWED_ORIGINS", [.photoAPI]),
        // Uploads and reconciliation
        .init("HOST", [.photoAPI]),
        .init("PORT", [.photoAPI]),
        .init("MIN_UPLOAD_BYTES", [.photoAPI]),
        .init("MAX_UPLOAD_BYTES", [.photoAPI]),
        .init("UPLOAD_URL_TTL_SECONDS", [.photoAPI]),
        .init("DOWNLOAD_URL_TTL_SECONDS", [.photoAPI]),
        .init("RATE_LIMIT_PER_MINUTE", [.photoAPI]),
        .init("COMPLETE_RATE_LIMIT_PER_MINUTE", [.photoAPI]),
        .init("STORAGE_RETRY_BASE_MS", [.photoAPI]),
        .init("RECONCILE_ENABLED", [.photoAPI]),
        .init("RECONCILE_INTERVAL_SECONDS", [.photoAPI]),
        .init("RECONCILE_GRACE_SECONDS", [.photoAPI]),
        .init("RECONCILE_BATCH", [.photoAPI]),
        // Delivery
        .init("RELAY_METRICS_HOST", [.outboxRelay]),
        .init("RELAY_METRICS_PORT", [.outboxRelay]),
        .init("RELAY_WORKERS", [.outboxRelay]),
        .init("RELAY_CLAIM_BATCH", [.outboxRelay]),
        .init("RELAY_LEASE_SECONDS", [.outboxRelay]),
        .init("RELAY_POLL_INTERVAL_MS", [.outboxRelay]),
        .init("RELAY_MAX_ATTEMPTS", [.outboxRelay]),
        .init("RELAY_BACKOFF_BASE_MS", [.outboxRelay]),
        .init("RELAY_BACKOFF_MAX_MS", [.outboxRelay]),
    ]

    private static let names = Set(all.map(\.name))

    /// The names `process` reads, for its `--help`: one indented paragraph, wrapped at 80 columns.
    public static func helpText(for process: Process) -> String {
        var lines: [String] = []
        var line = ""
        for variable in all where variable.processes.contains(process) {
            if !line.isEmpty, line.count + variable.name.count + 2 > 78 {
                lines.append(line + ",")
                line = ""
            }
            line += line.isEmpty ? variable.name : ", " + variable.name
        }
        if !line.isEmpty { lines.append(line) }
        return lines.joined(separator: "\n")
    }

    /// Whether `name` is in the list.
    public static func isListed(_ name: String) -> Bool {
        names.contains(name)
    }
}
