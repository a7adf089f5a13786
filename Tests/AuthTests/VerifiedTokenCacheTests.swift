import Auth
import AuthTestSupport
import Foundation
import Synchronization
import Testing

/// `TokenVerifier`'s memory of verified tokens skips only the signature check.
@Suite struct VerifiedTokenCacheTests {
    /// A clock the test moves.
    final class Clock: Sendable {
        private let offset = Mutex<TimeInterval>(0)
        func advance(by seconds: TimeInterval) { offset.withLock { $0 += seconds } }
        var now: Date { Date().addingTimeInterval(offset.withLock { $0 }) }
    }

    @Test func aRememberedTokenStillExpiresOnTime() async throws {
        let clock = Clock()
        let verifier = try await TokenVerifier(hs256Secret: AuthFixtures.secret, jwks: nil, now: { clock.now })
        var claims = AuthFixtures.validClaims()
        claims["exp"] = .number(Date().timeIntervalSince1970 + 30)
        let token = try await AuthFixtures.hs256(claims)
        #expect(try await verifier.verify(token).user?.userID == AuthFixtures.userID)
        #expect(try await verifier.verify(token).user?.userID == AuthFixtures.userID)
        // Past exp plus the leeway: refused although it verified a moment ago.
        clock.advance(by: 30 + TokenVerifier.leeway + 1)
        let expired = await #expect(throws: AuthenticationError.self) { try await verifier.verify(token) }
        #expect(expired?.detail == "the bearer token has expired")
        #expect(expired?.tokenWasPresented == true)
    }

    @Test func onlyTheExactVerifiedTextIsRemembered() async throws {
        let verifier = try await TokenVerifier(hs256Secret: AuthFixtures.secret, jwks: nil)
        let token = try await AuthFixtures.hs256(AuthFixtures.validClaims())
        #expect(try await verifier.verify(token).user?.organizationID == AuthFixtures.organizationID)
        // The same header and claims with another signature, and another key's token: refused.
        let parts = token.split(separator: ".")
        let forged = "\(parts[0]).\(parts[1]).\(AuthFixtures.base64URL(Array(repeating: 7, count: 32)))"
        // Refused by the signature check, not by anything the cache or the claims could say.
        for refused in [
            forged,
            try await AuthFixtures.hs256(
                AuthFixtures.validClaims(),
                secret: "another-secret-of-at-least-32-bytes!!!"
            ),
        ] {
            let error = await #expect(throws: AuthenticationError.self) { try await verifier.verify(refused) }
            #expect(error?.detail == "the bearer token is not valid")
            #expect(error?.logDetail?.hasPrefix("verification failed: ") == true, "\(String(describing: error))")
        }
        #expect(try await verifier.verify(token).user?.organizationID == AuthFixtures.organizationID)
    }
}
