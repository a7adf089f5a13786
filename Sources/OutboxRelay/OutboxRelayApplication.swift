import AWS
import AppConfig
import Foundation
import Hummingbird
import Logging
import Operations
import Postgres
import ServiceLifecycle
import TraceExport

/// Builds the `outbox-relay run` process: the connection pool, the delivery loop and the
/// operational HTTP endpoints (`/healthz`, `/readyz`, `/metrics`) on `RELAY_METRICS_PORT`.
public enum OutboxRelayApplication {
    /// SQS requests in flight at once, across all workers (one libcurl thread each).
    public static let sendConcurrency = 16
    /// The longest one SQS call may take, connection included. It bounds how late a claim may
    /// still start a call (the lease budget, see `OutboxRelayService`), so it must stay well
    /// below the shortest lease (`RELAY_LEASE_SECONDS`, at least 15 s).
    public static let sendTimeout = Duration.seconds(10)

    /// Opens the pool and refuses to go on when the schema is behind this build.
    public static func makeApplication(
        configuration: RelayConfiguration,
        logger: Logger
    ) async throws -> some ApplicationProtocol {
        // Workers claim and retire on the pool; the statistics loop and the readiness probe
        // need one each. LISTEN has a connection of its own.
        let pool = try await DatabaseBootstrap.openPool(
            configuration.database,
            connections: configuration.workers + 2,
            logger: logger
        )
        let http = CurlHTTPClient(
            concurrency: sendConcurrency,
            timeoutMilliseconds: Int(sendTimeout / .milliseconds(1)),
            connectTimeoutMilliseconds: 2_000
        )
        // The credential chain: no source at all stops the process (unless development
        // against a local endpoint, where requests go unsigned).
        // No region configured nor implied by the queue URL: instance metadata's, as the SDKs.
        var configuration = configuration
        configuration.aws = await configuration.aws.resolvingRegion(http: http, logger: logger)
        let credentials: CredentialCache?
        do {
            credentials = try await configuration.aws.startCredentials(http: http, logger: logger)
        } catch {
            await http.shutdown()
            await pool.shutdown()
            throw error
        }
        let relay = OutboxRelayService(
            pool: pool,
            listenerSettings: configuration.database.settings,
            sqs: SQSClient(
                endpoint: configuration.aws.sqsEndpoint?.absoluteString,
                queueURL: configuration.queueURL.absoluteString,
                region: configuration.aws.region,
                credentials: credentials,
                http: http
            ),
            settings: .init(configuration),
            logger: logger
        )
        // Stopped in reverse: the relay finishes its batch before the credential refresh, HTTP
        // and the pool close.
        var services: [any Service] = [pool, CurlHTTPClientService(client: http)]
        // First, so it stops last and sends the spans of the batch that shutdown finished.
        if let spanExport = TracingBootstrap.start(configuration.tracing, logger: logger) {
            services.insert(spanExport, at: 0)
        }
        if let credentials {
            services.append(credentials)
        }
        services.append(relay)
        let router = Router()
        // `/readyz`: the database first, then SQS while the breaker holds delivery back, then
        // the AWS credentials (expired and not refreshed, even while there is nothing to send).
        HealthRoutes.add(to: router, readiness: ReadinessProbe(pool: pool)) { [breaker = relay.breaker] in
            breaker.outage.map { HealthRoutes.Outage(reason: $0.reason.reason, detail: $0.detail) }
                ?? credentials?.unavailability.map {
                    HealthRoutes.Outage(reason: SQSOutageReason.credentialsUnavailable.reason, detail: $0.description)
                }
        }
        return Application(
            router: router,
            server: configuration.http.server,
            configuration: .init(
                address: .hostname(configuration.metricsHost, port: configuration.metricsPort),
                serverName: "outbox-relay"
            ),
            services: services,
            logger: logger
        )
    }
}

extension OutboxRelayService.Settings {
    /// The loop's settings from the relay's configuration.
    public init(_ configuration: RelayConfiguration) {
        self.init(
            relayID: "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)",
            claimBatchSize: configuration.claimBatchSize,
            workers: configuration.workers,
            lease: .seconds(configuration.leaseSeconds),
            pollInterval: .milliseconds(configuration.pollIntervalMilliseconds),
            maxAttempts: configuration.maxAttempts,
            retryPolicy: RetryPolicy(
                baseMilliseconds: Int64(configuration.backoffBaseMilliseconds),
                maximumMilliseconds: Int64(configuration.backoffMaxMilliseconds)
            ),
            breakerPolicy: RetryPolicy(
                baseMilliseconds: Int64(min(configuration.backoffBaseMilliseconds, 500)),
                maximumMilliseconds: Int64(min(configuration.backoffMaxMilliseconds, 30_000))
            ),
            isFIFOQueue: configuration.isFIFOQueue
        )
    }
}
