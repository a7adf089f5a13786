import Foundation
import Postgres
import TestSupport
import Testing

@testable import OutboxRelay

/// The writing request's trace context travels with its event: into the SQS message's
/// `traceparent` and `tracestate` attributes, and through a dead letter and its requeue.
@Suite(.requiresDatabase, .offTheCooperativePool) struct TraceDeliveryTests {
    static let traceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-a2fb4a1d1a96d312-01"

    @Test func theMessageCarriesTheStoredTraceContext() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            try await database.withPool { pool in
                try await PrivateSQSServer.withServer { sqs in
                    let queueURL = try await sqs.createQueue("detection")
                    let traced = TestEvent()
                    let withoutState = TestEvent()
                    let untraced = TestEvent()
                    try await Outbox.insert([traced, withoutState, untraced], into: pool)
                    try await pool.query(
                        "UPDATE outbox_events SET traceparent = $1, tracestate = $2 WHERE id = $3",
                        [Self.traceParent, "vendor=opaque", traced.id]
                    )
                    try await pool.query(
                        "UPDATE outbox_events SET traceparent = $1 WHERE id = $2",
                        [Self.traceParent, withoutState.id]
                    )
                    try await InProcessRelay.run(
                        database: database.settings,
                        endpoint: sqs.endpoint,
                        queueURL: queueURL,
                        settings: InProcessRelay.settings()
                    ) { _ in
                        try await waitUntil("the outbox is empty") { try await Outbox.pending(pool) == 0 }
                    }
                    var received = Received()
                    try await received.drain(sqs, queueURL)
                    let byEvent = Dictionary(
                        received.messages.map { ($0.attributes["event_id"] ?? "", $0) },
                        uniquingKeysWith: { first, _ in first }
                    )
                    let tracedMessage = try #require(byEvent[traced.id.lowercased])
                    #expect(tracedMessage.attributes["traceparent"] == Self.traceParent)
                    #expect(tracedMessage.attributes["tracestate"] == "vendor=opaque")
                    #expect(tracedMessage.attributeTypes["traceparent"] == "String")
                    let stateless = try #require(byEvent[withoutState.id.lowercased])
                    #expect(stateless.attributes["traceparent"] == Self.traceParent)
                    #expect(stateless.attributes["tracestate"] == nil)
                    let plain = try #require(byEvent[untraced.id.lowercased])
                    #expect(plain.attributes["traceparent"] == nil)
                    #expect(plain.attributes["tracestate"] == nil)
                }
            }
        }
    }

    /// A dead letter keeps the trace, and a requeue puts it back on the event.
    @Test func deadLettersKeepTheTraceThroughARequeue() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            try await database.withPool { pool in
                let event = TestEvent()
                try await Outbox.insert([event], into: pool)
                try await pool.query(
                    "UPDATE outbox_events SET traceparent = $1, tracestate = $2 WHERE id = $3",
                    [Self.traceParent, "vendor=opaque", event.id]
                )
                let connection = try await database.connection()
                try await connection.blocking { connection in
                    let claim = try OutboxClaims.claim(limit: 10, relayID: "test", lease: .seconds(30), on: connection)
                    var outcome = ClaimOutcome()
                    outcome.deadLetters = claim.events.map { ($0.id, "refused for the test") }
                    try OutboxClaims.retire(outcome, token: claim.token, on: connection)
                }
                let dead = try #require(
                    try await pool.query(
                        "SELECT traceparent, tracestate FROM outbox_dead_letters WHERE event_id = $1",
                        [event.id]
                    ).first
                )
                #expect(try dead.decodeIfPresent("traceparent", as: String.self) == Self.traceParent)
                #expect(try dead.decodeIfPresent("tracestate", as: String.self) == "vendor=opaque")

                let requeued = try await connection.blocking { connection in
                    try DeadLetterStore.requeueAll(on: connection)
                }
                #expect(requeued.requeued.count == 1)
                let back = try #require(
                    try await pool.query("SELECT traceparent, tracestate FROM outbox_events WHERE id = $1", [event.id])
                        .first
                )
                #expect(try back.decodeIfPresent("traceparent", as: String.self) == Self.traceParent)
                #expect(try back.decodeIfPresent("tracestate", as: String.self) == "vendor=opaque")
            }
        }
    }
}
