import Domain
import Instrumentation
import Tracing

/// swift-distributed-tracing's `Tracer` over W3C trace contexts, exporting with OTLP/HTTP JSON
/// (``OTLPExporter``). A span's parent is the trace context in its `InstrumentationContext`
/// (``TraceContextKey``); the sampling decision is the configured ``Sampler``'s.
///
/// Why not swift-otel: its OTLP exporters bring async-http-client, swift-nio-ssl (BoringSSL) and
/// swift-protobuf into a build that talks HTTP through libcurl already; this tracer and its
/// exporter are a few hundred lines over that client (docs/operations.md, "Tracing").
public struct OTLPTracer: Tracer {
    public typealias Span = RecordedSpan

    let sampler: Sampler
    let exporter: SpanExporter

    init(sampler: Sampler, exporter: SpanExporter) {
        self.sampler = sampler
        self.exporter = exporter
    }

    public func startSpan<Instant: TracerInstant>(
        _ operationName: String,
        context: @autoclosure () -> InstrumentationContext,
        ofKind kind: SpanKind,
        at instant: @autoclosure () -> Instant,
        function: String,
        file fileID: String,
        line: UInt
    ) -> RecordedSpan {
        var context = context()
        let parent = context.traceContext
        let fresh = parent?.child() ?? TraceContext.newTrace()
        let trace = TraceContext(
            traceID: fresh.traceID,
            spanID: fresh.spanID,
            sampled: sampler.isSampled(traceID: fresh.traceID, parentSampled: parent?.sampled),
            traceState: parent?.traceState
        )
        context.traceContext = trace
        return RecordedSpan(
            name: operationName,
            kind: kind,
            context: context,
            trace: trace,
            parentSpanID: parent?.spanID,
            startNanoseconds: instant().nanosecondsSinceEpoch,
            exporter: exporter
        )
    }

    public func forceFlush() {
        exporter.requestFlush()
    }

    /// Reads `traceparent` and `tracestate` from the carrier.
    public func extract<Carrier, Extract: Extractor>(
        _ carrier: Carrier,
        into context: inout InstrumentationContext,
        using extractor: Extract
    ) where Extract.Carrier == Carrier {
        if let trace = TraceContext(
            traceParent: extractor.extract(key: "traceparent", from: carrier),
            traceState: extractor.extract(key: "tracestate", from: carrier)
        ) {
            context.traceContext = trace
        }
    }

    /// Writes the current span's `traceparent` (and `tracestate`) into the carrier.
    public func inject<Carrier, Inject: Injector>(
        _ context: InstrumentationContext,
        into carrier: inout Carrier,
        using injector: Inject
    ) where Inject.Carrier == Carrier {
        guard let trace = context.traceContext else { return }
        injector.inject(trace.traceParent, forKey: "traceparent", into: &carrier)
        if let state = trace.traceState {
            injector.inject(state, forKey: "tracestate", into: &carrier)
        }
    }
}
