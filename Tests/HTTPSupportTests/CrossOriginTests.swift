import AuthTestSupport
import Foundation
import HTTPSupport
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

/// CORS (`CrossOriginMiddleware`) through the API's middleware stack: preflights for routes with
/// path parameters, the headers of successful and failed responses, origins that are not allowed,
/// and a configuration that allows none.
@Suite struct CrossOriginTests {
    static let app = "https://app.example.com"
    static let listed = CORSConfiguration(allowedOrigins: .list([app, "http://localhost:3000"]))

    /// The middleware stack with `cors`, the authenticated `/api/v1` group with a photo's routes,
    /// and routes that fail with a 429 and a 500 outside it.
    static func application(
        _ cors: CORSConfiguration,
        logger: Logger = Logger(label: "test")
    ) async throws -> some ApplicationProtocol {
        let router = Router(context: APIRequestContext.self)
        let routeIndex = RouteMethodIndex()
        APIRoutes.addMiddleware(to: router, routeIndex: routeIndex, cors: cors)
        let version1 = try await TestVersion1.add(to: router)
        version1.get("photos/:photo_id") { _, _ -> HTTPResponse.Status in .ok }
        version1.patch("photos/:photo_id/status") { _, _ -> HTTPResponse.Status in .ok }
        version1.post("photos/:photo_id/complete") { _, _ -> HTTPResponse.Status in .ok }
        router.get("limited") { _, _ -> HTTPResponse.Status in
            throw APIError.rateLimited(retryAfterSeconds: 7)
        }
        router.get("broken") { _, _ -> HTTPResponse.Status in
            struct Unexpected: Error {}
            throw Unexpected()
        }
        routeIndex.index(router)
        return Application(router: router, logger: logger)
    }

    static func token() async throws -> String {
        try await AuthFixtures.hs256(AuthFixtures.validClaims())
    }

    static func preflight(
        _ client: some TestClientProtocol,
        _ path: String,
        method: String,
        origin: String = app
    ) async throws -> TestResponse {
        try await client.execute(
            uri: path,
            method: .options,
            headers: [
                .origin: origin,
                .accessControlRequestMethod: method,
                .accessControlRequestHeaders: "authorization, content-type, idempotency-key, traceparent",
            ]
        )
    }

    /// The comma-separated values of `name`, trimmed.
    static func list(_ response: TestResponse, _ name: HTTPField.Name) -> [String] {
        response.headers[values: name].flatMap { $0.split(separator: ",") }.map {
            $0.trimmingCharacters(in: .whitespaces)
        }
    }

    static func expectNoCORSHeaders(_ response: TestResponse, sourceLocation: SourceLocation = #_sourceLocation) {
        let names = response.headers.map { $0.name.canonicalName.lowercased() }
        #expect(!names.contains { $0.hasPrefix("access-control-") }, "\(names)", sourceLocation: sourceLocation)
    }

    // MARK: Preflights

    @Test func aPreflightForARouteWithPathParametersIsAnswered() async throws {
        let logs = AuthFixtures.LogCapture()
        try await Self.application(Self.listed, logger: logs.logger).test(.router) { client in
            let response = try await Self.preflight(client, "/api/v1/photos/\(UUID())/status", method: "PATCH")
            #expect(response.status == .noContent)
            #expect(response.headers[.accessControlAllowOrigin] == Self.app)
            #expect(Self.list(response, .accessControlAllowMethods) == ["PATCH"])
            #expect(
                Self.list(response, .accessControlAllowHeaders)
                    == [
                        "Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID", "traceparent", "tracestate",
                    ]
            )
            #expect(response.headers[.accessControlMaxAge] == "600")
            #expect(Self.list(response, .vary) == ["Origin"])
            #expect(response.headers[.accessControlAllowCredentials] == nil)
            // Like every response, it carries a request id; the preflight needs no token.
            #expect(response.headers[RequestIDMiddleware.headerName] != nil)
            #expect(response.body.readableBytes == 0)

            let read = try await Self.preflight(client, "/api/v1/photos/\(UUID())", method: "GET")
            #expect(read.status == .noContent)
            #expect(Self.list(read, .accessControlAllowMethods) == ["GET"])
            let complete = try await Self.preflight(
                client,
                "/api/v1/photos/\(UUID())/complete",
                method: "POST",
                origin: "http://localhost:3000"
            )
            #expect(complete.status == .noContent)
            #expect(complete.headers[.accessControlAllowOrigin] == "http://localhost:3000")
            #expect(Self.list(complete, .accessControlAllowMethods) == ["POST"])
        }
        // Logged under the route's pattern, not as an unmatched request.
        let lines = logs.all.filter { $0.message == "request" && $0.metadata["method"] == "OPTIONS" }
        #expect(lines.count == 3)
        #expect(
            lines.allSatisfy { $0.metadata["status"] == "204" && $0.metadata["route"]?.contains("photo_id") == true }
        )
    }

    @Test func aPreflightForAPathWithoutRoutesIsA404() async throws {
        try await Self.application(Self.listed).test(.router) { client in
            let response = try await Self.preflight(client, "/api/v1/nothing-here", method: "GET")
            #expect(response.status == .notFound)
            #expect(response.headers[.contentType] == "application/problem+json")
            #expect(response.headers[.accessControlAllowMethods] == nil)
        }
    }

    // MARK: Actual requests

    @Test func aSuccessfulResponseExposesTheHeadersClientsRead() async throws {
        let token = try await Self.token()
        try await Self.application(Self.listed).test(.router) { client in
            var headers = AuthFixtures.bearer(token)
            headers[.origin] = Self.app
            let response = try await client.execute(uri: "/api/v1/photos/\(UUID())", method: .get, headers: headers)
            #expect(response.status == .ok)
            #expect(response.headers[.accessControlAllowOrigin] == Self.app)
            let exposed = Self.list(response, .accessControlExposeHeaders)
            for name in [
                "X-Request-ID", "Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset",
                "WWW-Authenticate", "traceparent",
            ] {
                #expect(exposed.contains(name), "\(name)")
            }
            #expect(Self.list(response, .vary) == ["Origin"])
            #expect(response.headers[.accessControlAllowCredentials] == nil)
        }
    }

    @Test func problemDocumentsCarryTheHeadersToo() async throws {
        try await Self.application(Self.listed).test(.router) { client in
            let cases: [(String, HTTPResponse.Status)] = [
                ("/api/v1/photos/\(UUID())", .unauthorized),
                ("/limited", .tooManyRequests),
                ("/broken", .internalServerError),
                ("/no-such-route", .notFound),
            ]
            for (path, status) in cases {
                let response = try await client.execute(uri: path, method: .get, headers: [.origin: Self.app])
                #expect(response.status == status, "\(path)")
                #expect(response.headers[.contentType] == "application/problem+json", "\(path)")
                #expect(response.headers[.accessControlAllowOrigin] == Self.app, "\(path)")
                #expect(Self.list(response, .accessControlExposeHeaders).contains("X-Request-ID"), "\(path)")
                #expect(Self.list(response, .vary) == ["Origin"], "\(path)")
            }
            let limited = try await client.execute(uri: "/limited", method: .get, headers: [.origin: Self.app])
            #expect(limited.headers[.retryAfter] == "7")
            let refused = try await client.execute(uri: "/api/v1/whoami", method: .get, headers: [.origin: Self.app])
            #expect(refused.headers[.wwwAuthenticate] == "Bearer")
        }
    }

    // MARK: Origins that are not allowed

    @Test(arguments: ["https://evil.example.com", "https://app.example.com.evil.com", "http://app.example.com", "null"])
    func anotherOriginGetsNoCORSHeaders(_ origin: String) async throws {
        let token = try await Self.token()
        try await Self.application(Self.listed).test(.router) { client in
            var headers = AuthFixtures.bearer(token)
            headers[.origin] = origin
            let response = try await client.execute(uri: "/api/v1/photos/\(UUID())", method: .get, headers: headers)
            #expect(response.status == .ok)
            Self.expectNoCORSHeaders(response)
            #expect(Self.list(response, .vary) == ["Origin"])

            // Its preflight is the plain OPTIONS request it is: 405 with Allow, no CORS headers.
            let preflight = try await Self.preflight(
                client,
                "/api/v1/photos/\(UUID())/status",
                method: "PATCH",
                origin: origin
            )
            #expect(preflight.status == .methodNotAllowed)
            #expect(preflight.headers[.allow] == "PATCH")
            Self.expectNoCORSHeaders(preflight)
        }
    }

    @Test func requestsWithoutOriginAreUntouchedButVary() async throws {
        try await Self.application(Self.listed).test(.router) { client in
            let response = try await client.execute(uri: "/limited", method: .get)
            Self.expectNoCORSHeaders(response)
            #expect(Self.list(response, .vary) == ["Origin"])
        }
    }

    // MARK: Configurations

    @Test func anEmptyConfigurationSendsNothing() async throws {
        let token = try await Self.token()
        try await Self.application(.disabled).test(.router) { client in
            var headers = AuthFixtures.bearer(token)
            headers[.origin] = Self.app
            let response = try await client.execute(uri: "/api/v1/photos/\(UUID())", method: .get, headers: headers)
            #expect(response.status == .ok)
            Self.expectNoCORSHeaders(response)
            #expect(response.headers[.vary] == nil)
            let failed = try await client.execute(uri: "/limited", method: .get, headers: [.origin: Self.app])
            Self.expectNoCORSHeaders(failed)
            let preflight = try await Self.preflight(client, "/api/v1/photos/\(UUID())/status", method: "PATCH")
            #expect(preflight.status == .methodNotAllowed)
            Self.expectNoCORSHeaders(preflight)
        }
    }

    @Test func theDevelopmentWildcardAllowsAnyOrigin() async throws {
        try await Self.application(CORSConfiguration(allowedOrigins: .any)).test(.router) { client in
            let preflight = try await Self.preflight(
                client,
                "/api/v1/photos/\(UUID())",
                method: "GET",
                origin: "http://localhost:5173"
            )
            #expect(preflight.status == .noContent)
            #expect(preflight.headers[.accessControlAllowOrigin] == "*")
            let response = try await client.execute(
                uri: "/limited",
                method: .get,
                headers: [.origin: "http://localhost:5173"]
            )
            #expect(response.headers[.accessControlAllowOrigin] == "*")
        }
    }
}
