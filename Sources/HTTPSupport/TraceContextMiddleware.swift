import Domain
import HTTPTypes
import Hummingbird
import Logging

/// Joins every request to its caller's trace (W3C `traceparent` / `tracestate`), or starts a
/// new one when the request carries none or a malformed one (docs/operations.md, "Following one
/// photo").
///
/// The request's own span gets a new id under the caller's: ``APIRequestContext/trace`` is that
/// span's context, which a writing transaction stores with its outbox event, so the relay's SQS
/// message names this request as its parent. `trace_id` goes into the logger's metadata for
/// every line logged about the request, and the response carries the request's `traceparent`,
/// so a client that sent none can still find its trace.
public struct TraceContextMiddleware: RouterMiddleware {
    public typealias Context = APIRequestContext

    public static let traceParentName = HTTPField.Name("traceparent")!
    public static let traceStateName = HTTPField.Name("tracestate")!

    public init() {}

    public func handle(
        _ request: Request,
        context: APIRequestContext,
        next: (Request, APIRequestContext) async throws -> Response
    ) async throws -> Response {
        // Several `tracestate` fields are one list, in order (RFC 9110's field combination).
        let traceState = request.headers[values: Self.traceStateName]
        let incoming = TraceContext(
            traceParent: request.headers[Self.traceParentName],
            traceState: traceState.isEmpty ? nil : traceState.joined(separator: ",")
        )
        let trace = incoming?.child() ?? TraceContext.newTrace()
        var context = context
        context.trace = trace
        context.logger[metadataKey: "trace_id"] = .string(trace.traceID)
        var response = try await next(request, context)
        response.headers[Self.traceParentName] = trace.traceParent
        return response
    }
}
