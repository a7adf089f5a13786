import AWS
import AuthTestSupport
import Foundation
import Postgres
import TestSupport
import Testing

/// The upload path a client sees, as real processes: `photo-api` and the outbox relay on a fresh
/// migrated database holding one project of `AuthFixtures.organizationID`, with LocalStack's S3
/// (a bucket of the test's own, signatures enforced) and SQS (a queue of its own). For the tests
/// that drive the documented example clients from outside.
struct LiveStack {
    let api: LiveAPI
    let project: UUID
    let s3Endpoint: String
    let bucket: String

    /// Runs `body` on a new stack; `apiEnvironment` goes on top of photo-api's environment.
    static func run(
        prefix: String,
        apiEnvironment: [String: String] = [:],
        _ body: (LiveStack) async throws -> Void
    ) async throws {
        let s3 = try LocalStackSQS.endpoint()
        let bucket = "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
        let created = try await Scoped.withHTTPClient { http in
            try await http.execute(.init(method: "PUT", url: "\(s3)/\(bucket)"))
        }
        try #require(created.status == 200, "creating the bucket answered \(created.status)")
        try await LocalStackSQS.withQueue(prefix: prefix) { _, queueURL in
            try await TestDatabase.withFresh { database in
                try await database.migrate()
                let project = UUID()
                _ = try await runBlocking {
                    try database.connect().query(
                        "INSERT INTO projects (id, organization_id, name) VALUES ($1, $2, $3)",
                        [project, AuthFixtures.organizationID, prefix]
                    )
                }
                let api = try await LiveAPI.start(
                    databaseURL: database.connectionString,
                    environment: ["AWS_ENDPOINT_URL": s3, "PHOTOS_BUCKET": bucket].merging(apiEnvironment) { $1 }
                )
                defer { api.stop() }
                let relay = try ChildProcess(
                    try TestPaths.executable("outbox-relay"),
                    ["run"],
                    environment: [
                        "DATABASE_URL": database.connectionString, "DETECTION_QUEUE_URL": queueURL,
                        "AWS_ENDPOINT_URL": s3, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                        "AWS_REGION": "us-east-1", "RELAY_METRICS_HOST": "127.0.0.1", "RELAY_METRICS_PORT": "0",
                        "RELAY_POLL_INTERVAL_MS": "100",
                    ]
                )
                try relay.start()
                defer { relay.process.terminate() }
                try await body(LiveStack(api: api, project: project, s3Endpoint: s3, bucket: bucket))
            }
        }
    }
}
