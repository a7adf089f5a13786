import Hummingbird
import Logging
import Metrics

/// Times each request once and, from its response, records its route metrics (``RouteMetrics``)
/// and writes its log line (``RequestLog``).
///
/// It sits outside `ProblemMiddleware`, so it only ever sees a response: the status is the one
/// the client gets, and a failed request's code and reason come from the request's
/// `RequestRecord`, where `ProblemMiddleware` put them when it classified the error.
public struct RequestTelemetryMiddleware: RouterMiddleware {
    public typealias Context = APIRequestContext

    let metrics: RouteMetrics
    let log: RequestLog

    /// - Parameters:
    ///   - metricsFactory: where the route metrics go (see ``RouteMetrics/init(factory:)``).
    ///   - logLevel: the level of successful requests' lines; server errors log at `error`.
    public init(metricsFactory: any MetricsFactory = MetricsSystem.factory, logLevel: Logger.Level = .info) {
        metrics = RouteMetrics(factory: metricsFactory)
        log = RequestLog(level: logLevel)
    }

    public func handle(
        _ request: Request,
        context: APIRequestContext,
        next: (Request, APIRequestContext) async throws -> Response
    ) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        let elapsed = ContinuousClock.now - start
        let status = Int(response.status.code)
        metrics.record(request, context, status: status, elapsed: elapsed)
        log.write(request, context, status: status, elapsed: elapsed)
        return response
    }
}
