import Auth
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
        let identity: AuthenticatedIdentity
        do throws(AuthenticationError) {
            let token = try BearerCredentials.token(fromAuthorization: request.headers[values: .authorization])
            identity = try await verifier.verify(token)
        } catch {
            throw APIError(error)
        }
        var context = context
        context.identity = identity
        context.requestRecord.userID = identity.userID
        context.logger[metadataKey: "user_id"] = .string(identity.userID.lowercasedString)
        return try await next(request, context)
    }
}
