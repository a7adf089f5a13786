import Logging
import Metrics
import Prometheus
import Synchronization

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
        factory.durationHistogramBuckets = durationHistogramBuckets
        MetricsSystem.bootstrap(factory)
        registerBuildInfo(on: registry)
        if let process = ProcessMetrics.register(on: registry) {
            addScrapeHook { process.update() }
        }
    }

    /// `build_info{version, commit} 1`: which build a process runs, for dashboards and for
    /// joining onto other series (`* on(instance) group_left(version) build_info`).
    static func registerBuildInfo(on registry: PrometheusCollectorRegistry) {
        registry.makeGauge(
            descriptor: MetricNameDescriptor(
                metricName: "build",
                unitName: "info",
                helpText: "Always 1; the labels name the release and the git commit of this build."
            ),
            labels: [("version", BuildInfo.version), ("commit", BuildInfo.commit)]
        ).set(1.0)
    }

    /// Work done right before each rendering of `/metrics`, for values cheaper to read at a
    /// scrape than to keep current (the process's CPU and memory, a pool's occupancy).
    private static let scrapeHooks = Mutex<[@Sendable () -> Void]>([])

    /// Adds `hook` to the work done before each rendering of `/metrics`; it must be quick and
    /// must not block on I/O beyond `/proc`.
    public static func addScrapeHook(_ hook: @escaping @Sendable () -> Void) {
        scrapeHooks.withLock { $0.append(hook) }
    }

    /// Buckets of the histograms that count things rather than time them.
    static let valueHistogramBuckets: [String: [Double]] = [
        // photo-api's `PhotoInsertBatcher`: rows per insert statement (at most 64).
        "photo_insert_batch_rows": [1, 2, 4, 8, 16, 32, 64]
    ]

    /// Buckets of the timers whose values sit below the default buckets' first (5 ms).
    static let durationHistogramBuckets: [String: [Duration]] = [
        // Waits for a pooled connection: zero when one is free, which is the common case.
        "postgres_pool_wait_seconds": [
            .microseconds(100), .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
            .milliseconds(2500), .seconds(5),
        ]
    ]

    /// `LOG_LEVEL` (trace, debug, info, notice, warning, error, critical); `nil` when invalid.
    public static func logLevel(from text: String?) -> Logger.Level? {
        guard let text, !text.isEmpty else { return .info }
        return Logger.Level(rawValue: text.lowercased())
    }

    /// The Prometheus text exposition of every metric recorded so far.
    public static func renderMetrics() -> [UInt8] {
        for hook in scrapeHooks.withLock({ $0 }) { hook() }
        return registry.emitToBuffer()
    }
}
