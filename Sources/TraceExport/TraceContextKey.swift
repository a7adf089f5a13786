import Domain
import Instrumentation

/// The W3C trace context of the current span, carried in swift-distributed-tracing's
/// `InstrumentationContext` (a task local), so a span started anywhere below a request or a
/// relay batch finds its parent.
public enum TraceContextKey: InstrumentationContextKey {
    public typealias Value = TraceContext
    public static let nameOverride: String? = "w3c-trace-context"
}

extension InstrumentationContext {
    /// The current span's trace context, if any.
    public var traceContext: TraceContext? {
        get { self[TraceContextKey.self] }
        set { self[TraceContextKey.self] = newValue }
    }
}
