import Foundation
import HTTPTypes
import Hummingbird
import Logging
import UUIDCoding

/// Requires `Authorization: Bearer <JWT>` and puts the verified caller into the context
/// (`APIRequestContext.identity`) for the handlers behind it: every `/api/v1` route.
///
/// A missing header, another scheme, an empty or doubled header, and every token
/// `TokenVerifier` refuses give 401 `unauthorized` with `WWW-Authenticate: Bearer` (plus
/// `error="invalid_token"` when a token was presented). The token itself is never logged.
public struct AuthenticationMiddleware: RouterMiddleware {
    public typealias Context = APIRequestContext

    let verifier: TokenVerifier

    public init(verifier: TokenVerifier) {
        self.verifier = verifier
    }

    public func handle(
        _ request: Request,
        context: APIRequestContext,
        next: (Request, APIRequestContext) async throws -> Response
    ) async throws -> Response {
        let token = try Self.bearerToken(in: request.headers)
        let identity = try await verifier.verify(token)
        var context = context
        context.identity = identity
        context.requestRecord.userID = identity.userID
        context.logger[metadataKey: "user_id"] = .string(identity.userID.lowercasedString)
        return try await next(request, context)
    }

    /// The token of the request's single `Authorization: Bearer` header (RFC 6750 section 2.1;
    /// the scheme is case-insensitive).
    static func bearerToken(in headers: HTTPFields) throws(APIError) -> String {
        let values = headers[values: .authorization]
        guard let value = values.first else {
            throw APIError.unauthorized(
                "a bearer token is required",
                logDetail: "no Authorization header",
                challenge: .credentialsRequired
            )
        }
        guard values.count == 1 else {
            throw APIError.unauthorized(
                "send exactly one Authorization header",
                logDetail: "several Authorization headers"
            )
        }
        let parts = value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard let scheme = parts.first, scheme.lowercased() == "bearer" else {
            throw APIError.unauthorized(
                "a bearer token is required",
                logDetail: "Authorization scheme is not Bearer",
                challenge: .credentialsRequired
            )
        }
        guard parts.count == 2 else {
            throw APIError.unauthorized("the bearer token is missing", logDetail: "empty Bearer credentials")
        }
        let token = trimmingBlanks(parts[1])
        guard !token.isEmpty, !token.utf8.contains(UInt8(ascii: " ")) else {
            throw APIError.unauthorized("the bearer token is not valid", logDetail: "malformed Bearer credentials")
        }
        return token
    }

    /// `text` without the leading and trailing characters `trimmingCharacters(in: .whitespaces)`
    /// removes, looked at one scalar at a time from each end. Foundation's version bridges the
    /// whole token to `NSString` and re-decodes it from UTF-16, which cost about 3 % of
    /// photo-api's CPU under load (docs/benchmarks.md); a token's ends are ASCII, decided here
    /// without Foundation.
    static func trimmingBlanks(_ text: Substring) -> String {
        func isBlank(_ scalar: Unicode.Scalar) -> Bool {
            if scalar.isASCII { return scalar == " " || scalar == "\t" }
            return CharacterSet.whitespaces.contains(scalar)
        }
        var scalars = text.unicodeScalars
        while let first = scalars.first, isBlank(first) { scalars.removeFirst() }
        while let last = scalars.last, isBlank(last) { scalars.removeLast() }
        return String(scalars)
    }
}
