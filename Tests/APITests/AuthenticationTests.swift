import API
import AuthTestSupport
import Foundation
import HTTPSupport
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JWTKit
import TestSupport
import Testing

/// Bearer-token authentication on `/api/v1` (contract section 3), against the real application.
@Suite(.requiresDatabase, .offTheCooperativePool) struct AuthenticationTests {
    /// Asserts the contract's 401: status, challenge, problem document with the request id.
    private static func expectUnauthorized(
        _ response: TestResponse,
        challenge: String = #"Bearer error="invalid_token""#,
        _ comment: Comment,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        #expect(response.status == .unauthorized, comment, sourceLocation: sourceLocation)
        #expect(response.headers[.wwwAuthenticate] == challenge, comment, sourceLocation: sourceLocation)
        #expect(response.headers[.contentType] == "application/problem+json", comment, sourceLocation: sourceLocation)
        let problem = try AuthFixtures.problem(response)
        #expect(problem.code == "unauthorized", comment, sourceLocation: sourceLocation)
        #expect(problem.status == 401, comment, sourceLocation: sourceLocation)
        #expect(
            problem.type == "https://errors.photo-api.example/unauthorized",
            comment,
            sourceLocation: sourceLocation
        )
        let requestID = response.headers[RequestIDMiddleware.headerName]
        #expect(requestID != nil && problem.requestID == requestID, comment, sourceLocation: sourceLocation)
    }

    @Test func aValidHS256TokenReachesWhoAmI() async throws {
        let token = try await AuthFixtures.hs256(AuthFixtures.validClaims(scope: "photos:read photos:status:write"))
        try await AuthFixtures.withApplication { client in
            let response = try await client.execute(
                uri: "/api/v1/whoami",
                method: .get,
                headers: AuthFixtures.bearer(token)
            )
            #expect(response.status == .ok)
            let body = try JSONDecoder().decode(
                [String: AuthFixtures.JSONValue].self,
                from: Data(response.body.readableBytesView)
            )
            #expect(body["user_id"] == .string(AuthFixtures.userID.uuidString.lowercased()))
            #expect(body["org_id"] == .string(AuthFixtures.organizationID.uuidString.lowercased()))
            #expect(body["scopes"] == .strings(["photos:read", "photos:status:write"]))
        }
    }

    @Test func missingOrForeignCredentialsAreChallengedWithoutAnError() async throws {
        try await AuthFixtures.withApplication { client in
            let missing = try await client.execute(uri: "/api/v1/whoami", method: .get)
            try Self.expectUnauthorized(missing, challenge: "Bearer", "no Authorization header")

            let basic = try await client.execute(
                uri: "/api/v1/whoami",
                method: .get,
                headers: [.authorization: "Basic dXNlcjpwYXNzd29yZA=="]
            )
            try Self.expectUnauthorized(basic, challenge: "Bearer", "Basic scheme")
        }
    }

    @Test func everyRejectedTokenIsA401AndNeverA500() async throws {
        let now = Date().timeIntervalSince1970
        func claims(_ edit: (inout AuthFixtures.Claims) -> Void) -> AuthFixtures.Claims {
            var claims = AuthFixtures.validClaims()
            edit(&claims)
            return claims
        }
        let validPayload =
            #"{"sub":"\#(AuthFixtures.userID)","org_id":"\#(AuthFixtures.organizationID)","exp":\#(Int(now) + 300)}"#
        let cases: [(String, String)] = [
            ("empty Bearer credentials", ""),
            ("not a JWT", "not-a-token"),
            ("two segments", "abc.def"),
            ("four segments", "a.b.c.d"),
            ("undecodable segments", "!!!.???.***"),
            ("header is not JSON", AuthFixtures.handMade(header: "nope", payload: validPayload)),
            ("alg none", AuthFixtures.handMade(header: #"{"alg":"none","typ":"JWT"}"#, payload: validPayload)),
            ("alg None", AuthFixtures.handMade(header: #"{"alg":"None"}"#, payload: validPayload)),
            ("no alg", AuthFixtures.handMade(header: #"{"typ":"JWT"}"#, payload: validPayload, signature: "c2ln")),
            ("HS512", AuthFixtures.handMade(header: #"{"alg":"HS512"}"#, payload: validPayload, signature: "c2ln")),
            (
                "RS256 without a JWKS",
                try await AuthFixtures.hs256(claims { _ in }, header: ["alg": "RS256", "kid": "k"])
            ),
            ("wrong secret", try await AuthFixtures.hs256(claims { _ in }, secret: String(repeating: "x", count: 40))),
            ("expired beyond the leeway", try await AuthFixtures.hs256(claims { $0["exp"] = .number(now - 120) })),
            ("no exp", try await AuthFixtures.hs256(claims { $0["exp"] = nil })),
            ("exp is a string", try await AuthFixtures.hs256(claims { $0["exp"] = .string("tomorrow") })),
            (
                "not yet valid beyond the leeway",
                try await AuthFixtures.hs256(claims { $0["nbf"] = .number(now + 120) })
            ),
            ("no sub", try await AuthFixtures.hs256(claims { $0["sub"] = nil })),
            ("sub not a UUID", try await AuthFixtures.hs256(claims { $0["sub"] = .string("alice") })),
            ("sub a number", try await AuthFixtures.hs256(claims { $0["sub"] = .number(42) })),
            ("no org_id", try await AuthFixtures.hs256(claims { $0["org_id"] = nil })),
            ("org_id not a UUID", try await AuthFixtures.hs256(claims { $0["org_id"] = .string("acme") })),
            ("org_id a list", try await AuthFixtures.hs256(claims { $0["org_id"] = .strings(["a"]) })),
            ("unknown critical header", try await AuthFixtures.hs256(claims { _ in }, header: ["crit": ["exp"]])),
            ("oversized token", String(repeating: "a", count: 9000) + ".b.c"),
        ]
        let tampered: String = try await {
            let token = try await AuthFixtures.hs256(claims { _ in })
            let parts = token.split(separator: ".")
            let otherUser = AuthFixtures.base64URL(
                Array(#"{"sub":"\#(UUID())","org_id":"\#(AuthFixtures.organizationID)","exp":\#(Int(now) + 300)}"#.utf8)
            )
            return "\(parts[0]).\(otherUser).\(parts[2])"
        }()
        try await AuthFixtures.withApplication { client in
            for (name, token) in cases + [("tampered payload", tampered)] {
                let response = try await client.execute(
                    uri: "/api/v1/whoami",
                    method: .get,
                    headers: AuthFixtures.bearer(token)
                )
                try Self.expectUnauthorized(response, "\(name)")
            }
        }
    }

    @Test func clockSkewWithinSixtySecondsIsTolerated() async throws {
        try await AuthFixtures.withApplication { client in
            // Signed once the application is up: starting it on a loaded machine can take longer
            // than the 30 s between these claims and the edge of the leeway.
            let now = Date().timeIntervalSince1970
            var justExpired = AuthFixtures.validClaims()
            justExpired["exp"] = .number(now - 30)
            var almostValid = AuthFixtures.validClaims()
            almostValid["nbf"] = .number(now + 30)
            let tokens = [try await AuthFixtures.hs256(justExpired), try await AuthFixtures.hs256(almostValid)]
            for token in tokens {
                let response = try await client.execute(
                    uri: "/api/v1/whoami",
                    method: .get,
                    headers: AuthFixtures.bearer(token)
                )
                #expect(response.status == .ok)
            }
        }
    }

    @Test func issuerAndAudienceAreCheckedWhenConfigured() async throws {
        func token(iss: String?, aud: AuthFixtures.Claims.Value?) async throws -> String {
            var claims = AuthFixtures.validClaims()
            claims["iss"] = iss.map { .string($0) }
            claims["aud"] = aud
            return try await AuthFixtures.hs256(claims)
        }
        let accepted = [
            try await token(iss: "https://id.example", aud: .string("photo-api")),
            try await token(iss: "https://id.example", aud: .strings(["other", "photo-api"])),
        ]
        let refused = [
            ("wrong iss", try await token(iss: "https://evil.example", aud: .string("photo-api"))),
            ("no iss", try await token(iss: nil, aud: .string("photo-api"))),
            ("wrong aud", try await token(iss: "https://id.example", aud: .string("other"))),
            ("no aud", try await token(iss: "https://id.example", aud: nil)),
        ]
        try await AuthFixtures.withApplication(
            environment: ["JWT_ISSUER": "https://id.example", "JWT_AUDIENCE": "photo-api"]
        ) { client in
            for token in accepted {
                let response = try await client.execute(
                    uri: "/api/v1/whoami",
                    method: .get,
                    headers: AuthFixtures.bearer(token)
                )
                #expect(response.status == .ok)
            }
            for (name, token) in refused {
                let response = try await client.execute(
                    uri: "/api/v1/whoami",
                    method: .get,
                    headers: AuthFixtures.bearer(token)
                )
                try Self.expectUnauthorized(response, "\(name)")
            }
        }
    }

    @Test func operationalEndpointsNeedNoToken() async throws {
        try await AuthFixtures.withApplication { client in
            for path in ["/healthz", "/readyz", "/metrics"] {
                let response = try await client.execute(uri: path, method: .get)
                #expect(response.status == .ok, "\(path)")
                #expect(response.headers[RequestIDMiddleware.headerName] != nil, "\(path)")
            }
        }
    }

    @Test func theRequestLogNamesRouteStatusAndUserButNeverTheTokenOrQuery() async throws {
        let capture = AuthFixtures.LogCapture()
        let token = try await AuthFixtures.hs256(AuthFixtures.validClaims())
        try await AuthFixtures.withApplication(logger: capture.logger) { client in
            let response = try await client.execute(
                uri: "/api/v1/whoami?X-Amz-Signature=deadbeefsecret",
                method: .get,
                headers: AuthFixtures.bearer(token)
            )
            #expect(response.status == .ok)
            _ = try await client.execute(
                uri: "/api/v1/whoami",
                method: .get,
                headers: AuthFixtures.bearer("bad.to.ken")
            )
        }
        let lines = capture.all.filter { $0.message == "request" }
        let success = try #require(lines.first { $0.metadata["status"] == "200" })
        #expect(success.metadata["route"] == "/api/v1/whoami")
        #expect(success.metadata["method"] == "GET")
        #expect(success.metadata["user_id"] == AuthFixtures.userID.uuidString.lowercased())
        #expect(success.metadata["request_id"] != nil)
        #expect(success.metadata["latency_ms"].flatMap(Double.init) != nil)
        let refused = try #require(lines.first { $0.metadata["status"] == "401" })
        #expect(refused.metadata["code"] == "unauthorized")
        #expect(refused.metadata["reason"] != nil)
        #expect(refused.metadata["user_id"] == nil)
        for record in capture.all {
            #expect(!record.text.contains("deadbeefsecret"))
            #expect(!record.text.contains(token))
            #expect(!record.text.contains("bad.to.ken"))
        }
    }
}
