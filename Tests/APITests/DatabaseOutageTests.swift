import API
import AuthTestSupport
import Foundation
import HTTPSupport
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import TestSupport
import Testing

/// photo-api behind a network that stops delivering without closing anything (a stalled proxy
/// between it and Postgres): requests end in 503 `database_unavailable` with `Retry-After`
/// within the configured bound instead of hanging, and the service recovers by itself once the
/// network forwards again.
@Suite(.requiresDatabase, .offTheCooperativePool) struct DatabaseOutageTests {
    @Test func aStalledDatabaseIsA503WithinTheBoundAndThePoolRecovers() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let proxy = try StallingTCPProxy(inFrontOf: database.connectionString)
            defer { proxy.close() }
            let configuration = try AuthFixtures.configuration(
                database,
                PhotoWorld.environment.merging([
                    "DATABASE_URL": proxy.connectionString,
                    "DATABASE_STATEMENT_TIMEOUT_MS": "1000",
                ]) { _, new in new }
            )
            // The answer deadline (1 s statement timeout + 2 s), then at worst a 5 s connect
            // attempt, plus slack for a loaded machine; without the deadline the requests below
            // would wait for the kernel (hours).
            let bound = Duration.seconds(20)
            let app = try await PhotoAPI.makeApplication(configuration: configuration, logger: Logger(label: "test"))
            try await app.test(.router) { client in
                let world = PhotoWorld(client: client, database: database)
                let token = try await PhotoWorld.token()
                let project = try world.makeProject()
                let requestUploadURL: @Sendable () async throws -> TestResponse = {
                    try await world.request(
                        .post,
                        "/api/v1/photos/upload-url",
                        token: token,
                        body: PhotoWorld.uploadBody(project: project)
                    )
                }
                let created = try await requestUploadURL()
                #expect(created.status == .ok)
                let photoID = try #require(try PhotoWorld.json(created)["photo_id"] as? String)

                proxy.stall()
                // Every connection the pool holds is stuck now: more requests than connections,
                // at once, so some wait in the pool's queue rather than on a socket.
                let started = ContinuousClock.now
                let stalled = try await withThrowingTaskGroup(of: TestResponse.self) { group in
                    for _ in 0..<6 {
                        group.addTask { try await world.request(.get, "/api/v1/photos/\(photoID)", token: token) }
                    }
                    group.addTask { try await requestUploadURL() }
                    var responses: [TestResponse] = []
                    for try await response in group { responses.append(response) }
                    return responses
                }
                let waited = ContinuousClock.now - started
                #expect(waited < bound, "the stalled requests took \(waited)")
                for response in stalled {
                    #expect(response.status == .serviceUnavailable)
                    #expect(try AuthFixtures.problem(response).code == "database_unavailable")
                    #expect(response.headers[.retryAfter] == "2")
                }

                proxy.resume()
                let recovered = try await world.request(.get, "/api/v1/photos/\(photoID)", token: token)
                #expect(recovered.status == .ok)
                #expect(try await requestUploadURL().status == .ok)
            }
        }
    }
}
