import Foundation
import HTTPTypes
import Hummingbird

/// CORS for browsers on the origins `CORS_ALLOWED_ORIGINS` lists (``CORSConfiguration``).
///
/// Not Hummingbird's `CORSMiddleware` (2.28), for three reasons found in its source: its list of
/// origins (`.oneOf`) is variadic, so it cannot take a list read at start; it sends
/// `Access-Control-Expose-Headers` only on preflights, where browsers ignore it, so scripts could
/// not read `X-Request-ID`, `Retry-After` or the rate-limit headers; and it answers a preflight for
/// any path with one fixed method list. This one:
///
/// - answers a preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) from an
///   allowed origin with 204 for any path a route exists at, allowing that path's methods
///   (``RouteMethodIndex``) and the request headers clients send (``allowedHeaders``); the
///   preflight is logged and counted under the route's pattern;
/// - adds `Access-Control-Allow-Origin` (the origin itself, or `*` in development) and
///   `Access-Control-Expose-Headers` to every response to an allowed origin, problem documents
///   included: it sits outside `ProblemMiddleware`, so a 401, 429 or 503 is readable by the
///   script that caused it;
/// - treats a request from any other origin as if CORS were off (a preflight is then the
///   `OPTIONS` request it is: 405 or 404), so the browser refuses the response;
/// - adds `Vary: Origin` to every response, since what it sends depends on `Origin` and a cache
///   must not hand one origin's answer to another.
///
/// No `Access-Control-Allow-Credentials`: the API authenticates with bearer tokens, never cookies.
/// Installed only when ``CORSConfiguration/isEnabled``: an empty `CORS_ALLOWED_ORIGINS` sends
/// nothing at all.
public struct CrossOriginMiddleware: RouterMiddleware {
    public typealias Context = APIRequestContext

    /// The request headers a browser client sends besides the CORS-safelisted ones.
    public static let allowedHeaders = [
        "Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID", "traceparent", "tracestate",
    ]
    /// The response headers scripts may read besides the CORS-safelisted ones.
    public static let exposedHeaders = [
        "X-Request-ID", "Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset",
        "WWW-Authenticate", "traceparent",
    ]
    /// How long a browser may reuse a preflight's answer, in seconds (Chromium caps it at 7200).
    public static let maxAgeSeconds = 600

    let configuration: CORSConfiguration
    let routeIndex: RouteMethodIndex
    private let allowHeadersValue = Self.allowedHeaders.joined(separator: ", ")
    private let exposeHeadersValue = Self.exposedHeaders.joined(separator: ", ")

    /// - Parameter routeIndex: the router's route table, to answer preflights with each path's
    ///   methods (filled once every route is added).
    public init(configuration: CORSConfiguration, routeIndex: RouteMethodIndex) {
        self.configuration = configuration
        self.routeIndex = routeIndex
    }

    public func handle(
        _ request: Request,
        context: APIRequestContext,
        next: (Request, APIRequestContext) async throws -> Response
    ) async throws -> Response {
        guard let origin = request.headers[.origin], let allowOrigin = configuration.allowOriginValue(for: origin)
        else {
            var response = try await next(request, context)
            Self.addVaryOrigin(to: &response.headers)
            return response
        }
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil,
            let route = await routeIndex.route(for: request, context: context)
        {
            // Name the route in the request log and metrics instead of `NotFound`.
            if let pattern = route.pattern {
                context.coreContext.endpointPath.value = pattern
            }
            var headers: HTTPFields = [
                .accessControlAllowOrigin: allowOrigin,
                .accessControlAllowMethods: route.methods.map(\.rawValue).joined(separator: ", "),
                .accessControlAllowHeaders: allowHeadersValue,
                .accessControlMaxAge: String(Self.maxAgeSeconds),
            ]
            Self.addVaryOrigin(to: &headers)
            return Response(status: .noContent, headers: headers)
        }
        var response = try await next(request, context)
        response.headers[.accessControlAllowOrigin] = allowOrigin
        response.headers[.accessControlExposeHeaders] = exposeHeadersValue
        Self.addVaryOrigin(to: &response.headers)
        return response
    }

    /// Adds `Origin` to `Vary` unless it is there already.
    static func addVaryOrigin(to headers: inout HTTPFields) {
        let present = headers[values: .vary].contains { value in
            value.split(separator: ",").contains { $0.trimmingCharacters(in: .whitespaces).lowercased() == "origin" }
        }
        if !present {
            headers.append(HTTPField(name: .vary, value: "Origin"))
        }
    }
}
