import Hummingbird
import Logging

/// The one place where errors become HTTP responses: every error a handler (or an inner
/// middleware, or Hummingbird's router) throws comes out as an RFC 9457 problem document.
///
/// `APIError`s keep their code; Auth's refusals become 401 `unauthorized` and 403 `forbidden`;
/// Hummingbird's 400 (undecodable JSON), 404 (no route), 413 (body over the limit) become
/// `invalid_request`, `not_found`, `payload_too_large`, and a 404 for a path that exists with
/// other methods becomes 405 `method_not_allowed` with `Allow`. Anything unexpected, Postgres
/// errors included, becomes 500 `internal_error`: the client gets a fixed sentence and the
/// request id, the log gets the error.
///
/// It is the innermost of the router-wide middlewares and never throws, so it is the only one
/// that sees errors and it classifies each failed request exactly once: it records the problem
/// on the request's `RequestRecord`, from which `RequestTelemetryMiddleware`'s log line takes the code and the
/// log-only reason, while the telemetry and `RequestIDMiddleware` only ever see the
/// response. Authentication sits inside it, on the `/api/v1` group, so its failures are mapped too.
public struct ProblemMiddleware: RouterMiddleware {
    public typealias Context = APIRequestContext

    let routeIndex: RouteMethodIndex?

    /// - Parameter routeIndex: the router's route table, to tell 405 from 404; without it every
    ///   unmatched request is a 404.
    public init(routeIndex: RouteMethodIndex? = nil) {
        self.routeIndex = routeIndex
    }

    public func handle(
        _ request: Request,
        context: APIRequestContext,
        next: (Request, APIRequestContext) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let problem = await APIError.classify(error, request: request, context: context, routeIndex: routeIndex)
            context.requestRecord.problem = problem
            if problem.code == .internalError {
                context.logger.error(
                    "request failed",
                    metadata: [
                        "error_type": "\(type(of: error))",
                        "error": "\(problem.logDetail ?? problem.detail)",
                    ]
                )
            }
            return ProblemDocument(error: problem, requestID: context.requestID).response(for: problem)
        }
    }
}
