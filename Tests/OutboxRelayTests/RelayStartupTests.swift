import AppConfig
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Migrator
import OutboxRelay
import TestSupport
import Testing

@Suite(.requiresDatabase, .offTheCooperativePool) struct RelayStartupTests {
    private func configuration(_ database: TestDatabase) throws -> RelayConfiguration {
        try RelayConfiguration(
            environment: EnvironmentReader([
                "DATABASE_URL": database.connectionString,
                "DETECTION_QUEUE_URL": "http://127.0.0.1:4566/000000000000/detection",
                "RELAY_METRICS_PORT": "0",
                // Development against a local endpoint: no AWS credentials needed.
                "AWS_ENDPOINT_URL_SQS": "http://127.0.0.1:4566",
                "AWS_EC2_METADATA_DISABLED": "true",
            ])
        )
    }

    @Test func metricsPortServesHealthAndReadiness() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let app = try await OutboxRelayApplication.makeApplication(
                configuration: try configuration(database),
                logger: .init(label: "test")
            )
            try await app.test(.router) { client in
                try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
                try await client.execute(uri: "/readyz", method: .get) { #expect($0.status == .ok) }
                try await client.execute(uri: "/metrics", method: .get) { #expect($0.status == .ok) }
            }
        }
    }

    @Test func theRelayRefusesToStartOnAnUnmigratedDatabase() async throws {
        try await TestDatabase.withFresh { database in
            await #expect(throws: SchemaRequirement.SchemaBehind.self) {
                _ = try await OutboxRelayApplication.makeApplication(
                    configuration: try configuration(database),
                    logger: .init(label: "test")
                )
            }
        }
    }

    /// Issue 14: outside development, a relay with no credential source at all exits 1 at
    /// start with one line listing the sources it tried.
    @Test func withoutAnyCredentialSourceTheRelayExitsOneNamingTheSourcesTried() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let child = try await ChildProcess.run(
                try TestPaths.executable("outbox-relay"),
                ["run"],
                environment: CredentialStubServer.noCredentialsEnvironment.merging([
                    "APP_ENV": "production",
                    "DATABASE_URL": database.connectionString,
                    "DETECTION_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/detection",
                    "RELAY_METRICS_PORT": "0",
                ]) { _, new in new }
            )
            let problems = CredentialStubServer.noCredentialsExitProblems(child)
            #expect(problems.isEmpty, "\(problems): \(child.standardError)")
        }
    }

    /// A configured credential source that does not answer does not stop the relay, but its
    /// `/readyz` says `aws_credentials_unavailable` even with nothing to send.
    @Test func unavailableCredentialsMakeTheRelayNotReady() async throws {
        let stub = CredentialStubServer(clock: ManualClock(Date()))
        stub.setDown(true)
        try await stub.run { base in
            try await TestDatabase.withFresh { database in
                try await database.migrate()
                let configuration = try RelayConfiguration(
                    environment: EnvironmentReader([
                        "APP_ENV": "production",
                        "DATABASE_URL": database.connectionString,
                        "DETECTION_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/detection",
                        "RELAY_METRICS_PORT": "0",
                        "AWS_CONTAINER_CREDENTIALS_FULL_URI": base + "/container",
                    ])
                )
                let app = try await OutboxRelayApplication.makeApplication(
                    configuration: configuration,
                    logger: .init(label: "test")
                )
                try await app.test(.router) { client in
                    let response = try await client.execute(uri: "/readyz", method: .get)
                    #expect(response.status == .serviceUnavailable)
                    #expect(String(buffer: response.body).contains(#""reason":"aws_credentials_unavailable""#))
                }
            }
        }
    }
}
