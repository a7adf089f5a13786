import Auth
import AuthTestSupport
import Foundation
import Testing

/// Which tokens make a service principal: scope `photos:status:write` and no `org_id`.
@Suite struct ServicePrincipalTokenTests {
    static func verifier() async throws -> TokenVerifier {
        try await TokenVerifier(hs256Secret: AuthFixtures.secret, jwks: nil)
    }

    @Test func aScopedTokenWithoutOrganizationIsAServicePrincipal() async throws {
        let token = try await AuthFixtures.hs256(AuthFixtures.serviceClaims(scope: "photos:read photos:status:write"))
        let principal = try await Self.verifier().verify(token)
        #expect(
            principal
                == .service(
                    ServicePrincipal(subject: "detection-pipeline", scopes: ["photos:read", "photos:status:write"])
                )
        )
        #expect(principal.user == nil)
        #expect(principal.kind == "service")
        #expect(principal.subject == "detection-pipeline")
        // It serves every organization.
        #expect(principal.mayAccess(organization: UUID()))
        try principal.require(scope: "photos:status:write")
    }

    @Test func aTokenWithOrganizationStaysAUserEvenWithTheScope() async throws {
        let token = try await AuthFixtures.hs256(AuthFixtures.validClaims(scope: "photos:status:write"))
        let principal = try await Self.verifier().verify(token)
        #expect(principal.user?.userID == AuthFixtures.userID)
        #expect(principal.kind == "user")
        #expect(principal.subject == AuthFixtures.userID.uuidString.lowercased())
        #expect(principal.mayAccess(organization: AuthFixtures.organizationID))
        #expect(!principal.mayAccess(organization: UUID()))
    }

    @Test(arguments: [
        // No org_id and no scope, or another scope: a user token missing its organization.
        AuthFixtures.serviceClaims(scope: ""),
        AuthFixtures.serviceClaims(scope: "photos:read"),
        AuthFixtures.serviceClaims(scope: "photos:status:writer"),
        // A service sub that could forge log lines or is absurdly long.
        AuthFixtures.serviceClaims(subject: ""),
        AuthFixtures.serviceClaims(subject: "detection pipeline"),
        AuthFixtures.serviceClaims(subject: "detection\npipeline"),
        AuthFixtures.serviceClaims(subject: String(repeating: "a", count: ServicePrincipal.maximumSubjectLength + 1)),
    ])
    func otherTokensWithoutOrganizationAreRefused(_ claims: AuthFixtures.Claims) async throws {
        let token = try await AuthFixtures.hs256(claims)
        let verifier = try await Self.verifier()
        let error = await #expect(throws: AuthenticationError.self) { try await verifier.verify(token) }
        #expect(error?.detail == "the bearer token is not valid")
        #expect(error?.tokenWasPresented == true)
    }

    @Test func aServiceTokenWithoutSubIsRefused() async throws {
        var claims = AuthFixtures.serviceClaims()
        claims["sub"] = nil
        let token = try await AuthFixtures.hs256(claims)
        let verifier = try await Self.verifier()
        await #expect(throws: AuthenticationError.self) { try await verifier.verify(token) }
    }

    @Test func theLongestAcceptedSubjectIsKept() async throws {
        let subject = String(repeating: "a", count: ServicePrincipal.maximumSubjectLength)
        let token = try await AuthFixtures.hs256(AuthFixtures.serviceClaims(subject: subject))
        #expect(try await Self.verifier().verify(token).subject == subject)
    }
}
