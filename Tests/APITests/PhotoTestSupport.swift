import API
import AppConfig
import AuthTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Postgres
import TestSupport

/// The photo endpoint tests' world: the real application on a fresh database, with AWS
/// credentials (so URLs are signed), a small rate limit, and helpers to seed rows with SQL.
struct PhotoWorld: Sendable {
    let client: any TestClientProtocol
    let database: TestDatabase

    static let rateLimit = 5

    static let environment = [
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        "AWS_REGION": "us-east-1",
        "PHOTOS_BUCKET": "photos-test",
        "RATE_LIMIT_PER_MINUTE": String(rateLimit),
    ]

    static func run(
        environment extra: [String: String] = [:],
        logger: Logger = Logger(label: "test"),
        _ body: @escaping @Sendable (PhotoWorld) async throws -> Void
    ) async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let app = try await PhotoAPI.makeApplication(
                configuration: try AuthFixtures.configuration(
                    database,
                    environment.merging(extra) { _, new in new }
                ),
                logger: logger
            )
            try await app.test(.router) { client in
                try await body(PhotoWorld(client: client, database: database))
            }
        }
    }

    /// Runs one SQL statement on the test database.
    @discardableResult
    func sql(_ text: String, _ parameters: [(any PostgresEncodable)?] = []) throws -> QueryResult {
        let connection = try database.connect()
        return try connection.query(text, parameters)
    }

    /// A project of `organization` (the token's organization by default).
    func makeProject(organization: UUID = AuthFixtures.organizationID) throws -> UUID {
        let id = UUID()
        try sql("INSERT INTO projects (id, organization_id, name) VALUES ($1, $2, 'site')", [id, organization])
        return id
    }

    /// A token for `user` in `organization`.
    static func token(
        user: UUID = AuthFixtures.userID,
        organization: UUID = AuthFixtures.organizationID
    ) async throws
        -> String
    {
        try await AuthFixtures.hs256([
            "sub": .string(user.uuidString),
            "org_id": .string(organization.uuidString),
            "exp": .number(Date().timeIntervalSince1970 + 300),
        ])
    }

    func request(
        _ method: HTTPRequest.Method,
        _ uri: String,
        token: String,
        body: String? = nil,
        headers extra: HTTPFields = [:]
    ) async throws -> TestResponse {
        var headers = AuthFixtures.bearer(token)
        headers.append(contentsOf: extra)
        if body != nil { headers[.contentType] = "application/json" }
        return try await client.execute(
            uri: uri,
            method: method,
            headers: headers,
            body: body.map { ByteBuffer(string: $0) }
        )
    }

    /// `POST /api/v1/photos/upload-url` with `body` and the `Idempotency-Key` `key`.
    func requestUploadURL(body: String, idempotencyKey key: String, token: String) async throws -> TestResponse {
        try await request(.post, "/api/v1/photos/upload-url", token: token, body: body, headers: [.idempotencyKey: key])
    }

    /// A valid upload body for `project`, with `extra` JSON members appended.
    static func uploadBody(
        project: UUID,
        size: Int = 2_097_152,
        mime: String = "image/jpeg",
        extra: String = ""
    )
        -> String
    {
        #"{"project_id":"\#(project.uuidString.lowercased())","file_name":"damage.jpg","file_size":\#(size),"mime_type":"\#(mime)"\#(extra)}"#
    }

    static func json(_ response: TestResponse) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView))
        guard let dictionary = object as? [String: Any] else {
            throw TestEnvironmentError("the body is not a JSON object")
        }
        return dictionary
    }
}

extension HTTPField.Name {
    static let idempotencyKey = HTTPField.Name("Idempotency-Key") ?? .contentLocation
}
