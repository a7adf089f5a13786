import AWS
import AuthTestSupport
import Foundation
import Postgres
import TestSupport
import Testing

/// One `complete` request, exported by both processes to an OTLP receiver on loopback: one trace
/// holds the API's server span (a child of the caller's), its database, S3 and EXIF spans, and
/// the relay's send span, whose context the SQS message carries as `traceparent`.
@Suite(.requiresDatabase, .offTheCooperativePool) struct TracingExportTests {
    static let callerTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
    static let callerSpanID = "00f067aa0ba902b7"
    static let readTraceID = "5cf92f3577b34da6a3ce929d0e0e4737"

    @Test func oneCompleteIsOneTraceFromTheRequestToTheMessage() async throws {
        let receiver = OTLPReceiver()
        let bytes = try ImageFixtures.bytes("canon.jpg")
        try await receiver.run { otlp in
            try await PrivateSQSServer.withServer { sqs in
                let queueURL = try await sqs.createQueue("detection-requests")
                try await StubStorage(object: bytes).run { s3 in
                    try await TestDatabase.withFresh { database in
                        try await Self.check(
                            database: database,
                            World(otlp: otlp, s3: s3, sqs: sqs, queueURL: queueURL, bytes: bytes),
                            receiver
                        )
                    }
                }
            }
        }
    }

    struct World: Sendable {
        var otlp: String
        var s3: String
        var sqs: PrivateSQSServer
        var queueURL: String
        var bytes: [UInt8]

        var tracing: [String: String] { ["OTEL_EXPORTER_OTLP_ENDPOINT": otlp, "OTEL_BSP_SCHEDULE_DELAY": "100"] }
    }

    static func check(database: TestDatabase, _ world: World, _ receiver: OTLPReceiver) async throws {
        try await database.migrate()
        let project = UUID()
        _ = try await runBlocking {
            try database.connect().query(
                "INSERT INTO projects (id, organization_id, name) VALUES ($1, $2, 'traced')",
                [project, AuthFixtures.organizationID]
            )
        }
        let api = try await LiveAPI.start(
            databaseURL: database.connectionString,
            environment: world.tracing.merging(["AWS_ENDPOINT_URL_S3": world.s3, "MIN_UPLOAD_BYTES": "16"]) { $1 }
        )
        defer { api.stop() }
        let relay = try ChildProcess(
            try TestPaths.executable("outbox-relay"),
            ["run"],
            environment: world.tracing.merging([
                "DATABASE_URL": database.connectionString, "DETECTION_QUEUE_URL": world.queueURL,
                "AWS_ENDPOINT_URL_SQS": world.sqs.endpoint,
                "AWS_ACCESS_KEY_ID": PrivateSQSServer.credentials.accessKeyID,
                "AWS_SECRET_ACCESS_KEY": PrivateSQSServer.credentials.secretAccessKey,
                "AWS_REGION": PrivateSQSServer.region, "RELAY_METRICS_HOST": "127.0.0.1",
                "RELAY_METRICS_PORT": "0", "RELAY_POLL_INTERVAL_MS": "100",
            ]) { $1 }
        )
        try relay.start()
        defer { relay.process.terminate() }

        let message = try await completeAndReceive(api: api, project: project, world)
        let trace = try await spansOfTheCallersTrace(receiver)
        let server = try #require(
            trace.first { $0.service == "photo-api" && $0.kind == 2 && $0.name.hasSuffix("/complete") },
            "no server span of complete in \(trace.map(\.name))"
        )
        #expect(server.parentSpanID == callerSpanID)
        #expect(server.attributes["http.response.status_code"] == "200")
        let children = trace.filter { $0.parentSpanID == server.spanID }.map(\.name)
        #expect(children.contains("S3 HeadObject"), "\(children)")
        #expect(children.contains("S3 GetObject"), "\(children)")
        #expect(children.contains("exif extract"), "\(children)")
        #expect(children.contains("photo_store_confirm_upload"), "\(children)")
        let send = try #require(
            trace.first { $0.service == "outbox-relay" && $0.kind == 4 },
            "no send span of the relay in \(trace.map(\.name))"
        )
        #expect(send.parentSpanID == server.spanID)
        #expect(send.name == "send detection-requests")
        #expect(message.attributes["traceparent"] == "00-\(callerTraceID)-\(send.spanID)-01")
        let readSpans = receiver.spans.filter { $0.traceID == readTraceID }
        let readServer = try #require(readSpans.first { $0.kind == 2 }, "\(readSpans.map(\.name))")
        let readChildren = readSpans.filter { $0.parentSpanID == readServer.spanID }.map(\.name)
        #expect(readChildren.contains("photo_store_select_photo"), "\(readChildren)")
        #expect(readChildren.contains("photo_store_select_status_history"), "\(readChildren)")
        // The relay's retire runs its statements inside `outbox retire`.
        // The retire's spans end after the message was sent, and are exported a moment later.
        let deadline = ContinuousClock.now + .seconds(10)
        while !receiver.spans.contains(where: { $0.name == "outbox_deliver" }), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        let retire = try #require(receiver.spans.first { $0.name == "outbox retire" })
        #expect(receiver.spans.contains { $0.parentSpanID == retire.spanID && $0.name == "outbox_deliver" })
        // Idle polls export nothing: every claim span exported belongs to a batch that sent, and
        // no statement of a loop outside any span starts a trace of its own.
        #expect(!receiver.spans.contains { $0.kind == 3 && $0.parentSpanID == nil }, "root client spans")
        #expect(!receiver.spans.contains { $0.name == "outbox claim" && $0.attributes["outbox.events"] == nil })
    }

    /// Issues an upload, completes it with the caller's `traceparent`, and waits for its message.
    static func completeAndReceive(api: LiveAPI, project: UUID, _ world: World) async throws -> SQSMessage {
        let token = try await PhotoWorld.token()
        let http = CurlHTTPClient(concurrency: 1, timeoutMilliseconds: 10_000)
        do {
            let message = try await completeAndReceive(api: api, project: project, token: token, http: http, world)
            await http.shutdown()
            return message
        } catch {
            await http.shutdown()
            throw error
        }
    }

    static func completeAndReceive(
        api: LiveAPI,
        project: UUID,
        token: String,
        http: CurlHTTPClient,
        _ world: World
    ) async throws -> SQSMessage {
        let issued = try await http.execute(
            .init(
                method: "POST",
                url: api.baseURL + "/api/v1/photos/upload-url",
                headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json")],
                body: Array(PhotoWorld.uploadBody(project: project, size: world.bytes.count).utf8)
            )
        )
        try #require(issued.status == 200, "\(String(decoding: issued.body, as: UTF8.self))")
        let json = try JSONSerialization.jsonObject(with: Data(issued.body)) as? [String: Any]
        let photoID = try #require(json?["photo_id"] as? String)
        let completed = try await http.execute(
            .init(
                method: "POST",
                url: api.baseURL + "/api/v1/photos/\(photoID)/complete",
                headers: [
                    ("Authorization", "Bearer \(token)"),
                    ("traceparent", "00-\(callerTraceID)-\(callerSpanID)-01"),
                ]
            )
        )
        try #require(completed.status == 200, "\(String(decoding: completed.body, as: UTF8.self))")
        // A read of several statements on one borrowed connection: each gets its span too.
        let read = try await http.execute(
            .init(
                method: "GET",
                url: api.baseURL + "/api/v1/photos/\(photoID)",
                headers: [
                    ("Authorization", "Bearer \(token)"),
                    ("traceparent", "00-\(readTraceID)-\(callerSpanID)-01"),
                ]
            )
        )
        try #require(read.status == 200)
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if let message = try await world.sqs.admin.drain(queueURL: world.queueURL).first { return message }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestEnvironmentError("no message reached the queue")
    }

    /// The spans of the caller's trace, once the relay's have arrived too.
    static func spansOfTheCallersTrace(_ receiver: OTLPReceiver) async throws -> [OTLPReceiver.ReceivedSpan] {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            let trace = receiver.spans.filter { $0.traceID == callerTraceID }
            if trace.contains(where: { $0.service == "outbox-relay" }) { return trace }
            try await Task.sleep(for: .milliseconds(100))
        }
        return receiver.spans.filter { $0.traceID == callerTraceID }
    }
}
