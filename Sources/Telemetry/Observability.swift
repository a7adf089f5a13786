import Logging
import Metrics
import Prometheus

/// Process-wide logging and metrics set-up, done once by each executable before anything
/// logs or records.
public enum Observability {
    /// The registry `/metrics` renders.
    public static let registry = PrometheusCollectorRegistry()

    /// Sends logs to `JSONLogHandler` at `level` and metrics to the Prometheus registry.
    public static func bootstrap(logLevel: Logger.Level) {
        LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: logLevel) }
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
    }

    /// `LOG_LEVEL` (trace, debug, info, notice, warning, error, critical); `nil` when invalid.
    public static func logLevel(from text: String?) -> Logger.Level? {
        guard let text, !text.isEmpty else { return .info }
        return Logger.Level(rawValue: text.lowercased())
    }

    /// The Prometheus text exposition of every metric recorded so far.
    public static func renderMetrics() -> [UInt8] {
        registry.emitToBuffer()
    }
}
