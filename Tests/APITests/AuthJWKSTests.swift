import API
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JWTKit
import TestSupport
import Testing

/// RS256 and ES256 tokens verified with keys served from `JWT_JWKS_URL` (a live local server).
@Suite(.requiresDatabase) struct AuthJWKSTests {
    private static func whoAmI(_ client: some TestClientProtocol, _ token: String) async throws -> TestResponse {
        try await client.execute(uri: "/api/v1/whoami", method: .get, headers: AuthFixtures.bearer(token))
    }

    @Test func rs256AndES256TokensVerifyWithTheirJWKSKeys() async throws {
        let rsa = try await AuthFixtures.Keys.makeRSAKey()
        let ec = ES256PrivateKey()
        let otherEC = ES256PrivateKey()
        let server = AuthFixtures.JWKSServer(
            document: try AuthFixtures.Keys.jwks([
                try AuthFixtures.Keys.rsaJWK(rsa, kid: "rsa-1"),
                try AuthFixtures.Keys.rsaJWK(rsa, kid: "rsa-no-alg", alg: nil),
                try AuthFixtures.Keys.rsaJWK(rsa, kid: "rsa-512", alg: "RS512"),
                try AuthFixtures.Keys.ecJWK(ec, kid: "ec-1"),
            ])
        )
        let claims = AuthFixtures.validClaims(scope: "photos:status:write")
        let accepted = [
            ("RS256", try await AuthFixtures.Keys.sign(claims, rsa: rsa, kid: "rsa-1")),
            ("RS256, JWK without alg", try await AuthFixtures.Keys.sign(claims, rsa: rsa, kid: "rsa-no-alg")),
            ("ES256", try await AuthFixtures.Keys.sign(claims, ecdsa: ec, kid: "ec-1")),
        ]
        let rsaPublicPEM = rsa.publicKey.pemRepresentation
        let refused = [
            // A key the JWKS pins to RS512, which we do not accept.
            ("key for another algorithm", try await AuthFixtures.Keys.sign(claims, rsa: rsa, kid: "rsa-512")),
            // ES256 header naming the RSA key: the key decides the algorithm, not the token.
            ("ES256 token, RSA key", try await AuthFixtures.Keys.sign(claims, ecdsa: ec, kid: "rsa-1")),
            ("RS256 token, EC key", try await AuthFixtures.Keys.sign(claims, rsa: rsa, kid: "ec-1")),
            ("signed by another EC key", try await AuthFixtures.Keys.sign(claims, ecdsa: otherEC, kid: "ec-1")),
            // The classic confusion: HMAC keyed with the RSA public key.
            (
                "HS256 keyed with the public key",
                try await AuthFixtures.hs256(claims, secret: rsaPublicPEM, header: ["kid": "rsa-1"])
            ),
            (
                "RS256 without kid",
                try await {
                    let keys = await JWTKeyCollection().add(rsa: rsa, digestAlgorithm: .sha256)
                    return try await keys.sign(claims)
                }()
            ),
            ("unknown kid", try await AuthFixtures.Keys.sign(claims, rsa: rsa, kid: "nobody")),
        ]
        try await server.withRunning { jwksURL in
            try await AuthFixtures.withApplication(environment: ["JWT_JWKS_URL": jwksURL]) { client in
                for (name, token) in accepted {
                    let response = try await Self.whoAmI(client, token)
                    #expect(response.status == .ok, "\(name)")
                }
                for (name, token) in refused {
                    let response = try await Self.whoAmI(client, token)
                    #expect(response.status == .unauthorized, "\(name)")
                    #expect(response.headers[.wwwAuthenticate] == #"Bearer error="invalid_token""#, "\(name)")
                    #expect(try AuthFixtures.problem(response).code == "unauthorized", "\(name)")
                }
            }
        }
    }

    @Test func anUnknownKidRefetchesTheKeysOnceAndThenNotAgainWithinAMinute() async throws {
        let first = ES256PrivateKey()
        let rotated = ES256PrivateKey()
        let server = AuthFixtures.JWKSServer(
            document: try AuthFixtures.Keys.jwks([try AuthFixtures.Keys.ecJWK(first, kid: "first")])
        )
        let claims = AuthFixtures.validClaims()
        let firstToken = try await AuthFixtures.Keys.sign(claims, ecdsa: first, kid: "first")
        let rotatedToken = try await AuthFixtures.Keys.sign(claims, ecdsa: rotated, kid: "rotated")
        let strangerToken = try await AuthFixtures.Keys.sign(claims, ecdsa: ES256PrivateKey(), kid: "stranger")
        try await server.withRunning { jwksURL in
            try await AuthFixtures.withApplication(environment: ["JWT_JWKS_URL": jwksURL]) { client in
                // Fetched once at start.
                #expect(server.fetchCount == 1)
                #expect(try await Self.whoAmI(client, firstToken).status == .ok)
                #expect(server.fetchCount == 1)

                // The provider rotates in a key; tokens naming it arrive all at once.
                server.publish(
                    try AuthFixtures.Keys.jwks([
                        try AuthFixtures.Keys.ecJWK(first, kid: "first"),
                        try AuthFixtures.Keys.ecJWK(rotated, kid: "rotated"),
                    ])
                )
                let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                    for _ in 0..<8 {
                        group.addTask { try await Self.whoAmI(client, rotatedToken).status }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(statuses == Array(repeating: .ok, count: 8))
                // One refetch served them all.
                #expect(server.fetchCount == 2)

                // Another unknown kid within the minute: refused without asking the provider again.
                let stranger = try await Self.whoAmI(client, strangerToken)
                #expect(stranger.status == .unauthorized)
                #expect(server.fetchCount == 2)
                // Known keys keep working.
                #expect(try await Self.whoAmI(client, rotatedToken).status == .ok)
                #expect(try await Self.whoAmI(client, firstToken).status == .ok)
                #expect(server.fetchCount == 2)
            }
        }
    }

    @Test func anUnreachableJWKSDoesNotStopTheStartButItsTokensAreRefused() async throws {
        let ec = ES256PrivateKey()
        let ecToken = try await AuthFixtures.Keys.sign(AuthFixtures.validClaims(), ecdsa: ec, kid: "ec-1")
        let hsToken = try await AuthFixtures.hs256(AuthFixtures.validClaims())
        // Port 1 on loopback: nothing listens, the connection is refused at once.
        try await AuthFixtures.withApplication(environment: ["JWT_JWKS_URL": "http://127.0.0.1:1/jwks.json"]) {
            client in
            let refused = try await Self.whoAmI(client, ecToken)
            #expect(refused.status == .unauthorized)
            #expect(try AuthFixtures.problem(refused).code == "unauthorized")
            #expect(try await Self.whoAmI(client, hsToken).status == .ok)
        }
    }

    @Test func aJWKSOnlyConfigurationRefusesHS256() async throws {
        let ec = ES256PrivateKey()
        let server = AuthFixtures.JWKSServer(
            document: try AuthFixtures.Keys.jwks([try AuthFixtures.Keys.ecJWK(ec, kid: "ec-1")])
        )
        let hsToken = try await AuthFixtures.hs256(AuthFixtures.validClaims())
        let ecToken = try await AuthFixtures.Keys.sign(AuthFixtures.validClaims(), ecdsa: ec, kid: "ec-1")
        try await server.withRunning { jwksURL in
            // Empty counts as unset.
            try await AuthFixtures.withApplication(
                environment: ["JWT_JWKS_URL": jwksURL, "JWT_HS256_SECRET": ""]
            ) { client in
                let hs = try await Self.whoAmI(client, hsToken)
                #expect(hs.status == .unauthorized)
                let ec = try await Self.whoAmI(client, ecToken)
                #expect(ec.status == .ok)
            }
        }
    }
}
