import Domain
import HTTPTypes
import Hummingbird
import Instrumentation
import Logging
import TraceExport
import Tracing

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
        var parent = InstrumentationContext.current ?? .topLevel
        parent.traceContext = incoming
        let route = context.endpointPath ?? "unmatched"
        return try await withSpan("\(request.method.rawValue) \(route)", context: parent, ofKind: .server) { span in
            // A recording tracer gave the span an id of its own; without export (the no-op
            // tracer), the request's span is a child of the caller's, or a new trace.
            let trace =
                span.context.traceContext.flatMap { $0 == incoming ? nil : $0 } ?? incoming?.child()
                ?? TraceContext.newTrace()
            var context = context
            context.trace = trace
            context.logger[metadataKey: "trace_id"] = .string(trace.traceID)
            if span.isRecording {
                span.attributes["http.request.method"] = request.method.rawValue
                span.attributes["http.route"] = route
                span.attributes["http.request_id"] = context.requestID
            }
            var response = try await next(request, context)
            if span.isRecording {
                span.attributes["http.response.status_code"] = Int64(response.status.code)
                if response.status.code >= 500 { span.setStatus(SpanStatus(code: .error)) }
            }
            response.headers[Self.traceParentName] = trace.traceParent
            return response
        }
    }
}
