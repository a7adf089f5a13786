import AWS
import Foundation
import Hummingbird
import Logging
import Metrics
import Migrator
import NIOCore
import OutboxRelay
import Postgres
import ServiceLifecycle
import Synchronization
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

// Helpers of the relay's delivery and fault tests: events written straight into the outbox
// with SQL, the relay run in-process (a `ServiceGroup`) or as a child process, and a fake SQS
// for the per-entry failures moto cannot produce.

/// An event as a test writes it into `outbox_events`.
struct TestEvent: Sendable {
    var id = UUID()
    var type = "photo.uploaded"
    var photoID = UUID()
    /// The JSON text inserted as `payload`.
    var payload: String

    init(type: String = "photo.uploaded", photoID: UUID = UUID(), payload: String? = nil) {
        self.type = type
        self.photoID = photoID
        self.payload = payload ?? TestEvent.messageBody(photoID: photoID)
    }

    /// The contract's message body (section 6).
    static func messageBody(photoID: UUID, detectionTypes: [String] = ["damage", "material"]) -> String {
        let photo = photoID.uuidString.lowercased()
        let types = detectionTypes.map { "\"\($0)\"" }.joined(separator: ", ")
        return """
            {"photo_id": "\(photo)", "s3_url": "s3://companycam-photos-test/photos/\(photo).jpg", \
            "detection_types": [\(types)], "priority": "normal"}
            """
    }

    static func many(_ count: Int, type: String = "photo.uploaded") -> [TestEvent] {
        (0..<count).map { _ in TestEvent(type: type) }
    }
}

/// SQL on the outbox and dead-letter tables, through a pool (so the blocking libpq calls stay
/// off the test's threads).
enum Outbox {
    /// Inserts `events`; with `logTable`, also their ids into that table, in the same statement
    /// (so the same transaction): a record of the commit that outlives the event's delivery.
    static func insert(
        _ events: [TestEvent],
        into pool: ConnectionPool,
        loggingIDsIn logTable: String? = nil
    ) async throws {
        let logging = logTable.map { "WITH logged AS (INSERT INTO \($0) (id) SELECT unnest($1::uuid[]))\n" } ?? ""
        let insert = """
            INSERT INTO outbox_events (id, event_type, aggregate_id, payload)
            SELECT id, event_type, aggregate_id, payload::jsonb
            FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[]) AS e(id, event_type, aggregate_id, payload)
            """
        try await pool.query(
            logging + insert,
            [events.map(\.id), events.map(\.type), events.map(\.photoID), events.map(\.payload)]
        )
    }

    static func count(
        _ pool: ConnectionPool,
        _ sql: String = "SELECT count(*) AS n FROM outbox_events"
    ) async throws
        -> Int
    {
        try await pool.query(sql).first?.decode("n", as: Int.self) ?? 0
    }

    static func pending(_ pool: ConnectionPool) async throws -> Int {
        try await count(pool)
    }

    static func deadLetters(_ pool: ConnectionPool) async throws -> Int {
        try await count(pool, "SELECT count(*) AS n FROM outbox_dead_letters")
    }

    /// The payloads as the relay reads them (`payload::text`): the exact message bodies.
    static func storedBodies(_ pool: ConnectionPool) async throws -> [UUID: String] {
        var bodies: [UUID: String] = [:]
        for row in try await pool.query("SELECT id, payload::text AS payload FROM outbox_events").rows {
            bodies[try row.decode("id", as: UUID.self)] = try row.decode("payload", as: String.self)
        }
        return bodies
    }

    /// Applies the repository's migrations to a database given by its settings.
    static func migrate(_ settings: ConnectionSettings) throws {
        let directory = TestPaths.repositoryRoot.appendingPathComponent("sql").path
        try Migrator(directory: MigrationDirectory(path: directory), settings: settings, logger: Logger(label: "test"))
            .up()
    }
}

/// Polls `condition` until it holds; throws (failing the test) after `timeout`: 20 s by
/// default, room for real work (a relay delivering a batch, a child starting) on a loaded
/// two-core machine, while a lost wake-up still fails within seconds, not minutes.
func waitUntil(
    _ what: String,
    timeout: Duration = .seconds(20),
    every interval: Duration = .milliseconds(50),
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try await condition() { return }
        if ContinuousClock.now > deadline {
            throw TestEnvironmentError("timed out after \(timeout) waiting until \(what)")
        }
        try await Task.sleep(for: interval)
    }
}

/// Messages a test took off a queue, with what it needs to count them.
struct Received {
    var messages: [SQSMessage] = []

    var eventIDs: [String] { messages.compactMap { $0.attributes["event_id"] } }
    var distinctEventIDs: Set<String> { Set(eventIDs) }
    var duplicates: Int { eventIDs.count - distinctEventIDs.count }

    mutating func drain(_ server: PrivateSQSServer, _ queueURL: String) async throws {
        try await drain(server.admin, queueURL)
    }

    mutating func drain(_ sqs: SQSAdmin, _ queueURL: String) async throws {
        messages += try await sqs.drain(queueURL: queueURL)
    }
}

extension UUID {
    var lowercased: String { uuidString.lowercased() }
}

/// A value shared with escaping closures.
final class Box<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>

    init(_ value: Value) {
        storage = Mutex(value)
    }

    var value: Value {
        get { storage.withLock { $0 } }
        set { storage.withLock { $0 = newValue } }
    }
}

// MARK: - The relay in-process

enum InProcessRelay {
    static func settings(
        relayID: String = "test-relay-\(UUID().uuidString.prefix(8))",
        claimBatchSize: Int = 20,
        workers: Int = 2,
        lease: Duration = .seconds(30),
        maxAttempts: Int = 3,
        fifo: Bool = false
    ) -> OutboxRelayService.Settings {
        OutboxRelayService.Settings(
            relayID: relayID,
            claimBatchSize: claimBatchSize,
            workers: workers,
            lease: lease,
            pollInterval: .milliseconds(100),
            maxAttempts: maxAttempts,
            retryPolicy: RetryPolicy(baseMilliseconds: 5, maximumMilliseconds: 20),
            breakerPolicy: RetryPolicy(baseMilliseconds: 100, maximumMilliseconds: 400),
            isFIFOQueue: fifo
        )
    }

    /// Runs an `OutboxRelayService` in a `ServiceGroup` while `body` runs, then shuts it down
    /// gracefully (as SIGTERM would) and checks that it stopped.
    /// - Parameters:
    ///   - sendConcurrency: the SQS client's threads (SQS calls in flight at once).
    ///   - sendTimeout: the SQS client's timeout for one call.
    ///   - metricsFactory: where the relay's metrics go (nothing is recorded by default).
    static func run<Value>(
        database: ConnectionSettings,
        endpoint: String,
        queueURL: String,
        settings: OutboxRelayService.Settings,
        sendConcurrency: Int = 8,
        sendTimeout: Duration = .seconds(5),
        metricsFactory: any MetricsFactory = NOOPMetricsHandler.instance,
        _ body: (OutboxRelayService) async throws -> Value
    ) async throws -> Value {
        var logger = Logger(label: "relay-under-test")
        logger.logLevel =
            ProcessInfo.processInfo.environment["RELAY_TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:))
            ?? .critical
        let pool = ConnectionPool(settings: database, maximumConnections: settings.workers + 2, logger: logger)
        let http = CurlHTTPClient(
            concurrency: sendConcurrency,
            timeoutMilliseconds: Int(sendTimeout / .milliseconds(1)),
            connectTimeoutMilliseconds: 1000
        )
        let relay = OutboxRelayService(
            pool: pool,
            listenerSettings: database,
            sqs: SQSClient(
                endpoint: endpoint,
                queueURL: queueURL,
                region: PrivateSQSServer.region,
                credentials: PrivateSQSServer.credentials,
                http: http
            ),
            settings: settings,
            logger: logger,
            metricsFactory: metricsFactory
        )
        let group = ServiceGroup(services: [relay], logger: logger)
        let finished = Box(false)
        let running = Task.offTheCooperativePool {
            defer { finished.value = true }
            try await group.run()
        }
        func stop() async throws {
            await group.triggerGracefulShutdown()
            // Not `await running.value`: a relay that ignores the shutdown must fail the test,
            // not hang it.
            try await waitUntil("the in-process relay stopped after graceful shutdown", timeout: .seconds(20)) {
                finished.value
            }
            try await running.value
            await pool.shutdown()
            await http.shutdown()
        }
        let value: Value
        do {
            value = try await body(relay)
        } catch {
            try? await stop()
            throw error
        }
        try await stop()
        return value
    }
}

// MARK: - The relay as a child process

/// `outbox-relay run` as a child process, with its metrics on a port of its own: the relay binds
/// port 0 and the tests read the port from its "listening on" line, so no other process can take
/// the port between choosing and binding it. (A test may still set `RELAY_METRICS_PORT`.)
final class RelayProcess: Sendable {
    let child: ChildProcess
    /// The port the test set, if it set one.
    private let chosenPort: Int?
    private let reportedPort = Mutex<Int?>(nil)
    /// One client for every request to the relay's port (readiness polls, metrics), shut down
    /// by `kill()`.
    private let http = CurlHTTPClient(concurrency: 1, timeoutMilliseconds: 5000)

    init(databaseURL: String, endpoint: String, queueURL: String, settings: [String: String] = [:]) throws {
        var environment = [
            "DATABASE_URL": databaseURL,
            "DETECTION_QUEUE_URL": queueURL,
            "AWS_ENDPOINT_URL_SQS": endpoint,
            "AWS_ACCESS_KEY_ID": PrivateSQSServer.credentials.accessKeyID,
            "AWS_SECRET_ACCESS_KEY": PrivateSQSServer.credentials.secretAccessKey,
            "AWS_REGION": PrivateSQSServer.region,
            "RELAY_METRICS_HOST": "127.0.0.1",
            "RELAY_METRICS_PORT": "0",
            "RELAY_POLL_INTERVAL_MS": "100",
            "RELAY_BACKOFF_BASE_MS": "10",
            "RELAY_BACKOFF_MAX_MS": "100",
            "RELAY_LEASE_SECONDS": "15",
        ]
        environment.merge(settings) { _, new in new }
        // At least `info`: the metrics server's "listening on" line is how the port is learnt.
        // (The relay logs two lines at `info`, at start and stop; warnings are logged anyway.)
        environment["LOG_LEVEL"] = "info"
        chosenPort = environment["RELAY_METRICS_PORT"].flatMap(Int.init).flatMap { $0 == 0 ? nil : $0 }
        child = try ChildProcess(try TestPaths.executable("outbox-relay"), ["run"], environment: environment)
        try child.start()
    }

    var pid: Int32 { child.process.processIdentifier }
    var isRunning: Bool { child.process.isRunning }

    /// The metrics port: the one the test set, else the one the relay reported once it listens
    /// ("Server started and listening on 127.0.0.1:PORT"); `nil` until then.
    var metricsPort: Int? {
        if let chosenPort { return chosenPort }
        return reportedPort.withLock { port in
            if port == nil,
                let line = child.errorLines.first(where: { $0.contains("listening on") }),
                let range = line.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression)
            {
                port = Int(line[range].split(separator: ":").last ?? "")
            }
            return port
        }
    }

    func send(_ signal: Int32) {
        if child.process.isRunning { Glibc.kill(pid, signal) }
    }

    /// Waits until `/readyz` answers 200 (the relay checked the schema and serves HTTP).
    func waitUntilReady(timeout: Duration = .seconds(20)) async throws {
        try await waitUntil("outbox-relay \(pid) is ready", timeout: timeout, every: .milliseconds(100)) {
            guard child.process.isRunning else {
                throw TestEnvironmentError("outbox-relay exited early: \(child.standardError.suffix(2000))")
            }
            guard let port = metricsPort else { return false }
            return await httpGetStatus(port: port, path: "/readyz", using: http) == 200
        }
    }

    /// `/readyz`'s status and body (`nil` when nothing answers).
    func readiness() async -> (status: Int, body: String)? {
        guard let port = metricsPort,
            let response = try? await http.execute(.init(method: "GET", url: "http://127.0.0.1:\(port)/readyz"))
        else { return nil }
        return (response.status, String(decoding: response.body, as: UTF8.self))
    }

    /// `/metrics` as name (labels dropped, values summed) to value.
    func metrics() async throws -> [String: Double] {
        guard let port = metricsPort else {
            throw TestEnvironmentError("outbox-relay \(pid) has not reported its metrics port")
        }
        let response = try await http.execute(.init(method: "GET", url: "http://127.0.0.1:\(port)/metrics"))
        return PrometheusText.samples(String(decoding: response.body, as: UTF8.self))
    }

    /// Kills the child if a test left it running, and stops the HTTP client. Every test calls
    /// it on every path.
    func kill() async {
        send(SIGKILL)
        _ = try? await child.wait(timeout: .seconds(10))
        await http.shutdown()
    }
}

/// The Prometheus text format, read back.
enum PrometheusText {
    /// Every sample as name (labels dropped, values summed) to value.
    static func samples(_ text: String) -> [String: Double] {
        var values: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            guard parts.count >= 2, let value = Double(parts[1]) else { continue }
            let name = String(parts[0].prefix { $0 != "{" })
            values[name, default: 0] += value
        }
        return values
    }
}

// MARK: - A fake SQS for per-entry failures

/// An SQS `SendMessageBatch` endpoint whose answer for each entry a test decides: moto fails
/// entries only for a `DelaySeconds` the relay never sends (and then reports `SenderFault` as
/// the string "true"), so per-entry failures need a fake.
final class FakeSQS: Sendable {
    enum Answer: Sendable {
        case sent
        case failed(code: String, senderFault: Bool)
    }

    struct Entry: Sendable {
        var body: String
        var attributes: [String: String]
        var batch: Int
    }

    /// Decides an entry's fate from its body and how often that body was seen before.
    typealias Decide = @Sendable (_ body: String, _ previousSends: Int) -> Answer

    /// A body with "poison" fails for good (`SenderFault`: dead-lettered at once); one with
    /// "flaky" fails transiently the first time and is sent the second; the rest are sent.
    static let poisonAndFlaky: Decide = { body, previousSends in
        if body.contains("poison") { return .failed(code: "InvalidMessageContents", senderFault: true) }
        if body.contains("flaky"), previousSends == 0 {
            return .failed(code: "InternalError", senderFault: false)
        }
        return .sent
    }

    /// An answer to a whole call, instead of per-entry results: what SQS sends for bad
    /// credentials or a missing queue.
    struct Refusal: Sendable {
        var status: Int
        var contentType: String
        var body: String

        /// SQS's answer to an unknown access key: HTTP 403 with an XML body, even for JSON requests.
        static let invalidClientTokenId = Refusal(
            status: 403,
            contentType: "text/xml",
            body: """
                <?xml version="1.0"?><ErrorResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/">\
                <Error><Type>Sender</Type><Code>InvalidClientTokenId</Code>\
                <Message>The security token included in the request is invalid.</Message></Error>\
                <RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>
                """
        )
    }

    private struct State {
        var refusal: Refusal?
        var refusedCalls = 0
        var sent: [Entry] = []
        var seen: [String: Int] = [:]
        var batches = 0
        var batchSizes: [Int] = []
    }

    private let state = Mutex(State())
    private let decide: Decide

    private init(decide: @escaping Decide) {
        self.decide = decide
    }

    /// The entries answered as sent, as messages.
    var messages: [SQSMessage] {
        sent.map { SQSMessage(messageID: UUID().uuidString, body: $0.body, attributes: $0.attributes) }
    }

    /// Its queue URL (any queue name is accepted).
    static func queueURL(_ endpoint: String) -> String {
        "\(endpoint)/\(PrivateSQSServer.accountID)/detection"
    }

    /// Entries answered as sent, in order.
    var sent: [Entry] { state.withLock { $0.sent } }
    /// How many entries every batch had.
    var batchSizes: [Int] { state.withLock { $0.batchSizes } }
    func timesSeen(_ body: String) -> Int { state.withLock { $0.seen[body, default: 0] } }
    /// Calls answered with a refusal.
    var refusedCalls: Int { state.withLock { $0.refusedCalls } }

    /// Answers every call with `refusal` (no entry is looked at) until it is set to `nil`.
    func refuseCalls(_ refusal: Refusal?) { state.withLock { $0.refusal = refusal } }

    /// The refusal for the next call, counted, if calls are refused.
    private func takeRefusal() -> Refusal? {
        state.withLock { state in
            if state.refusal != nil { state.refusedCalls += 1 }
            return state.refusal
        }
    }

    /// Serves the fake on a free port of 127.0.0.1 while `body` runs; passes its endpoint.
    /// - Parameter latency: how long each call takes, as a network would.
    static func withServer<Value>(
        latency: Duration = .zero,
        decide: @escaping Decide = { _, _ in .sent },
        _ body: (FakeSQS, String) async throws -> Value
    ) async throws -> Value {
        let fake = FakeSQS(decide: decide)
        let router = Router()
        router.post("/") { request, _ -> Response in
            let buffer = try await request.body.collect(upTo: 8 << 20)
            if latency > .zero { try await Task.sleep(for: latency) }
            if let refusal = fake.takeRefusal() {
                return Response(
                    status: .init(code: refusal.status),
                    headers: [.contentType: refusal.contentType],
                    body: .init(byteBuffer: ByteBuffer(string: refusal.body))
                )
            }
            let answer = try fake.answer(Data(buffer.readableBytesView))
            return Response(
                status: .ok,
                headers: [.contentType: "application/x-amz-json-1.0"],
                body: .init(byteBuffer: ByteBuffer(bytes: answer))
            )
        }
        let port = Box(0)
        var logger = Logger(label: "fake-sqs")
        logger.logLevel = .critical
        let application = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in port.value = channel.localAddress?.port ?? 0 },
            logger: logger
        )
        let group = ServiceGroup(services: [application], logger: logger)
        let running = Task.offTheCooperativePool { try await group.run() }
        defer { running.cancel() }
        do {
            // A readiness wait, not a performance check: under a loaded CI machine, with every
            // suite running at once, the server's start has been seen to take over 10 s (when
            // suites still blocked the cooperative pool with libpq calls).
            try await waitUntil("the fake SQS listens", timeout: .seconds(20), every: .milliseconds(10)) {
                port.value != 0
            }
            let value = try await body(fake, "http://127.0.0.1:\(port.value)")
            await group.triggerGracefulShutdown()
            return value
        } catch {
            await group.triggerGracefulShutdown()
            throw error
        }
    }

    private func answer(_ request: Data) throws -> Data {
        guard let object = try JSONSerialization.jsonObject(with: request) as? [String: Any],
            let entries = object["Entries"] as? [[String: Any]]
        else { throw TestEnvironmentError("the fake SQS got a request it does not understand") }
        var successful: [[String: Any]] = []
        var failed: [[String: Any]] = []
        state.withLock { state in
            state.batches += 1
            state.batchSizes.append(entries.count)
            for entry in entries {
                let id = entry["Id"] as? String ?? ""
                let body = entry["MessageBody"] as? String ?? ""
                let attributes = (entry["MessageAttributes"] as? [String: [String: Any]] ?? [:])
                    .compactMapValues { $0["StringValue"] as? String }
                let previous = state.seen[body, default: 0]
                state.seen[body] = previous + 1
                switch decide(body, previous) {
                case .sent:
                    state.sent.append(Entry(body: body, attributes: attributes, batch: state.batches))
                    successful.append(["Id": id, "MessageId": UUID().uuidString, "MD5OfMessageBody": ""])
                case .failed(let code, let senderFault):
                    failed.append(["Id": id, "SenderFault": senderFault, "Code": code, "Message": "fake \(code)"])
                }
            }
        }
        return try JSONSerialization.data(withJSONObject: ["Successful": successful, "Failed": failed])
    }
}
