import AWS
import Domain
import Foundation
import Instrumentation
import Logging
import Metrics
import Postgres
import ServiceLifecycle
import Synchronization
import TraceExport
import Tracing
import UUIDCoding

/// The relay's delivery loop: claims due outbox events, sends them to SQS with
/// `SendMessageBatch`, and retires them, in as many workers as configured.
///
/// Workers wake on `NOTIFY outbox_events` (sent by a trigger when events commit) and poll as a
/// fallback. On graceful shutdown (SIGTERM) they stop claiming, finish the batch in hand
/// (send and retire it) and return; a batch that cannot be retired is left to its lease.
///
/// ## The lease budget
///
/// Once a claim's lease lapses another relay may claim the same events and send them, so a
/// relay must not send anything after its lease. With a slow SQS a big claim's calls queue up
/// behind each other for the SQS client's threads (shared by all workers) and would otherwise
/// run past the lease. So every claim has a deadline for *starting* calls,
/// ``Settings/lastSendStart(claimedAt:sendTimeout:)``: the lease, minus the SQS client's
/// timeout (a call started in time has ended, answered or timed out, before the lease does),
/// minus ``Settings/leaseSafetyMargin`` (to retire the claim while it still holds). The
/// deadline is checked on the client's thread right before a call starts; a call that would
/// start later never starts, and its events are released with the claim's outcome, without
/// spending their attempt, to be claimed again at once (counted by
/// `outbox_events_released_for_lease_total`). Release and retire are both fenced by the
/// claim token, so even a relay that stalls past its lease changes nothing it no longer holds.
///
/// Releasing the remainder was preferred to a heartbeat extending the lease: the bound is a
/// local computation with nothing that can itself be late, and a hung SQS cannot keep events
/// leased away from other relays.
public final class OutboxRelayService: Service {
    /// How the loop behaves; see `RelayConfiguration` for the environment variables.
    public struct Settings: Sendable {
        /// Written into `claimed_by`: which relay holds a claim.
        public var relayID: String
        public var claimBatchSize: Int
        public var workers: Int
        public var lease: Duration
        public var pollInterval: Duration
        public var maxAttempts: Int
        public var retryPolicy: RetryPolicy
        /// Pauses of the circuit breaker; capped lower than event retries so that delivery
        /// resumes soon after SQS comes back.
        public var breakerPolicy: RetryPolicy
        /// FIFO queues get `MessageGroupId` (the photo) and `MessageDeduplicationId` (the event).
        public var isFIFOQueue: Bool
        /// How often the outbox depth and age gauges are refreshed.
        public var statisticsInterval: Duration = .seconds(5)
        /// Lease time kept back after a claim's last SQS call could have timed out, to retire
        /// the claim (one short transaction) before its lease ends. With the shortest lease
        /// (`RELAY_LEASE_SECONDS=15`) and the relay's 10 s SQS timeout, 2 s remain for starting
        /// calls.
        public var leaseSafetyMargin: Duration = .seconds(3)

        public init(
            relayID: String,
            claimBatchSize: Int,
            workers: Int,
            lease: Duration,
            pollInterval: Duration,
            maxAttempts: Int,
            retryPolicy: RetryPolicy,
            breakerPolicy: RetryPolicy,
            isFIFOQueue: Bool
        ) {
            self.relayID = relayID
            self.claimBatchSize = claimBatchSize
            self.workers = workers
            self.lease = lease
            self.pollInterval = pollInterval
            self.maxAttempts = maxAttempts
            self.retryPolicy = retryPolicy
            self.breakerPolicy = breakerPolicy
            self.isFIFOQueue = isFIFOQueue
        }

        /// The latest instant at which a claim whose statement was sent at `claimedAt` may
        /// start an SQS call that takes at most `sendTimeout`.
        ///
        /// Postgres starts the lease with its `now()` while it runs the claim statement, after
        /// `claimedAt`: the deadline errs early, never late, whatever the two clocks read.
        public func lastSendStart(
            claimedAt: ContinuousClock.Instant,
            sendTimeout: Duration
        ) -> ContinuousClock.Instant {
            claimedAt + lease - sendTimeout - leaseSafetyMargin
        }
    }

    public let settings: Settings
    public let breaker: CircuitBreaker
    private let pool: ConnectionPool
    private let listenerSettings: ConnectionSettings
    private let sqs: SQSClient
    private let logger: Logger
    private let wake = WakeSignal()
    private let stopping = Flag()
    private let metrics: RelayMetrics

    /// - Parameter metricsFactory: where the relay's metrics go; the process-wide
    ///   `MetricsSystem.factory` by default (bootstrapped to Prometheus by the executable).
    ///   Tests pass their own, since the global factory can be bootstrapped only once.
    public init(
        pool: ConnectionPool,
        listenerSettings: ConnectionSettings,
        sqs: SQSClient,
        settings: Settings,
        logger: Logger,
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        self.metrics = RelayMetrics(factory: metricsFactory)
        self.pool = pool
        self.listenerSettings = listenerSettings
        self.sqs = sqs
        self.settings = settings
        self.breaker = CircuitBreaker(policy: settings.breakerPolicy)
        self.logger = logger
    }

    public func run() async throws {
        logger.info(
            "relay started",
            metadata: [
                "relay_id": "\(settings.relayID)", "workers": "\(settings.workers)",
                "queue_fifo": "\(settings.isFIFOQueue)",
            ]
        )
        if settings.lease <= sqs.timeout + settings.leaseSafetyMargin {
            // RelayConfiguration cannot get here (its shortest lease is 15 s); settings made in
            // code can, and would then release every claim unsent, forever.
            logger.error(
                "the lease leaves no time to start SQS calls: every claim will be released unsent",
                metadata: [
                    "lease_seconds": "\(settings.lease.components.seconds)",
                    "sqs_timeout_seconds": "\(sqs.timeout.components.seconds)",
                ]
            )
        }
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { background in
                let listener = NotificationListener(
                    settings: listenerSettings,
                    channels: ["outbox_events"],
                    logger: logger
                )
                background.addTask { [wake] in
                    try? await listener.run { _ in wake.signal() }
                }
                background.addTask { await self.refreshStatistics() }
                await withTaskGroup(of: Void.self) { workers in
                    for worker in 0..<settings.workers {
                        workers.addTask { await self.work(worker: worker) }
                    }
                }
                background.cancelAll()
            }
        } onGracefulShutdown: { [stopping, wake] in
            stopping.set()
            wake.signalAll()
        }
        logger.info("relay stopped", metadata: ["relay_id": "\(settings.relayID)"])
    }

    /// One claim-send-retire loop.
    private func work(worker: Int) async {
        var consecutiveErrors = 0
        // Cancellation (the service group tearing down after another service failed) ends the
        // loop as well as graceful shutdown does: cancelled waits return at once, so a loop
        // that ignored it would spin.
        while !stopping.isSet, !Task.isCancelled {
            let seen = wake.generation
            if let pause = breaker.waitBeforeClaiming() {
                metrics.record(breaker.state)
                await wake.wait(after: seen, timeout: pause)
                continue
            }
            do {
                let claimedAt = ContinuousClock.now
                // A batch is a trace of its own, with its claim and retire as children; a poll
                // that claims nothing ends neither span, so idle polls export nothing.
                let batchSpan = startSpan("outbox batch", context: .topLevel)
                let claimSpan = startSpan("outbox claim", context: batchSpan.context)
                let claim = try await pool.withConnection { [settings] connection in
                    try OutboxClaims.claim(
                        limit: settings.claimBatchSize,
                        relayID: settings.relayID,
                        lease: settings.lease,
                        on: connection
                    )
                }
                consecutiveErrors = 0
                if claim.events.isEmpty {
                    breaker.recordNothingToSend()
                    await wake.wait(after: seen, timeout: settings.pollInterval)
                    continue
                }
                claimSpan.attributes["outbox.events"] = claim.events.count
                claimSpan.end()
                defer { batchSpan.end() }
                // A full claim means more is waiting: recruit another worker.
                if claim.events.count == settings.claimBatchSize { wake.signal() }
                let lastSendStart = settings.lastSendStart(claimedAt: claimedAt, sendTimeout: sqs.timeout)
                let (outcome, outage) = await deliver(claim, lastSendStart: lastSendStart)
                await withSpan("outbox retire", context: batchSpan.context) { span in
                    span.attributes["outbox.delivered"] = outcome.delivered.count
                    await retire(outcome, of: claim)
                }
                // Opened only once the claim is given back: a probe let through while the
                // events were still leased would find nothing, close the breaker and make
                // `/readyz` flap to ready in the middle of the outage.
                if let outage { openBreaker(for: outage) }
            } catch {
                consecutiveErrors += 1
                let pause = Duration.milliseconds(min(5000, 100 << min(consecutiveErrors, 6)))
                logger.warning(
                    "claiming failed; retrying",
                    metadata: ["error": "\(error)", "worker": "\(worker)", "retry_in": "\(pause)"]
                )
                await wake.wait(after: wake.generation, timeout: pause)
            }
        }
    }

    /// Sends a claim's events in batches of up to 10 entries and 256 KiB, all batches at once,
    /// and sorts every event into the outcome. Closes the breaker when SQS answered; an outage
    /// is returned instead, for the caller to open the breaker once the claim is released.
    ///
    /// No call starts after `lastSendStart` (the lease budget, see the type's documentation):
    /// the events of the batches that did not start by then are released.
    func deliver(
        _ claim: Claim,
        lastSendStart: ContinuousClock.Instant
    ) async -> (outcome: ClaimOutcome, outage: CircuitBreaker.Outage?) {
        var outcome = ClaimOutcome()
        var batches: [[(event: ClaimedEvent, entry: SQSClient.Entry)]] = []
        var current: [(event: ClaimedEvent, entry: SQSClient.Entry)] = []
        var currentSize = 0
        // One producer span per message, a child of the writing request's span, so the request's
        // trace shows when its event left; the message names this span as the consumer's parent.
        var sendSpans: [(id: UUID, span: any Tracing.Span)] = []
        defer {
            let delivered = Set(outcome.delivered)
            for (id, span) in sendSpans {
                if !delivered.contains(id) { span.setStatus(SpanStatus(code: .error)) }
                span.end()
            }
        }
        for event in claim.events {
            var parent = InstrumentationContext.topLevel
            parent.traceContext = TraceContext(traceParent: event.traceParent, traceState: event.traceState)
            let span = startSpan(sendSpanName, context: parent, ofKind: .producer)
            if span.isRecording {
                span.attributes["messaging.system"] = "aws_sqs"
                span.attributes["messaging.destination.name"] = queueName
                span.attributes["messaging.message.id"] = event.id.lowercasedString
                span.attributes["photo.id"] = event.aggregateID.lowercasedString
            }
            sendSpans.append((event.id, span))
            var entry = makeEntry(for: event, trace: span.context.traceContext)
            guard entry.size <= SQSClient.maximumBatchBytes else {
                outcome.deadLetters.append(
                    (event.id, "message of \(entry.size) bytes exceeds the SQS limit of \(SQSClient.maximumBatchBytes)")
                )
                continue
            }
            if current.count == SQSClient.maximumEntriesPerBatch
                || currentSize + entry.size > SQSClient.maximumBatchBytes
            {
                batches.append(current)
                current = []
                currentSize = 0
            }
            // Entry ids only need to be unique within their batch.
            entry.id = String(current.count)
            current.append((event, entry))
            currentSize += entry.size
        }
        if !current.isEmpty { batches.append(current) }

        let results = await withTaskGroup(of: (Int, Result<[String: SQSClient.EntryResult], SQSClient.BatchError>).self)
        {
            group in
            for (index, batch) in batches.enumerated() {
                group.addTask { [sqs] in
                    do {
                        let entries = batch.map(\.entry)
                        return (index, .success(try await sqs.sendMessageBatch(entries, startDeadline: lastSendStart)))
                    } catch let error as SQSClient.BatchError {
                        return (index, .failure(error))
                    } catch {
                        return (
                            index,
                            .failure(.init(kind: .outage(.serviceUnavailable), code: "Unknown", message: "\(error)"))
                        )
                    }
                }
            }
            var results: [Int: Result<[String: SQSClient.EntryResult], SQSClient.BatchError>] = [:]
            for await (index, result) in group { results[index] = result }
            return results
        }

        // The outage that opens the breaker: the one an operator must act on, when batches
        // failed for different reasons.
        var outage: CircuitBreaker.Outage?
        func note(_ reason: SQSOutageReason, _ detail: String) {
            if outage.map({ reason.precedence > $0.reason.precedence }) ?? true {
                outage = .init(reason: reason, detail: detail)
            }
        }
        var sawAnswer = false
        var unsentForLease = 0
        let now = Date()
        for (index, batch) in batches.enumerated() {
            switch results[index] {
            case .success(let entries):
                sawAnswer = true
                for (event, entry) in batch {
                    switch entries[entry.id] {
                    case .sent:
                        outcome.delivered.append(event.id)
                        metrics.recordSent(createdAt: event.createdAt, now: now)
                    case .failed(let code, let message, let senderFault):
                        let error = "SQS \(code): \(message)"
                        if let reason = SQSOutageReason(failedEntryCode: code) {
                            // A queue-wide refusal reported per entry is an outage, whatever
                            // `SenderFault` says: the event goes back without spending its attempt.
                            outcome.released.append(event.id)
                            note(reason, error)
                        } else if senderFault {
                            outcome.deadLetters.append((event.id, error))
                        } else {
                            retryOrGiveUp(event, error: error, into: &outcome)
                        }
                    case nil:
                        retryOrGiveUp(event, error: "SQS returned no result for the entry", into: &outcome)
                    }
                }
            case .failure(let error) where error.kind == .notSent:
                // The lease budget ran out before this batch's turn: SQS saw none of it.
                outcome.released.append(contentsOf: batch.map(\.event.id))
                unsentForLease += batch.count
            case .failure(let error):
                if let reason = error.outageReason {
                    outcome.released.append(contentsOf: batch.map(\.event.id))
                    note(reason, error.description)
                    logger.warning(
                        "SQS unavailable",
                        metadata: ["error": "\(error)", "reason": "\(reason.reason)"]
                    )
                } else {
                    sawAnswer = true
                    for (event, _) in batch { retryOrGiveUp(event, error: error.description, into: &outcome) }
                }
            case nil:
                outcome.released.append(contentsOf: batch.map(\.event.id))
            }
        }
        if outage == nil, sawAnswer {
            breaker.recordSuccess()
            metrics.record(breaker.state)
        }
        if unsentForLease > 0 {
            metrics.releasedForLease.increment(by: unsentForLease)
            logger.warning(
                "lease budget spent before every batch was sent: releasing the unsent events for another claim",
                metadata: [
                    "released": "\(unsentForLease)", "claimed": "\(claim.events.count)",
                    "lease": "\(settings.lease)", "send_timeout": "\(sqs.timeout)",
                ]
            )
        }
        return (outcome, outage)
    }

    /// Opens (again) the circuit breaker for `outage`.
    private func openBreaker(for outage: CircuitBreaker.Outage) {
        let pause = breaker.recordOutage(outage)
        logger.warning(
            "circuit breaker open: pausing delivery",
            metadata: ["pause": "\(pause)", "reason": "\(outage.reason.reason)"]
        )
        metrics.record(breaker.state)
    }

    /// The message for `event`: its payload as the body, its ids and the writing request's
    /// trace context as attributes, so the pipeline's work joins the request's trace.
    ///
    /// `trace` is the send span's context when spans are recorded, else the stored one's (the
    /// no-op tracer passes it through); an event stored without a trace gets none invented.
    private func makeEntry(for event: ClaimedEvent, trace: TraceContext?) -> SQSClient.Entry {
        let eventID = event.id.lowercasedString
        var attributes = ["event_id": eventID, "event_type": event.eventType]
        if let traceParent = event.traceParent.flatMap({ _ in trace?.traceParent }) ?? event.traceParent {
            attributes["traceparent"] = traceParent
            if let traceState = event.traceState {
                attributes["tracestate"] = traceState
            }
        }
        return SQSClient.Entry(
            id: "",
            body: event.payload,
            attributes: attributes,
            messageGroupID: settings.isFIFOQueue ? event.aggregateID.lowercasedString : nil,
            deduplicationID: settings.isFIFOQueue ? eventID : nil
        )
    }

    private func retryOrGiveUp(_ event: ClaimedEvent, error: String, into outcome: inout ClaimOutcome) {
        if event.attempts >= settings.maxAttempts {
            outcome.deadLetters.append((event.id, error))
        } else {
            outcome.retries.append((event.id, error, settings.retryPolicy.delay(afterAttempts: event.attempts)))
        }
    }

    /// Applies the outcome, retrying while Postgres is unreachable (a restart): giving up
    /// leaves the events to their lease, which means sending them again later.
    private func retire(_ outcome: ClaimOutcome, of claim: Claim) async {
        for attempt in 1...20 {
            do {
                let counts = try await pool.withConnection { connection in
                    try OutboxClaims.retire(outcome, token: claim.token, on: connection)
                }
                metrics.record(counts)
                if counts.delivered < outcome.delivered.count {
                    logger.warning(
                        "lease lapsed before retiring: another relay may send these events again",
                        metadata: ["lost": "\(outcome.delivered.count - counts.delivered)"]
                    )
                }
                if !outcome.deadLetters.isEmpty || logger.logLevel <= .debug {
                    logPerEvent(outcome, of: claim)
                }
                return
            } catch {
                logger.warning(
                    "retiring a batch failed; retrying",
                    metadata: ["error": "\(error)", "attempt": "\(attempt)"]
                )
                try? await Task.sleep(for: .milliseconds(min(2000, 100 * attempt)))
            }
        }
        logger.error(
            "could not retire a batch; its events will be sent again when the lease lapses",
            metadata: ["events": "\(claim.events.count)"]
        )
    }

    /// One line per dead-lettered event (an error) and, at `debug`, per delivered one, each
    /// with the event's `event_id`, `photo_id` and the writing request's `trace_id`, so an
    /// operator can follow one photo from its request to its message.
    private func logPerEvent(_ outcome: ClaimOutcome, of claim: Claim) {
        let events = Dictionary(claim.events.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        func metadata(_ id: UUID) -> Logger.Metadata {
            var metadata: Logger.Metadata = ["event_id": "\(id.lowercasedString)"]
            if let event = events[id] {
                metadata["photo_id"] = "\(event.aggregateID.lowercasedString)"
                if let traceID = event.traceID { metadata["trace_id"] = "\(traceID)" }
            }
            return metadata
        }
        for (id, error) in outcome.deadLetters {
            logger.error("event dead-lettered", metadata: metadata(id).merging(["error": "\(error)"]) { $1 })
        }
        for id in outcome.delivered {
            logger.debug("event sent", metadata: metadata(id))
        }
    }

    /// The queue's name, the last part of its URL: the messaging spans' destination.
    private var queueName: String {
        String(sqs.queueURL.split(separator: "/").last ?? "queue")
    }

    private var sendSpanName: String { "send \(queueName)" }

    /// Keeps the outbox depth, age and dead-letter gauges current.
    private func refreshStatistics() async {
        while !Task.isCancelled {
            if let statistics = try? await pool.withConnection({ try OutboxStatistics.read(on: $0) }) {
                metrics.record(statistics)
            }
            metrics.record(breaker.state)
            try? await Task.sleep(for: settings.statisticsInterval)
        }
    }
}

/// Set once by the graceful-shutdown handler, read by the workers.
private final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .relaxed) }
    func set() { value.store(true, ordering: .relaxed) }
}
