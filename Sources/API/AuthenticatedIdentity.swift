import Foundation

/// Who is calling, as proven by a verified bearer token (contract section 3).
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
}
