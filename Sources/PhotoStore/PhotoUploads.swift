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
    }

    let pool: ConnectionPool
    let inserts: PhotoInsertBatcher

    /// - Parameter inserts: the application's one batcher, on `pool`.
    public init(pool: ConnectionPool, inserts: PhotoInsertBatcher) {
        self.pool = pool
        self.inserts = inserts
    }

    public func create(_ photo: NewPhoto) async throws -> Outcome {
        guard let idempotency = photo.idempotency else {
            if try await inserts.insert(photo) { return .created }
            // Not inserted: tell a missing project from another organization's (a second,
            // cheap look, only on this error path).
            switch try await PhotoReads.projectOrganization(photo.upload.projectID, pool: pool) {
            case .some(let organization) where organization != photo.organizationID: return .projectForbidden
            // Found in the caller's organization now, yet not by the insert a moment ago: the
            // project was created in between, so at the insert it did not exist.
            case .some, .none: return .projectNotFound
            }
        }
        let statement = CreateUpload(photo: photo, idempotency: idempotency)
        // Lost the race for the key: the winner has committed by now (the claim waited for
        // it), so the second run replays its photo.
        for _ in 0..<2 {
            guard let outcome = try await pool.execute(statement).first else {
                throw PhotoStoreError.unexpectedOutcome("none")
            }
            switch outcome {
            case .created: return .created
            case .replayed(let stored): return .replayed(stored)
            case .keyReused: return .keyReusedWithAnotherBody
            case .projectNotFound: return .projectNotFound
            case .projectForbidden: return .projectForbidden
            case .race: continue
            }
        }
        throw PhotoStoreError.idempotencyRaceUnsettled
    }
}
