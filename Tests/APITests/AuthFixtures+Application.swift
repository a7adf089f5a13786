import API
import AppConfig
import AuthTestSupport
import Foundation
import HTTPSupport
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import TestSupport

/// The real application for the authentication, request id and photo tests.
extension AuthFixtures {
    /// The environment `APIConfiguration` reads, for `database` plus `extra`.
    static func configuration(_ database: TestDatabase, _ extra: [String: String] = [:]) throws -> APIConfiguration {
        var environment = [
            "DATABASE_URL": database.connectionString,
            "JWT_HS256_SECRET": secret,
            "HOST": "127.0.0.1",
            "PORT": "0",
            // Development against a local endpoint: without keys the API runs with uploads
            // unavailable instead of refusing to start, and never asks instance metadata.
            "AWS_ENDPOINT_URL_SQS": "http://127.0.0.1:1",
            "AWS_EC2_METADATA_DISABLED": "true",
        ]
        environment.merge(extra) { _, new in new }
        return try APIConfiguration(environment: EnvironmentReader(environment))
    }

    /// Runs `body` against the real application (`PhotoAPI.makeApplication`) on a fresh,
    /// migrated database, through Hummingbird's router test client.
    static func withApplication(
        environment: [String: String] = [:],
        logger: Logger = Logger(label: "test"),
        _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void
    ) async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let app = try await PhotoAPI.makeApplication(
                configuration: try configuration(database, environment),
                logger: logger
            )
            try await app.test(.router, body)
        }
    }

    /// The response body as a problem document.
    static func problem(_ response: TestResponse) throws -> ProblemDocument {
        try JSONDecoder().decode(ProblemDocument.self, from: Data(response.body.readableBytesView))
    }

    /// A JSON value, to read response bodies without a type per response.
    enum JSONValue: Decodable, Equatable {
        case string(String)
        case number(Double)
        case strings([String])
        case other

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let string = try? container.decode(String.self) {
                self = .string(string)
            } else if let number = try? container.decode(Double.self) {
                self = .number(number)
            } else if let strings = try? container.decode([String].self) {
                self = .strings(strings)
            } else {
                self = .other
            }
        }
    }
}
