import Foundation
import HTTPSupport
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Operations
import Postgres
import Prometheus
import Telemetry
import Testing

/// `RouteMetrics` (through `RequestTelemetryMiddleware`) as `/metrics` shows it.
///
/// `MetricsSystem.bootstrap` may run only once per process, and only the executables call it;
/// so the router here gets a `PrometheusMetricsFactory` on `Observability.registry` (the registry
/// `/metrics` renders) explicitly, and nothing global is bootstrapped.
@Suite struct MetricsMiddlewareTests {
    /// A router with the API's middleware stack, a parameterized route, `/metrics`, and a route
    /// that fails with an `APIError`.
    static func makeRouter(pool: ConnectionPool) -> Router<APIRequestContext> {
        let router = Router(context: APIRequestContext.self)
        let routeIndex = RouteMethodIndex()
        APIRoutes.addMiddleware(
            to: router,
            routeIndex: routeIndex,
            metricsFactory: PrometheusMetricsFactory(registry: Observability.registry)
        )
        HealthRoutes.add(to: router, pool: pool)
        router.get("metrics-test/items/:item_id") { _, context -> String in
            guard context.parameters.get("item_id") == "known" else {
                throw APIError.notFound("no such item")
            }
            return "ok"
        }
        routeIndex.index(router)
        return router
    }

    /// The `/metrics` lines of `name` whose labels include every one of `labels`.
    static func samples(_ text: String, _ name: String, _ labels: [String]) -> [String] {
        text.split(separator: "\n").map(String.init).filter { line in
            line.hasPrefix(name + "{") && labels.allSatisfy { line.contains($0) }
        }
    }

    /// The value of the single sample line.
    static func value(_ lines: [String]) -> Double? {
        guard lines.count == 1, let last = lines[0].split(separator: " ").last else { return nil }
        return Double(last)
    }

    /// Runs `body` with a pool `/metrics` never touches (settings of a server that is not there),
    /// shut down however `body` ends: the pool's threads start with it.
    static func withIdlePool(_ body: (ConnectionPool) async throws -> Void) async throws {
        let pool = ConnectionPool(
            settings: try ConnectionSettings(
                connectionString: "postgresql://nobody@127.0.0.1:1/none",
                applicationName: "test"
            ),
            maximumConnections: 1,
            logger: Logger(label: "test")
        )
        do {
            try await body(pool)
        } catch {
            await pool.shutdown()
            throw error
        }
        await pool.shutdown()
    }

    @Test func requestsAreCountedAndTimedByRoutePatternMethodAndFinalStatus() async throws {
        try await Self.withIdlePool { pool in
            let app = Application(router: Self.makeRouter(pool: pool))
            try await app.test(.router) { client in
                for _ in 0..<3 {
                    _ = try await client.execute(uri: "/metrics-test/items/known", method: .get)
                }
                let missing = try await client.execute(uri: "/metrics-test/items/other-\(UUID())", method: .get)
                #expect(missing.status == .notFound)
                let unknown = try await client.execute(uri: "/no/such/\(UUID())", method: .get)
                #expect(unknown.status == .notFound)
                let wrongMethod = try await client.execute(uri: "/metrics-test/items/known", method: .delete)
                #expect(wrongMethod.status == .methodNotAllowed)

                let response = try await client.execute(uri: "/metrics", method: .get)
                #expect(response.status == .ok)
                let text = String(buffer: response.body)
                let route = #"route="/metrics-test/items/{item_id}""#
                let ok = Self.samples(text, "http_requests_total", [#"method="GET""#, route, #"status="200""#])
                #expect(Self.value(ok) == 3, "\(ok)")
                // A thrown APIError counts with the status the client got, not as a 500.
                let notFound = Self.samples(text, "http_requests_total", [#"method="GET""#, route, #"status="404""#])
                #expect(Self.value(notFound) == 1, "\(notFound)")
                // No route matched DELETE: it counts as `NotFound`, with the 405 the client got.
                let notAllowed = Self.samples(
                    text,
                    "http_requests_total",
                    [#"method="DELETE""#, #"route="NotFound""#, #"status="405""#]
                )
                #expect(Self.value(notAllowed) == 1, "\(notAllowed)")
                // Unmatched paths share one series, whatever the path.
                let unmatched = Self.samples(text, "http_requests_total", [#"route="NotFound""#, #"status="404""#])
                #expect(Self.value(unmatched) == 1, "\(unmatched)")
                #expect(!text.contains("other-"), "a raw path leaked into a label")
                #expect(!text.contains("/no/such/"), "a raw path leaked into a label")
                let count = Self.samples(
                    text,
                    "http_request_duration_seconds_count",
                    [#"method="GET""#, route, #"status="200""#]
                )
                #expect(Self.value(count) == 3, "\(count)")
            }
        }
    }
}
