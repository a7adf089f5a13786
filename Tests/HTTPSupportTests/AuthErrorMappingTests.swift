import Auth
import Foundation
import HTTPSupport
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// Auth's refusals become the contract's 401 and 403 in one place (`APIError.init(_:)`), whether
/// they come from the authentication middleware, `requireScope`, or escape from a handler.
@Suite struct AuthErrorMappingTests {
    private static func testApplication() -> some ApplicationProtocol {
        let router = Router(context: APIRequestContext.self)
        APIRoutes.addMiddleware(to: router, routeIndex: RouteMethodIndex())
        router.get("no-credentials") { _, _ -> HTTPResponse.Status in
            throw AuthenticationError.credentialsMissing("a bearer token is required", logDetail: "no header at all")
        }
        router.get("bad-token") { _, _ -> HTTPResponse.Status in
            throw AuthenticationError.invalidToken("the bearer token has expired", logDetail: "expired at 1700000000")
        }
        router.get("missing-scope") { _, _ -> HTTPResponse.Status in
            throw AuthorizationError.missingScope("photos:status:write")
        }
        router.get("anonymous") { _, context -> HTTPResponse.Status in
            _ = try context.requireIdentity()
            return .ok
        }
        return Application(router: router)
    }

    private static func problem(_ response: TestResponse) throws -> ProblemDocument {
        try JSONDecoder().decode(ProblemDocument.self, from: Data(response.body.readableBytesView))
    }

    @Test func authenticationErrorsAre401WithTheChallengeForWhatWasPresented() async throws {
        try await Self.testApplication().test(.router) { client in
            let missing = try await client.execute(uri: "/no-credentials", method: .get)
            #expect(missing.status == .unauthorized)
            #expect(missing.headers[.wwwAuthenticate] == "Bearer")
            #expect(try Self.problem(missing).code == "unauthorized")
            #expect(try Self.problem(missing).detail == "a bearer token is required")

            let invalid = try await client.execute(uri: "/bad-token", method: .get)
            #expect(invalid.status == .unauthorized)
            #expect(invalid.headers[.wwwAuthenticate] == #"Bearer error="invalid_token""#)
            #expect(try Self.problem(invalid).detail == "the bearer token has expired")
            // The log-only reason never reaches the client.
            #expect(!String(buffer: invalid.body).contains("1700000000"))

            let anonymous = try await client.execute(uri: "/anonymous", method: .get)
            #expect(anonymous.status == .unauthorized)
            #expect(anonymous.headers[.wwwAuthenticate] == "Bearer")
            #expect(try Self.problem(anonymous).detail == "authentication is required")
        }
    }

    @Test func aMissingScopeIs403InsufficientScope() async throws {
        try await Self.testApplication().test(.router) { client in
            let response = try await client.execute(uri: "/missing-scope", method: .get)
            #expect(response.status == .forbidden)
            #expect(try Self.problem(response).code == "forbidden")
            #expect(try Self.problem(response).detail == "the token lacks the scope photos:status:write")
            #expect(
                response.headers[.wwwAuthenticate] == #"Bearer error="insufficient_scope", scope="photos:status:write""#
            )
        }
    }

    @Test func theMappingKeepsDetailAndLogDetail() {
        let refused = APIError(
            AuthenticationError.invalidToken("the bearer token is not valid", logDetail: "no exp claim")
        )
        #expect(refused.code == .unauthorized)
        #expect(refused.challenge == .invalidToken)
        #expect(refused.detail == "the bearer token is not valid")
        #expect(refused.logDetail == "no exp claim")
        let missing = APIError(AuthenticationError.credentialsMissing("a bearer token is required"))
        #expect(missing.challenge == .credentialsRequired)
        #expect(missing.logDetail == nil)
        let forbidden = APIError(AuthorizationError.missingScope("photos:status:write"))
        #expect(forbidden.code == .forbidden)
        #expect(forbidden.challenge == .insufficientScope("photos:status:write"))
    }
}
