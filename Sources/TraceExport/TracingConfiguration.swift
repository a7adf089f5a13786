import AppConfig
import Foundation

/// The OpenTelemetry variables this service honours, read once at start. Without
/// `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) nothing is exported
/// and the tracer is swift-distributed-tracing's no-op one: requests still carry and store
/// trace ids (for logs and messages), but no span is recorded.
public struct TracingConfiguration: Sendable, Equatable {
    /// Where spans go: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as given, else
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`; `nil` disables export.
    public var tracesEndpoint: URL?
    /// `OTEL_SERVICE_NAME`, else the process's own name.
    public var serviceName: String
    /// `OTEL_RESOURCE_ATTRIBUTES`: `key=value` pairs, comma-separated, values percent-decoded.
    public var resourceAttributes: [(key: String, value: String)]
    public var sampler: Sampler
    /// `OTEL_BSP_SCHEDULE_DELAY` (ms): how often finished spans are sent.
    public var exportInterval: Duration
    /// `OTEL_BSP_MAX_QUEUE_SIZE`: finished spans held for export; more are dropped and counted.
    public var maximumQueueSize: Int

    public var isExporting: Bool { tracesEndpoint != nil }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.tracesEndpoint == rhs.tracesEndpoint && lhs.serviceName == rhs.serviceName
            && lhs.resourceAttributes.map { "\($0.key)=\($0.value)" }
                == rhs.resourceAttributes.map { "\($0.key)=\($0.value)" }
            && lhs.sampler == rhs.sampler && lhs.exportInterval == rhs.exportInterval
            && lhs.maximumQueueSize == rhs.maximumQueueSize
    }

    public init(environment: EnvironmentReader, defaultServiceName: String) throws {
        if let traces = try environment.url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            tracesEndpoint = traces
        } else if let base = try environment.url("OTEL_EXPORTER_OTLP_ENDPOINT") {
            var text = base.absoluteString
            while text.hasSuffix("/") { text.removeLast() }
            tracesEndpoint = URL(string: text + "/v1/traces")
        } else {
            tracesEndpoint = nil
        }
        if let proto = environment.string("OTEL_EXPORTER_OTLP_PROTOCOL"), proto != "http/json" {
            throw ConfigurationError(
                variable: "OTEL_EXPORTER_OTLP_PROTOCOL",
                reason: "must be http/json (the only protocol this service sends), got '\(proto)'"
            )
        }
        serviceName = environment.string("OTEL_SERVICE_NAME", default: defaultServiceName)
        resourceAttributes = try Self.resourceAttributes(environment.string("OTEL_RESOURCE_ATTRIBUTES"))
        sampler = try Sampler(
            name: environment.string("OTEL_TRACES_SAMPLER"),
            argument: environment.string("OTEL_TRACES_SAMPLER_ARG")
        )
        exportInterval = .milliseconds(
            try environment.integer("OTEL_BSP_SCHEDULE_DELAY", default: 5000, range: 10...600_000)
        )
        maximumQueueSize = try environment.integer("OTEL_BSP_MAX_QUEUE_SIZE", default: 2048, range: 1...1_000_000)
    }

    static func resourceAttributes(_ text: String?) throws -> [(key: String, value: String)] {
        guard let text, !text.isEmpty else { return [] }
        return try text.split(separator: ",").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, !parts[0].trimmingCharacters(in: .whitespaces).isEmpty,
                let value = String(parts[1]).trimmingCharacters(in: .whitespaces).removingPercentEncoding
            else {
                throw ConfigurationError(
                    variable: "OTEL_RESOURCE_ATTRIBUTES",
                    reason: "must be key=value pairs separated by commas, got '\(pair)'"
                )
            }
            return (String(parts[0]).trimmingCharacters(in: .whitespaces), value)
        }
    }
}

/// Which traces are recorded: OpenTelemetry's `OTEL_TRACES_SAMPLER` values. The decision is
/// made once, at a trace's root, and travels in the `sampled` flag; `parentbased_*` follow a
/// caller's flag and apply their root sampler only to traces that start here.
public enum Sampler: Sendable, Equatable {
    case alwaysOn
    case alwaysOff
    case traceIDRatio(Double)
    indirect case parentBased(root: Sampler)

    init(name: String?, argument: String?) throws {
        func ratio() throws -> Double {
            guard let argument else { return 1 }
            guard let value = Double(argument), (0...1).contains(value) else {
                throw ConfigurationError(
                    variable: "OTEL_TRACES_SAMPLER_ARG",
                    reason: "must be a ratio from 0 to 1, got '\(argument)'"
                )
            }
            return value
        }
        switch name ?? "parentbased_always_on" {
        case "always_on": self = .alwaysOn
        case "always_off": self = .alwaysOff
        case "traceidratio": self = .traceIDRatio(try ratio())
        case "parentbased_always_on": self = .parentBased(root: .alwaysOn)
        case "parentbased_always_off": self = .parentBased(root: .alwaysOff)
        case "parentbased_traceidratio": self = .parentBased(root: .traceIDRatio(try ratio()))
        case let other:
            throw ConfigurationError(
                variable: "OTEL_TRACES_SAMPLER",
                reason:
                    "must be always_on, always_off, traceidratio or parentbased_(always_on|always_off|traceidratio), got '\(other)'"
            )
        }
    }

    /// Whether a new span of trace `traceID` is sampled, given its parent's flag (`nil` at a root).
    public func isSampled(traceID: String, parentSampled: Bool?) -> Bool {
        switch self {
        case .alwaysOn: return true
        case .alwaysOff: return false
        case .traceIDRatio(let ratio):
            // As the specification: the trace id's last 8 bytes against the ratio, so every
            // process decides the same for one trace.
            guard let low = UInt64(traceID.suffix(16), radix: 16) else { return false }
            return Double(low >> 1) < ratio * Double(UInt64.max >> 1)
        case .parentBased(let root):
            return parentSampled ?? root.isSampled(traceID: traceID, parentSampled: nil)
        }
    }
}
