import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// Which methods a path answers to, so that `PUT /api/v1/whoami` is a 405 with `Allow: GET`
/// rather than Hummingbird's 404 (its router answers 404 for any unmatched method).
///
/// It keeps a second, inert router with the same route patterns as the real one, each answering
/// 204 without running anything. Asking it for each known method tells which ones match, with
/// Hummingbird's own path matching (parameters, wildcards), only on requests that already failed.
///
/// Build it with ``index(_:)`` after the last route is registered; routes added later are not
/// known to it, and a request for them with the wrong method stays a 404.
public final class RouteMethodIndex: Sendable {
    /// What `context.endpointPath` reads when no route matched (set by Hummingbird's router).
    static let notFoundEndpoint = "NotFound"

    private struct Snapshot: Sendable {
        let responder: RouterResponder<APIRequestContext>
        let methods: [HTTPRequest.Method]
    }

    private let snapshot = Mutex<Snapshot?>(nil)

    public init() {}

    /// Records `router`'s current routes.
    public func index(_ router: Router<APIRequestContext>) {
        let probe = Router(context: APIRequestContext.self)
        var methods: [HTTPRequest.Method] = []
        for route in router.routes {
            probe.on(route.path, method: route.method) { _, _ in Response(status: .noContent) }
            if !methods.contains(route.method) {
                methods.append(route.method)
            }
        }
        let built = Snapshot(responder: probe.buildResponder(), methods: methods.sorted { $0.rawValue < $1.rawValue })
        snapshot.withLock { $0 = built }
    }

    /// The methods routes exist for at `request`'s path; empty when the path is unknown.
    func allowedMethods(for request: Request, context: APIRequestContext) async -> [HTTPRequest.Method] {
        await route(for: request, context: context)?.methods ?? []
    }

    /// A route pattern and the methods it answers to, other than the request's own.
    struct Match {
        /// As Hummingbird writes it for `context.endpointPath`, e.g. `/api/v1/photos/{photo_id}`
        /// (never the raw path, which would put ids into metric labels).
        let pattern: String?
        let methods: [HTTPRequest.Method]
    }

    /// The route at `request`'s path, for methods other than its own, or `nil` when there is none.
    func route(for request: Request, context: APIRequestContext) async -> Match? {
        guard let snapshot = snapshot.withLock({ $0 }) else { return nil }
        var allowed: [HTTPRequest.Method] = []
        var pattern: String?
        for method in snapshot.methods where method != request.method {
            var probeContext = context
            // A fresh endpoint path: the probe must not relabel the real request's route.
            probeContext.coreContext.endpointPath = EndpointPath()
            let probeRequest = Request(
                head: HTTPRequest(method: method, scheme: nil, authority: nil, path: request.uri.path),
                body: RequestBody(buffer: ByteBuffer())
            )
            let response = try? await snapshot.responder.respond(to: probeRequest, context: probeContext)
            if response?.status == .noContent {
                allowed.append(method)
                pattern = pattern ?? probeContext.coreContext.endpointPath.value
            }
        }
        guard !allowed.isEmpty else { return nil }
        return Match(pattern: pattern, methods: allowed)
    }
}
