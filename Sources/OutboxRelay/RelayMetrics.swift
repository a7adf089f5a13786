import Foundation
import Metrics

/// The relay's Prometheus metrics (served on `RELAY_METRICS_PORT`).
struct RelayMetrics: Sendable {
    let published: Counter
    let failed: Counter
    let deadLettered: Counter
    /// Claimed events whose SQS call would have started too late for the claim's lease:
    /// released unsent, for another claim (see `OutboxRelayService`'s lease budget).
    let releasedForLease: Counter
    /// From the event's `created_at` (its transaction's start) to SQS accepting it.
    let commitToSend: Timer
    let pending: Gauge
    let oldestPendingAge: Gauge
    let deadLetterCount: Gauge
    /// 0 closed, 1 open, 0.5 half-open (probing). Kept for the dashboards and alerts that
    /// already read it; ``circuitBreakerState`` says the same without the 0.5.
    let circuitBreakerOpen: Gauge
    /// `outbox_circuit_breaker_state{state}`: 1 for the breaker's state, 0 for the other two,
    /// so `outbox_circuit_breaker_state{state="open"} == 1` is a plain alert condition.
    let circuitBreakerState: [(state: String, gauge: Gauge)]

    init(factory: any MetricsFactory) {
        published = Counter(label: "outbox_events_published_total", factory: factory)
        failed = Counter(label: "outbox_events_failed_total", factory: factory)
        deadLettered = Counter(label: "outbox_events_dead_lettered_total", factory: factory)
        releasedForLease = Counter(label: "outbox_events_released_for_lease_total", factory: factory)
        commitToSend = Timer(label: "outbox_commit_to_send_seconds", factory: factory)
        pending = Gauge(label: "outbox_pending_events", factory: factory)
        oldestPendingAge = Gauge(label: "outbox_oldest_pending_age_seconds", factory: factory)
        deadLetterCount = Gauge(label: "outbox_dead_letters", factory: factory)
        circuitBreakerOpen = Gauge(label: "outbox_circuit_breaker_open", factory: factory)
        circuitBreakerState = ["closed", "open", "half_open"].map { state in
            (state, Gauge(label: "outbox_circuit_breaker_state", dimensions: [("state", state)], factory: factory))
        }
        record(CircuitBreaker.State.closed)
    }

    /// The `state` label: `closed`, `open` or `half_open`.
    static func stateLabel(_ state: CircuitBreaker.State) -> String {
        switch state {
        case .closed: "closed"
        case .open: "open"
        case .halfOpen: "half_open"
        }
    }

    func recordSent(createdAt: Date, now: Date) {
        commitToSend.recordNanoseconds(Int64(max(0, now.timeIntervalSince(createdAt)) * 1_000_000_000))
    }

    func record(_ counts: RetireCounts) {
        published.increment(by: counts.delivered)
        failed.increment(by: counts.retried)
        deadLettered.increment(by: counts.deadLettered)
    }

    func record(_ statistics: OutboxStatistics) {
        pending.record(statistics.pending)
        oldestPendingAge.record(statistics.oldestPendingAgeSeconds ?? 0)
        deadLetterCount.record(statistics.deadLetters)
    }

    func record(_ state: CircuitBreaker.State) {
        switch state {
        case .closed: circuitBreakerOpen.record(0)
        case .open: circuitBreakerOpen.record(1)
        case .halfOpen: circuitBreakerOpen.record(0.5)
        }
        let current = Self.stateLabel(state)
        for (candidate, gauge) in circuitBreakerState {
            gauge.record(candidate == current ? 1 : 0)
        }
    }
}
