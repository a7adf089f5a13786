import Hummingbird
import Logging
import Migrator
import NIOCore
import Postgres
import Telemetry

/// `/healthz`, `/readyz` and `/metrics`, shared by `photo-api` and the relay's metrics port.
public enum HealthRoutes {
    /// - `GET /healthz`: the process is alive (no I/O).
    /// - `GET /readyz`: Postgres answers and the schema is at the version this build needs;
    ///   503 otherwise, so a load balancer stops sending traffic.
    /// - `GET /metrics`: Prometheus text exposition.
    public static func add<Context: RequestContext>(to router: Router<Context>, pool: ConnectionPool) {
        router.get("healthz") { _, _ -> Response in
            jsonResponse(.ok, #"{"status":"ok"}"#)
        }
        router.get("readyz") { _, context -> Response in
            do {
                let version = try await pool.withConnection { connection in
                    try SchemaRequirement.check(on: connection)
                    return try SchemaRequirement.currentVersion(on: connection)
                }
                return jsonResponse(.ok, #"{"status":"ready","schema_version":\#(version)}"#)
            } catch {
                context.logger.warning("not ready", metadata: ["error": "\(error)"])
                let reason = error is SchemaRequirement.SchemaBehind ? "schema_behind" : "database_unavailable"
                return jsonResponse(.serviceUnavailable, #"{"status":"unavailable","reason":"\#(reason)"}"#)
            }
        }
        router.get("metrics") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: Observability.renderMetrics()))
            )
        }
    }

    private static func jsonResponse(_ status: HTTPResponse.Status, _ json: String) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: json))
        )
    }
}
