/// Why a verified caller may not do what it asked.
///
/// Thrown by ``AuthenticatedIdentity/require(scope:)``; the HTTP layer answers it with 403 and
/// the RFC 6750 `insufficient_scope` challenge naming ``requiredScope``. Scope names are public
/// (they are in the API's documentation), so `description` may carry it.
public struct AuthorizationError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Code: Sendable, Hashable {
        case missingScope
    }

    private let code: Code
    /// The scope the caller's token would need.
    public let requiredScope: String

    private init(_ code: Code, requiredScope: String) {
        self.code = code
        self.requiredScope = requiredScope
    }

    /// The token does not carry `scope`.
    public static func missingScope(_ scope: String) -> AuthorizationError {
        AuthorizationError(.missingScope, requiredScope: scope)
    }

    public var description: String { "the token lacks the scope \(requiredScope)" }
}
