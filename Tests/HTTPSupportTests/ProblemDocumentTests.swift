import Auth
import AuthTestSupport
import Foundation
import HTTPSupport
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JWTKit
import Postgres
import Testing

/// Every error is an RFC 9457 problem document (contract section 4).
@Suite struct ProblemDocumentTests {
    /// An error whose text must never reach a client.
    private struct LeakyError: Error, CustomStringConvertible {
        var description: String { "password=hunter2 while running SELECT * FROM photos" }
    }

    /// The application's middleware and `/api/v1` group (with `whoami`), `GET /healthz`, plus
    /// routes that fail on purpose.
    private static func testApplication() async throws -> some ApplicationProtocol {
        let router = Router(context: APIRequestContext.self)
        let routeIndex = RouteMethodIndex()
        APIRoutes.addMiddleware(to: router, routeIndex: routeIndex)
        router.get("healthz") { _, _ -> HTTPResponse.Status in .ok }
        router.get("boom") { _, _ -> HTTPResponse.Status in throw LeakyError() }
        router.get("postgres") { _, _ -> HTTPResponse.Status in
            throw PostgresError(
                code: .serverError,
                message: "relation \"photos\" does not exist",
                sqlState: "42P01",
                detail: "Key (id)=(secret-row-value)"
            )
        }
        router.get("postgres/:kind") { _, context -> HTTPResponse.Status in
            switch context.parameters.get("kind") {
            case "timed-out":
                throw PostgresError(code: .timedOut, message: "no answer from the server within 17000 ms")
            case "statement-timeout":
                throw PostgresError(
                    code: .serverError,
                    message: "canceling statement due to statement timeout",
                    sqlState: "57014"
                )
            case "lost":
                throw PostgresError(code: .connectionLost, message: "server closed the connection unexpectedly")
            case "refused":
                throw PostgresError(code: .connectionFailed, message: "connection refused")
            default:
                throw PostgresError(
                    code: .serverError,
                    message: "duplicate key value violates unique constraint",
                    sqlState: "23505"
                )
            }
        }
        router.get("jwt") { _, _ -> HTTPResponse.Status in throw JWTError.signatureVerificationFailed }
        router.get("rate") { _, _ -> HTTPResponse.Status in throw APIError.rateLimited(retryAfterSeconds: 12) }
        router.get("replayed") { _, _ -> HTTPResponse.Status in
            throw APIError.alreadyUploaded(
                photoID: "0b5e6f1c-8a53-4b8e-9d3f-1f2a3b4c5d6e",
                photoStatus: "uploaded",
                statusURL: "/api/v1/photos/0b5e6f1c-8a53-4b8e-9d3f-1f2a3b4c5d6e"
            )
        }
        router.get("conflict") { _, _ -> HTTPResponse.Status in
            throw APIError.invalidStatusTransition("completed cannot become processing")
        }
        let version1 = try await TestVersion1.add(to: router)
        version1.patch("status") { _, context -> HTTPResponse.Status in
            try context.requireScope("photos:status:write")
            return .ok
        }
        routeIndex.index(router)
        return Application(router: router)
    }

    /// Asserts the document's shape, headers and request id; returns it for further checks.
    @discardableResult
    private static func expectProblem(
        _ response: TestResponse,
        status: HTTPResponse.Status,
        code: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> ProblemDocument {
        #expect(response.status == status, sourceLocation: sourceLocation)
        #expect(response.headers[.contentType] == "application/problem+json", sourceLocation: sourceLocation)
        let object = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
        #expect(
            object.map { Set($0.keys) } == ["type", "title", "status", "detail", "code", "request_id"],
            sourceLocation: sourceLocation
        )
        let problem = try JSONDecoder().decode(ProblemDocument.self, from: Data(response.body.readableBytesView))
        #expect(problem.status == Int(status.code), sourceLocation: sourceLocation)
        #expect(problem.code == code, sourceLocation: sourceLocation)
        #expect(problem.type == "https://errors.photo-api.example/\(code)", sourceLocation: sourceLocation)
        #expect(!problem.title.isEmpty && !problem.detail.isEmpty, sourceLocation: sourceLocation)
        #expect(
            problem.requestID == response.headers[RequestIDMiddleware.headerName] && !problem.requestID.isEmpty,
            sourceLocation: sourceLocation
        )
        return problem
    }

    @Test func anUnknownRouteIsANotFoundProblem() async throws {
        try await Self.testApplication().test(.router) { client in
            for path in ["/nope", "/api/v1/photos/unknown/thing", "/api/v2/whoami"] {
                let response = try await client.execute(uri: path, method: .get)
                try Self.expectProblem(response, status: .notFound, code: "not_found")
            }
        }
    }

    @Test func aKnownPathWithAnotherMethodIsAMethodNotAllowedProblem() async throws {
        try await Self.testApplication().test(.router) { client in
            let health = try await client.execute(uri: "/healthz", method: .post)
            try Self.expectProblem(health, status: .methodNotAllowed, code: "method_not_allowed")
            #expect(health.headers[.allow] == "GET")

            let whoami = try await client.execute(uri: "/api/v1/whoami", method: .delete)
            try Self.expectProblem(whoami, status: .methodNotAllowed, code: "method_not_allowed")
            #expect(whoami.headers[.allow] == "GET")
        }
    }

    @Test func aBodyOverSixtyFourKiBIsAPayloadTooLargeProblem() async throws {
        let token = try await AuthFixtures.hs256(AuthFixtures.validClaims())
        let big = #"{"filler":""# + String(repeating: "x", count: 70 * 1024) + #""}"#
        try await Self.testApplication().test(.router) { client in
            let response = try await client.execute(
                uri: "/api/v1/echo",
                method: .post,
                headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
                body: ByteBuffer(string: big)
            )
            try Self.expectProblem(response, status: .contentTooLarge, code: "payload_too_large")

            let small = try await client.execute(
                uri: "/api/v1/echo",
                method: .post,
                headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
                body: ByteBuffer(string: #"{"filler":"x"}"#)
            )
            #expect(small.status == .ok)
        }
    }

    @Test func malformedJSONIsAnInvalidRequestProblem() async throws {
        let token = try await AuthFixtures.hs256(AuthFixtures.validClaims())
        try await Self.testApplication().test(.router) { client in
            for body in ["{not json", #"{"filler": 42}"#, "[]"] {
                let response = try await client.execute(
                    uri: "/api/v1/echo",
                    method: .post,
                    headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
                    body: ByteBuffer(string: body)
                )
                try Self.expectProblem(response, status: .badRequest, code: "invalid_request")
            }
        }
    }

    @Test func unexpectedAndDatabaseErrorsAreInternalErrorsThatRevealNothing() async throws {
        try await Self.testApplication().test(.router) { client in
            for path in ["/boom", "/postgres"] {
                let response = try await client.execute(uri: path, method: .get)
                let problem = try Self.expectProblem(response, status: .internalServerError, code: "internal_error")
                #expect(problem.detail == "an internal error occurred")
                let body = String(buffer: response.body)
                for secret in ["hunter2", "SELECT", "photos", "secret-row-value", "42P01", "LeakyError"] {
                    #expect(!body.contains(secret), "\(path) leaks \(secret)")
                }
            }
        }
    }

    /// An unreachable database or one too slow to answer is an outage the client may retry:
    /// 503 `database_unavailable` with `Retry-After`. Any other database error stays a 500.
    @Test func databaseOutagesAre503WithRetryAfterAndOtherDatabaseErrors500() async throws {
        try await Self.testApplication().test(.router) { client in
            for kind in ["timed-out", "statement-timeout", "lost", "refused"] {
                let response = try await client.execute(uri: "/postgres/\(kind)", method: .get)
                let problem = try Self.expectProblem(
                    response,
                    status: .serviceUnavailable,
                    code: "database_unavailable"
                )
                #expect(response.headers[.retryAfter] == String(APIError.databaseRetryAfterSeconds), "\(kind)")
                #expect(!problem.detail.contains("ms") && !problem.detail.contains("57014"), "\(kind)")
            }
            let other = try await client.execute(uri: "/postgres/unique", method: .get)
            try Self.expectProblem(other, status: .internalServerError, code: "internal_error")
            #expect(other.headers[.retryAfter] == nil)
        }
    }

    @Test func aStrayJWTKitErrorIsUnauthorizedNotInternal() async throws {
        try await Self.testApplication().test(.router) { client in
            let response = try await client.execute(uri: "/jwt", method: .get)
            try Self.expectProblem(response, status: .unauthorized, code: "unauthorized")
            #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
        }
    }

    @Test func rateLimitsCarryRetryAfterAndAPIErrorsKeepTheirCode() async throws {
        try await Self.testApplication().test(.router) { client in
            let limited = try await client.execute(uri: "/rate", method: .get)
            try Self.expectProblem(limited, status: .tooManyRequests, code: "rate_limited")
            #expect(limited.headers[.retryAfter] == "12")

            let conflict = try await client.execute(uri: "/conflict", method: .get)
            let problem = try Self.expectProblem(conflict, status: .conflict, code: "invalid_status_transition")
            #expect(problem.detail == "completed cannot become processing")
        }
    }

    /// `already_uploaded` carries the photo's id, status and polling URL beside the standard
    /// members, which keep their meaning (`status` is the HTTP status).
    @Test func extensionMembersAreWrittenBesideTheStandardOnes() async throws {
        try await Self.testApplication().test(.router) { client in
            let response = try await client.execute(uri: "/replayed", method: .get)
            #expect(response.status == .conflict)
            let object = try #require(
                try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
            )
            #expect(
                Set(object.keys) == [
                    "type", "title", "status", "detail", "code", "request_id", "photo_id", "photo_status",
                    "status_url",
                ]
            )
            #expect(object["status"] as? Int == 409)
            #expect(object["code"] as? String == "already_uploaded")
            #expect(object["photo_status"] as? String == "uploaded")
            let problem = try JSONDecoder().decode(ProblemDocument.self, from: Data(response.body.readableBytesView))
            #expect(
                problem.extensionMembers == [
                    "photo_id": "0b5e6f1c-8a53-4b8e-9d3f-1f2a3b4c5d6e", "photo_status": "uploaded",
                    "status_url": "/api/v1/photos/0b5e6f1c-8a53-4b8e-9d3f-1f2a3b4c5d6e",
                ]
            )
        }
    }

    @Test func aMissingScopeIsForbidden() async throws {
        let plain = try await AuthFixtures.hs256(AuthFixtures.validClaims(scope: "photos:read"))
        let pipeline = try await AuthFixtures.hs256(AuthFixtures.validClaims(scope: "photos:read photos:status:write"))
        try await Self.testApplication().test(.router) { client in
            let refused = try await client.execute(
                uri: "/api/v1/status",
                method: .patch,
                headers: AuthFixtures.bearer(plain)
            )
            try Self.expectProblem(refused, status: .forbidden, code: "forbidden")
            #expect(
                refused.headers[.wwwAuthenticate] == #"Bearer error="insufficient_scope", scope="photos:status:write""#
            )

            let allowed = try await client.execute(
                uri: "/api/v1/status",
                method: .patch,
                headers: AuthFixtures.bearer(pipeline)
            )
            #expect(allowed.status == .ok)
        }
    }

    @Test func everyCodeHasTheContractStatus() {
        let expected: [String: Int] = [
            "invalid_request": 400, "file_too_small": 400, "unauthorized": 401, "forbidden": 403,
            "not_found": 404, "method_not_allowed": 405, "invalid_status_transition": 409,
            "upload_not_found": 409, "already_uploaded": 409, "file_too_large": 413, "payload_too_large": 413,
            "invalid_file_type": 415, "invalid_upload": 422, "idempotency_key_reused": 422,
            "rate_limited": 429, "storage_unavailable": 503, "database_unavailable": 503, "internal_error": 500,
        ]
        let actual = Dictionary(
            uniqueKeysWithValues: APIError.Code.allCodes.map { ($0.description, Int($0.status.code)) }
        )
        #expect(actual == expected)
        #expect(APIError.Code.allCodes.allSatisfy { !$0.title.isEmpty })
    }
}
