import Foundation
import TestSupport
import Testing

@testable import PhotoStore
@testable import Postgres

/// The per-user budget counted by the upload statements in `rate_limit_windows`, against a real
/// Postgres: a batch counts each user's requests in order, a window ends after its length, the
/// count of a request refused early, and the reconciler's purge of windows long ended.
@Suite(.requiresDatabase, .offTheCooperativePool) struct RateLimitWindowsTests {
    /// One statement for a batch holding five requests of one user and two of another, limit 3:
    /// the first user's requests take positions 2 to 6 of the window (the first went alone), so
    /// two get in; the other user's both do.
    @Test func aBatchCountsEachUsersRequestsInOrder() async throws {
        try await PhotoInsertBatcherTests.withFixture(rateLimit: UploadRateLimit(limit: 3)) { fixture in
            let user = UUID()
            let other = UUID()
            let first = fixture.row(user: user)
            let mine = (0..<5).map { _ in fixture.row(user: user) }
            let theirs = (0..<2).map { _ in fixture.row(user: other) }
            let outcomes = try await fixture.insertionsBehindABusySlot(first, mine + theirs)
            #expect(fixture.batcher.statistics.statements == 2)
            let firstOutcome = try #require(try outcomes[first.photoID]?.get())
            #expect(firstOutcome.inserted && !firstOutcome.rateLimited)
            #expect(firstOutcome.rateLimit.remaining == 2)
            // The queue's order (the tasks') decides which of them come first.
            let myOutcomes = try mine.map { try #require(try outcomes[$0.photoID]?.get()) }
                .sorted { $0.rateLimit.used < $1.rateLimit.used }
            #expect(myOutcomes.map(\.rateLimit.used) == [2, 3, 4, 5, 6])
            #expect(myOutcomes.map(\.inserted) == [true, true, false, false, false])
            #expect(myOutcomes.map(\.rateLimited) == [false, false, true, true, true])
            #expect(myOutcomes.map(\.rateLimit.remaining) == [1, 0, 0, 0, 0])
            for outcome in myOutcomes { #expect((1...60).contains(outcome.rateLimit.resetSeconds)) }
            let theirOutcomes = try theirs.map { try #require(try outcomes[$0.photoID]?.get()) }
            #expect(theirOutcomes.filter(\.inserted).count == 2)
            #expect(Set(theirOutcomes.map(\.rateLimit.remaining)) == [2, 1])
            #expect(try fixture.count("SELECT count(*)::int AS count FROM photos") == 5)
            #expect(try fixture.count("SELECT count(*)::int AS count FROM photo_status_history") == 5)
            #expect(try fixture.count("SELECT sum(request_count)::int AS count FROM rate_limit_windows") == 8)
        }
    }

    /// A one-second window: spent, refused, and a full budget again once it has ended.
    @Test func aWindowEndsAfterItsLength() async throws {
        try await PhotoInsertBatcherTests.withFixture(rateLimit: UploadRateLimit(limit: 2, windowSeconds: 1)) {
            fixture in
            let user = UUID()
            let early = [
                try await fixture.batcher.insert(fixture.row(user: user)),
                try await fixture.batcher.insert(fixture.row(user: user)),
                try await fixture.batcher.insert(fixture.row(user: user)),
            ]
            #expect(early.map(\.inserted) == [true, true, false])
            #expect(early.map(\.rateLimited) == [false, false, true])
            #expect(early.map(\.rateLimit.resetSeconds) == [1, 1, 1])
            try await Task.sleep(for: .milliseconds(1100))
            let later = try await fixture.batcher.insert(fixture.row(user: user))
            #expect(later.inserted)
            #expect(later.rateLimit.used == 1)
            #expect(try fixture.count("SELECT count(*)::int AS count FROM rate_limit_windows") == 1)
        }
    }

    /// A request refused before the upload statement counts on its own, in the same window.
    @Test func aRequestRefusedEarlyIsCountedInTheSameWindow() async throws {
        try await PhotoInsertBatcherTests.withFixture(rateLimit: UploadRateLimit(limit: 2)) { fixture in
            let user = UUID()
            let uploads = PhotoUploads(pool: fixture.pool, inserts: fixture.batcher)
            let created = try await uploads.create(fixture.row(user: user))
            #expect(created.outcome == .created)
            #expect(created.rateLimit.remaining == 1)
            let refused = try await uploads.countRefusedRequest(of: user)
            #expect(refused.used == 2)
            #expect(refused.remaining == 0)
            let limited = try await uploads.create(fixture.row(user: user))
            #expect(limited.outcome == .rateLimited)
            #expect(limited.rateLimit.used == 3)
            #expect(try fixture.count("SELECT count(*)::int AS count FROM photos") == 1)
        }
    }

    /// Windows that opened more than an hour ago go, in bounded batches; the others stay.
    @Test func thePurgeDeletesOnlyWindowsLongEnded() async throws {
        try await PhotoInsertBatcherTests.withFixture { fixture in
            for _ in 0..<3 { _ = try await fixture.batcher.insert(fixture.row()) }
            let recent = UUID()
            _ = try await fixture.batcher.insert(fixture.row(user: recent))
            try fixture.observer.query(
                "UPDATE rate_limit_windows SET window_start = now() - interval '61 minutes' WHERE user_id <> $1",
                [recent]
            )
            #expect(try await RateLimitWindows.purgeEnded(limit: 2, pool: fixture.pool) == 2)
            #expect(try await RateLimitWindows.purgeEnded(limit: 2, pool: fixture.pool) == 1)
            #expect(try await RateLimitWindows.purgeEnded(limit: 2, pool: fixture.pool) == 0)
            let left: UUID? = try fixture.observer.query("SELECT user_id FROM rate_limit_windows").first?.decode(
                "user_id"
            )
            #expect(left == recent)
        }
    }
}
