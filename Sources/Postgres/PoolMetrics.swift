import Metrics

/// A connection pool's metrics, for the operators' question "is the database pool the
/// bottleneck?":
///
/// - `postgres_pool_connections{state}`: connections `in_use` (lent, or being opened for a
///   borrower) and `idle`; set by ``ConnectionPool/recordOccupancy()``, which the processes
///   call before each rendering of `/metrics`;
/// - `postgres_pool_max_connections`: the pool's size (`DATABASE_POOL_SIZE` in photo-api);
/// - `postgres_pool_waiting_borrowers`: borrowers queued for a connection at that moment;
/// - `postgres_pool_wait_seconds` (histogram): how long each borrow waited for its connection,
///   zero when one was free;
/// - `postgres_pool_wait_timeouts_total`: borrowers that gave up waiting (the answer deadline
///   passed), each a failed request or statement.
///
/// A process has one pool; a second one would write the same series.
struct PoolMetrics: Sendable {
    let inUse: Gauge
    let idle: Gauge
    let maximum: Gauge
    let waiting: Gauge
    let wait: Timer
    let waitTimeouts: Counter

    init(factory: any MetricsFactory) {
        inUse = Gauge(label: "postgres_pool_connections", dimensions: [("state", "in_use")], factory: factory)
        idle = Gauge(label: "postgres_pool_connections", dimensions: [("state", "idle")], factory: factory)
        maximum = Gauge(label: "postgres_pool_max_connections", factory: factory)
        waiting = Gauge(label: "postgres_pool_waiting_borrowers", factory: factory)
        wait = Timer(label: "postgres_pool_wait_seconds", factory: factory)
        waitTimeouts = Counter(label: "postgres_pool_wait_timeouts_total", factory: factory)
    }
}

extension ConnectionPool {
    /// Connections open and lent, idle, and borrowers waiting, at one instant.
    public struct Occupancy: Sendable, Equatable {
        public var inUse: Int
        public var idle: Int
        public var waiting: Int
    }

    /// Sets the pool's gauges to its occupancy now. Cheap (one lock); call it before each
    /// rendering of `/metrics`.
    public func recordOccupancy() {
        let now = occupancy
        metrics.inUse.record(now.inUse)
        metrics.idle.record(now.idle)
        metrics.waiting.record(now.waiting)
        metrics.maximum.record(maximumConnections)
    }
}
