import Hummingbird
import Metrics

/// Records `http_requests_total` (counter) and `http_request_duration_seconds` (timer, a
/// histogram in Prometheus) for every request, with the dimensions `method`, `route` and
/// `status`.
///
/// `route` is the matched route pattern as Hummingbird writes it (`/api/v1/photos/{photo_id}`, the
/// same as the request log's), never the raw path, so ids cannot blow up the number of series;
/// an unmatched request is `NotFound`.
///
/// It sits just outside `RequestLogMiddleware`, inside `ProblemMiddleware`, so a failed request
/// reaches it as a thrown error: it records the status `ProblemMiddleware` will answer with
/// (through `APIError.classify`, the same classification) and rethrows.
public struct RouteMetricsMiddleware: RouterMiddleware {
    public typealias Context = APIRequestContext

    /// The counter's name.
    public static let requestsLabel = "http_requests_total"
    /// The timer's name.
    public static let durationLabel = "http_request_duration_seconds"

    let routeIndex: RouteMethodIndex?
    let factory: any MetricsFactory

    /// - Parameters:
    ///   - routeIndex: the same index `ProblemMiddleware` uses, so 405s are counted as 405.
    ///   - factory: where the metrics go; the process-wide `MetricsSystem.factory` by default
    ///     (bootstrapped to Prometheus by the executable). Tests pass their own, since the
    ///     global factory can be bootstrapped only once per process.
    public init(routeIndex: RouteMethodIndex? = nil, factory: any MetricsFactory = MetricsSystem.factory) {
        self.routeIndex = routeIndex
        self.factory = factory
    }

    public func handle(
        _ request: Request,
        context: APIRequestContext,
        next: (Request, APIRequestContext) async throws -> Response
    ) async throws -> Response {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            record(request, context, status: Int(response.status.code), since: start)
            return response
        } catch {
            let problem = await APIError.classify(error, request: request, context: context, routeIndex: routeIndex)
            record(request, context, status: Int(problem.status.code), since: start)
            throw error
        }
    }

    /// The `route` dimension: the matched pattern, or `NotFound` when nothing matched.
    static func routeLabel(_ endpointPath: String?) -> String {
        guard let endpointPath, !endpointPath.isEmpty else { return RouteMethodIndex.notFoundEndpoint }
        return endpointPath
    }

    private func record(
        _ request: Request,
        _ context: APIRequestContext,
        status: Int,
        since start: ContinuousClock.Instant
    ) {
        let elapsed = ContinuousClock.now - start
        let dimensions = [
            ("method", request.method.rawValue),
            ("route", Self.routeLabel(context.endpointPath)),
            ("status", String(status)),
        ]
        Counter(label: Self.requestsLabel, dimensions: dimensions, factory: factory).increment()
        let nanoseconds = elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
        Timer(label: Self.durationLabel, dimensions: dimensions, factory: factory).recordNanoseconds(nanoseconds)
    }
}
