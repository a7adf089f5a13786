import Auth
import Hummingbird
import Logging
import UUIDCoding

/// Requires `Authorization: Bearer <JWT>` and puts the verified caller into the context
/// (`APIRequestContext.principal`) for the handlers behind it: every `/api/v1` route. Log lines
/// about the request name a user as `user_id` and a service principal as `service_sub`.
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
        let principal: Principal
        do throws(AuthenticationError) {
            let token = try BearerCredentials.token(fromAuthorization: request.headers[values: .authorization])
            principal = try await verifier.verify(token)
        } catch {
            throw APIError(error)
        }
        var context = context
        context.principal = principal
        switch principal {
        case .user(let identity):
            context.requestRecord.userID = identity.userID
            context.logger[metadataKey: "user_id"] = .string(identity.userID.lowercasedString)
        case .service(let service):
            context.requestRecord.serviceSubject = service.subject
            context.logger[metadataKey: "service_sub"] = .string(service.subject)
        }
        return try await next(request, context)
    }
}
