import API
import AppConfig
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Migrator
import Postgres
import TestSupport
import Testing

@Suite(.requiresDatabase) struct HealthEndpointTests {
    private func configuration(_ database: TestDatabase) throws -> APIConfiguration {
        try APIConfiguration(
            environment: EnvironmentReader([
                "DATABASE_URL": database.connectionString,
                "JWT_HS256_SECRET": "test-only-secret-of-at-least-32-bytes!!",
                "HOST": "127.0.0.1",
                "PORT": "0",
            ])
        )
    }

    @Test func healthReadinessAndMetricsAnswerOnAMigratedDatabase() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let app = try await PhotoAPI.makeApplication(
                configuration: try configuration(database),
                logger: .init(label: "test")
            )
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
            try await database.migrate()
            let app = try await PhotoAPI.makeApplication(
                configuration: try configuration(database),
                logger: .init(label: "test")
            )
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
