import AppConfig
import Auth
import AuthTestSupport
import Foundation
import JWTKit
import Logging
import Testing

/// RS256 and ES256 tokens verified with keys served from `JWT_JWKS_URL` (a live local server),
/// through `Authentication.start`, as `photo-api` starts it.
@Suite struct AuthJWKSTests {
    /// Runs `body` with the verifier `Authentication.start` builds from `environment` (an HS256
    /// secret unless `environment` says otherwise), then closes the key store.
    private static func withVerifier(
        environment: [String: String],
        _ body: (TokenVerifier) async throws -> Void
    ) async throws {
        let configuration = try AuthConfiguration(
            environment: EnvironmentReader(["JWT_HS256_SECRET": AuthFixtures.secret].merging(environment) { $1 }),
            appEnvironment: "development"
        )
        let authentication = try await Authentication.start(configuration: configuration, logger: Logger(label: "test"))
        do {
            try await body(authentication.verifier)
        } catch {
            await authentication.keyStore?.shutdown()
            throw error
        }
        await authentication.keyStore?.shutdown()
    }

    /// Why `token` is refused, or `nil` when it is accepted.
    private static func refusal(_ verifier: TokenVerifier, _ token: String) async -> AuthenticationError? {
        do throws(AuthenticationError) {
            _ = try await verifier.verify(token)
            return nil
        } catch {
            return error
        }
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
            try await Self.withVerifier(environment: ["JWT_JWKS_URL": jwksURL]) { verifier in
                for (name, token) in accepted {
                    #expect(await Self.refusal(verifier, token) == nil, "\(name)")
                }
                for (name, token) in refused {
                    let refusal = await Self.refusal(verifier, token)
                    // A presented token that is refused: the HTTP layer answers `invalid_token`.
                    #expect(refusal?.tokenWasPresented == true, "\(name)")
                    #expect(refusal?.logDetail != nil, "\(name)")
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
            try await Self.withVerifier(environment: ["JWT_JWKS_URL": jwksURL]) { verifier in
                // Fetched once at start.
                #expect(server.fetchCount == 1)
                #expect(await Self.refusal(verifier, firstToken) == nil)
                #expect(server.fetchCount == 1)

                // The provider rotates in a key; tokens naming it arrive all at once.
                server.publish(
                    try AuthFixtures.Keys.jwks([
                        try AuthFixtures.Keys.ecJWK(first, kid: "first"),
                        try AuthFixtures.Keys.ecJWK(rotated, kid: "rotated"),
                    ])
                )
                let accepted = await withTaskGroup(of: Bool.self) { group in
                    for _ in 0..<8 {
                        group.addTask { await Self.refusal(verifier, rotatedToken) == nil }
                    }
                    return await group.reduce(into: []) { $0.append($1) }
                }
                #expect(accepted == Array(repeating: true, count: 8))
                // One refetch served them all.
                #expect(server.fetchCount == 2)

                // Another unknown kid within the minute: refused without asking the provider again.
                #expect(await Self.refusal(verifier, strangerToken)?.tokenWasPresented == true)
                #expect(server.fetchCount == 2)
                // Known keys keep working.
                #expect(await Self.refusal(verifier, rotatedToken) == nil)
                #expect(await Self.refusal(verifier, firstToken) == nil)
                #expect(server.fetchCount == 2)
            }
        }
    }

    @Test func anUnreachableJWKSDoesNotStopTheStartButItsTokensAreRefused() async throws {
        let ec = ES256PrivateKey()
        let ecToken = try await AuthFixtures.Keys.sign(AuthFixtures.validClaims(), ecdsa: ec, kid: "ec-1")
        let hsToken = try await AuthFixtures.hs256(AuthFixtures.validClaims())
        // Port 1 on loopback: nothing listens, the connection is refused at once.
        try await Self.withVerifier(environment: ["JWT_JWKS_URL": "http://127.0.0.1:1/jwks.json"]) { verifier in
            #expect(await Self.refusal(verifier, ecToken)?.tokenWasPresented == true)
            #expect(await Self.refusal(verifier, hsToken) == nil)
        }
    }

    /// Issue 13, point 6: the JWKS response body is capped (1 MiB, `CurlHTTPClient`'s default):
    /// a larger document, even a valid one, is refused and the previous keys stay; a document
    /// within the cap is read as before.
    @Test func aJWKSDocumentOverTheBodyCapIsRefused() async throws {
        let ec = ES256PrivateKey()
        let keys = try AuthFixtures.Keys.jwks([try AuthFixtures.Keys.ecJWK(ec, kid: "ec-1")])
        // Valid JSON with the key in it, padded past the cap with a member the decoder ignores.
        let padding = String(repeating: "a", count: 1024 * 1024)
        let oversized = String(keys.dropLast()) + #","padding":"\#(padding)"}"#
        let server = AuthFixtures.JWKSServer(document: oversized)
        try await server.withRunning { jwksURL in
            let store = JWKSKeyStore(url: try #require(URL(string: jwksURL)), logger: Logger(label: "test"))
            #expect(await store.refresh() == false)
            #expect(store.keyIdentifiers.isEmpty)
            #expect(server.fetchCount == 1)
            server.publish(keys)
            #expect(await store.refresh())
            #expect(store.keyIdentifiers == ["ec-1"])
            await store.shutdown()
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
            try await Self.withVerifier(environment: ["JWT_JWKS_URL": jwksURL, "JWT_HS256_SECRET": ""]) { verifier in
                #expect(await Self.refusal(verifier, hsToken)?.tokenWasPresented == true)
                #expect(await Self.refusal(verifier, ecToken) == nil)
            }
        }
    }
}
