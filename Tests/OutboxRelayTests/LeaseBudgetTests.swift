import Foundation
import OutboxRelay
import Postgres
import Prometheus
import TestSupport
import Testing

/// A claim's sends fit in its lease (issue 13, point 7): however slow SQS is, a relay never
/// sends an event after its lease lapsed, so another relay that takes the events over is the
/// only one sending them (`OutboxRelayService`'s lease budget).
@Suite(.requiresDatabase, .offTheCooperativePool) struct LeaseBudgetTests {
    /// Two relays, one worker each, share 500 events through an SQS that answers every call
    /// after a second, with two calls in flight per relay. A claim of 400 events is 40 calls,
    /// about 20 s of sending, but its lease is 14 s: before the fix the relay kept sending
    /// after its lease lapsed while the other relay took the same events over and sent them
    /// too (2,400 duplicates in one run). Now the relay sends only what the lease can cover
    /// (calls starting up to 14 - 6 - 3 = 5 s into the claim) and releases the rest, so no
    /// event reaches SQS twice (no relay crashes here, so the contract allows no duplicate),
    /// none is lost, and the released events are delivered by a later claim.
    ///
    /// Margins: a call takes about 1 s against a 6 s timeout, so no call times out (a timed-out
    /// call may have reached SQS, and would be sent again legitimately) even on a loaded machine.
    @Test func aSlowSQSGetsNoSendAfterTheLeaseAndLosesNothing() async throws {
        let events = TestEvent.many(500)
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            try await database.withPool { pool in
                let registry = PrometheusCollectorRegistry()
                try await FakeSQS.withServer(latency: .seconds(1)) { fake, endpoint in
                    func relay(_ body: () async throws -> Void) async throws {
                        try await InProcessRelay.run(
                            database: database.settings,
                            endpoint: endpoint,
                            queueURL: FakeSQS.queueURL(endpoint),
                            settings: InProcessRelay.settings(claimBatchSize: 400, workers: 1, lease: .seconds(14)),
                            sendConcurrency: 2,
                            sendTimeout: .seconds(6),
                            metricsFactory: PrometheusMetricsFactory(registry: registry)
                        ) { _ in try await body() }
                    }
                    let started = ContinuousClock.now
                    try await relay {
                        try await relay {
                            try await Outbox.insert(events, into: pool)
                            // Not thrown: a relay that keeps sending after its lease must fail the
                            // checks below, which say how.
                            try? await waitUntil(
                                "every event left the outbox",
                                timeout: .seconds(90),
                                every: .milliseconds(200)
                            ) {
                                try await Outbox.pending(pool) == 0
                            }
                        }
                    }
                    let received = Received(messages: fake.messages)
                    let released = Self.counter("outbox_events_released_for_lease_total", in: registry)
                    print(
                        "LeaseBudgetTests: \(events.count) events, \(received.messages.count) messages, "
                            + "\(received.duplicates) duplicates, \(released) released for the lease, "
                            + "\(ContinuousClock.now - started)"
                    )
                    // The first claim of 400 cannot all be sent within 5 s at two calls a second.
                    #expect(released >= 100, "the unsent remainder was released")
                    #expect(Self.counter("outbox_events_published_total", in: registry) == Double(events.count))
                    #expect(try await Outbox.pending(pool) == 0, "the released events were delivered later")
                    #expect(try await Outbox.deadLetters(pool) == 0)
                    #expect(received.distinctEventIDs == Set(events.map(\.id.lowercased)), "nothing is lost")
                    #expect(received.duplicates == 0, "no event was sent after its lease lapsed")
                }
            }
        }
    }

    /// A counter's value as `/metrics` would show it (0 when it was never created).
    static func counter(_ name: String, in registry: PrometheusCollectorRegistry) -> Double {
        let lines = registry.emitToString().split(separator: "\n")
        return lines.first { $0.hasPrefix(name + " ") }.flatMap { $0.split(separator: " ").last }
            .flatMap { Double($0) } ?? 0
    }
}
