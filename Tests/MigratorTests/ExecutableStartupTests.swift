import Foundation
import TestSupport
import Testing

@testable import Migrator

/// `photo-api` and `outbox-relay` at start: configuration errors and the schema check stop
/// them with one line; a migrated database lets the API serve.
@Suite(.requiresDatabase, .offTheCooperativePool) struct ExecutableStartupTests {
    static let secret = "0123456789abcdef0123456789abcdef-test-secret"

    @Test func apiWithNonNumericPortExitsOneNamingPort() async throws {
        let child = try await ChildProcess.run(
            try TestPaths.executable("photo-api"),
            [],
            environment: [
                "PORT": "abc",
                "JWT_HS256_SECRET": Self.secret,
                "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
            ]
        )
        #expect(child.status == 1)
        #expect(child.errorLines.count == 1, "\(child.standardError)")
        #expect(child.errorLines.first?.contains("PORT") == true, "\(child.standardError)")
        #expect(child.standardOutput.isEmpty)
    }

    @Test func apiWithShortSecretExitsOneWithoutEchoingIt() async throws {
        let child = try await ChildProcess.run(
            try TestPaths.executable("photo-api"),
            [],
            environment: [
                "JWT_HS256_SECRET": "too-short-secret-value",
                "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
            ]
        )
        #expect(child.status == 1)
        #expect(child.errorLines.count == 1, "\(child.standardError)")
        #expect(child.standardError.contains("JWT_HS256_SECRET"))
        #expect(!child.standardError.contains("too-short-secret-value"))
    }

    @Test func relayWithoutQueueURLExitsOneNamingIt() async throws {
        let child = try await ChildProcess.run(
            try TestPaths.executable("outbox-relay"),
            [],
            environment: ["DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "RELAY_METRICS_PORT": "0"]
        )
        #expect(child.status == 1)
        #expect(child.errorLines.count == 1, "\(child.standardError)")
        #expect(child.standardError.contains("DETECTION_QUEUE_URL"))
    }

    @Test func apiRefusesAnUnmigratedDatabase() async throws {
        try await TestDatabase.withFresh { database in
            let child = try await ChildProcess.run(
                try TestPaths.executable("photo-api"),
                [],
                environment: [
                    "DATABASE_URL": database.connectionString,
                    "HOST": "127.0.0.1",
                    "PORT": "0",
                    "JWT_HS256_SECRET": Self.secret,
                ]
            )
            #expect(child.status == 1)
            #expect(child.errorLines.count == 1, "\(child.standardError)")
            #expect(child.errorLines.first?.contains("migrator up") == true, "\(child.standardError)")
        }
    }

    @Test func relayRefusesAnUnmigratedDatabase() async throws {
        try await TestDatabase.withFresh { database in
            let child = try await ChildProcess.run(
                try TestPaths.executable("outbox-relay"),
                [],
                environment: [
                    "DATABASE_URL": database.connectionString,
                    "DETECTION_QUEUE_URL": "http://127.0.0.1:1/queue/q",
                    "RELAY_METRICS_HOST": "127.0.0.1",
                    "RELAY_METRICS_PORT": "0",
                ]
            )
            #expect(child.status == 1)
            #expect(child.errorLines.count == 1, "\(child.standardError)")
            #expect(child.errorLines.first?.contains("migrator up") == true, "\(child.standardError)")
        }
    }

    @Test func apiStartsOnAMigratedDatabase() async throws {
        try await TestDatabase.withFresh { database in
            try makeMigrator(database, directory: repositorySQLDirectory).up()
            let child = try ChildProcess(
                try TestPaths.executable("photo-api"),
                [],
                environment: [
                    "DATABASE_URL": database.connectionString,
                    "HOST": "127.0.0.1",
                    "PORT": "0",
                    "JWT_HS256_SECRET": Self.secret,
                    "LOG_LEVEL": "info",
                    // Keys of its own: this machine's instance metadata must not decide the test.
                    "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1",
                    "AWS_EC2_METADATA_DISABLED": "true",
                ]
            )
            try child.start()
            defer { if child.process.isRunning { child.process.terminate() } }

            let port = try await child.reportedListeningPort()
            let listening = try #require(port, "photo-api did not report its port: \(child.standardError)")
            await withHTTPClient { client in
                #expect(await httpGetStatus(port: listening, path: "/healthz", using: client) == 200)
                #expect(await httpGetStatus(port: listening, path: "/readyz", using: client) == 200)
            }

            child.process.terminate()  // SIGTERM: graceful shutdown
            // A hang detector, not a speed check: a debug build with coverage on a saturated
            // machine has taken over 15 s.
            let status = try await child.wait(timeout: .seconds(60))
            #expect(status == 0, "\(child.standardError)")
        }
    }
}
