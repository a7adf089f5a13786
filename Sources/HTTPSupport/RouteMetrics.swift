import Hummingbird
import Metrics
import Synchronization

/// `http_requests_total` (counter) and `http_request_duration_seconds` (timer, a histogram in
/// Prometheus) for every request, with the dimensions `method`, `route` and `status`.
///
/// `route` is the matched route pattern as Hummingbird writes it (`/api/v1/photos/{photo_id}`, the
/// same as the request log's), never the raw path, so ids cannot blow up the number of series;
/// an unmatched request is `NotFound`.
///
/// `RequestTelemetryMiddleware` records them from the response, outside `ProblemMiddleware`, so
/// the status counted is the one the client gets; errors were classified (once) before.
public struct RouteMetrics: Sendable {
    /// The counter's name.
    public static let requestsLabel = "http_requests_total"
    /// The timer's name.
    public static let durationLabel = "http_request_duration_seconds"

    let factory: any MetricsFactory
    /// The counter and timer of each (method, route, status) seen so far.
    private let handles = MetricHandles()

    /// - Parameter factory: where the metrics go; the process-wide `MetricsSystem.factory` by
    ///   default (bootstrapped to Prometheus by the executable). Tests pass their own, since the
    ///   global factory can be bootstrapped only once per process.
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
    }

    /// The `route` dimension: the matched pattern, or `NotFound` when nothing matched.
    static func routeLabel(_ endpointPath: String?) -> String {
        guard let endpointPath, !endpointPath.isEmpty else { return RouteMethodIndex.notFoundEndpoint }
        return endpointPath
    }

    /// Counts `request`, answered with `status` after `elapsed`.
    func record(_ request: Request, _ context: APIRequestContext, status: Int, elapsed: Duration) {
        let (counter, timer) = handles.handles(
            method: request.method.rawValue,
            route: Self.routeLabel(context.endpointPath),
            status: status,
            factory: factory
        )
        counter.increment()
        let nanoseconds = elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
        timer.recordNanoseconds(nanoseconds)
    }
}

/// `Counter` and `Timer` objects by their dimensions, made once each.
///
/// Making them per request asked the factory every time, and Prometheus's factory sanitises
/// the names and looks the series up in its registry under a lock each time. The set of keys
/// is bounded like the series themselves (route patterns, not paths); past ``capacity`` keys
/// (only odd methods could get there) the handles are made per request as before, without
/// being kept.
private final class MetricHandles: Sendable {
    static let capacity = 512

    private struct Key: Hashable {
        let method: String
        let route: String
        let status: Int
    }

    private let table = Mutex<[Key: (Counter, Timer)]>([:])

    func handles(method: String, route: String, status: Int, factory: any MetricsFactory) -> (Counter, Timer) {
        let key = Key(method: method, route: route, status: status)
        if let found = table.withLock({ $0[key] }) { return found }
        let dimensions = [("method", method), ("route", route), ("status", String(status))]
        let made = (
            Counter(label: RouteMetrics.requestsLabel, dimensions: dimensions, factory: factory),
            Timer(label: RouteMetrics.durationLabel, dimensions: dimensions, factory: factory)
        )
        return table.withLock { table in
            if let found = table[key] { return found }
            if table.count < Self.capacity { table[key] = made }
            return made
        }
    }
}
