import Foundation
import OutboxRelay
import Postgres
import TestSupport
import Testing

/// What reaches SQS, counted: events in, messages out. Each test has a database and a
/// `moto_server` of its own and runs the relay in-process. Serialized: they are short, and
/// starting every moto (a second of CPU each) at once would slow the whole test run down.
@Suite(.serialized, .requiresDatabase, .offTheCooperativePool) struct DeliveryTests {
    /// The contract's attributes (`event_id`, `event_type`, as strings) are checked by key:
    /// attributes added later (`traceparent` for a traced request) must not break the test.
    @Test func everyEventIsSentOnceWithItsExactBodyAndAttributes() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            try await database.withPool { pool in
                try await PrivateSQSServer.withServer { sqs in
                    let queueURL = try await sqs.createQueue("detection")
                    var events = TestEvent.many(40) + TestEvent.many(7, type: "photo.reprocess_requested")
                    // Bytes a careless encoder would change: quotes, backslashes, slashes, non-ASCII.
                    let photo = UUID()
                    events.append(
                        TestEvent(
                            photoID: photo,
                            payload: """
                                {"photo_id": "\(photo.lowercased)", "s3_url": "s3://bucket/a \\"b\\"/c\\\\d/é😀.jpg", \
                                "detection_types": ["damage"], "priority": "normal", "extra": {"n": 1.5, "z": null}}
                                """
                        )
                    )
                    try await Outbox.insert(events, into: pool)
                    let bodies = try await Outbox.storedBodies(pool)
                    #expect(bodies.count == events.count)

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
                    #expect(received.messages.count == events.count)
                    #expect(received.duplicates == 0)
                    #expect(received.distinctEventIDs == Set(events.map(\.id.lowercased)))
                    let byID = Dictionary(uniqueKeysWithValues: events.map { ($0.id.lowercased, $0) })
                    for message in received.messages {
                        let eventID = message.attributes["event_id"] ?? "(none)"
                        guard let event = byID[eventID] else {
                            Issue.record("a message for an unknown event: \(eventID)")
                            continue
                        }
                        // Exactly the stored payload, byte for byte, and the inserted JSON.
                        #expect(message.body == bodies[event.id])
                        #expect(jsonObject(message.body) == jsonObject(event.payload))
                        let body = jsonObject(message.body) as? [String: Any]
                        #expect(body?["photo_id"] as? String == event.photoID.lowercased)
                        #expect(message.attributes["event_id"] == event.id.lowercased)
                        #expect(message.attributes["event_type"] == event.type)
                        #expect(message.attributeTypes["event_id"] == "String")
                        #expect(message.attributeTypes["event_type"] == "String")
                        // These events were written without a trace: no trace context is invented.
                        #expect(message.attributes["traceparent"] == nil)
                        // A standard queue gets no FIFO fields.
                        #expect(message.systemAttributes["MessageGroupId"] == nil)
                        #expect(message.systemAttributes["MessageDeduplicationId"] == nil)
                    }
                    #expect(try await Outbox.deadLetters(pool) == 0)
                }
            }
        }
    }

    /// The poll interval here is 30 s: only the NOTIFY of the insert can wake the relay in time
    /// (each round's wait ends at 10 s, a third of the poll). The time each round took is
    /// printed as a figure, not asserted: it measures the machine's load as much as the relay.
    @Test func aCommittedEventIsSentWithoutWaitingForThePoll() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            try await database.withPool { pool in
                try await PrivateSQSServer.withServer { sqs in
                    let queueURL = try await sqs.createQueue("detection")
                    var settings = InProcessRelay.settings(workers: 1)
                    settings.pollInterval = .seconds(30)
                    try await InProcessRelay.run(
                        database: database.settings,
                        endpoint: sqs.endpoint,
                        queueURL: queueURL,
                        settings: settings
                    ) { _ in
                        // The relay's LISTEN is in place, and its worker has made its first (empty)
                        // claim and waits.
                        try await waitUntil("the relay listens", timeout: .seconds(20)) {
                            try await Outbox.count(
                                pool,
                                """
                                SELECT count(*) AS n FROM pg_stat_activity
                                WHERE datname = current_database() AND query = 'LISTEN outbox_events'
                                """
                            ) == 1
                        }
                        try await Task.sleep(for: .milliseconds(300))
                        for round in 1...3 {
                            let event = TestEvent()
                            let start = ContinuousClock.now
                            try await Outbox.insert([event], into: pool)
                            try await waitUntil("event \(round) left the outbox", timeout: .seconds(10)) {
                                try await Outbox.pending(pool) == 0
                            }
                            print("DeliveryTests: NOTIFY round \(round): sent after \(ContinuousClock.now - start)")
                        }
                    }
                    var received = Received()
                    try await received.drain(sqs, queueURL)
                    #expect(received.messages.count == 3)
                }
            }
        }
    }

    @Test func aFIFOQueueGetsThePhotoAsGroupAndTheEventAsDeduplicationID() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            try await database.withPool { pool in
                try await PrivateSQSServer.withServer { sqs in
                    let queueURL = try await sqs.createQueue("detection.fifo")
                    let photos = [UUID(), UUID(), UUID()]
                    let events = photos.flatMap { photo in (0..<4).map { _ in TestEvent(photoID: photo) } }
                    try await Outbox.insert(events, into: pool)

                    try await InProcessRelay.run(
                        database: database.settings,
                        endpoint: sqs.endpoint,
                        queueURL: queueURL,
                        settings: InProcessRelay.settings(fifo: true)
                    ) { _ in
                        try await waitUntil("the outbox is empty") { try await Outbox.pending(pool) == 0 }
                        // A second send of a delivered event (as after a crash between send and commit)
                        // carries the same deduplication id, so the FIFO queue drops it.
                        try await Outbox.insert([events[0], events[5]], into: pool)
                        try await waitUntil("the resent events left the outbox") { try await Outbox.pending(pool) == 0 }
                    }

                    var received = Received()
                    try await received.drain(sqs, queueURL)
                    #expect(received.messages.count == events.count)
                    #expect(received.distinctEventIDs == Set(events.map(\.id.lowercased)))
                    let byID = Dictionary(uniqueKeysWithValues: events.map { ($0.id.lowercased, $0) })
                    for message in received.messages {
                        let eventID = message.attributes["event_id"] ?? "(none)"
                        #expect(message.systemAttributes["MessageGroupId"] == byID[eventID]?.photoID.lowercased)
                        #expect(message.systemAttributes["MessageDeduplicationId"] == eventID)
                    }
                    #expect(try await Outbox.deadLetters(pool) == 0)
                }
            }
        }
    }

    /// Contract section 5: delivery of `photo.uploaded` moves the photo uploaded → processing.
    @Test func deliveringPhotoUploadedMovesThePhotoToProcessingWithAHistoryRow() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            try await database.withPool { pool in
                try await PrivateSQSServer.withServer { sqs in
                    let queueURL = try await sqs.createQueue("detection")
                    let uploaded = UUID()
                    let failed = UUID()
                    let otherEvent = UUID()
                    try await PhotoRows.insertProject(into: pool)
                    try await PhotoRows.insert(uploaded, status: "uploaded", into: pool)
                    try await PhotoRows.insert(failed, status: "failed", into: pool)
                    try await PhotoRows.insert(otherEvent, status: "uploaded", into: pool)
                    let events = [
                        TestEvent(photoID: uploaded),
                        // Not in `uploaded` any more: the event is delivered, the photo left alone.
                        TestEvent(photoID: failed),
                        // Another event type does not move the photo.
                        TestEvent(type: "photo.reprocess_requested", photoID: otherEvent),
                    ]
                    try await Outbox.insert(events, into: pool)

                    try await InProcessRelay.run(
                        database: database.settings,
                        endpoint: sqs.endpoint,
                        queueURL: queueURL,
                        settings: InProcessRelay.settings()
                    ) { _ in
                        try await waitUntil("the outbox is empty") { try await Outbox.pending(pool) == 0 }
                    }

                    #expect(try await PhotoRows.status(uploaded, pool) == "processing")
                    #expect(try await PhotoRows.processingAtIsSet(uploaded, pool))
                    let history = try await PhotoRows.history(uploaded, pool)
                    #expect(
                        history == [
                            PhotoRows.HistoryRow(status: "processing", previous: "uploaded", changedBy: "relay")
                        ]
                    )

                    #expect(try await PhotoRows.status(failed, pool) == "failed")
                    #expect(try await PhotoRows.history(failed, pool).isEmpty)
                    #expect(try await PhotoRows.status(otherEvent, pool) == "uploaded")
                    #expect(try await PhotoRows.history(otherEvent, pool).isEmpty)

                    var received = Received()
                    try await received.drain(sqs, queueURL)
                    #expect(received.distinctEventIDs == Set(events.map(\.id.lowercased)))
                    #expect(received.messages.count == events.count)
                }
            }
        }
    }

    /// The status change and the event's deletion are one transaction: when the history row
    /// cannot be written the event stays (and is sent again), and a fenced-out retire does neither.
    @Test func thePhotoMovesInTheTransactionThatDeletesTheEvent() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            try await database.withPool { pool in
                let photo = UUID()
                try await PhotoRows.insertProject(into: pool)
                try await PhotoRows.insert(photo, status: "uploaded", into: pool)
                let event = TestEvent(photoID: photo)
                try await Outbox.insert([event], into: pool)
                // The libpq calls on `connection` block: off the cooperative pool (`runBlocking`).
                let connection = try await runBlocking { try database.connect() }
                let claim = try await runBlocking {
                    try OutboxClaims.claim(limit: 10, relayID: "test", lease: .seconds(60), on: connection)
                }
                #expect(claim.events.map(\.id) == [event.id])
                var outcome = ClaimOutcome()
                outcome.delivered = [event.id]
                let retire = { [outcome] (token: UUID) in
                    try await runBlocking { try OutboxClaims.retire(outcome, token: token, on: connection) }
                }

                try await runBlocking {
                    try connection.executeScript(
                        """
                        CREATE FUNCTION refuse_history() RETURNS trigger LANGUAGE plpgsql AS $$
                        BEGIN RAISE EXCEPTION 'history refused by the test'; END $$;
                        CREATE TRIGGER refuse_history BEFORE INSERT ON photo_status_history
                            FOR EACH ROW EXECUTE FUNCTION refuse_history();
                        """
                    )
                }
                let refused = await #expect(throws: PostgresError.self) { try await retire(claim.token) }
                #expect(
                    refused?.message.contains("history refused by the test") == true,
                    "\(String(describing: refused))"
                )
                #expect(try await Outbox.pending(pool) == 1)
                #expect(try await PhotoRows.status(photo, pool) == "uploaded")
                try await runBlocking {
                    try connection.executeScript("DROP TRIGGER refuse_history ON photo_status_history")
                }

                // Another claim's token (a relay whose lease was taken over) changes nothing.
                let fenced = try await retire(UUID())
                #expect(fenced == RetireCounts())
                #expect(try await Outbox.pending(pool) == 1)
                #expect(try await PhotoRows.status(photo, pool) == "uploaded")

                let counts = try await retire(claim.token)
                #expect(counts.delivered == 1)
                #expect(try await Outbox.pending(pool) == 0)
                #expect(try await PhotoRows.status(photo, pool) == "processing")
                #expect(try await PhotoRows.history(photo, pool).count == 1)
            }
        }
    }

    /// A message SQS would refuse (over 256 KiB) is dead-lettered without a send; the events
    /// claimed with it are delivered.
    @Test func anOversizedEventIsDeadLetteredAloneWithoutBeingSent() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            try await database.withPool { pool in
                try await PrivateSQSServer.withServer { sqs in
                    let queueURL = try await sqs.createQueue("detection")
                    let photo = UUID()
                    let filler = String(repeating: "x", count: 270_000)
                    let oversized = TestEvent(
                        photoID: photo,
                        payload: """
                            {"photo_id": "\(photo.lowercased)", "s3_url": "s3://b/k", "detection_types": [], \
                            "priority": "normal", "filler": "\(filler)"}
                            """
                    )
                    let normal = TestEvent.many(5)
                    try await Outbox.insert(normal + [oversized], into: pool)

                    try await InProcessRelay.run(
                        database: database.settings,
                        endpoint: sqs.endpoint,
                        queueURL: queueURL,
                        settings: InProcessRelay.settings(workers: 1)
                    ) { _ in
                        try await waitUntil("the outbox is empty") { try await Outbox.pending(pool) == 0 }
                    }

                    let deadLetters = try await DeadLetterRows.all(pool)
                    #expect(deadLetters.map(\.eventID) == [oversized.id])
                    #expect(deadLetters.first?.attempts == 1)
                    #expect(deadLetters.first?.historyCount == 1)
                    #expect(deadLetters.first?.lastError.contains("exceeds") == true)

                    var received = Received()
                    try await received.drain(sqs, queueURL)
                    #expect(received.messages.count == normal.count)
                    #expect(received.distinctEventIDs == Set(normal.map(\.id.lowercased)))
                }
            }
        }
    }

    /// `SendMessageBatch` answers 200 with one entry failed for good (`SenderFault`) and one
    /// failed transiently: only the first is dead-lettered (after one attempt), the second is
    /// retried, the rest of the batch is sent once.
    @Test func aPermanentEntryFailureDeadLettersOnlyThatEntry() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            try await database.withPool { pool in
                let poison = TestEvent(payload: TestEvent.messageBody(photoID: UUID(), detectionTypes: ["poison"]))
                let flaky = TestEvent(payload: TestEvent.messageBody(photoID: UUID(), detectionTypes: ["flaky"]))
                let normal = TestEvent.many(8)
                try await Outbox.insert(normal + [poison, flaky], into: pool)
                let bodies = try await Outbox.storedBodies(pool)

                try await FakeSQS.withServer(decide: FakeSQS.poisonAndFlaky) { fake, endpoint in
                    try await InProcessRelay.run(
                        database: database.settings,
                        endpoint: endpoint,
                        queueURL: "\(endpoint)/\(PrivateSQSServer.accountID)/detection",
                        settings: InProcessRelay.settings(workers: 1)
                    ) { relay in
                        try await waitUntil("the outbox is empty") { try await Outbox.pending(pool) == 0 }
                        #expect(relay.breaker.state == .closed)
                    }

                    // All ten went out in one batch: the failures were partial.
                    #expect(fake.batchSizes.first == 10)
                    #expect(fake.timesSeen(bodies[poison.id] ?? "") == 1)
                    #expect(fake.timesSeen(bodies[flaky.id] ?? "") == 2)
                    let sentIDs = fake.sent.compactMap { $0.attributes["event_id"] }
                    #expect(sentIDs.count == normal.count + 1)
                    #expect(Set(sentIDs) == Set((normal + [flaky]).map(\.id.lowercased)))
                }

                let deadLetters = try await DeadLetterRows.all(pool)
                #expect(deadLetters.map(\.eventID) == [poison.id])
                #expect(deadLetters.first?.attempts == 1)
                #expect(deadLetters.first?.historyCount == 1)
                #expect(deadLetters.first?.lastError.contains("InvalidMessageContents") == true)
            }
        }
    }
}

/// Parsed JSON, comparable (`NSObject` equality compares the values).
func jsonObject(_ text: String) -> NSObject? {
    (try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])) as? NSObject
}

/// `projects`, `photos` and `photo_status_history` rows for the status tests.
enum PhotoRows {
    static let projectID = UUID()

    struct HistoryRow: Equatable {
        var status: String
        var previous: String?
        var changedBy: String
    }

    static func insertProject(into pool: ConnectionPool) async throws {
        try await pool.query(
            "INSERT INTO projects (id, organization_id, name) VALUES ($1, $2, 'relay tests')",
            [projectID, UUID()]
        )
    }

    static func insert(_ id: UUID, status: String, into pool: ConnectionPool) async throws {
        try await pool.query(
            """
            INSERT INTO photos (id, project_id, user_id, file_name, mime_type, file_size, s3_bucket, s3_key,
                status, upload_expires_at, uploaded_at, failed_at)
            VALUES ($1, $2, $3, 'a.jpg', 'image/jpeg', 2048, 'companycam-photos-test', $4, $5::text,
                now() + interval '15 minutes', now(), CASE WHEN $5::text = 'failed' THEN now() END)
            """,
            [id, projectID, UUID(), "photos/\(id.lowercased).jpg", status]
        )
    }

    static func status(_ id: UUID, _ pool: ConnectionPool) async throws -> String? {
        try await pool.query("SELECT status FROM photos WHERE id = $1", [id]).first?.decode("status")
    }

    static func processingAtIsSet(_ id: UUID, _ pool: ConnectionPool) async throws -> Bool {
        try await pool.query("SELECT processing_at IS NOT NULL AS set FROM photos WHERE id = $1", [id])
            .first?.decode("set") ?? false
    }

    static func history(_ id: UUID, _ pool: ConnectionPool) async throws -> [HistoryRow] {
        try await pool.query(
            "SELECT status, previous_status, changed_by FROM photo_status_history WHERE photo_id = $1 ORDER BY id",
            [id]
        ).rows.map { row in
            HistoryRow(
                status: try row.decode("status"),
                previous: try row.decodeIfPresent("previous_status"),
                changedBy: try row.decode("changed_by")
            )
        }
    }
}

/// `outbox_dead_letters` rows as the tests check them.
enum DeadLetterRows {
    struct Row {
        var eventID: UUID
        var attempts: Int
        var historyCount: Int
        /// The `attempt` of every `error_history` entry, as JSON text: "[1, 2, 3]".
        var historyAttempts: String
        var lastError: String
    }

    static func all(_ pool: ConnectionPool) async throws -> [Row] {
        try await pool.query(
            """
            SELECT event_id, attempts, jsonb_array_length(error_history) AS history,
                jsonb_path_query_array(error_history, '$[*].attempt')::text AS history_attempts,
                coalesce(last_error, '') AS error
            FROM outbox_dead_letters ORDER BY dead_lettered_at, event_id
            """
        ).rows.map { row in
            Row(
                eventID: try row.decode("event_id"),
                attempts: try row.decode("attempts"),
                historyCount: try row.decode("history"),
                historyAttempts: try row.decode("history_attempts"),
                lastError: try row.decode("error")
            )
        }
    }
}
