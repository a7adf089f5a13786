import Auth
import Foundation
import Testing

/// "May they do X": `AuthenticatedIdentity.require(scope:)` and `mayAccess(organization:)`.
@Suite struct AuthorizationTests {
    private static let identity = AuthenticatedIdentity(
        userID: UUID(),
        organizationID: UUID(),
        scopes: ["photos:read", "photos:status:write"]
    )

    @Test func aScopeTheTokenCarriesIsAllowed() throws {
        try Self.identity.require(scope: "photos:status:write")
    }

    @Test func aMissingScopeNamesTheScope() {
        #expect(throws: AuthorizationError.missingScope("photos:delete")) {
            try Self.identity.require(scope: "photos:delete")
        }
        // Scopes are whole words, not prefixes.
        #expect(throws: AuthorizationError.missingScope("photos")) {
            try Self.identity.require(scope: "photos")
        }
        #expect(AuthorizationError.missingScope("photos:delete").requiredScope == "photos:delete")
    }

    @Test func onlyTheTokensOwnOrganizationIsAccessible() {
        #expect(Self.identity.mayAccess(organization: Self.identity.organizationID))
        #expect(!Self.identity.mayAccess(organization: UUID()))
    }

    @Test func authenticationErrorsShowOnlyTheClientSafeDetail() {
        let error = AuthenticationError.invalidToken("the bearer token has expired", logDetail: "expired at 1700000000")
        #expect(error.tokenWasPresented)
        #expect(error.description == "the bearer token has expired")
        #expect(!error.description.contains("1700000000"))
        #expect(error.debugDescription.contains("expired at 1700000000"))
        #expect(!AuthenticationError.credentialsMissing("a bearer token is required").tokenWasPresented)
    }
}
