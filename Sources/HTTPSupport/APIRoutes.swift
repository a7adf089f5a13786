import Auth
import Hummingbird
import Metrics

/// The HTTP plumbing every `photo-api` route shares, usable by the application and by tests
/// that need a router with extra routes.
public enum APIRoutes {
    /// Adds the router-wide middlewares, outermost first:
    ///
    /// 1. `RequestIDMiddleware`: assigns the id first, so that everything after it (problem
    ///    documents, log lines) can name it, and sets `X-Request-ID` on whatever comes back.
    /// 2. `TraceContextMiddleware`: joins the caller's trace (or starts one), so the request's
    ///    log lines carry `trace_id` and its writes can store the trace with their events.
    /// 3. `RequestTelemetryMiddleware`: times each request once, counts it by route pattern and
    ///    the response's status (`metricsFactory`, the global one by default) and logs it, with
    ///    the code and reason of a failed request as the problem middleware recorded them.
    /// 4. `CrossOriginMiddleware`, only when `cors` allows some origin: answers preflights and
    ///    adds the CORS headers to every response, problem documents included, since it sits
    ///    outside the problem middleware (and inside the others, so preflights carry a request
    ///    id and are logged and counted like any request).
    /// 5. `ProblemMiddleware`: innermost, so it is the only one that sees thrown errors; it
    ///    classifies each one once, answers with a problem document and records the problem on
    ///    the request's `RequestRecord` for the log line. Everything outside it sees a response.
    ///
    /// Hummingbird applies router middleware only to routes added after it: call this before
    /// adding any route. Authentication is not here but on the `/api/v1` group (``addVersion1(to:verifier:)``),
    /// so `/healthz`, `/readyz`, `/metrics` and `/openapi.yaml` stay open.
    public static func addMiddleware(
        to router: Router<APIRequestContext>,
        routeIndex: RouteMethodIndex,
        cors: CORSConfiguration = .disabled,
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        router.add(middleware: RequestIDMiddleware())
        router.add(middleware: TraceContextMiddleware())
        router.add(middleware: RequestTelemetryMiddleware(metricsFactory: metricsFactory))
        if cors.isEnabled {
            router.add(middleware: CrossOriginMiddleware(configuration: cors, routeIndex: routeIndex))
        }
        router.add(middleware: ProblemMiddleware(routeIndex: routeIndex))
    }

    /// The `/api/v1` group, behind bearer-token authentication, with `GET /api/v1/whoami`.
    /// Every `/api/v1` endpoint is added to the returned group.
    public static func addVersion1(
        to router: Router<APIRequestContext>,
        verifier: TokenVerifier
    ) -> RouterGroup<APIRequestContext> {
        let group = router.group("api/v1").add(middleware: AuthenticationMiddleware(verifier: verifier))
        WhoAmIRoute.add(to: group)
        return group
    }
}
