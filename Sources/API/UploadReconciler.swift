import AWS
import Domain
import Foundation
import Logging
import Metrics
import PhotoStore
import Postgres
import ServiceLifecycle

/// Settles photos whose clients never confirmed them (docs/architecture.md): a `pending_upload`
/// photo whose URL expired more than a grace period ago is confirmed when its object is in S3
/// (the same path as `complete`) and otherwise fails with `upload_expired`.
///
/// Any number of replicas may run it. A pass claims due photos for a while
/// (`reconcile_claimed_until`, rows picked with `FOR UPDATE SKIP LOCKED`), then checks S3
/// without holding a transaction open; a replica that dies mid-pass leaves claims that run out,
/// and every write is conditional on the photo still being `pending_upload`, so a client's
/// late `complete` and the reconciler never both confirm.
///
/// Each pass also deletes one bounded batch of expired `idempotency_keys` and one of users'
/// rate-limit windows that ended long ago (`rate_limit_windows`), which nothing else removes;
/// replicas skip each other's rows there too.
public struct UploadReconciler: Service {
    public struct Settings: Sendable {
        public var graceSeconds: Int
        public var interval: Duration
        public var batchSize: Int
        /// How long a claim keeps other replicas away; longer than a pass over a batch with S3
        /// retries needs.
        public var claimSeconds: Int
        /// Expired idempotency keys (and, apart, ended rate-limit windows) one pass deletes at most:
        /// one short statement each, however large the backlog (a full batch makes the next pass start at once).
        public var keyPurgeBatchSize: Int

        public init(
            graceSeconds: Int,
            interval: Duration,
            batchSize: Int,
            claimSeconds: Int = 600,
            keyPurgeBatchSize: Int = 1000
        ) {
            self.graceSeconds = graceSeconds
            self.interval = interval
            self.batchSize = batchSize
            self.claimSeconds = claimSeconds
            self.keyPurgeBatchSize = keyPurgeBatchSize
        }
    }

    /// What one pass did, for logs and tests.
    public struct PassSummary: Sendable, Equatable {
        public var confirmed = 0
        public var expired = 0
        public var invalid = 0
        /// Left for a later pass: S3 unavailable, or changed meanwhile.
        public var skipped = 0
        /// Expired idempotency keys deleted (not photos, so not in ``total``).
        public var purgedKeys = 0
        /// Rate-limit windows of users idle for an hour, deleted (nor these).
        public var purgedRateLimitWindows = 0
        /// Failed uploads whose objects were deleted (not in ``total`` either).
        public var deletedObjects = 0
        /// Failed uploads whose objects could not be deleted; retried once their claim runs out.
        public var failedObjectDeletions = 0

        /// The photos the pass claimed.
        public var total: Int { confirmed + expired + invalid + skipped }

        /// Whether a batch came back full, so more may be due at once.
        func isFull(_ settings: Settings) -> Bool {
            total >= settings.batchSize || purgedKeys >= settings.keyPurgeBatchSize
                || purgedRateLimitWindows >= settings.keyPurgeBatchSize
                || deletedObjects >= settings.batchSize
        }
    }

    let pool: ConnectionPool
    let confirmer: UploadConfirmer
    let settings: Settings
    let logger: Logger
    let outcomes: Counter
    let expirations: Counter
    /// Photos failed because the object is not the declared image.
    let invalidations: Counter
    /// Photos that could not be settled this time (S3 or the database failed); a later pass
    /// tries again.
    let errors: Counter
    /// Passes that could not even claim their batch (the database failed).
    let failedPasses: Counter
    let purgedKeys: Counter

    init(pool: ConnectionPool, confirmer: UploadConfirmer, settings: Settings, logger: Logger) {
        self.pool = pool
        self.confirmer = confirmer
        self.settings = settings
        self.logger = logger
        outcomes = Counter(label: "photo_reconciled_total", dimensions: [("outcome", "confirmed")])
        expirations = Counter(label: "photo_reconciled_total", dimensions: [("outcome", "expired")])
        invalidations = Counter(label: "photo_reconciled_total", dimensions: [("outcome", "invalid")])
        errors = Counter(label: "photo_reconciled_total", dimensions: [("outcome", "error")])
        failedPasses = Counter(label: "photo_reconcile_pass_failures_total")
        purgedKeys = Counter(label: "idempotency_keys_purged_total")
    }

    public func run() async throws {
        logger.info(
            "upload reconciler started",
            metadata: ["grace_seconds": "\(settings.graceSeconds)", "interval": "\(settings.interval)"]
        )
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            do {
                // Full batches mean more is due: go on at once.
                while try await runPass().isFull(settings), !Task.isShuttingDownGracefully {}
            } catch {
                failedPasses.increment()
                logger.warning("reconciliation pass failed", metadata: ["error": "\(error)"])
            }
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: settings.interval) }
            } catch {
                break
            }
        }
        logger.info("upload reconciler stopped")
    }

    /// Claims one batch of due photos and settles each, then purges one batch of expired keys.
    @discardableResult
    public func runPass() async throws -> PassSummary {
        let claimed = try await PhotoLifecycle.claimExpiredUploads(
            graceSeconds: settings.graceSeconds,
            limit: settings.batchSize,
            claimSeconds: settings.claimSeconds,
            pool: pool
        )
        var summary = PassSummary()
        for photoID in claimed {
            if Task.isShuttingDownGracefully { break }
            // A trace of its own per photo: no request asked for this confirmation.
            let trace = TraceContext.newTrace()
            var photoLogger = logger.with(photoID: photoID)
            photoLogger[metadataKey: "trace_id"] = .string(trace.traceID)
            do {
                // Through the confirmer's per-photo claim: a `complete` of the same photo running
                // in this process is joined, not repeated; one on another replica is settled by
                // the conditional update (`alreadyChanged`).
                let (outcome, joined) = try await confirmer.confirmPending(
                    photoID,
                    changedBy: .reconciler,
                    trace: trace,
                    logger: photoLogger
                )
                switch outcome {
                case .confirmed where joined:
                    // A `complete` confirmed it; counted there.
                    summary.skipped += 1
                case .confirmed:
                    summary.confirmed += 1
                    outcomes.increment()
                case .invalid:
                    summary.invalid += 1
                    invalidations.increment()
                case .alreadyChanged:
                    summary.skipped += 1
                case .objectChanged:
                    // Someone is still writing the key: the claim runs out and a later pass checks
                    // the bytes that are there then.
                    summary.skipped += 1
                case .objectMissing:
                    if try await confirmer.expire(photoID, graceSeconds: settings.graceSeconds, changedBy: .reconciler)
                    {
                        summary.expired += 1
                        expirations.increment()
                        photoLogger.info("pending upload expired without an object")
                    } else {
                        summary.skipped += 1
                    }
                }
            } catch {
                // The claim runs out and a later pass (here or on another replica) tries again.
                summary.skipped += 1
                errors.increment()
                photoLogger.warning("could not reconcile the photo", metadata: ["error": "\(error)"])
            }
        }
        if !Task.isShuttingDownGracefully {
            do {
                // Objects of failed uploads that photo-api could not delete at once (S3 down),
                // and keys to sweep again once their upload URL expired.
                let deletions = try await confirmer.cleaner.runPass(
                    limit: settings.batchSize,
                    claimSeconds: settings.claimSeconds,
                    logger: logger
                )
                summary.deletedObjects = deletions.deleted
                summary.failedObjectDeletions = deletions.failed
            } catch {
                logger.warning("could not delete failed uploads' objects", metadata: ["error": "\(error)"])
            }
        }
        if !Task.isShuttingDownGracefully {
            do {
                summary.purgedKeys = try await IdempotencyKeys.purgeExpired(
                    limit: settings.keyPurgeBatchSize,
                    pool: pool
                )
                purgedKeys.increment(by: summary.purgedKeys)
            } catch {
                // The photos above are settled either way; the keys wait for the next pass.
                logger.warning("could not purge expired idempotency keys", metadata: ["error": "\(error)"])
            }
            do {
                summary.purgedRateLimitWindows = try await RateLimitWindows.purgeEnded(
                    limit: settings.keyPurgeBatchSize,
                    pool: pool
                )
            } catch {
                // A window row left behind only takes space; the next pass tries again.
                logger.warning("could not purge ended rate-limit windows", metadata: ["error": "\(error)"])
            }
        }
        if summary.total > 0 || summary.purgedKeys > 0 || summary.purgedRateLimitWindows > 0
            || summary.deletedObjects > 0 || summary.failedObjectDeletions > 0
        {
            logger.info(
                "reconciliation pass",
                metadata: [
                    "confirmed": "\(summary.confirmed)", "expired": "\(summary.expired)",
                    "invalid": "\(summary.invalid)", "skipped": "\(summary.skipped)",
                    "purged_idempotency_keys": "\(summary.purgedKeys)",
                    "purged_rate_limit_windows": "\(summary.purgedRateLimitWindows)",
                    "deleted_objects": "\(summary.deletedObjects)",
                    "failed_object_deletions": "\(summary.failedObjectDeletions)",
                ]
            )
        }
        return summary
    }
}
