/// Why a request could not be tied to a caller: no usable credentials, or a token that was refused.
///
/// Auth knows nothing of HTTP, so this says only what the HTTP layer needs to answer: the
/// client-safe ``detail``, the log-only ``logDetail`` (the exact reason, never sent), and whether
/// a token was presented at all, which decides the RFC 6750 challenge (`Bearer` when none was,
/// `Bearer error="invalid_token"` when one was refused). Its `description` is the client-safe
/// detail; the reason is only in `debugDescription`.
public struct AuthenticationError: Error, Sendable, Hashable, CustomStringConvertible,
    CustomDebugStringConvertible
{
    private enum Code: Sendable, Hashable {
        case credentialsMissing
        case invalidToken
    }

    private let code: Code
    /// What the client may know, e.g. "the bearer token has expired".
    public let detail: String
    /// The exact reason, for the logs only, e.g. "expired at 1700000000".
    public let logDetail: String?

    private init(_ code: Code, detail: String, logDetail: String?) {
        self.code = code
        self.detail = detail
        self.logDetail = logDetail
    }

    /// No bearer token was sent (no `Authorization` header, another scheme, or the route
    /// expected a caller that no middleware verified).
    public static func credentialsMissing(_ detail: String, logDetail: String? = nil) -> AuthenticationError {
        AuthenticationError(.credentialsMissing, detail: detail, logDetail: logDetail)
    }

    /// A token (or something meant as one) was sent and refused.
    public static func invalidToken(_ detail: String, logDetail: String? = nil) -> AuthenticationError {
        AuthenticationError(.invalidToken, detail: detail, logDetail: logDetail)
    }

    /// Whether the client presented a token, so the challenge can say it was invalid.
    public var tokenWasPresented: Bool { code == .invalidToken }

    public var description: String { detail }

    public var debugDescription: String {
        "AuthenticationError(\(code), detail: \(detail), logDetail: \(logDetail ?? "-"))"
    }
}
