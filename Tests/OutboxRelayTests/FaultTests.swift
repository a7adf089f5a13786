import AWS
import Foundation
import Logging
import OutboxRelay
import Postgres
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// At-least-once delivery through faults (contract section 6): SQS outages, a missing queue,
/// relays killed mid-stream, lapsed leases, Postgres restarts and SIGTERM. Every test counts
/// the events it committed and the messages that reached the queue.
///
/// Serialized: each test starts relays, servers or whole Postgres clusters and measures what
/// they deliver; run side by side on two cores they would mostly measure each other.
@Suite(.serialized, .requiresDatabase, .offTheCooperativePool) struct FaultTests {
    /// While SQS is down the circuit breaker holds the events back: their attempts are not
    /// spent and nothing is dead-lettered, however long the outage. When SQS is back every
    /// event is delivered.
    @Test func sqsDownThenBackLosesNothingAndSpendsNoAttempts() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            try await database.withPool { pool in
                try await PrivateSQSServer.withServer { sqs in
                    let queueURL = try await sqs.createQueue("detection")
                    let before = TestEvent.many(20)
                    let during = TestEvent.many(30)
                    var received = Received()
                    try await InProcessRelay.run(
                        database: database.settings,
                        endpoint: sqs.endpoint,
                        queueURL: queueURL,
                        settings: InProcessRelay.settings(claimBatchSize: 10, maxAttempts: 3)
                    ) { relay in
                        try await Outbox.insert(before, into: pool)
                        try await waitUntil("the first events left the outbox") { try await Outbox.pending(pool) == 0 }
                        try await received.drain(sqs, queueURL)

                        await sqs.stop()
                        try await Outbox.insert(during, into: pool)
                        try await waitUntil("the breaker opened", timeout: .seconds(10), every: .milliseconds(10)) {
                            relay.breaker.isOpen
                        }
                        // Several pauses and probes (the breaker's pauses are 100-400 ms here), with
                        // retry backoff of at most 20 ms: without the breaker three attempts go fast.
                        let outageEnd = ContinuousClock.now + .seconds(3)
                        var sawOpen = 0
                        while ContinuousClock.now < outageEnd {
                            if relay.breaker.isOpen { sawOpen += 1 }
                            let row = try await pool.query(
                                """
                                SELECT coalesce(max(attempts), 0) AS attempts,
                                    count(*) FILTER (WHERE jsonb_array_length(error_history) > 0) AS with_errors
                                FROM outbox_events
                                """
                            ).first
                            // A probe's claim holds attempt 1 until it gives the events back.
                            #expect((try row?.decode("attempts", as: Int.self) ?? 99) <= 1)
                            #expect(try row?.decode("with_errors", as: Int.self) == 0)
                            #expect(try await Outbox.deadLetters(pool) == 0)
                            try await Task.sleep(for: .milliseconds(100))
                        }
                        #expect(sawOpen > 0)
                        #expect(try await Outbox.pending(pool) == during.count)

                        // Back on the same port: moto lost its state, so the queue is made again.
                        try await sqs.start()
                        _ = try await sqs.createQueue("detection")
                        try await waitUntil("the events held back left the outbox") {
                            try await Outbox.pending(pool) == 0
                        }
                        #expect(relay.breaker.state == .closed)
                    }
                    var afterOutage = Received()
                    try await afterOutage.drain(sqs, queueURL)
                    #expect(received.messages.count == before.count)
                    #expect(received.distinctEventIDs == Set(before.map(\.id.lowercased)))
                    #expect(afterOutage.messages.count == during.count)
                    #expect(afterOutage.distinctEventIDs == Set(during.map(\.id.lowercased)))
                    #expect(try await Outbox.deadLetters(pool) == 0)
                }
            }
        }
    }

    /// With several relays, the events a relay held back during an outage may be delivered by
    /// another one: its probe after the outage then claims nothing. It must still close its
    /// breaker and deliver what comes next.
    @Test func aRelayWhoseProbeFindsNothingKeepsDelivering() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            try await database.withPool { pool in
                try await PrivateSQSServer.withServer { sqs in
                    let queueURL = try await sqs.createQueue("detection")
                    let later = TestEvent.many(3)
                    try await InProcessRelay.run(
                        database: database.settings,
                        endpoint: sqs.endpoint,
                        queueURL: queueURL,
                        settings: InProcessRelay.settings(workers: 2)
                    ) { relay in
                        await sqs.stop()
                        try await Outbox.insert(TestEvent.many(5), into: pool)
                        try await waitUntil("the breaker opened", timeout: .seconds(10), every: .milliseconds(10)) {
                            relay.breaker.isOpen
                        }
                        // Another relay delivered them meanwhile.
                        try await pool.query("DELETE FROM outbox_events")
                        try await sqs.start()
                        _ = try await sqs.createQueue("detection")
                        // Only a probe closes an open breaker; the outbox is empty, so the probe that
                        // does claims nothing (had it claimed the deleted events, they would reach
                        // the queue: checked below). Seconds, against the 15 s after which the
                        // breaker gives an unanswered probe up.
                        try await waitUntil("a probe found nothing and closed the breaker", timeout: .seconds(5)) {
                            relay.breaker.state == .closed
                        }
                        try await Outbox.insert(later, into: pool)
                        try await waitUntil("events committed after the outage left the outbox", timeout: .seconds(5)) {
                            try await Outbox.pending(pool) == 0
                        }
                        #expect(relay.breaker.state == .closed)
                    }
                    var received = Received()
                    try await received.drain(sqs, queueURL)
                    #expect(received.messages.count == later.count)
                    #expect(received.distinctEventIDs == Set(later.map(\.id.lowercased)))
                }
            }
        }
    }

    /// A queue that does not exist is an outage, not poison (issue 13): the breaker holds the
    /// events back without spending their attempts, nothing is dead-lettered however long it
    /// lasts (RELAY_MAX_ATTEMPTS is 2 here, so counted attempts would dead-letter within a
    /// second), and `/readyz` says `sqs_queue_unavailable`. Once the queue exists every event
    /// is delivered and the relay is ready again.
    @Test func aMissingQueueIsAnOutageAndItsEventsAreDeliveredOnceItExists() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            try await database.withPool { pool in
                try await PrivateSQSServer.withServer { sqs in
                    let queueURL = sqs.queueURL("detection-missing")
                    let events = TestEvent.many(12)
                    let relay = try RelayProcess(
                        databaseURL: database.connectionString,
                        endpoint: sqs.endpoint,
                        queueURL: queueURL,
                        settings: ["RELAY_MAX_ATTEMPTS": "2"]
                    )
                    do {
                        try await relay.waitUntilReady()
                        try await Outbox.insert(events, into: pool)
                        try await expectHeldBack(events, by: relay, reason: "sqs_queue_unavailable", pool: pool)

                        _ = try await sqs.createQueue("detection-missing")
                        let received = try await expectDeliveredOnceTheOutageEnds(events, by: relay, pool: pool) {
                            var received = Received()
                            try await received.drain(sqs, queueURL)
                            return received
                        }
                        #expect(received.messages.count == events.count)
                    } catch {
                        await relay.kill()
                        throw error
                    }
                    await relay.kill()
                }
            }
        }
    }

    /// Bad credentials (HTTP 403 with an XML `InvalidClientTokenId`, as SQS answers even JSON
    /// requests) are an outage too: `/readyz` says `aws_credentials_unavailable`, nothing is
    /// dead-lettered, and once SQS accepts the calls every event is delivered.
    @Test func invalidCredentialsAreAnOutageAndNothingIsDeadLettered() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            try await database.withPool { pool in
                try await FakeSQS.withServer { fake, endpoint in
                    let events = TestEvent.many(12)
                    let relay = try RelayProcess(
                        databaseURL: database.connectionString,
                        endpoint: endpoint,
                        queueURL: FakeSQS.queueURL(endpoint),
                        settings: ["RELAY_MAX_ATTEMPTS": "2"]
                    )
                    do {
                        try await relay.waitUntilReady()
                        fake.refuseCalls(.invalidClientTokenId)
                        try await Outbox.insert(events, into: pool)
                        try await expectHeldBack(events, by: relay, reason: "aws_credentials_unavailable", pool: pool)
                        #expect(fake.refusedCalls >= 2, "the breaker probed again")

                        fake.refuseCalls(nil)
                        try await expectDeliveredOnceTheOutageEnds(events, by: relay, pool: pool) {
                            Received(messages: fake.messages)
                        }
                    } catch {
                        await relay.kill()
                        throw error
                    }
                    await relay.kill()
                }
            }
        }
    }

    /// Queue-wide codes reported per entry (`Failed[]` with `SenderFault` true) are an outage,
    /// not poison: the entries go back uncounted and the breaker names the reason.
    @Test func queueWideCodesPerEntryOpenTheBreakerInsteadOfDeadLettering() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            try await database.withPool { pool in
                let denying = Box(true)
                try await FakeSQS.withServer(decide: { _, _ in
                    denying.value ? .failed(code: "AccessDenied", senderFault: true) : .sent
                }) { fake, endpoint in
                    let events = TestEvent.many(8)
                    try await InProcessRelay.run(
                        database: database.settings,
                        endpoint: endpoint,
                        queueURL: FakeSQS.queueURL(endpoint),
                        settings: InProcessRelay.settings(maxAttempts: 2)
                    ) { relay in
                        try await Outbox.insert(events, into: pool)
                        try await waitUntil("the breaker opened for denied access", timeout: .seconds(10)) {
                            relay.breaker.outage?.reason == .accessDenied
                        }
                        try await Task.sleep(for: .seconds(1.5))
                        #expect(try await Outbox.deadLetters(pool) == 0)
                        #expect(try await Outbox.pending(pool) == events.count)
                        #expect(try await Self.maxAttemptsAndErrors(pool).attempts <= 1)
                        #expect(try await Self.maxAttemptsAndErrors(pool).withErrors == 0)

                        denying.value = false
                        try await waitUntil("the held-back events were delivered") {
                            try await Outbox.pending(pool) == 0
                        }
                        #expect(relay.breaker.outage == nil)
                    }
                    #expect(Received(messages: fake.messages).distinctEventIDs == Set(events.map(\.id.lowercased)))
                    #expect(try await Outbox.deadLetters(pool) == 0)
                }
            }
        }
    }

    /// Waits until the relay's `/readyz` answers 503 with `reason`, then watches for two
    /// seconds of probes: every event stays pending, no attempt is counted (a probe's claim
    /// holds attempt 1 until it gives the events back), no error is recorded and nothing is
    /// dead-lettered, while `/readyz` keeps naming the reason.
    /// After an outage: every held-back event is delivered (what `received` finds), none was
    /// dead-lettered, the relay is ready again and SIGTERM stops it with status 0.
    @discardableResult
    private func expectDeliveredOnceTheOutageEnds(
        _ events: [TestEvent],
        by relay: RelayProcess,
        pool: ConnectionPool,
        received: () async throws -> Received
    ) async throws -> Received {
        try await waitUntil("the held-back events were delivered") { try await Outbox.pending(pool) == 0 }
        try await relay.waitUntilReady()
        let delivered = try await received()
        #expect(delivered.distinctEventIDs == Set(events.map(\.id.lowercased)))
        #expect(try await Outbox.deadLetters(pool) == 0)
        relay.send(SIGTERM)
        #expect(try await relay.child.wait(timeout: .seconds(20)) == 0)
        return delivered
    }

    private func expectHeldBack(
        _ events: [TestEvent],
        by relay: RelayProcess,
        reason: String,
        pool: ConnectionPool
    ) async throws {
        let expected = #"{"status":"unavailable","reason":"\#(reason)"}"#
        try await waitUntil("/readyz says \(reason)", timeout: .seconds(15), every: .milliseconds(50)) {
            guard let readiness = await relay.readiness() else { return false }
            return readiness.status == 503 && readiness.body == expected
        }
        let end = ContinuousClock.now + .seconds(2)
        while ContinuousClock.now < end {
            let row = try await Self.maxAttemptsAndErrors(pool)
            #expect(row.attempts <= 1)
            #expect(row.withErrors == 0)
            #expect(try await Outbox.deadLetters(pool) == 0)
            #expect(try await Outbox.pending(pool) == events.count)
            let readiness = await relay.readiness()
            #expect(readiness?.status == 503)
            #expect(readiness?.body == expected)
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// The highest `attempts` in the outbox and how many events have an error recorded.
    private static func maxAttemptsAndErrors(_ pool: ConnectionPool) async throws -> (attempts: Int, withErrors: Int) {
        let row = try await pool.query(
            """
            SELECT coalesce(max(attempts), 0) AS attempts,
                count(*) FILTER (WHERE jsonb_array_length(error_history) > 0) AS with_errors
            FROM outbox_events
            """
        ).first
        return (try row?.decode("attempts", as: Int.self) ?? 99, try row?.decode("with_errors", as: Int.self) ?? 99)
    }

    /// Two relay processes share 5,000 events; one is killed with SIGKILL mid-stream and a
    /// third starts. Every event arrives; the only duplicates are events the killed relay had
    /// claimed (at most RELAY_CLAIM_BATCH × RELAY_WORKERS), sent again after its lease lapsed.
    ///
    /// SQS is the fake here: moto's SendMessageBatch costs O(messages waiting) per message
    /// (0.6 s per call with 3,000 waiting on this machine), far too slow for 5,000 events.
    /// `aRelayKilledMidStreamLosesNothingOnLocalStack` runs the same against a real SQS API.
    @Test func twoRelaysAndAThirdAfterOneIsKilledDeliverEveryEvent() async throws {
        try await Self.onFakeSQS { database, pool, queue in
            try await killOneOfTwoRelays(
                events: 5000,
                claimBatch: 50,
                workers: 2,
                killAfter: 1000,
                database,
                pool,
                queue
            )
        }
    }

    /// The SIGKILL test against LocalStack's SQS, a real SQS API, with 500 events and batches
    /// of 10 so that the kill still comes mid-stream.
    @Test(.requiresLocalStack) func aRelayKilledMidStreamLosesNothingOnLocalStack() async throws {
        try await Self.onLocalStack { database, pool, queue in
            try await killOneOfTwoRelays(events: 500, claimBatch: 10, workers: 2, killAfter: 50, database, pool, queue)
        }
    }

    /// Two relays share `count` events; the first is killed with SIGKILL once `delivered` of them
    /// left the outbox, and a third starts. Every event arrives; the only duplicates are events
    /// the killed relay had claimed (at most `claimBatch` × `workers`), sent again after its
    /// lease lapsed.
    private func killOneOfTwoRelays(
        events count: Int,
        claimBatch: Int,
        workers: Int,
        killAfter delivered: Int,
        _ database: TestDatabase,
        _ pool: ConnectionPool,
        _ queue: Queue
    ) async throws {
        let relaySettings = ["RELAY_CLAIM_BATCH": String(claimBatch), "RELAY_WORKERS": String(workers)]
        func startRelay() throws -> RelayProcess {
            try RelayProcess(
                databaseURL: database.connectionString,
                endpoint: queue.endpoint,
                queueURL: queue.url,
                settings: relaySettings
            )
        }
        let first = try startRelay()
        var relays = [first]
        do {
            relays.append(try startRelay())
            for relay in relays { try await relay.waitUntilReady() }
            let events = TestEvent.many(count)
            try await Outbox.insert(events, into: pool)

            // Mid-stream: the first relay has delivered some, much is left.
            try await waitUntil("the first relay is delivering", every: .milliseconds(10)) {
                let published = try await first.metrics()["outbox_events_published_total", default: 0]
                let pending = try await Outbox.pending(pool)
                return published > 0 && pending <= events.count - delivered
            }
            first.send(SIGKILL)
            #expect(try await first.child.wait(timeout: .seconds(10)) == SIGKILL)
            #expect(first.child.process.terminationReason == .uncaughtSignal)
            let pendingAtKill = try await Outbox.pending(pool)
            #expect(pendingAtKill > 0, "the kill came after the stream ended")
            // What the dead relay still holds: sent or not, it will be sent again.
            let stranded = try await Outbox.count(
                pool,
                "SELECT count(*) AS n FROM outbox_events WHERE claimed_by LIKE '%-\(first.pid)'"
            )
            #expect(stranded <= claimBatch * workers)

            relays.append(try startRelay())
            // The stranded events wait for their 15 s lease.
            let everything = "every event left the outbox"
            try await waitUntil(everything, timeout: .seconds(60), every: .milliseconds(200)) {
                try await Outbox.pending(pool) == 0
            }
            #expect(try await Outbox.deadLetters(pool) == 0)

            let received = try await queue.received()
            #expect(received.distinctEventIDs.count == events.count)
            #expect(received.distinctEventIDs == Set(events.map(\.id.lowercased)))
            #expect(received.duplicates <= stranded)
            #expect(received.duplicates <= claimBatch * workers)
            print(
                "FaultTests: SIGKILL: \(count) events, \(received.messages.count) messages, \(received.duplicates) duplicates, "
                    + "\(stranded) stranded by the killed relay, \(pendingAtKill) pending at the kill"
            )

            for relay in relays.dropFirst() {
                relay.send(SIGTERM)
                #expect(try await relay.child.wait(timeout: .seconds(20)) == 0)
            }
        } catch {
            for relay in relays { await relay.kill() }
            throw error
        }
        for relay in relays { await relay.kill() }
    }

    /// A relay that claimed events and died: once the lease lapses a live relay takes them
    /// over and delivers them, and the dead relay's late retire (its token) changes nothing.
    @Test func anExpiredLeaseIsReclaimedAndTheLateRetireIsFenced() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            try await database.withPool { pool in
                try await PrivateSQSServer.withServer { sqs in
                    let queueURL = try await sqs.createQueue("detection")
                    let events = TestEvent.many(15)
                    try await Outbox.insert(events, into: pool)
                    let connection = try await runBlocking { try database.connect() }
                    // A lease long next to the check made during it (2 s in): a loaded machine
                    // that runs the check late still runs it within the lease.
                    let lease = Duration.seconds(8)
                    let dead = try await runBlocking {
                        try OutboxClaims.claim(limit: 100, relayID: "dead-relay", lease: lease, on: connection)
                    }
                    #expect(dead.events.count == events.count)
                    let claimedAt = ContinuousClock.now

                    try await InProcessRelay.run(
                        database: database.settings,
                        endpoint: sqs.endpoint,
                        queueURL: queueURL,
                        settings: InProcessRelay.settings()
                    ) { _ in
                        // During the lease nobody touches them, though the relay polls every 100 ms.
                        try await Task.sleep(until: claimedAt + .seconds(2))
                        #expect(try await Outbox.pending(pool) == events.count)
                        #expect(try await sqs.approximateNumberOfMessages(queueURL: queueURL) == 0)
                        try await waitUntil("the lapsed claim was taken over and delivered", timeout: .seconds(20)) {
                            try await Outbox.pending(pool) == 0
                        }
                        // (Postgres's clock started the lease a little before `claimedAt`.)
                        #expect(ContinuousClock.now - claimedAt >= lease - .milliseconds(500))
                    }

                    var late = ClaimOutcome()
                    late.deadLetters = dead.events.map { ($0.id, "late dead letter") }
                    late.retries = dead.events.map { ($0.id, "late retry", 0) }
                    late.released = dead.events.map(\.id)
                    let lateRetire = try await runBlocking { [late] in
                        try OutboxClaims.retire(late, token: dead.token, on: connection)
                    }
                    #expect(lateRetire == RetireCounts())
                    #expect(try await Outbox.deadLetters(pool) == 0)
                    #expect(try await Outbox.pending(pool) == 0)

                    var received = Received()
                    try await received.drain(sqs, queueURL)
                    #expect(received.messages.count == events.count)
                    #expect(received.distinctEventIDs == Set(events.map(\.id.lowercased)))
                }
            }
        }
    }

    /// Fencing while both claims exist: the relay whose lease lapsed can neither deliver,
    /// retry, dead-letter nor release events another relay took over.
    @Test func aLapsedClaimCannotTouchEventsAnotherRelayTookOver() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            try await database.withPool { pool in
                let events = TestEvent.many(5)
                try await Outbox.insert(events, into: pool)
                let connection = try await runBlocking { try database.connect() }
                // A lease long next to the claim that must find it held, right after it.
                let lease = Duration.seconds(4)
                let old = try await runBlocking {
                    try OutboxClaims.claim(limit: 10, relayID: "old", lease: lease, on: connection)
                }
                let claimedAt = ContinuousClock.now
                #expect(old.events.count == events.count)
                let early = try await runBlocking {
                    try OutboxClaims.claim(limit: 10, relayID: "early", lease: .seconds(30), on: connection)
                }
                #expect(early.events.isEmpty)
                // (Postgres's clock started the lease before `claimedAt`.)
                try await Task.sleep(until: claimedAt + lease + .milliseconds(200))
                let new = try await runBlocking {
                    try OutboxClaims.claim(limit: 10, relayID: "new", lease: .seconds(30), on: connection)
                }
                #expect(Set(new.events.map(\.id)) == Set(events.map(\.id)))
                #expect(new.events.allSatisfy { $0.attempts == 2 })

                var outcome = ClaimOutcome()
                outcome.delivered = [events[0].id]
                outcome.retries = [(events[1].id, "old retry", 0)]
                outcome.deadLetters = [(events[2].id, "old dead letter")]
                outcome.released = [events[3].id, events[4].id]
                let fenced = try await runBlocking { [outcome] in
                    try OutboxClaims.retire(outcome, token: old.token, on: connection)
                }
                #expect(fenced == RetireCounts())
                let holders = try await Outbox.count(
                    pool,
                    "SELECT count(*) AS n FROM outbox_events WHERE claimed_by = 'new' AND claim_token = '\(new.token.lowercased)'"
                )
                #expect(holders == events.count)
                #expect(try await Outbox.deadLetters(pool) == 0)

                let counts = try await runBlocking { [outcome] in
                    try OutboxClaims.retire(outcome, token: new.token, on: connection)
                }
                #expect(counts.delivered == 1)
                #expect(counts.retried == 1)
                #expect(counts.deadLettered == 1)
                #expect(counts.released == 2)
            }
        }
    }

    /// Postgres restarts (every session killed) while events stream in and out: every
    /// committed event is delivered.
    @Test func aPostgresRestartLosesNothing() async throws {
        try await PrivatePostgresServer.withServer { server in
            let settings = try ConnectionSettings(connectionString: server.connectionString, applicationName: "tests")
            try await runBlocking { try Outbox.migrate(settings) }
            let pool = ConnectionPool(settings: settings, maximumConnections: 4, logger: .init(label: "test"))
            try await withPool(pool) { pool in
                try await CommitLog.create(pool)
                try await PrivateSQSServer.withServer { sqs in
                    let queueURL = try await sqs.createQueue("detection")
                    var committed: [TestEvent] = []
                    let relaySettings = InProcessRelay.settings(claimBatchSize: 10)
                    try await InProcessRelay.run(
                        database: settings,
                        endpoint: sqs.endpoint,
                        queueURL: queueURL,
                        settings: relaySettings
                    ) { _ in
                        let restart = Task.offTheCooperativePool {
                            try await Task.sleep(for: .milliseconds(700))
                            try await server.restart()
                        }
                        // 10 events every 50 ms for 2.5 s, through the restart.
                        for _ in 0..<50 {
                            let events = TestEvent.many(10)
                            try await CommitLog.insert(events, pool: pool)
                            committed += events
                            try await Task.sleep(for: .milliseconds(50))
                        }
                        try await restart.value
                        try await waitUntil("every committed event left the outbox", timeout: .seconds(45)) {
                            (try? await Outbox.pending(pool)) == 0
                        }
                    }
                    var received = Received()
                    try await received.drain(sqs, queueURL)
                    #expect(received.distinctEventIDs.count == committed.count)
                    #expect(received.distinctEventIDs == Set(committed.map(\.id.lowercased)))
                    #expect(try await Outbox.deadLetters(pool) == 0)
                    #expect(try await CommitLog.count(pool) == committed.count, "no event was inserted twice")
                    // Duplicates only from the crash between send and retire: at most the batch
                    // each worker had sent when the restart killed its session.
                    let bound = relaySettings.claimBatchSize * relaySettings.workers
                    #expect(received.duplicates <= bound, "\(received.duplicates) duplicates, at most \(bound) allowed")
                    print("FaultTests: Postgres restart: \(committed.count) events, \(received.duplicates) duplicates")
                }
            }
        }
    }

    /// A network between the relay and Postgres that stops delivering without closing anything:
    /// the relay's statements end at their deadline instead of hanging its workers, and once the
    /// network forwards again it delivers every event, none dead-lettered.
    @Test func aStalledDatabaseNetworkLosesNothing() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            try await database.withPool { pool in
                let proxy = try StallingTCPProxy(inFrontOf: database.connectionString)
                defer { proxy.close() }
                let throughProxy = try ConnectionSettings(
                    connectionString: proxy.connectionString,
                    applicationName: "tests",
                    timeouts: ConnectionTimeouts(statement: .milliseconds(500), connect: .seconds(2))
                )
                try await CommitLog.create(pool)
                try await PrivateSQSServer.withServer { sqs in
                    let queueURL = try await sqs.createQueue("detection")
                    var committed: [TestEvent] = []
                    // The lease must cover an SQS call's timeout plus the relay's 3 s safety margin,
                    // or the lease budget lets no call start (with the 5 s lease and 5 s timeout
                    // this test had, the relay released every claim unsent and the test timed out).
                    // 8 s: a call may start in the first 3 s of a claim; stranded events are
                    // claimed again 8 s after the stall.
                    let relaySettings = InProcessRelay.settings(claimBatchSize: 10, lease: .seconds(8))
                    try await InProcessRelay.run(
                        database: throughProxy,
                        endpoint: sqs.endpoint,
                        queueURL: queueURL,
                        settings: relaySettings,
                        sendTimeout: .seconds(2)
                    ) { _ in
                        // 5 events every 50 ms for 5 s; the network stalls for 3 s in the middle.
                        for round in 0..<100 {
                            if round == 20 { proxy.stall() }
                            if round == 80 { proxy.resume() }
                            let events = TestEvent.many(5)
                            try await CommitLog.insert(events, pool: pool)
                            committed += events
                            try await Task.sleep(for: .milliseconds(50))
                        }
                        try await waitUntil("every committed event left the outbox", timeout: .seconds(60)) {
                            (try? await Outbox.pending(pool)) == 0
                        }
                    }
                    var received = Received()
                    try await received.drain(sqs, queueURL)
                    #expect(received.distinctEventIDs == Set(committed.map(\.id.lowercased)))
                    #expect(try await Outbox.deadLetters(pool) == 0)
                    // Duplicates only where a batch was sent and its retire never reached Postgres:
                    // at most the batch each worker had in hand when the network stalled.
                    let bound = relaySettings.claimBatchSize * relaySettings.workers
                    #expect(received.duplicates <= bound, "\(received.duplicates) duplicates, at most \(bound) allowed")
                    print(
                        "FaultTests: stalled database network: \(committed.count) events, \(received.duplicates) duplicates"
                    )
                }
            }
        }
    }

    /// SIGTERM: the relay finishes (or gives back) the batch in hand and exits 0. No event is
    /// left claimed and none is lost: each is either in the queue or due in the outbox.
    /// (The fake SQS, for the reason given above; its latency keeps batches in flight.
    /// `sigtermFinishesTheBatchAndExitsZeroOnLocalStack` runs it against a real SQS API.)
    @Test func sigtermFinishesTheBatchAndExitsZero() async throws {
        try await Self.onFakeSQS { database, pool, queue in
            try await sigtermMidStream(
                warmUp: 100,
                stream: 3000,
                streamingAfter: 300,
                claimBatch: 100,
                workers: 4,
                database,
                pool,
                queue
            )
        }
    }

    /// The SIGTERM test against LocalStack's SQS, a real SQS API, with 500 events.
    @Test(.requiresLocalStack) func sigtermFinishesTheBatchAndExitsZeroOnLocalStack() async throws {
        try await Self.onLocalStack { database, pool, queue in
            try await sigtermMidStream(
                warmUp: 20,
                stream: 500,
                streamingAfter: 50,
                claimBatch: 20,
                workers: 2,
                database,
                pool,
                queue
            )
        }
    }

    /// The queue a relay process sends to in the SIGKILL and SIGTERM tests, and what reached it.
    private struct Queue {
        var endpoint: String
        var url: String
        var received: () async throws -> Received
    }

    /// A migrated database, a pool on it and the fake SQS (40 ms a call, so that batches are in
    /// flight when a relay is killed).
    private static func onFakeSQS(_ body: (TestDatabase, ConnectionPool, Queue) async throws -> Void) async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            try await database.withPool { pool in
                try await FakeSQS.withServer(latency: .milliseconds(40)) { fake, endpoint in
                    let queue = Queue(endpoint: endpoint, url: FakeSQS.queueURL(endpoint)) {
                        Received(messages: fake.messages)
                    }
                    try await body(database, pool, queue)
                }
            }
        }
    }

    /// A migrated database, a pool on it and a queue of the test's own on LocalStack's SQS.
    private static func onLocalStack(_ body: (TestDatabase, ConnectionPool, Queue) async throws -> Void) async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            try await database.withPool { pool in
                try await LocalStackSQS.withQueue { sqs, queueURL in
                    let queue = Queue(endpoint: sqs.endpoint, url: queueURL) {
                        var received = Received()
                        try await received.drain(sqs, queueURL)
                        return received
                    }
                    try await body(database, pool, queue)
                }
            }
        }
    }

    /// A relay delivers `warmUp` events (its counters say so), then gets SIGTERM once
    /// `streamingAfter` of `stream` more events left the outbox: it exits 0, leaves nothing
    /// claimed or held back, sent nothing twice, and every event is either in the queue
    /// or still in the outbox.
    private func sigtermMidStream(
        warmUp warmUpCount: Int,
        stream streamCount: Int,
        streamingAfter: Int,
        claimBatch: Int,
        workers: Int,
        _ database: TestDatabase,
        _ pool: ConnectionPool,
        _ queue: Queue
    ) async throws {
        let relay = try RelayProcess(
            databaseURL: database.connectionString,
            endpoint: queue.endpoint,
            queueURL: queue.url,
            settings: ["RELAY_CLAIM_BATCH": String(claimBatch), "RELAY_WORKERS": String(workers)]
        )
        do {
            try await relay.waitUntilReady()
            let warmUp = TestEvent.many(warmUpCount)
            try await Outbox.insert(warmUp, into: pool)
            try await waitUntil("the first events left the outbox") { try await Outbox.pending(pool) == 0 }
            let metrics = try await relay.metrics()
            #expect(metrics["outbox_events_published_total"] == Double(warmUp.count))
            #expect(metrics["outbox_events_failed_total", default: 0] == 0)
            #expect(metrics["outbox_events_dead_lettered_total", default: 0] == 0)
            #expect(metrics["outbox_circuit_breaker_open"] == 0)
            // One commit-to-send observation per delivered event.
            #expect(metrics["outbox_commit_to_send_seconds_count"] == Double(warmUp.count))

            let stream = TestEvent.many(streamCount)
            try await Outbox.insert(stream, into: pool)
            try await waitUntil("the stream is flowing", every: .milliseconds(5)) {
                try await Outbox.pending(pool) <= stream.count - streamingAfter
            }
            relay.send(SIGTERM)
            #expect(try await relay.child.wait(timeout: .seconds(20)) == 0)
            #expect(relay.child.process.terminationReason == .exit)

            let claimed = try await Outbox.count(
                pool,
                "SELECT count(*) AS n FROM outbox_events WHERE claim_token IS NOT NULL OR claimed_by IS NOT NULL"
            )
            #expect(claimed == 0)
            let heldBack = try await Outbox.count(
                pool,
                "SELECT count(*) AS n FROM outbox_events WHERE next_attempt_at > now()"
            )
            #expect(heldBack == 0)
            let left = Set(
                try await pool.query("SELECT id FROM outbox_events").rows.map {
                    try $0.decode("id", as: UUID.self).lowercased
                }
            )
            let received = try await queue.received()
            let all = Set((warmUp + stream).map(\.id.lowercased))
            #expect(received.duplicates == 0)
            #expect(received.distinctEventIDs.isDisjoint(with: left))
            #expect(received.distinctEventIDs.union(left) == all)
            #expect(try await Outbox.deadLetters(pool) == 0)
            print("FaultTests: SIGTERM: \(received.messages.count) sent, \(left.count) left for the next relay")
        } catch {
            await relay.kill()
            throw error
        }
        await relay.kill()
    }

    /// A relay that cannot serve its metrics port must exit with an error, not keep running
    /// headless. (The HTTP server's failure cancels the service group; a relay that ignores
    /// cancellation spins, logging "claiming failed" as fast as it can, and ignores SIGTERM.)
    /// The time limit only stops a hung run: the database and the fake SQS alone can take a
    /// minute to set up beside a full parallel suite on two cores.
    @Test(.timeLimit(.minutes(3))) func aRelayWhoseMetricsPortIsTakenExits() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            try await PrivateSQSServer.withServer { sqs in
                let queueURL = try await sqs.createQueue("detection")
                let listener = try PortHolder()
                defer { listener.close() }
                let relay = try RelayProcess(
                    databaseURL: database.connectionString,
                    endpoint: sqs.endpoint,
                    queueURL: queueURL,
                    settings: ["RELAY_METRICS_PORT": String(listener.port)]
                )
                let status = try? await relay.child.wait(timeout: .seconds(10))
                #expect(status != nil, "outbox-relay still runs 10 s after its metrics port was found taken")
                #expect(status.map { $0 != 0 } ?? true)
                await relay.kill()
            }
        }
    }
}

/// Events inserted through Postgres faults, each exactly once. Every insert also writes the
/// event ids into `test_committed_events`, in the same statement (so in the same transaction),
/// a table the relay never touches: whether an insert that failed ambiguously (the commit may
/// have happened) was committed is read there, never from the outbox, whose row is gone once
/// the event is delivered. So an event is never inserted again after it was delivered, and
/// every duplicate the queue holds is the relay's.
private enum CommitLog {
    static func create(_ pool: ConnectionPool) async throws {
        try await pool.query("CREATE TABLE test_committed_events (id uuid PRIMARY KEY)")
    }

    /// Inserts `events` (into the outbox and the log), retrying through a Postgres restart until
    /// the log says they were committed.
    static func insert(_ events: [TestEvent], pool: ConnectionPool) async throws {
        try await waitUntil("events were committed", timeout: .seconds(30), every: .milliseconds(100)) {
            do {
                try await Outbox.insert(events, into: pool, loggingIDsIn: "test_committed_events")
                return true
            } catch {
                // Committed or not: the log answers (and a failed look is tried again, with
                // another insert that the log's key refuses if the first one was committed).
                let found = try? await pool.query(
                    "SELECT count(*) AS n FROM test_committed_events WHERE id = $1",
                    [events[0].id]
                ).first?.decode("n", as: Int.self)
                return found == 1
            }
        }
    }

    /// How many events were inserted.
    static func count(_ pool: ConnectionPool) async throws -> Int {
        try await Outbox.count(pool, "SELECT count(*) AS n FROM test_committed_events")
    }
}

/// A listening socket on a free port, so that nobody else can bind it.
private final class PortHolder {
    let descriptor: Int32
    let port: Int

    init() throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let descriptor = descriptor
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(descriptor, socketAddress, length) == 0 && listen(descriptor, 1) == 0
                    && getsockname(descriptor, socketAddress, &length) == 0
            }
        }
        guard bound else { throw TestEnvironmentError("could not hold a port") }
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() {
        _ = Glibc.close(descriptor)
    }
}
