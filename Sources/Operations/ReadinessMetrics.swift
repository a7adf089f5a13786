import Metrics
import Synchronization

/// What `/readyz` answered, for the "readiness flapping" alert: a load balancer that keeps
/// taking a process out and putting it back serves errors in between, and Prometheus does not
/// scrape `/readyz` itself.
///
/// - `readiness_ready`: 1 when the last `/readyz` answered 200, 0 when it answered 503;
/// - `readiness_changes_total`: how often the answer changed between 200 and 503.
final class ReadinessMetrics: Sendable {
    private let ready: Gauge
    private let changes: Counter
    /// The last answer; `nil` before the first probe.
    private let last = Mutex<Bool?>(nil)

    init(factory: any MetricsFactory = MetricsSystem.factory) {
        ready = Gauge(label: "readiness_ready", factory: factory)
        changes = Counter(label: "readiness_changes_total", factory: factory)
    }

    /// Records one `/readyz` answer.
    func record(ready isReady: Bool) {
        let changed = last.withLock { last -> Bool in
            defer { last = isReady }
            return last.map { $0 != isReady } ?? false
        }
        ready.record(isReady ? 1 : 0)
        if changed { changes.increment() }
    }
}
