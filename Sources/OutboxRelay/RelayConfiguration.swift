import AWS
import AppConfig
import Foundation
import Operations
import Postgres
import TraceExport

/// Everything `outbox-relay` reads at start.
public struct RelayConfiguration: Sendable {
    public let appEnvironment: String
    public let database: DatabaseConfiguration
    public internal(set) var aws: AWSConfiguration
    /// `OTEL_*`: span export (none unless an endpoint is set).
    public let tracing: TracingConfiguration
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
    /// The metrics port's HTTP connections' idle timeout.
    public let http: HTTPServerConfiguration

    /// FIFO queues need a message group and deduplication id on every message.
    public var isFIFOQueue: Bool { queueURL.path.hasSuffix(".fifo") }

    public init(environment: EnvironmentReader = EnvironmentReader()) throws {
        appEnvironment = environment.string("APP_ENV", default: "development")
        database = try DatabaseConfiguration(environment: environment, applicationName: "outbox-relay")
        aws = try AWSConfiguration(environment: environment, appEnvironment: appEnvironment)
        tracing = try TracingConfiguration(environment: environment, defaultServiceName: "outbox-relay")
        guard let queueURL = try environment.url("DETECTION_QUEUE_URL") else {
            throw ConfigurationError(variable: "DETECTION_QUEUE_URL", reason: "is required by the relay")
        }
        self.queueURL = queueURL
        // SQS checks the signature's region against the queue's: a mismatch would refuse every
        // call. Only on AWS itself: an endpoint override (LocalStack) names hosts of its own.
        // Without a configured region, the queue's is the one to sign with.
        if aws.sqsEndpoint == nil, aws.regionSource == .fallback,
            let queueRegion = SQSClient.region(ofQueueURL: queueURL)
        {
            aws.adopt(region: queueRegion, from: .implied(by: "DETECTION_QUEUE_URL"))
        }
        if aws.sqsEndpoint == nil, let queueRegion = SQSClient.region(ofQueueURL: queueURL), queueRegion != aws.region {
            throw ConfigurationError(
                variable: "DETECTION_QUEUE_URL",
                reason:
                    "is a queue in \(queueRegion), but the region is \(aws.region) (AWS_REGION, AWS_DEFAULT_REGION or the profile's)"
            )
        }
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
        http = try HTTPServerConfiguration(environment: environment)
    }
}
