import Foundation
import Metrics
import Postgres
import Synchronization
import UUIDCoding

/// Inserts the photos of upload-url requests without an `Idempotency-Key`, several requests'
/// rows in one statement and one commit whenever requests arrive faster than single inserts
/// finish.
///
/// Most of Postgres's work for such a request was per statement, not per row: the round trip,
/// the executor's set-up, the commit and its signal to the WAL writer (docs/benchmarks.md,
/// "Fourth round"). So at most `maximumConcurrentBatches` insert statements run at once. A
/// request that finds a slot free runs at once, alone: an idle server adds no wait. Requests
/// arriving while every slot is busy queue in arrival order, and the next slot to come free
/// takes them all (up to `maximumBatchSize`) into one statement. The first of them runs it, on
/// its own task, and hands the others their rows; no task is spawned.
///
/// Each statement also counts its requests against their users' rate limits (``UploadRateLimit``,
/// one counter row per user in `rate_limit_windows`): a request over its user's budget gets no
/// photo, and every request learns where it left its user's window.
///
/// Each request still gets its own answer, and only after its row is committed. A batch is one
/// transaction, so when Postgres refuses it over a row's data (SQLSTATE classes 22 and 23, which
/// validation should already have ruled out) its requests run again one at a time, in the same
/// slot, and only the culprit fails. Any other failure (a lost connection) fails the requests of
/// the batch, as it would have failed each of them alone.
///
/// A queued request is not withdrawn when its task is cancelled, just as a statement already
/// sent is not: its row is inserted and its answer dropped. Nor does a cancelled leader stop
/// its batch, which serves other requests too: a batch of several runs on a task of its own.
public final class PhotoInsertBatcher: Sendable {
    /// What became of one request's photo.
    public struct Insertion: Sendable, Equatable {
        /// The photo was inserted. It is not when the request was over its user's budget
        /// (``rateLimited``) or when its project does not exist or belongs to another
        /// organization than the photo's.
        public let inserted: Bool
        /// The request was counted past its user's budget.
        public let rateLimited: Bool
        /// Where the request left its user's window.
        public let rateLimit: RateLimitStatus
    }

    public let maximumConcurrentBatches: Int
    public let maximumBatchSize: Int
    public let rateLimit: UploadRateLimit
    private let pool: ConnectionPool
    /// Rows per insert statement (`photo_insert_batch_rows`): how much batching the load causes.
    private let batchRows = Recorder(label: PhotoInsertBatcher.batchRowsMetric)
    private let state = Mutex(State())

    private struct State {
        var runningBatches = 0
        var queue: [Waiting] = []
        /// For tests: insert statements run (batches and retries alone), and the most rows one
        /// carried.
        var statements = 0
        var largestBatch = 0
    }

    /// A queued request, waiting for its turn.
    private struct Waiting: Sendable {
        let photo: NewPhoto
        let continuation: CheckedContinuation<Turn, Never>
    }

    /// What a queued request is told to do when it is resumed.
    private enum Turn: Sendable {
        /// Its batch ran: whether the photo was inserted (it is not when the project is
        /// missing or another organization's).
        case finished(Result<Insertion, any Error>)
        /// Run a batch of this request and `others`.
        case lead(others: [Waiting])
    }

    /// The histogram of rows per insert statement; its buckets are set in `Observability`.
    public static let batchRowsMetric = "photo_insert_batch_rows"

    /// - Parameters:
    ///   - maximumConcurrentBatches: insert statements in flight at once (at least 1); the
    ///     rest of the pool stays free for the other routes.
    ///   - maximumBatchSize: rows in one statement (at least 1).
    ///   - rateLimit: the per-user budget the inserts are counted against; by default one no
    ///     test reaches.
    public init(
        pool: ConnectionPool,
        maximumConcurrentBatches: Int,
        maximumBatchSize: Int = 64,
        rateLimit: UploadRateLimit = UploadRateLimit(limit: Int(Int32.max))
    ) {
        self.pool = pool
        self.rateLimit = rateLimit
        self.maximumConcurrentBatches = max(1, maximumConcurrentBatches)
        self.maximumBatchSize = max(1, maximumBatchSize)
    }

    /// Counts `photo`'s request against its user's budget and, when within it, inserts `photo`
    /// and its first history row unless its project does not exist or belongs to another
    /// organization than the photo's.
    public func insert(_ photo: NewPhoto) async throws -> Insertion {
        let turn = await withCheckedContinuation { (continuation: CheckedContinuation<Turn, Never>) in
            let startsNow = state.withLock { state in
                guard state.runningBatches < maximumConcurrentBatches else {
                    state.queue.append(Waiting(photo: photo, continuation: continuation))
                    return false
                }
                state.runningBatches += 1
                return true
            }
            if startsNow { continuation.resume(returning: .lead(others: [])) }
        }
        switch turn {
        case .finished(let result):
            return try result.get()
        case .lead(let others):
            return try await lead(photo, others)
        }
    }

    /// Runs the batch of `photo` and `others` in the slot this request holds, hands the slot
    /// on, then answers the others.
    private func lead(_ photo: NewPhoto, _ others: [Waiting]) async throws -> Insertion {
        let photos = [photo] + others.map(\.photo)
        // Cancelling a statement in flight abandons it, outcome unknown: that may befall a
        // request alone, never the others of its batch.
        let inserted = others.isEmpty ? await insertPhotos(photos) : await Task { await insertPhotos(photos) }.value
        switch inserted {
        case .success(let insertions):
            startNextBatch()
            for waiting in others {
                waiting.continuation.resume(returning: .finished(Self.insertion(of: waiting.photo, in: insertions)))
            }
            return try Self.insertion(of: photo, in: insertions).get()
        case .failure(let error) where Self.isCausedByARow(error) && !others.isEmpty:
            // One request at a time, still in this slot, so that a bad row costs its batch a
            // series of statements but never more statements at once than there are slots.
            var results: [Result<Insertion, any Error>] = []
            for single in photos {
                results.append(await insertPhotos([single]).flatMap { Self.insertion(of: single, in: $0) })
            }
            startNextBatch()
            for (waiting, result) in zip(others, results.dropFirst()) {
                waiting.continuation.resume(returning: .finished(result))
            }
            return try results[0].get()
        case .failure(let error):
            startNextBatch()
            for waiting in others { waiting.continuation.resume(returning: .finished(.failure(error))) }
            throw error
        }
    }

    /// One insert statement for `photos`, counted: what became of each, by photo id.
    private func insertPhotos(_ photos: [NewPhoto]) async -> Result<[UUID: Insertion], any Error> {
        let result: Result<[UUID: Insertion], any Error>
        do {
            let rows = try await pool.execute(InsertPhotos(photos: photos, rateLimit: rateLimit))
            var insertions: [UUID: Insertion] = [:]
            for row in rows {
                insertions[row.photoID] = Insertion(
                    inserted: row.inserted,
                    rateLimited: row.position > rateLimit.limit,
                    rateLimit: RateLimitStatus(
                        limit: rateLimit.limit,
                        used: row.position,
                        resetSeconds: row.resetSeconds
                    )
                )
            }
            result = .success(insertions)
        } catch {
            result = .failure(error)
        }
        batchRows.record(photos.count)
        state.withLock { state in
            state.statements += 1
            state.largestBatch = max(state.largestBatch, photos.count)
        }
        return result
    }

    /// Gives the slot of a batch that just ended to the requests queued meanwhile, or frees it.
    private func startNextBatch() {
        let next = state.withLock { state -> (leader: Waiting, others: [Waiting])? in
            guard let leader = state.queue.first else {
                state.runningBatches -= 1
                return nil
            }
            let count = min(state.queue.count, maximumBatchSize)
            let others = Array(state.queue[1..<count])
            state.queue.removeFirst(count)
            return (leader, others)
        }
        if let next { next.leader.continuation.resume(returning: .lead(others: next.others)) }
    }

    /// `photo`'s row of a statement's answer; every request has one.
    private static func insertion(of photo: NewPhoto, in insertions: [UUID: Insertion]) -> Result<Insertion, any Error>
    {
        guard let insertion = insertions[photo.photoID] else {
            return .failure(PhotoStoreError.unexpectedOutcome("no row for a photo of the batch"))
        }
        return .success(insertion)
    }

    /// A data exception (22) or integrity violation (23): one row's values, not the batch.
    private static func isCausedByARow(_ error: any Error) -> Bool {
        guard let sqlState = (error as? PostgresError)?.sqlState else { return false }
        return sqlState.hasPrefix("22") || sqlState.hasPrefix("23")
    }

    /// For tests: requests waiting for a slot.
    var queuedCount: Int { state.withLock { $0.queue.count } }

    /// For tests: insert statements run so far (batches and retries alone), and the most rows
    /// one of them carried.
    var statistics: (statements: Int, largestBatch: Int) {
        state.withLock { ($0.statements, $0.largestBatch) }
    }
}
