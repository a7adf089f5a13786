import Domain
import Foundation
import Postgres
import TestSupport
import Testing
import UUIDCoding

@testable import PhotoStore

/// Every writer of a photo's status goes through the one status-change CTE: the move is
/// conditional on the status the caller saw, sets the new status's timestamp, and records a
/// history row with who made it, in the same statement.
@Suite(.requiresDatabase, .offTheCooperativePool) struct PhotoLifecycleTests {
    /// A migrated database with one project, a pool on it, and `count` pending photos.
    struct World {
        let pool: ConnectionPool
        let observer: Connection
        let photos: [UUID]

        func status(_ photo: UUID) throws -> String? {
            try observer.query("SELECT status FROM photos WHERE id = $1", [photo]).first?["status"]
        }

        /// The photo's history as `previous → status by changed_by (reason)`, oldest first.
        func history(_ photo: UUID) throws -> [String] {
            try observer.query(
                """
                SELECT coalesce(previous_status, '-') || ' → ' || status || ' by ' || changed_by
                       || coalesce(' (' || reason || ')', '') AS line
                FROM photo_status_history WHERE photo_id = $1 ORDER BY at, id
                """,
                [photo]
            ).rows.compactMap { $0["line"] }
        }

        /// Whether the photo's `<column>` is set (a timestamp, or any other column).
        func isSet(_ photo: UUID, _ column: String) throws -> Bool {
            let sql = "SELECT \(column) IS NOT NULL AS set FROM photos WHERE id = $1"
            return try observer.query(sql, [photo]).first?["set"] == "t"
        }
    }

    static func withWorld(photos count: Int, _ body: (World) async throws -> Void) async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let pool = database.makePool(maximumConnections: 2)
            let observer = try database.connect()
            let project = UUID()
            let organization = UUID()
            try observer.query(
                "INSERT INTO projects (id, organization_id, name) VALUES ($1, $2, 'site')",
                [project, organization]
            )
            let photos = (0..<count).map { _ in
                UploadStatementPlanTests.newPhoto(project: project, organization: organization)
            }
            do {
                #expect(
                    try await pool.execute(InsertPhotos(photos: photos, rateLimit: UploadRateLimit(limit: 1000)))
                        .filter(\.inserted).count == count
                )
                try await body(World(pool: pool, observer: observer, photos: photos.map(\.photoID)))
            } catch {
                await pool.shutdown()
                throw error
            }
            await pool.shutdown()
        }
    }

    static func confirmation(of photo: UUID) -> PhotoLifecycle.Confirmation {
        PhotoLifecycle.Confirmation(
            width: 4032,
            height: 3024,
            s3ETag: Self.etag,
            s3VersionID: Self.versionID,
            exifJSON: #"{"camera_make":"Canon"}"#,
            eventID: UUID(),
            event: PhotoUploadedEvent(
                photoID: photo,
                projectID: UUID(),
                bucket: "bucket",
                key: "k.jpg",
                detectionTypes: ["damage"],
                priority: .high,
                mediaType: .jpeg,
                width: 4032,
                height: 3024,
                s3ETag: Self.etag,
                s3VersionID: Self.versionID
            )
        )
    }

    static let etag = #""9b2cf535f27731c974343645a3985328""#
    static let versionID = "3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"

    @Test func confirmationStoresTheMetadataTheHistoryAndTheEventOnce() async throws {
        try await Self.withWorld(photos: 1) { world in
            let photo = world.photos[0]
            let confirmation = Self.confirmation(of: photo)
            #expect(try await PhotoLifecycle.confirm(photo, confirmation, changedBy: .api, pool: world.pool))
            #expect(try await !PhotoLifecycle.confirm(photo, confirmation, changedBy: .reconciler, pool: world.pool))
            #expect(try world.status(photo) == "uploaded")
            #expect(try world.isSet(photo, "uploaded_at"))
            #expect(try !world.isSet(photo, "processing_at"))
            #expect(try world.history(photo) == ["- → pending_upload by api", "pending_upload → uploaded by api"])
            let row = try #require(
                try world.observer.query(
                    """
                    SELECT p.width, p.height, p.exif_data->>'camera_make' AS make, e.event_type,
                           e.aggregate_id, e.payload->>'priority' AS priority, p.s3_etag, p.s3_version_id,
                           e.payload->>'s3_etag' AS event_etag, e.payload->>'s3_version_id' AS event_version
                    FROM photos p JOIN outbox_events e ON e.aggregate_id = p.id WHERE p.id = $1
                    """,
                    [photo]
                ).first
            )
            #expect(row["width"] == "4032")
            #expect(row["height"] == "3024")
            #expect(row["make"] == "Canon")
            #expect(row["event_type"] == PhotoUploadedEvent.eventType)
            #expect(row["aggregate_id"] == photo.lowercasedString)
            #expect(row["priority"] == "high")
            // What was validated, in the row and in the message body alike.
            #expect(row["s3_etag"] == Self.etag)
            #expect(row["s3_version_id"] == Self.versionID)
            #expect(row["event_etag"] == Self.etag)
            #expect(row["event_version"] == Self.versionID)
            let events: Int = try #require(
                try world.observer.query("SELECT count(*)::int AS n FROM outbox_events").first?.decode("n")
            )
            #expect(events == 1)
        }
    }

    @Test func aFailedUploadRecordsItsReasonAndReleasesTheReconcileClaim() async throws {
        try await Self.withWorld(photos: 1) { world in
            let photo = world.photos[0]
            try world.observer.query(
                "UPDATE photos SET reconcile_claimed_until = now() + interval '1 hour' WHERE id = $1",
                [photo]
            )
            #expect(
                try await PhotoLifecycle.failUpload(
                    photo,
                    error: "upload_expired",
                    changedBy: .reconciler,
                    pool: world.pool
                )
            )
            #expect(try await !PhotoLifecycle.failUpload(photo, error: "again", changedBy: .api, pool: world.pool))
            #expect(try world.status(photo) == "failed")
            #expect(try world.isSet(photo, "failed_at"))
            #expect(try !world.isSet(photo, "reconcile_claimed_until"))
            #expect(
                try world.history(photo) == [
                    "- → pending_upload by api", "pending_upload → failed by reconciler (upload_expired)",
                ]
            )
        }
    }

    /// The reconciler's "expired" failure checks the expiry again when it writes: a photo whose
    /// URL was re-issued after the claim (an idempotent replay moves `upload_expires_at` out), or
    /// that is still within the grace period, stays `pending_upload` whatever the HEAD said.
    @Test func anExpiryIsCheckedAgainWhenThePhotoIsFailed() async throws {
        try await Self.withWorld(photos: 3) { world in
            let (expired, reissued, inGrace) = (world.photos[0], world.photos[1], world.photos[2])
            try world.observer.query(
                """
                UPDATE photos SET upload_expires_at = CASE id
                    WHEN $1 THEN now() - interval '1 hour'
                    WHEN $2 THEN now() + interval '15 minutes'
                    ELSE now() - interval '1 minute' END,
                  reconcile_claimed_until = now() + interval '10 minutes'
                """,
                [expired, reissued]
            )
            func expire(_ photo: UUID) async throws -> Bool {
                try await PhotoLifecycle.expireUpload(
                    photo,
                    graceSeconds: 300,
                    changedBy: .reconciler,
                    pool: world.pool
                )
            }
            #expect(try await !expire(reissued))
            #expect(try await !expire(inGrace))
            #expect(try world.status(reissued) == "pending_upload")
            #expect(try world.status(inGrace) == "pending_upload")
            #expect(try world.history(reissued) == ["- → pending_upload by api"])

            #expect(try await expire(expired))
            #expect(try await !expire(expired))
            #expect(try world.status(expired) == "failed")
            #expect(try !world.isSet(expired, "reconcile_claimed_until"))
            let error: String? = try world.observer.query("SELECT error FROM photos WHERE id = $1", [expired])
                .first?["error"]
            #expect(error == "upload_expired")
            #expect(
                try world.history(expired) == [
                    "- → pending_upload by api", "pending_upload → failed by reconciler (upload_expired)",
                ]
            )
        }
    }

    /// Expired idempotency keys go in bounded batches, oldest expiry first; live keys stay.
    @Test func expiredIdempotencyKeysArePurgedInBoundedBatches() async throws {
        try await Self.withWorld(photos: 1) { world in
            try world.observer.query(
                """
                INSERT INTO idempotency_keys (user_id, key, request_hash, photo_id, expires_at)
                SELECT gen_random_uuid(), 'expired-' || n, 'hash', $1::uuid, now() - make_interval(hours => n)
                FROM generate_series(1, 5) AS n
                UNION ALL
                SELECT gen_random_uuid(), 'live-' || n, 'hash', $1::uuid, now() + make_interval(hours => n)
                FROM generate_series(1, 2) AS n
                """,
                [world.photos[0]]
            )
            func keys() throws -> [String] {
                try world.observer.query("SELECT key FROM idempotency_keys ORDER BY key").rows.compactMap { $0["key"] }
            }
            #expect(try await IdempotencyKeys.purgeExpired(limit: 3, pool: world.pool) == 3)
            // The oldest expiries went first.
            #expect(try keys() == ["expired-1", "expired-2", "live-1", "live-2"])
            #expect(try await IdempotencyKeys.purgeExpired(limit: 3, pool: world.pool) == 2)
            #expect(try await IdempotencyKeys.purgeExpired(limit: 3, pool: world.pool) == 0)
            #expect(try keys() == ["live-1", "live-2"])
        }
    }

    /// The relay's move (the SQL its delivery statement composes): only `uploaded` photos become
    /// `processing`, however many ids it names.
    @Test func markProcessingMovesOnlyUploadedPhotos() async throws {
        try await Self.withWorld(photos: 3) { world in
            let (uploaded, pending, alsoUploaded) = (world.photos[0], world.photos[1], world.photos[2])
            for photo in [uploaded, alsoUploaded] {
                #expect(
                    try await PhotoLifecycle.confirm(
                        photo,
                        Self.confirmation(of: photo),
                        changedBy: .api,
                        pool: world.pool
                    )
                )
            }
            func markProcessing(_ photos: [UUID]) async throws -> Int? {
                try await world.pool.execute(MarkProcessing(photoIDs: photos)).first
            }
            let moved = try await markProcessing(world.photos + [UUID()])
            #expect(moved == 2)
            #expect(try world.status(uploaded) == "processing")
            #expect(try world.status(alsoUploaded) == "processing")
            #expect(try world.status(pending) == "pending_upload")
            #expect(try world.isSet(uploaded, "processing_at"))
            #expect(try world.history(uploaded).last == "uploaded → processing by relay")
            #expect(try await markProcessing([]) == 0)
            #expect(try await markProcessing([uploaded]) == 0)
        }
    }

    /// The pipeline's change: conditional on the status it saw; `result` kept when not sent,
    /// `error` stored only with `failed`.
    @Test func theDetectionPipelinesChangesAreConditionalOnTheStatusSeen() async throws {
        try await Self.withWorld(photos: 1) { world in
            let photo = world.photos[0]
            #expect(
                try await PhotoLifecycle.confirm(photo, Self.confirmation(of: photo), changedBy: .api, pool: world.pool)
            )
            func change(from: PhotoStatus, to: PhotoStatus, result: String?, error: String?) async throws -> Bool {
                try await PhotoLifecycle.changeStatus(
                    photo,
                    from: from,
                    to: to,
                    resultJSON: result,
                    error: error,
                    changedBy: .service("detection-pipeline"),
                    pool: world.pool
                )
            }
            #expect(try await !change(from: .pendingUpload, to: .processing, result: nil, error: nil))
            #expect(try await change(from: .uploaded, to: .processing, result: #"{"boxes":[1]}"#, error: nil))
            #expect(try await change(from: .processing, to: .failed, result: nil, error: "model crashed"))
            #expect(try world.status(photo) == "failed")
            #expect(try world.isSet(photo, "processing_at"))
            #expect(try world.isSet(photo, "failed_at"))
            #expect(try !world.isSet(photo, "completed_at"))
            let row = try #require(
                try world.observer.query(
                    "SELECT detection_result::text AS result, error FROM photos WHERE id = $1",
                    [photo]
                ).first
            )
            #expect(row["result"] == #"{"boxes": [1]}"#)
            #expect(row["error"] == "model crashed")
            #expect(
                try world.history(photo).suffix(2) == [
                    "uploaded → processing by service:detection-pipeline",
                    "processing → failed by service:detection-pipeline (model crashed)",
                ]
            )
        }
    }

    /// Reads come back typed: the status, media type and priority are enums, the detection
    /// types an array, and the history in order.
    @Test func aStoredPhotoIsReadBackTyped() async throws {
        try await Self.withWorld(photos: 1) { world in
            let photoID = world.photos[0]
            let photo = try #require(try await PhotoReads.photo(photoID, pool: world.pool))
            #expect(photo.photoID == photoID)
            #expect(photo.status == .pendingUpload)
            #expect(photo.mediaType == .jpeg)
            #expect(photo.priority == .normal)
            #expect(photo.detectionTypes == ["damage"])
            #expect(photo.history.map(\.status) == [.pendingUpload])
            #expect(try await PhotoReads.photo(UUID(), pool: world.pool) == nil)
        }
    }

    /// A page ends where the cursor of its last photo says; the next page starts after it.
    @Test func pagesFollowTheirCursors() async throws {
        try await Self.withWorld(photos: 5) { world in
            let project: UUID = try #require(
                try world.observer.query("SELECT id FROM projects").first?.decode("id")
            )
            let pages = try await world.pool.withConnection { connection in
                var pages: [[UUID]] = []
                var cursor: PhotoListCursor?
                while true {
                    let page = try PhotoReads.projectPhotos(
                        project,
                        status: nil,
                        after: cursor,
                        limit: 2,
                        on: connection
                    )
                    if page.isEmpty { break }
                    pages.append(page.map(\.photoID))
                    let last = try #require(page.last.map(PhotoListCursor.init(after:)))
                    // The cursor survives its trip through a client.
                    cursor = try #require(PhotoListCursor(encoded: last.encoded))
                }
                return pages
            }
            #expect(pages.map(\.count) == [2, 2, 1])
            #expect(Set(pages.flatMap { $0 }) == Set(world.photos))
            let failed = try await world.pool.withConnection {
                try PhotoReads.projectPhotos(project, status: .failed, after: nil, limit: 10, on: $0)
            }
            #expect(failed.isEmpty)
        }
    }
}

/// The list cursor is opaque to clients, and only what this API wrote decodes.
@Suite struct PhotoListCursorTests {
    @Test func roundTrips() throws {
        let cursor = PhotoListCursor(createdAtText: "2026-12-06 10:30:00.123456+00", photoID: UUID())
        #expect(PhotoListCursor(encoded: cursor.encoded) == cursor)
        #expect(!cursor.encoded.contains("="))
    }

    @Test(arguments: [
        "", "not base64!", String(repeating: "A", count: 201),
        "MjAyNi0xMi0wNiAxMDozMDowMCswMA",  // a timestamp without `|id`
        "bm90IGEgZGF0ZXx4",  // "not a date|x"
        "MjAyNi0xMi0wNiAxMDozMDowMCswMHxub3QtYS11dWlk",  // "2026-12-06 10:30:00+00|not-a-uuid"
        "MjAyNi0xMi0wNiAxMDozMDowMCswMHxub3QtYS11dWlk+/",  // standard base64's characters
    ])
    func refusesWhatThisAPIDidNotWrite(encoded: String) {
        #expect(PhotoListCursor(encoded: encoded) == nil)
    }

    /// A timestamp of the right shape that names no instant (month 13, day 32, February 30,
    /// hour 25, minute or second 60) is refused here: Postgres would refuse it in the query.
    @Test(arguments: [
        "2026-13-06 10:30:00.123456+00", "2026-12-32 10:30:00+00", "2026-02-30 10:30:00+00",
        "2026-12-06 25:30:00+00", "2026-12-06 10:60:00+00", "2026-12-06 10:30:60+00", "0000-12-06 10:30:00+00",
    ])
    func refusesImpossibleTimestamps(createdAtText: String) {
        let forged = PhotoListCursor(createdAtText: createdAtText, photoID: UUID())
        #expect(PhotoListCursor(encoded: forged.encoded) == nil)
    }
}
