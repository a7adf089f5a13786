import Foundation
import Tracing

/// OTLP's JSON encoding of a batch of spans (the protobuf messages' JSON mapping: ids as hex,
/// 64-bit integers as strings, enums as numbers), under one resource and one scope.
enum OTLPJSON {
    struct Request: Encodable {
        var resourceSpans: [ResourceSpans]
    }
    struct ResourceSpans: Encodable {
        var resource: Resource
        var scopeSpans: [ScopeSpans]
    }
    struct Resource: Encodable {
        var attributes: [KeyValue]
    }
    struct ScopeSpans: Encodable {
        var scope: Scope
        var spans: [SpanJSON]
    }
    struct Scope: Encodable {
        var name: String
    }
    struct SpanJSON: Encodable {
        var traceId: String
        var spanId: String
        var parentSpanId: String?
        var name: String
        var kind: Int
        var startTimeUnixNano: String
        var endTimeUnixNano: String
        var attributes: [KeyValue]
        var events: [Event]
        var status: Status
    }
    struct Event: Encodable {
        var timeUnixNano: String
        var name: String
        var attributes: [KeyValue]
    }
    struct Status: Encodable {
        var code: Int
        var message: String?
    }
    struct KeyValue: Encodable {
        var key: String
        var value: AnyValue
    }
    struct AnyValue: Encodable {
        var stringValue: String?
        var intValue: String?
        var doubleValue: Double?
        var boolValue: Bool?
    }

    static func encode(_ spans: [FinishedSpan], configuration: TracingConfiguration) -> [UInt8] {
        var resource = [KeyValue(key: "service.name", value: AnyValue(stringValue: configuration.serviceName))]
        resource += configuration.resourceAttributes.filter { $0.key != "service.name" }
            .map { KeyValue(key: $0.key, value: AnyValue(stringValue: $0.value)) }
        let request = Request(resourceSpans: [
            ResourceSpans(
                resource: Resource(attributes: resource),
                scopeSpans: [ScopeSpans(scope: Scope(name: "photo-upload"), spans: spans.map(span))]
            )
        ])
        return (try? Array(JSONEncoder().encode(request))) ?? []
    }

    static func span(_ span: FinishedSpan) -> SpanJSON {
        SpanJSON(
            traceId: span.traceID,
            spanId: span.spanID,
            parentSpanId: span.parentSpanID,
            name: span.name,
            kind: kind(span.kind),
            startTimeUnixNano: String(span.startNanoseconds),
            endTimeUnixNano: String(span.endNanoseconds),
            attributes: keyValues(span.attributes),
            events: span.events.map {
                Event(
                    timeUnixNano: String($0.nanosecondsSinceEpoch),
                    name: $0.name,
                    attributes: keyValues($0.attributes)
                )
            },
            status: status(span.status)
        )
    }

    static func kind(_ kind: SpanKind) -> Int {
        switch kind {
        case .internal: 1
        case .server: 2
        case .client: 3
        case .producer: 4
        case .consumer: 5
        }
    }

    static func status(_ status: SpanStatus?) -> Status {
        switch status?.code {
        case .ok: Status(code: 1, message: status?.message)
        case .error: Status(code: 2, message: status?.message)
        case nil: Status(code: 0)
        }
    }

    static func keyValues(_ attributes: SpanAttributes) -> [KeyValue] {
        var values: [KeyValue] = []
        // `SpanAttributes` is no `Sequence`: `forEach` is its only way through.
        // swift-format-ignore: ReplaceForEachWithForLoop
        attributes.forEach { key, attribute in
            values.append(KeyValue(key: key, value: value(attribute)))
        }
        return values.sorted { $0.key < $1.key }
    }

    static func value(_ attribute: SpanAttribute) -> AnyValue {
        switch attribute {
        case .int32(let value): AnyValue(intValue: String(value))
        case .int64(let value): AnyValue(intValue: String(value))
        case .double(let value): AnyValue(doubleValue: value)
        case .bool(let value): AnyValue(boolValue: value)
        case .string(let value): AnyValue(stringValue: value)
        default: AnyValue(stringValue: "\(attribute)")
        }
    }
}
