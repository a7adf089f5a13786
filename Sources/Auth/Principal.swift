import Foundation
import UUIDCoding

/// Who a verified bearer token speaks for: a user of one organization, or the detection pipeline
/// (docs/clients.md, "Tokens", and docs/security.md, "Principals").
///
/// A token with `org_id` is a user's (``AuthenticatedIdentity``); a token without `org_id`
/// that carries ``ServicePrincipal/statusWriteScope`` is a service principal, which serves every
/// organization but may only read photos and change their status. Anything else is refused by
/// `TokenVerifier` before a handler runs.
public enum Principal: Sendable, Hashable {
    case user(AuthenticatedIdentity)
    case service(ServicePrincipal)

    /// The user, or `nil` for a service principal: the routes that act for a user (upload URLs,
    /// complete, listings) are closed to service principals.
    public var user: AuthenticatedIdentity? {
        if case .user(let identity) = self { return identity }
        return nil
    }

    /// The token's scopes.
    public var scopes: Set<String> {
        switch self {
        case .user(let identity): identity.scopes
        case .service(let service): service.scopes
        }
    }

    /// `user` or `service`: the kind logs and the status history name.
    public var kind: String {
        switch self {
        case .user: "user"
        case .service: "service"
        }
    }

    /// The token's `sub`: a user's id (lower-case UUID) or a service's own name.
    public var subject: String {
        switch self {
        case .user(let identity): identity.userID.lowercasedString
        case .service(let service): service.subject
        }
    }

    /// Returns when the token carries `scope`; throws otherwise.
    public func require(scope: String) throws(AuthorizationError) {
        guard scopes.contains(scope) else {
            throw AuthorizationError.missingScope(scope)
        }
    }

    /// Whether the principal may read or change what belongs to `organization`: a user only
    /// their own organization's, a service principal every organization's (the routes open to
    /// it are few: it never reaches the others).
    public func mayAccess(organization: UUID) -> Bool {
        switch self {
        case .user(let identity): identity.mayAccess(organization: organization)
        case .service: true
        }
    }
}

/// The detection pipeline, or another back-end service: a token with scope
/// ``statusWriteScope`` and no `org_id`.
///
/// Its `sub` names the service, not a user, so it need not be a UUID (identity providers issue
/// client-credentials tokens with the client's id there); it is kept only when it is short,
/// printable ASCII without spaces, since it goes into log lines and the status history.
public struct ServicePrincipal: Sendable, Hashable {
    /// The scope that lets a token change photo statuses; without `org_id`, it makes the token a
    /// service principal's.
    public static let statusWriteScope = "photos:status:write"
    /// The longest `sub` a service token may carry.
    public static let maximumSubjectLength = 200

    /// The token's `sub`.
    public let subject: String
    /// The token's scopes (``statusWriteScope`` among them).
    public let scopes: Set<String>

    public init(subject: String, scopes: Set<String>) {
        self.subject = subject
        self.scopes = scopes
    }

    /// Whether `sub` can name a service: 1 to ``maximumSubjectLength`` printable ASCII
    /// characters, no spaces.
    static func isAcceptedSubject(_ sub: String) -> Bool {
        (1...maximumSubjectLength).contains(sub.utf8.count) && sub.utf8.allSatisfy { (0x21...0x7E).contains($0) }
    }
}
