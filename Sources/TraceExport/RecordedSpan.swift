import Domain
import Instrumentation
import Synchronization
import Tracing

/// A span of ``OTLPTracer``: its ids come from the W3C trace context it carries, so the id an
/// outbox event stores and the id exported are one. Sendable through a lock; it costs a lock
/// per change, and nothing at all when the trace is not sampled (``isRecording`` is false).
public final class RecordedSpan: Tracing.Span {
    public let context: InstrumentationContext
    public let isRecording: Bool
    let trace: TraceContext
    let parentSpanID: String?
    let kind: SpanKind
    let startNanoseconds: UInt64
    private let exporter: SpanExporter
    private let state: Mutex<State>

    struct State {
        var name: String
        var attributes = SpanAttributes()
        var status: SpanStatus?
        var events: [SpanEvent] = []
        var links: [SpanLink] = []
        var ended = false
    }

    init(
        name: String,
        kind: SpanKind,
        context: InstrumentationContext,
        trace: TraceContext,
        parentSpanID: String?,
        startNanoseconds: UInt64,
        exporter: SpanExporter
    ) {
        self.context = context
        self.trace = trace
        self.parentSpanID = parentSpanID
        self.kind = kind
        self.startNanoseconds = startNanoseconds
        self.isRecording = trace.sampled
        self.exporter = exporter
        self.state = Mutex(State(name: name))
    }

    public var operationName: String {
        get { state.withLock { $0.name } }
        set { state.withLock { $0.name = newValue } }
    }

    public var attributes: SpanAttributes {
        get { state.withLock { $0.attributes } }
        set {
            guard isRecording else { return }
            state.withLock { $0.attributes = newValue }
        }
    }

    public func setStatus(_ status: SpanStatus) {
        guard isRecording else { return }
        state.withLock { $0.status = status }
    }

    public func addEvent(_ event: SpanEvent) {
        guard isRecording else { return }
        state.withLock { $0.events.append(event) }
    }

    public func recordError<Instant: TracerInstant>(
        _ error: any Error,
        attributes: SpanAttributes,
        at instant: @autoclosure () -> Instant
    ) {
        guard isRecording else { return }
        var eventAttributes = attributes
        eventAttributes["exception.type"] = "\(type(of: error))"
        eventAttributes["exception.message"] = "\(error)"
        let event = SpanEvent(name: "exception", at: instant(), attributes: eventAttributes)
        state.withLock { state in
            state.events.append(event)
            if state.status == nil { state.status = SpanStatus(code: .error) }
        }
    }

    public func addLink(_ link: SpanLink) {
        guard isRecording else { return }
        state.withLock { $0.links.append(link) }
    }

    public func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {
        guard isRecording else { return }
        let end = instant().nanosecondsSinceEpoch
        let finished: FinishedSpan? = state.withLock { state in
            guard !state.ended else { return nil }
            state.ended = true
            return FinishedSpan(
                traceID: trace.traceID,
                spanID: trace.spanID,
                parentSpanID: parentSpanID,
                name: state.name,
                kind: kind,
                startNanoseconds: startNanoseconds,
                endNanoseconds: max(end, startNanoseconds),
                attributes: state.attributes,
                status: state.status,
                events: state.events
            )
        }
        if let finished { exporter.enqueue(finished) }
    }
}

/// What an ended span leaves for export.
struct FinishedSpan: Sendable {
    var traceID: String
    var spanID: String
    var parentSpanID: String?
    var name: String
    var kind: SpanKind
    var startNanoseconds: UInt64
    var endNanoseconds: UInt64
    var attributes: SpanAttributes
    var status: SpanStatus?
    var events: [SpanEvent]
}
