import Foundation
import Postgres
import Prometheus
import TestSupport
import Testing

@testable import OutboxRelay

/// The relay's metrics (the README's table) after known traffic: every counter, the
/// commit-to-send histogram and the outbox gauges must hold the values this traffic gives,
/// not merely exist.
@Suite(.requiresDatabase, .offTheCooperativePool) struct RelayMetricsTests {
    /// Eight events delivered at once, one after a transient failure, one dead-lettered for
    /// good, and one backing off for an hour (created two minutes ago) that stays pending.
    @Test func countersHistogramAndGaugesMatchTheTraffic() async throws {
        let normal = TestEvent.many(8)
        let flaky = TestEvent(payload: TestEvent.messageBody(photoID: UUID(), detectionTypes: ["flaky"]))
        let poison = TestEvent(payload: TestEvent.messageBody(photoID: UUID(), detectionTypes: ["poison"]))
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            try await database.withPool { pool in
                _ = try await runBlocking {
                    try DeadLetterFixtures.insertOutboxEvent(
                        try database.connect(),
                        createdSecondsAgo: 120,
                        dueInSeconds: 3600
                    )
                }
                let registry = PrometheusCollectorRegistry()
                var settings = InProcessRelay.settings(workers: 1)
                settings.statisticsInterval = .milliseconds(100)
                try await FakeSQS.withServer(decide: FakeSQS.poisonAndFlaky) { _, endpoint in
                    try await InProcessRelay.run(
                        database: database.settings,
                        endpoint: endpoint,
                        queueURL: FakeSQS.queueURL(endpoint),
                        settings: settings,
                        metricsFactory: PrometheusMetricsFactory(registry: registry)
                    ) { _ in
                        try await Outbox.insert(normal + [flaky, poison], into: pool)
                        try await waitUntil("the gauges show the traffic's end") {
                            let samples = PrometheusText.samples(registry.emitToString())
                            return samples["outbox_events_published_total"] == 9
                                && samples["outbox_dead_letters"] == 1 && samples["outbox_pending_events"] == 1
                        }
                    }
                }
                let samples = PrometheusText.samples(registry.emitToString())
                #expect(samples["outbox_events_published_total"] == Double(normal.count + 1))
                #expect(samples["outbox_events_failed_total"] == 1, "the flaky event's first attempt")
                #expect(samples["outbox_events_dead_lettered_total"] == 1)
                #expect(samples["outbox_events_released_for_lease_total", default: 0] == 0)
                // One observation per delivered event, in seconds: each took less than the test.
                #expect(samples["outbox_commit_to_send_seconds_count"] == Double(normal.count + 1))
                let sum = try #require(samples["outbox_commit_to_send_seconds_sum"])
                #expect(sum > 0 && sum < Double(normal.count + 1) * 60, "sum \(sum)")
                #expect(samples["outbox_pending_events"] == 1)
                #expect(samples["outbox_dead_letters"] == 1)
                let age = try #require(samples["outbox_oldest_pending_age_seconds"])
                #expect(age >= 120 && age < 180, "oldest pending age \(age)")
                #expect(samples["outbox_circuit_breaker_open"] == 0)
                #expect(samples["outbox_circuit_breaker_state"] == 1, "exactly one state at 1")
                #expect(try await Outbox.deadLetters(pool) == 1)
            }
        }
    }

    /// The breaker's state as an enum-style gauge: 1 for the current state, 0 for the other two;
    /// the older `outbox_circuit_breaker_open` keeps its 0 / 0.5 / 1.
    @Test func theBreakerStateIsOneGaugePerStateWithOnlyTheCurrentOneAtOne() {
        let registry = PrometheusCollectorRegistry()
        let metrics = RelayMetrics(factory: PrometheusMetricsFactory(registry: registry))
        func states() -> [String: Double] {
            var values: [String: Double] = [:]
            for line in registry.emitToString().split(separator: "\n")
            where line.hasPrefix("outbox_circuit_breaker_state{") {
                let state = line.firstMatch(of: /state="([a-z_]+)"/).map { String($0.output.1) } ?? "?"
                values[state] = line.split(separator: " ").last.flatMap { Double($0) }
            }
            return values
        }
        #expect(states() == ["closed": 1, "open": 0, "half_open": 0], "closed from the start")
        metrics.record(CircuitBreaker.State.open(until: .now + .seconds(5)))
        #expect(states() == ["closed": 0, "open": 1, "half_open": 0])
        #expect(PrometheusText.samples(registry.emitToString())["outbox_circuit_breaker_open"] == 1)
        metrics.record(CircuitBreaker.State.halfOpen(since: .now))
        #expect(states() == ["closed": 0, "open": 0, "half_open": 1])
        #expect(PrometheusText.samples(registry.emitToString())["outbox_circuit_breaker_open"] == 0.5)
        metrics.record(CircuitBreaker.State.closed)
        #expect(states() == ["closed": 1, "open": 0, "half_open": 0])
    }
}
