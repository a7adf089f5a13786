import Domain
import Foundation
import Postgres

/// Creates the photos of `upload-url`: checks the project, honours the `Idempotency-Key`, and
/// inserts the photo with its first history row (and the key) in one statement.
///
/// Requests without a key go through the ``PhotoInsertBatcher``, batched with other requests'
/// photos; a request with a key runs ``CreateUpload`` on its own, since it may replay.
public struct PhotoUploads: Sendable {
    /// What became of an upload-URL request.
    public enum Outcome: Sendable, Equatable {
        /// The photo was created as given.
        case created
        /// The key was used before with the same request: the stored photo, to sign again.
        case replayed(UploadTarget)
        case projectNotFound
        case projectForbidden
        case keyReusedWithAnotherBody
        /// Over the user's budget (``UploadRateLimit``): nothing was written but the count.
        case rateLimited
    }

    /// An outcome and where the request left its user's rate-limit window.
    public struct Answer: Sendable, Equatable {
        public let outcome: Outcome
        public let rateLimit: RateLimitStatus
    }

    let pool: ConnectionPool
    let inserts: PhotoInsertBatcher

    /// - Parameter inserts: the application's one batcher, on `pool`; its rate limit is the
    ///   one every request is counted against.
    public init(pool: ConnectionPool, inserts: PhotoInsertBatcher) {
        self.pool = pool
        self.inserts = inserts
    }

    /// The per-user budget requests are counted against.
    public var rateLimit: UploadRateLimit { inserts.rateLimit }

    public func create(_ photo: NewPhoto) async throws -> Answer {
        guard let idempotency = photo.idempotency else {
            let insertion = try await inserts.insert(photo)
            let answer = { (outcome: Outcome) in Answer(outcome: outcome, rateLimit: insertion.rateLimit) }
            if insertion.inserted { return answer(.created) }
            if insertion.rateLimited { return answer(.rateLimited) }
            // Not inserted: tell a missing project from another organization's (a second,
            // cheap look, only on this error path).
            switch try await PhotoReads.projectOrganization(photo.upload.projectID, pool: pool) {
            case .some(let organization) where organization != photo.organizationID: return answer(.projectForbidden)
            // Found in the caller's organization now, yet not by the insert a moment ago: the
            // project was created in between, so at the insert it did not exist.
            case .some, .none: return answer(.projectNotFound)
            }
        }
        let statement = CreateUpload(photo: photo, idempotency: idempotency, rateLimit: rateLimit)
        // Lost the race for the key: the winner has committed by now (the claim waited for
        // it), so the second run replays its photo. (The lost run was counted, the replay is
        // not: a race costs its request one unit of budget.)
        for _ in 0..<2 {
            guard let row = try await pool.execute(statement).first else {
                throw PhotoStoreError.unexpectedOutcome("none")
            }
            let (outcome, status) = row
            let answer = { (outcome: Outcome) in Answer(outcome: outcome, rateLimit: status) }
            switch outcome {
            case .created: return answer(.created)
            case .replayed(let stored): return answer(.replayed(stored))
            case .keyReused: return answer(.keyReusedWithAnotherBody)
            case .projectNotFound: return answer(.projectNotFound)
            case .projectForbidden: return answer(.projectForbidden)
            case .rateLimited: return answer(.rateLimited)
            case .race: continue
            }
        }
        throw PhotoStoreError.idempotencyRaceUnsettled
    }

    /// Counts a request of `userID` that was refused before it reached ``create(_:)`` (an
    /// invalid body, uploads not configured): such requests spend the budget too, as they did
    /// when it was counted in memory, so a client sending nothing but bad requests is limited.
    public func countRefusedRequest(of userID: UUID) async throws -> RateLimitStatus {
        guard let status = try await pool.execute(CountRequest(userID: userID, rateLimit: rateLimit)).first else {
            throw PhotoStoreError.unexpectedOutcome("none")
        }
        return status
    }
}
