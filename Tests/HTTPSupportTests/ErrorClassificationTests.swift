import Auth
import AuthTestSupport
import Foundation
import HTTPSupport
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Metrics
import Prometheus
import Synchronization
import Testing

/// A failed request is classified once, by `ProblemMiddleware`, and the request log line and the
/// route metric report what the client got.
@Suite struct ErrorClassificationTests {
    /// An unexpected error that counts how often its description is read: classifying it as
    /// `internal_error` reads it once, for the log-only reason.
    private final class CountingError: Error, CustomStringConvertible, Sendable {
        private let reads = Mutex(0)
        var count: Int { reads.withLock { $0 } }
        var description: String {
            reads.withLock { $0 += 1 }
            return "counted failure"
        }
    }

    /// The API's middleware stack with its own metrics registry and a capturing logger.
    private static func testApplication(
        capture: AuthFixtures.LogCapture,
        registry: PrometheusCollectorRegistry,
        failure: CountingError
    ) async throws -> some ApplicationProtocol {
        let router = Router(context: APIRequestContext.self)
        let routeIndex = RouteMethodIndex()
        APIRoutes.addMiddleware(
            to: router,
            routeIndex: routeIndex,
            metricsFactory: PrometheusMetricsFactory(registry: registry)
        )
        router.get("counted") { _, _ -> HTTPResponse.Status in throw failure }
        _ = try await TestVersion1.add(to: router)
        routeIndex.index(router)
        return Application(router: router, logger: capture.logger)
    }

    /// The value of the `http_requests_total` sample with exactly these labels.
    private static func requests(_ registry: PrometheusCollectorRegistry, _ labels: [String]) -> Double? {
        let text = String(decoding: registry.emitToBuffer(), as: UTF8.self)
        let lines = text.split(separator: "\n").filter { line in
            line.hasPrefix("http_requests_total{") && labels.allSatisfy { line.contains($0) }
        }
        guard lines.count == 1, let value = lines[0].split(separator: " ").last else { return nil }
        return Double(value)
    }

    @Test func anUnexpectedErrorIsClassifiedOnce() async throws {
        let capture = AuthFixtures.LogCapture()
        let registry = PrometheusCollectorRegistry()
        let failure = CountingError()
        try await Self.testApplication(capture: capture, registry: registry, failure: failure).test(.router) {
            client in
            let response = try await client.execute(uri: "/counted", method: .get)
            #expect(response.status == .internalServerError)
        }
        // Three middlewares used to classify it (and read it) each.
        #expect(failure.count == 1)
        let line = try #require(capture.all.first { $0.message == "request" })
        #expect(line.metadata["status"] == "500")
        #expect(line.metadata["code"] == "internal_error")
        #expect(line.metadata["reason"]?.contains("counted failure") == true)
        #expect(Self.requests(registry, [#"route="/counted""#, #"status="500""#]) == 1)
    }

    @Test func theLogLineAndTheMetricOfA405AndA413AgreeWithTheResponse() async throws {
        let capture = AuthFixtures.LogCapture()
        let registry = PrometheusCollectorRegistry()
        let token = try await AuthFixtures.hs256(AuthFixtures.validClaims())
        let big = #"{"filler":""# + String(repeating: "x", count: 70 * 1024) + #""}"#
        try await Self.testApplication(capture: capture, registry: registry, failure: CountingError()).test(.router) {
            client in
            let wrongMethod = try await client.execute(
                uri: "/api/v1/whoami",
                method: .delete,
                headers: [RequestIDMiddleware.headerName: "req-405"]
            )
            #expect(wrongMethod.status == .methodNotAllowed)
            #expect(wrongMethod.headers[.allow] == "GET")
            #expect(wrongMethod.headers[RequestIDMiddleware.headerName] == "req-405")

            let tooLarge = try await client.execute(
                uri: "/api/v1/echo",
                method: .post,
                headers: [
                    .authorization: "Bearer \(token)", .contentType: "application/json",
                    RequestIDMiddleware.headerName: "req-413",
                ],
                body: ByteBuffer(string: big)
            )
            #expect(tooLarge.status == .contentTooLarge)
            #expect(tooLarge.headers[RequestIDMiddleware.headerName] == "req-413")
        }
        let lines = capture.all.filter { $0.message == "request" }
        let notAllowed = try #require(lines.first { $0.metadata["request_id"] == "req-405" })
        #expect(notAllowed.metadata["method"] == "DELETE")
        #expect(notAllowed.metadata["route"] == "NotFound")
        #expect(notAllowed.metadata["status"] == "405")
        #expect(notAllowed.metadata["code"] == "method_not_allowed")
        #expect(notAllowed.metadata["latency_ms"].flatMap(Double.init) != nil)
        #expect(notAllowed.metadata["user_id"] == nil)

        let payload = try #require(lines.first { $0.metadata["request_id"] == "req-413" })
        #expect(payload.metadata["method"] == "POST")
        #expect(payload.metadata["route"] == "/api/v1/echo")
        #expect(payload.metadata["status"] == "413")
        #expect(payload.metadata["code"] == "payload_too_large")
        #expect(payload.metadata["user_id"] == AuthFixtures.userID.uuidString.lowercased())

        #expect(Self.requests(registry, [#"method="DELETE""#, #"route="NotFound""#, #"status="405""#]) == 1)
        #expect(Self.requests(registry, [#"method="POST""#, #"route="/api/v1/echo""#, #"status="413""#]) == 1)
    }
}
