import Foundation

/// Who is calling, as proven by a verified bearer token (docs/clients.md, "Tokens"), and what it may do.
///
/// The HTTP layer asks Auth only two things: who is this (``TokenVerifier/verify(_:)``), and may
/// they do X (``require(scope:)``, ``mayAccess(organization:)``); the answers to "no" are Auth's
/// own errors, or `false`, which the HTTP layer maps to problem documents.
public struct AuthenticatedIdentity: Sendable, Hashable {
    /// The token's `sub`.
    public let userID: UUID
    /// The token's `org_id`: the caller may act only on this organization's projects.
    public let organizationID: UUID
    /// The token's space-separated `scope`, e.g. `photos:status:write`.
    public let scopes: Set<String>

    public init(userID: UUID, organizationID: UUID, scopes: Set<String>) {
        self.userID = userID
        self.organizationID = organizationID
        self.scopes = scopes
    }

    /// Returns when the caller's token carries `scope`; throws otherwise.
    ///
    /// `PATCH /api/v1/photos/{id}/status` needs `photos:status:write` (the detection pipeline).
    public func require(scope: String) throws(AuthorizationError) {
        guard scopes.contains(scope) else {
            throw AuthorizationError.missingScope(scope)
        }
    }

    /// Whether the caller may act on what belongs to `organization` (a project, a photo):
    /// only on its own organization's (docs/clients.md, "Tokens").
    public func mayAccess(organization: UUID) -> Bool {
        organization == organizationID
    }
}
