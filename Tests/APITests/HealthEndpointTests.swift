import API
import AppConfig
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Migrator
import Operations
import Postgres
import TestSupport
import Testing

/// photo-api's operational endpoints (contract section 4): `/healthz` answers while the process
/// lives, `/readyz` only while the database is reachable and its schema current (a rolled-back
/// schema shows once the cache window passed), `/metrics` is Prometheus text, idle HTTP
/// connections are closed after `HTTP_IDLE_TIMEOUT_SECONDS`, and the API refuses to start on a
/// database whose schema is behind.
@Suite(.requiresDatabase, .offTheCooperativePool) struct HealthEndpointTests {
    private func configuration(_ database: TestDatabase, _ extra: [String: String] = [:]) throws -> APIConfiguration {
        try APIConfiguration(
            environment: EnvironmentReader(
                [
                    "DATABASE_URL": database.connectionString,
                    "JWT_HS256_SECRET": "test-only-secret-of-at-least-32-bytes!!",
                    "HOST": "127.0.0.1",
                    "PORT": "0",
                    // Development against a local endpoint: no AWS credentials needed.
                    "AWS_ENDPOINT_URL_SQS": "http://127.0.0.1:1",
                    "AWS_EC2_METADATA_DISABLED": "true",
                ].merging(extra) { _, new in new }
            )
        )
    }

    /// The API on `database`, migrated first.
    private func migratedApplication(
        _ database: TestDatabase,
        _ extra: [String: String] = [:]
    ) async throws -> some ApplicationProtocol {
        try await database.migrate()
        return try await PhotoAPI.makeApplication(
            configuration: try configuration(database, extra),
            logger: .init(label: "test")
        )
    }

    @Test func healthReadinessAndMetricsAnswerOnAMigratedDatabase() async throws {
        try await TestDatabase.withFresh { database in
            let app = try await migratedApplication(database)
            try await app.test(.router) { client in
                try await client.execute(uri: "/healthz", method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(String(buffer: response.body) == #"{"status":"ok"}"#)
                }
                try await client.execute(uri: "/readyz", method: .get) { response in
                    #expect(response.status == .ok)
                    // The newest migration in sql/, which may be newer than the build requires.
                    let newest = try MigrationDirectory(
                        path: TestPaths.repositoryRoot.appendingPathComponent("sql").path
                    ).load().map(\.version).max()
                    #expect(String(buffer: response.body).contains(#""schema_version":\#(newest ?? 0)"#))
                    #expect((newest ?? 0) >= SchemaRequirement.requiredVersion)
                }
                try await client.execute(uri: "/metrics", method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
                }
            }
        }
    }

    @Test func readinessFailsWhenTheSchemaFallsBehind() async throws {
        try await TestDatabase.withFresh { database in
            let app = try await migratedApplication(database)
            try database.connect().query("DELETE FROM schema_migrations")
            try await app.test(.router) { client in
                try await client.execute(uri: "/readyz", method: .get) { response in
                    #expect(response.status == .serviceUnavailable)
                    #expect(String(buffer: response.body).contains("schema_behind"))
                }
                try await client.execute(uri: "/healthz", method: .get) { response in
                    #expect(response.status == .ok)
                }
            }
        }
    }

    /// The cache never hides a change for long: a schema rolled back after a probe shows as
    /// `schema_behind` once the window (about a second) has passed. How often the database is
    /// asked within the window is `ReadinessProbeTests`' business, with a window no machine's
    /// load can outlast.
    @Test func aRolledBackSchemaShowsOnceTheCacheWindowHasPassed() async throws {
        try await TestDatabase.withFresh { database in
            let app = try await migratedApplication(database)
            try await app.test(.router) { client in
                try await client.execute(uri: "/readyz", method: .get) { response in
                    #expect(response.status == .ok)
                }
                try database.connect().query("DELETE FROM schema_migrations")
                try await Task.sleep(for: ReadinessProbe.defaultTimeToLive + .milliseconds(200))
                try await client.execute(uri: "/readyz", method: .get) { response in
                    #expect(response.status == .serviceUnavailable)
                    #expect(String(buffer: response.body).contains("schema_behind"))
                }
            }
        }
    }

    /// `HTTP_IDLE_TIMEOUT_SECONDS`: a connection that sends nothing is closed by the server.
    @Test func anIdleConnectionIsClosed() async throws {
        try await TestDatabase.withFresh { database in
            let app = try await migratedApplication(database, ["HTTP_IDLE_TIMEOUT_SECONDS": "1"])
            try await app.test(.live) { client in
                let port = try #require(client.port)
                // Closed within the limit, far below the 75 s default: the 1 s setting applies. How
                // much sooner is the machine's business, not the code's.
                let closed = try IdleConnection.waitsForTheServerToClose(port: port, limitSeconds: 10)
                #expect(closed)
            }
        }
    }

    @Test func theAPIRefusesToStartOnAnUnmigratedDatabase() async throws {
        try await TestDatabase.withFresh { database in
            let error = await #expect(throws: SchemaRequirement.SchemaBehind.self) {
                _ = try await PhotoAPI.makeApplication(
                    configuration: try configuration(database),
                    logger: .init(label: "test")
                )
            }
            #expect(error?.description.contains("migrator up") == true)
        }
    }
}
