import AuthTestSupport
import Foundation
import HTTPSupport
import HTTPTypes
import HummingbirdTesting
import Postgres
import TestSupport
import Testing

/// The upload-url budget (`RATE_LIMIT_PER_MINUTE`, 5 in `PhotoWorld`), counted in Postgres: the
/// `RateLimit-*` headers on every answer, 429 with `Retry-After` past the budget, a new window
/// after the old one ended, idempotent replays that cost nothing, refused requests that count.
/// `UploadRateLimitReplicaTests` shows three processes sharing one budget.
@Suite(.requiresDatabase, .offTheCooperativePool) struct UploadRateLimitTests {
    /// The three headers of a response, as numbers (`nil` when one is missing).
    struct Headers: Equatable {
        let limit: Int
        let remaining: Int
        let reset: Int

        init?(_ response: TestResponse) {
            func value(_ name: String) -> Int? {
                HTTPField.Name(name).flatMap { response.headers[$0] }.flatMap { Int($0) }
            }
            guard let limit = value("RateLimit-Limit"), let remaining = value("RateLimit-Remaining"),
                let reset = value("RateLimit-Reset")
            else { return nil }
            self.limit = limit
            self.remaining = remaining
            self.reset = reset
        }
    }

    static let path = "/api/v1/photos/upload-url"

    @Test func everyAnswerCountsDownUntil429WithRetryAfterTheWindowsEnd() async throws {
        let token = try await PhotoWorld.token()
        try await PhotoWorld.run { world in
            let body = PhotoWorld.uploadBody(project: try world.makeProject())
            for attempt in 1...PhotoWorld.rateLimit {
                let response = try await world.request(.post, Self.path, token: token, body: body)
                #expect(response.status == .ok, "attempt \(attempt)")
                let headers = try #require(Headers(response), "attempt \(attempt): \(response.headers)")
                #expect(headers.limit == PhotoWorld.rateLimit)
                #expect(headers.remaining == PhotoWorld.rateLimit - attempt)
                #expect((1...60).contains(headers.reset), "\(headers.reset)")
            }
            let limited = try await world.request(.post, Self.path, token: token, body: body)
            #expect(limited.status == .tooManyRequests)
            #expect(try AuthFixtures.problem(limited).code == "rate_limited")
            let headers = try #require(Headers(limited))
            #expect(headers.limit == PhotoWorld.rateLimit)
            #expect(headers.remaining == 0)
            #expect(limited.headers[.retryAfter] == String(headers.reset))
            #expect(try world.sql("SELECT count(*) AS n FROM photos").first?.decode("n", as: Int.self) == 5)
            // One row per user, counting every request of the window, the refused one too.
            let window = try world.sql("SELECT user_id, request_count FROM rate_limit_windows")
            #expect(window.rows.count == 1)
            #expect(try window.first?.decode("request_count", as: Int.self) == 6)
        }
    }

    @Test func aWindowThatEndedGivesAFullBudgetAgain() async throws {
        let token = try await PhotoWorld.token()
        try await PhotoWorld.run { world in
            let body = PhotoWorld.uploadBody(project: try world.makeProject())
            for _ in 1...PhotoWorld.rateLimit {
                _ = try await world.request(.post, Self.path, token: token, body: body)
            }
            #expect(try await world.request(.post, Self.path, token: token, body: body).status == .tooManyRequests)
            // As if the minute had passed (the window opened 61 s ago).
            try world.sql("UPDATE rate_limit_windows SET window_start = window_start - interval '61 seconds'")
            let fresh = try await world.request(.post, Self.path, token: token, body: body)
            #expect(fresh.status == .ok)
            let headers = try #require(Headers(fresh))
            #expect(headers.remaining == PhotoWorld.rateLimit - 1)
            #expect((59...60).contains(headers.reset), "\(headers.reset)")
        }
    }

    /// Replays (same key, same body) cost nothing, and are answered even once the budget is
    /// spent: a client resuming after it was killed gets its URL back. A request with a new key
    /// past the budget claims nothing.
    @Test func idempotentReplaysDoNotSpendTheBudget() async throws {
        let token = try await PhotoWorld.token()
        try await PhotoWorld.run { world in
            let body = PhotoWorld.uploadBody(project: try world.makeProject())
            let first = try await world.requestUploadURL(body: body, idempotencyKey: "resume-1", token: token)
            #expect(first.status == .ok)
            #expect(Headers(first)?.remaining == PhotoWorld.rateLimit - 1)
            for _ in 0..<3 {
                let replay = try await world.requestUploadURL(body: body, idempotencyKey: "resume-1", token: token)
                #expect(replay.status == .ok)
                #expect(Headers(replay)?.remaining == PhotoWorld.rateLimit - 1)
            }
            for index in 2...PhotoWorld.rateLimit {
                let response = try await world.requestUploadURL(
                    body: body,
                    idempotencyKey: "key-\(index)",
                    token: token
                )
                #expect(response.status == .ok)
                #expect(Headers(response)?.remaining == PhotoWorld.rateLimit - index)
            }
            let limited = try await world.requestUploadURL(body: body, idempotencyKey: "one-too-many", token: token)
            #expect(limited.status == .tooManyRequests)
            #expect(Headers(limited)?.remaining == 0)
            #expect(limited.headers[.retryAfter] != nil)
            let replay = try await world.requestUploadURL(body: body, idempotencyKey: "resume-1", token: token)
            #expect(replay.status == .ok)
            #expect(
                try PhotoWorld.json(replay)["photo_id"] as? String
                    == (try PhotoWorld.json(first)["photo_id"] as? String)
            )
            #expect(Headers(replay)?.remaining == 0)
            #expect(try world.sql("SELECT count(*) AS n FROM idempotency_keys").first?.decode("n", as: Int.self) == 5)
            #expect(try world.sql("SELECT count(*) AS n FROM photos").first?.decode("n", as: Int.self) == 5)
        }
    }

    /// Answers the database gave (404, 403) and those refused before it (400 for a bad body)
    /// carry the headers and spend the budget, as they did when it was counted in memory; past
    /// the budget even a bad body gets 429.
    @Test func refusedRequestsCarryTheHeadersAndCount() async throws {
        let token = try await PhotoWorld.token()
        try await PhotoWorld.run { world in
            let missing = try await world.request(
                .post,
                Self.path,
                token: token,
                body: PhotoWorld.uploadBody(project: UUID())
            )
            #expect(missing.status == .notFound)
            #expect(Headers(missing)?.remaining == 4)
            let otherOrganization = try world.makeProject(organization: UUID())
            let forbidden = try await world.request(
                .post,
                Self.path,
                token: token,
                body: PhotoWorld.uploadBody(project: otherOrganization)
            )
            #expect(forbidden.status == .forbidden)
            #expect(Headers(forbidden)?.remaining == 3)
            let malformed = try await world.request(.post, Self.path, token: token, body: "{not json")
            #expect(malformed.status == .badRequest)
            #expect(Headers(malformed)?.remaining == 2)
            let tooSmall = try await world.request(
                .post,
                Self.path,
                token: token,
                body: PhotoWorld.uploadBody(project: otherOrganization, size: 10)
            )
            #expect(tooSmall.status == .badRequest)
            #expect(try AuthFixtures.problem(tooSmall).code == "file_too_small")
            #expect(Headers(tooSmall)?.remaining == 1)
            let wrongType = try await world.request(
                .post,
                Self.path,
                token: token,
                body: PhotoWorld.uploadBody(project: otherOrganization, mime: "image/gif")
            )
            #expect(wrongType.status == .unsupportedMediaType)
            #expect(Headers(wrongType)?.remaining == 0)
            let limited = try await world.request(.post, Self.path, token: token, body: "{not json")
            #expect(limited.status == .tooManyRequests)
            #expect(try AuthFixtures.problem(limited).code == "rate_limited")
            #expect(limited.headers[.retryAfter] == Headers(limited).map { String($0.reset) })
        }
    }

    /// Concurrent requests of one user are batched into shared insert statements: each batch
    /// counts its requests in order, so exactly the budget gets through.
    @Test func concurrentRequestsOfOneUserGetExactlyTheBudget() async throws {
        let token = try await PhotoWorld.token()
        let otherUser = try await PhotoWorld.token(user: UUID())
        try await PhotoWorld.run { world in
            let body = PhotoWorld.uploadBody(project: try world.makeProject())
            let statuses = try await withThrowingTaskGroup(of: (HTTPResponse.Status, Int?).self) { group in
                for index in 0..<40 {
                    group.addTask {
                        let response = try await world.request(
                            .post,
                            Self.path,
                            token: index % 4 == 3 ? otherUser : token,
                            body: body
                        )
                        return (response.status, Headers(response)?.remaining)
                    }
                }
                var all: [(HTTPResponse.Status, Int?)] = []
                for try await result in group { all.append(result) }
                return all
            }
            #expect(statuses.filter { $0.0 == .ok }.count == 2 * PhotoWorld.rateLimit)
            #expect(statuses.filter { $0.0 == .tooManyRequests }.count == 40 - 2 * PhotoWorld.rateLimit)
            #expect(statuses.allSatisfy { $0.1 != nil })
            #expect(try world.sql("SELECT count(*) AS n FROM photos").first?.decode("n", as: Int.self) == 10)
            let counted = try world.sql("SELECT sum(request_count)::int AS n FROM rate_limit_windows")
            #expect(try counted.first?.decode("n", as: Int.self) == 40)
        }
    }
}
