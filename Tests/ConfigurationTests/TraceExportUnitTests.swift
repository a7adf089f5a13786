import AppConfig
import Domain
import Foundation
import Instrumentation
import Testing
import Tracing

@testable import TraceExport

/// The tracer's propagation, its spans' life and the OTLP JSON they are exported as, without
/// a process or a collector (`TracingExportTests` runs both processes against a receiver).
@Suite struct TraceExportUnitTests {
    struct HeaderExtractor: Extractor {
        func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
    }

    struct HeaderInjector: Injector {
        func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
    }

    static let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    @Test func headersAreExtractedAndInjectedAsW3CTraceContext() {
        let tracer = OTLPTracer(sampler: .alwaysOn, exporter: SpanExporter(maximumQueueSize: 10))
        var context = InstrumentationContext.topLevel
        tracer.extract(["traceparent": Self.parent, "tracestate": "v=1"], into: &context, using: HeaderExtractor())
        #expect(context.traceContext?.traceParent == Self.parent)
        var headers: [String: String] = [:]
        tracer.inject(context, into: &headers, using: HeaderInjector())
        #expect(headers == ["traceparent": Self.parent, "tracestate": "v=1"])
        var untouched = InstrumentationContext.topLevel
        tracer.extract(["traceparent": "garbage"], into: &untouched, using: HeaderExtractor())
        #expect(untouched.traceContext == nil)
    }

    /// A child span keeps the trace and names its parent; an ended span is queued once, with its
    /// attributes, status and error event, and the JSON is OTLP's mapping.
    @Test func anEndedSpanIsExportedOnceAsOTLPJSON() throws {
        let exporter = SpanExporter(maximumQueueSize: 10)
        let tracer = OTLPTracer(sampler: .parentBased(root: .alwaysOn), exporter: exporter)
        var parent = InstrumentationContext.topLevel
        parent.traceContext = TraceContext(traceParent: Self.parent)
        let span = tracer.startSpan("db photo_store_confirm_upload", context: parent, ofKind: .client)
        #expect(span.isRecording)
        #expect(span.context.traceContext?.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
        span.attributes["db.system"] = "postgresql"
        span.attributes["rows"] = 3
        span.recordError(TestError())
        span.end()
        span.end()
        let (spans, dropped) = exporter.drain()
        #expect(spans.count == 1)
        #expect(dropped == 0)
        let configuration = try TracingConfiguration(
            environment: .init(["OTEL_SERVICE_NAME": "photos", "OTEL_RESOURCE_ATTRIBUTES": "team=field"]),
            defaultServiceName: "photo-api"
        )
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(OTLPJSON.encode(spans, configuration: configuration)))
                as? [String: Any]
        )
        let resource = try #require((json["resourceSpans"] as? [[String: Any]])?.first)
        let resourceAttributes = (resource["resource"] as? [String: Any])?["attributes"] as? [[String: Any]]
        #expect(resourceAttributes?.compactMap { $0["key"] as? String } == ["service.name", "team"])
        let exported = try #require(
            ((resource["scopeSpans"] as? [[String: Any]])?.first?["spans"] as? [[String: Any]])?.first
        )
        #expect(exported["traceId"] as? String == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(exported["parentSpanId"] as? String == "00f067aa0ba902b7")
        #expect(exported["kind"] as? Int == 3)
        #expect((exported["status"] as? [String: Any])?["code"] as? Int == 2)
        let attributes = exported["attributes"] as? [[String: Any]] ?? []
        #expect(
            attributes.contains {
                $0["key"] as? String == "rows" && ($0["value"] as? [String: Any])?["intValue"] as? String == "3"
            }
        )
        #expect((exported["events"] as? [[String: Any]])?.first?["name"] as? String == "exception")
    }

    /// An unsampled trace records nothing, and a full queue drops and counts.
    @Test func unsampledSpansCostNothingAndAFullQueueDrops() {
        let exporter = SpanExporter(maximumQueueSize: 2)
        let off = OTLPTracer(sampler: .alwaysOff, exporter: exporter)
        let quiet = off.startSpan("ignored", context: .topLevel, ofKind: .internal)
        #expect(!quiet.isRecording)
        #expect(quiet.context.traceContext?.sampled == false)
        quiet.end()
        #expect(exporter.drain().spans.isEmpty)
        let on = OTLPTracer(sampler: .alwaysOn, exporter: exporter)
        for _ in 0..<5 { on.startSpan("kept", context: .topLevel, ofKind: .internal).end() }
        let (spans, dropped) = exporter.drain()
        #expect(spans.count == 2)
        #expect(dropped == 3)
    }

    struct TestError: Error {}
}
