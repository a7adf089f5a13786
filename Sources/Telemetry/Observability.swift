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
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.valueHistogramBuckets = valueHistogramBuckets
        MetricsSystem.bootstrap(factory)
    }

    /// Buckets of the histograms that count things rather than time them.
    static let valueHistogramBuckets: [String: [Double]] = [
        // photo-api's `PhotoInsertBatcher`: rows per insert statement (at most 64).
        "photo_insert_batch_rows": [1, 2, 4, 8, 16, 32, 64]
    ]

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
