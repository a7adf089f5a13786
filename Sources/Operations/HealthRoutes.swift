import Hummingbird
import Logging
import NIOCore
import Postgres
import Telemetry

/// `/healthz`, `/readyz` and `/metrics`, shared by `photo-api` and the relay's metrics port.
public enum HealthRoutes {
    /// - `GET /healthz`: the process is alive (no I/O).
    /// - `GET /readyz`: Postgres answers and the schema is at the version this build needs;
    ///   503 otherwise, so a load balancer stops sending traffic. The answer comes from a
    ///   ``ReadinessProbe`` on `pool`, so at most one check a second reaches the database.
    ///   The relay adds its SQS outage after the database check (see the overload below).
    /// - `GET /metrics`: Prometheus text exposition.
    ///
    /// Each `/readyz` answer is also recorded in `readiness_ready` and `readiness_changes_total`
    /// (``ReadinessMetrics``).
    public static func add<Context: RequestContext>(to router: Router<Context>, pool: ConnectionPool) {
        add(to: router, readiness: ReadinessProbe(pool: pool))
    }

    /// A dependency beyond the database that is down, as `/readyz` reports it.
    public struct Outage: Sendable, Equatable {
        /// The `reason` of the 503 body, e.g. `sqs_queue_unavailable`.
        public var reason: String
        /// Logged, never sent (it may name internal hosts or queues).
        public var detail: String

        public init(reason: String, detail: String) {
            self.reason = reason
            self.detail = detail
        }
    }

    /// The same routes with `/readyz` answered by `readiness`, then by `outage`: the database
    /// comes first (nothing works without it), and a ready database still answers 503 while
    /// `outage` names one (the relay's SQS, while its circuit breaker is open). `outage` is
    /// asked on every probe, so it must be cheap (no I/O).
    public static func add<Context: RequestContext>(
        to router: Router<Context>,
        readiness: ReadinessProbe,
        outage: @escaping @Sendable () -> Outage? = { nil }
    ) {
        router.get("healthz") { _, _ -> Response in
            jsonResponse(.ok, #"{"status":"ok"}"#)
        }
        let readinessMetrics = ReadinessMetrics()
        router.get("readyz") { _, context -> Response in
            let response: Response
            switch await readiness.answer() {
            case .ready(let version):
                if let outage = outage() {
                    response = notReady(outage.reason, outage.detail, context.logger)
                } else {
                    response = jsonResponse(.ok, #"{"status":"ready","schema_version":\#(version)}"#)
                }
            case .schemaBehind(let error):
                response = notReady("schema_behind", error, context.logger)
            case .databaseUnavailable(let error):
                response = notReady("database_unavailable", error, context.logger)
            }
            readinessMetrics.record(ready: response.status == .ok)
            return response
        }
        router.get("metrics") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: Observability.renderMetrics()))
            )
        }
    }

    private static func notReady(_ reason: String, _ error: String, _ logger: Logger) -> Response {
        logger.warning("not ready", metadata: ["error": "\(error)"])
        return jsonResponse(.serviceUnavailable, #"{"status":"unavailable","reason":"\#(reason)"}"#)
    }

    private static func jsonResponse(_ status: HTTPResponse.Status, _ json: String) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: json))
        )
    }
}
