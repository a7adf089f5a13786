import AWS
import Foundation
import Logging
import Metrics
import PhotoStore
import Postgres
import UUIDCoding

/// Deletes what a failed upload left in the bucket: every version of the photo's key
/// (``S3ObjectRemover``), so the bytes do not stay as a noncurrent version in a versioned bucket.
///
/// ``UploadConfirmer`` calls ``delete(_:key:logger:)`` right after it fails a photo as
/// `invalid_upload`; when S3 is down the deletion stays due in the row
/// (``ObjectDeletions``), and the ``UploadReconciler`` retries it with ``runPass(limit:claimSeconds:logger:)``.
/// The photo row is kept, with its reason (docs/operations.md, "Objects and rows over time").
struct FailedUploadCleaner: Sendable {
    let pool: ConnectionPool
    let remover: S3ObjectRemover
    /// How long after its upload URL expired a failed photo's key is swept once more: a client
    /// may PUT it again until then (`RECONCILE_GRACE_SECONDS`, which covers a PUT that started
    /// just before expiry).
    let sweepGraceSeconds: Int
    /// `photo_object_deletions_total{outcome="deleted"}`: deletions that left nothing at the key.
    let deletions: Counter
    /// `photo_object_deletions_total{outcome="failed"}`: attempts S3 refused or did not answer.
    let failures: Counter

    init(pool: ConnectionPool, remover: S3ObjectRemover, sweepGraceSeconds: Int) {
        self.pool = pool
        self.remover = remover
        self.sweepGraceSeconds = sweepGraceSeconds
        deletions = Counter(label: "photo_object_deletions_total", dimensions: [("outcome", "deleted")])
        failures = Counter(label: "photo_object_deletions_total", dimensions: [("outcome", "failed")])
    }

    /// Deletes every version of `key`, the object of the failed photo `photoID`, and records it;
    /// `false` when S3 failed, which leaves the deletion due for the reconciler. Database errors
    /// are thrown (the deletion then also stays due).
    @discardableResult
    func delete(_ photoID: UUID, key: String, logger: Logger) async throws -> Bool {
        let removed: Int
        do {
            removed = try await remover.removeAllVersions(of: key)
        } catch {
            failures.increment()
            logger.warning(
                "could not delete the object of a failed upload; the reconciler retries",
                metadata: ["photo_id": "\(photoID.lowercasedString)", "error": "\(error)"]
            )
            return false
        }
        try await ObjectDeletions.finished(photoID, sweepGraceSeconds: sweepGraceSeconds, pool: pool)
        deletions.increment()
        logger.info(
            "deleted the object of a failed upload",
            metadata: ["photo_id": "\(photoID.lowercasedString)", "versions": "\(removed)"]
        )
        return true
    }

    /// Claims up to `limit` photos whose deletion is due (for `claimSeconds`, which is also the
    /// pause before a failed one is tried again) and deletes their objects.
    func runPass(limit: Int, claimSeconds: Int, logger: Logger) async throws -> (deleted: Int, failed: Int) {
        let due = try await ObjectDeletions.claimDue(limit: limit, claimSeconds: claimSeconds, pool: pool)
        var result = (deleted: 0, failed: 0)
        for photo in due {
            if try await delete(photo.photoID, key: photo.s3Key, logger: logger.with(photoID: photo.photoID)) {
                result.deleted += 1
            } else {
                result.failed += 1
            }
        }
        return result
    }
}
