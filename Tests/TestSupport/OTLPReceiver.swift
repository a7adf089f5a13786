import Foundation
import Hummingbird
import HummingbirdTesting
import Synchronization

/// A collector of OTLP/HTTP JSON traces on loopback (`POST /v1/traces`): what the processes
/// exported, as spans with their service's name.
public final class OTLPReceiver: Sendable {
    public struct ReceivedSpan: Sendable, Equatable {
        public var service: String
        public var traceID: String
        public var spanID: String
        public var parentSpanID: String?
        public var name: String
        /// OTLP's numbers: 1 internal, 2 server, 3 client, 4 producer, 5 consumer.
        public var kind: Int
        public var attributes: [String: String]
    }

    private let received = Mutex<[ReceivedSpan]>([])
    private let requests = Mutex(0)

    public init() {}

    public var spans: [ReceivedSpan] { received.withLock { $0 } }
    /// Export requests received, valid or not.
    public var requestCount: Int { requests.withLock { $0 } }

    /// Runs the receiver for the duration of `body`, which gets its base URL (the value for
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`).
    public func run(_ body: @escaping @Sendable (String) async throws -> Void) async throws {
        let router = Router()
        router.post("v1/traces") { request, _ -> Response in
            self.requests.withLock { $0 += 1 }
            guard request.headers[.contentType]?.hasPrefix("application/json") == true else {
                return Response(status: .unsupportedMediaType)
            }
            let body = try await request.body.collect(upTo: 10_000_000)
            guard let spans = Self.spans(in: Data(body.readableBytesView)) else { return Response(status: .badRequest) }
            self.received.withLock { $0 += spans }
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "{}")))
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { server in
            guard let port = server.port else { throw TestEnvironmentError("the OTLP receiver has no port") }
            try await body("http://127.0.0.1:\(port)")
        }
    }

    /// The spans of one OTLP JSON `ExportTraceServiceRequest`; `nil` when it is not one.
    static func spans(in data: Data) -> [ReceivedSpan]? {
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let resourceSpans = root["resourceSpans"] as? [[String: Any]]
        else { return nil }
        var spans: [ReceivedSpan] = []
        for resource in resourceSpans {
            let resourceAttributes = attributes((resource["resource"] as? [String: Any])?["attributes"])
            for scope in resource["scopeSpans"] as? [[String: Any]] ?? [] {
                for span in scope["spans"] as? [[String: Any]] ?? [] {
                    guard let traceID = span["traceId"] as? String, let spanID = span["spanId"] as? String,
                        let name = span["name"] as? String
                    else { return nil }
                    spans.append(
                        ReceivedSpan(
                            service: resourceAttributes["service.name"] ?? "",
                            traceID: traceID,
                            spanID: spanID,
                            parentSpanID: (span["parentSpanId"] as? String).flatMap { $0.isEmpty ? nil : $0 },
                            name: name,
                            kind: span["kind"] as? Int ?? 0,
                            attributes: attributes(span["attributes"])
                        )
                    )
                }
            }
        }
        return spans
    }

    /// OTLP `KeyValue`s as strings.
    static func attributes(_ value: Any?) -> [String: String] {
        var result: [String: String] = [:]
        for pair in value as? [[String: Any]] ?? [] {
            guard let key = pair["key"] as? String, let value = pair["value"] as? [String: Any] else { continue }
            if let text = value["stringValue"] as? String {
                result[key] = text
            } else if let number = value["intValue"] as? String {
                result[key] = number
            } else if let other = value.values.first {
                result[key] = "\(other)"
            }
        }
        return result
    }
}
