import AWS
import AuthTestSupport
import Foundation
import Postgres
import TestSupport
import Testing

/// Three `photo-api` processes (the built executable, each bound to port 0 and reporting the
/// port it got) on one database: one user's requests spread over the three get the configured
/// budget in total, not three times it, because the count lives in Postgres.
@Suite(.requiresDatabase, .offTheCooperativePool) struct UploadRateLimitReplicaTests {
    static let budget = 10

    @Test func oneUserSpreadOverThreeProcessesGetsTheBudgetOnce() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let project = UUID()
            let organization = UUID()
            let connection = try await database.connection()
            try await connection.blocking {
                try $0.query(
                    "INSERT INTO projects (id, organization_id, name) VALUES ($1, $2, 'site')",
                    [project, organization]
                )
            }
            let token = try await AuthFixtures.hs256([
                "sub": .string(UUID().uuidString),
                "org_id": .string(organization.uuidString),
                "exp": .number(Date().timeIntervalSince1970 + 300),
            ])
            let replicas = try (0..<3).map { _ in try Self.replica(database) }
            defer { for replica in replicas where replica.process.isRunning { replica.process.terminate() } }
            for replica in replicas { try replica.start() }
            var ports: [Int] = []
            for replica in replicas {
                let port = try await replica.reportedListeningPort()
                ports.append(try #require(port, "photo-api did not report its port: \(replica.standardError)"))
            }
            #expect(Set(ports).count == 3)

            let body = Array(
                #"{"project_id":"\#(project.uuidString.lowercased())","file_name":"a.jpg","file_size":4096,"mime_type":"image/jpeg"}"#
                    .utf8
            )
            // Rounds over the three processes, each round's three requests at once.
            var answers: [CurlHTTPClient.Response] = []
            try await Scoped.withHTTPClient(concurrency: 3) { client in
                for _ in 0..<Self.budget {
                    try await withThrowingTaskGroup(of: CurlHTTPClient.Response.self) { group in
                        for port in ports {
                            group.addTask {
                                try await client.execute(
                                    .init(
                                        method: "POST",
                                        url: "http://127.0.0.1:\(port)/api/v1/photos/upload-url",
                                        headers: [
                                            ("Authorization", "Bearer \(token)"), ("Content-Type", "application/json"),
                                        ],
                                        body: body
                                    )
                                )
                            }
                        }
                        for try await answer in group { answers.append(answer) }
                    }
                }
            }
            #expect(answers.count == 3 * Self.budget)
            let accepted = answers.filter { $0.status == 200 }
            let limited = answers.filter { $0.status == 429 }
            #expect(accepted.count == Self.budget, "\(answers.map(\.status))")
            #expect(limited.count == 2 * Self.budget)
            // Each accepted request saw its own place in the shared window.
            let remaining = accepted.compactMap { Self.header("RateLimit-Remaining", of: $0).flatMap { Int($0) } }
            #expect(remaining.sorted() == Array(0..<Self.budget))
            for answer in limited {
                #expect(Self.header("Retry-After", of: answer) != nil)
                #expect(Self.header("RateLimit-Remaining", of: answer) == "0")
                #expect(Self.header("RateLimit-Limit", of: answer) == String(Self.budget))
            }
            let photos = try await connection.blocking {
                try $0.query("SELECT count(*) AS n FROM photos").first?.decode("n", as: Int.self)
            }
            #expect(photos == Self.budget)

            for replica in replicas { replica.process.terminate() }
            for replica in replicas {
                let status = try await replica.wait(timeout: .seconds(60))
                #expect(status == 0, "\(replica.standardError.suffix(2000))")
            }
        }
    }

    /// A `photo-api` on `database`, bound to a port the kernel picks.
    static func replica(_ database: TestDatabase) throws -> ChildProcess {
        try ChildProcess(
            try TestPaths.executable("photo-api"),
            [],
            environment: [
                "DATABASE_URL": database.connectionString,
                "HOST": "127.0.0.1",
                "PORT": "0",
                "JWT_HS256_SECRET": AuthFixtures.secret,
                "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test",
                "AWS_REGION": "us-east-1",
                "PHOTOS_BUCKET": "photos-test",
                "RATE_LIMIT_PER_MINUTE": String(budget),
                // Info, for the "Server started" line that names the port.
                "LOG_LEVEL": "info",
            ]
        )
    }

    static func header(_ name: String, of response: CurlHTTPClient.Response) -> String? {
        response.headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }
}
