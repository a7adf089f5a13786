import Auth
import Domain
import Hummingbird
import Logging

/// The request context of every `photo-api` route.
///
/// It carries what the middlewares learn about a request to the handlers: the request id
/// (`RequestIDMiddleware`) and, on `/api/v1`, the caller's identity (`AuthenticationMiddleware`).
/// It also caps decoded request bodies at ``maximumBodyBytes``.
public struct APIRequestContext: RequestContext {
    /// JSON bodies larger than this are refused with 413 `payload_too_large`: the API's requests
    /// are small JSON documents (images go straight to S3), so anything bigger is a mistake or abuse.
    public static let maximumBodyBytes = 64 * 1024

    public var coreContext: CoreRequestContextStorage
    /// The request's id, as sent back in `X-Request-ID` and in every problem document.
    public var requestID: String
    /// The verified caller; `nil` outside `/api/v1` (which refuses requests without one).
    public var principal: Principal?
    /// This request's span in its trace (`TraceContextMiddleware`); `nil` only before it ran.
    public var trace: TraceContext?
    /// Shared by every copy of this context, so the request log line (written by a middleware
    /// outside the one that authenticates) can name the user.
    let requestRecord: RequestRecord

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        // Hummingbird's own id until `RequestIDMiddleware` replaces it.
        requestID = source.logger[metadataKey: "hb.request.id"]?.description ?? ""
        principal = nil
        trace = nil
        requestRecord = RequestRecord()
    }

    /// `request.decode(as:context:)` refuses bodies over this limit with a 413.
    public var maxUploadSize: Int { Self.maximumBodyBytes }

    /// The verified caller, user or service, or 401 `unauthorized` when the route is not behind
    /// authentication. Only the routes open to service principals (reading a photo, changing its
    /// status) ask for this; the others ask for ``requireIdentity()``.
    public func requirePrincipal() throws(APIError) -> Principal {
        guard let principal else {
            throw APIError(AuthenticationError.credentialsMissing("authentication is required"))
        }
        return principal
    }

    /// The verified user: 401 `unauthorized` without a caller, 403 `forbidden` for a service
    /// principal, which may only read photos and change their status (docs/security.md).
    public func requireIdentity() throws(APIError) -> AuthenticatedIdentity {
        guard let user = try requirePrincipal().user else {
            throw APIError.forbidden(
                "a service token may only read photos and change their status",
                logDetail: "service principal on a user route"
            )
        }
        return user
    }

    /// The verified caller when its token carries `scope` (``Principal/require(scope:)``);
    /// 403 `forbidden` otherwise.
    @discardableResult
    public func requireScope(_ scope: String) throws(APIError) -> Principal {
        let principal = try requirePrincipal()
        do throws(AuthorizationError) {
            try principal.require(scope: scope)
        } catch {
            throw APIError(error)
        }
        return principal
    }
}
