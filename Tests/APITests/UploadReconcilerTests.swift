import API
import AWS
import AppConfig
import AuthTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import NIOCore
import Postgres
import TestSupport
import Testing

/// The background reconciliation of pending uploads whose URL expired.
@Suite(.serialized, .requiresDatabase, .offTheCooperativePool) struct UploadReconcilerTests {
    /// Runs `body` with `count` reconcilers of the world's configuration, each with its own pool,
    /// as separate API replicas would have.
    /// The application under test would otherwise run its own reconciler, whose first pass,
    /// late on a busy machine, could claim a photo a test expires for its own reconcilers.
    static let withoutTheApplicationsReconciler = ["RECONCILE_ENABLED": "false"]

    /// `environment` overrides the world's (another S3 endpoint, for one).
    static func withReconcilers(
        _ world: StorageWorld,
        count: Int,
        environment extra: [String: String] = [:],
        _ body: ([UploadReconciler]) async throws -> Void
    ) async throws {
        let configuration = try AuthFixtures.configuration(
            world.photos.database,
            world.environment.merging(["RECONCILE_GRACE_SECONDS": "60", "RECONCILE_BATCH": "10"]) { _, new in new }
                .merging(extra) { _, new in new }
        )
        let logger = Logger(label: "reconciler-test")
        let http = CurlHTTPClient(concurrency: 2)
        var pools: [ConnectionPool] = []
        var reconcilers: [UploadReconciler] = []
        for _ in 0..<count {
            let pool = ConnectionPool(settings: configuration.database.settings, maximumConnections: 2, logger: logger)
            pools.append(pool)
            reconcilers.append(
                PhotoAPI.makeReconciler(
                    components: .init(pool: pool, configuration: configuration, http: http),
                    configuration: configuration,
                    logger: logger
                )
            )
        }
        do {
            try await body(reconcilers)
        } catch {
            for pool in pools { await pool.shutdown() }
            await http.shutdown()
            throw error
        }
        for pool in pools { await pool.shutdown() }
        await http.shutdown()
    }

    func expire(_ world: StorageWorld, _ photoID: String, secondsAgo: Int) throws {
        try world.photos.sql(
            "UPDATE photos SET upload_expires_at = now() - make_interval(secs => $2::integer) WHERE id = $1",
            [photoID, secondsAgo]
        )
    }

    @Test func forgottenUploadsAreConfirmedAndAbandonedOnesFailOnce() async throws {
        let token = try await PhotoWorld.token()
        try await StorageWorld.run(environment: Self.withoutTheApplicationsReconciler) { world in
            let project = try world.photos.makeProject()
            let jpeg = try ImageFixtures.bytes("canon.jpg")
            let forgotten = try await world.upload(jpeg, project: project, token: token)
            try expire(world, forgotten, secondsAgo: 3600)
            let abandoned = try await world.requestUpload(project: project, size: 4096, token: token).photoID
            try expire(world, abandoned, secondsAgo: 3600)
            let withinGrace = try await world.requestUpload(project: project, size: 4096, token: token).photoID
            try expire(world, withinGrace, secondsAgo: 10)
            let stillValid = try await world.upload(jpeg, project: project, token: token)

            try await Self.withReconcilers(world, count: 2) { reconcilers in
                // Two replicas at once: each photo is settled by exactly one of them.
                let summaries = try await withThrowingTaskGroup(of: UploadReconciler.PassSummary.self) { group in
                    for reconciler in reconcilers {
                        group.addTask { try await reconciler.runPass() }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(summaries.map(\.confirmed).reduce(0, +) == 1)
                #expect(summaries.map(\.expired).reduce(0, +) == 1)
                // Nothing more is due.
                let again = try await reconcilers[0].runPass()
                #expect(again.total == 0)
            }

            #expect(try world.status(forgotten) == "uploaded")
            #expect(try world.eventCount(forgotten) == 1)
            #expect(try world.status(abandoned) == "failed")
            let error: String? = try world.photos.sql("SELECT error FROM photos WHERE id = $1", [abandoned]).first?
                .decode("error")
            #expect(error == "upload_expired")
            let changedBy: String? = try world.photos.sql(
                "SELECT changed_by FROM photo_status_history WHERE photo_id = $1 AND status = 'failed'",
                [abandoned]
            ).first?.decode("changed_by")
            #expect(changedBy == "reconciler")
            #expect(try world.status(withinGrace) == "pending_upload")
            #expect(try world.status(stillValid) == "pending_upload")

            // A client's late complete of a photo the reconciler confirmed answers 200 and adds nothing.
            let late = try await world.complete(forgotten, token: token)
            #expect(late.status == 200)
            #expect(try world.eventCount(forgotten) == 1)
        }
    }

    /// A pass deletes the expired idempotency keys (which nothing else removes), counts them in
    /// its summary, and leaves live keys alone.
    @Test func aPassPurgesExpiredIdempotencyKeys() async throws {
        let token = try await PhotoWorld.token()
        try await StorageWorld.run(environment: Self.withoutTheApplicationsReconciler) { world in
            let project = try world.photos.makeProject()
            let photo = try await world.requestUpload(project: project, size: 4096, token: token).photoID
            try world.photos.sql(
                """
                INSERT INTO idempotency_keys (user_id, key, request_hash, photo_id, expires_at)
                SELECT gen_random_uuid(), 'key-' || n, 'hash', $1::uuid, now() - interval '1 hour'
                FROM generate_series(1, 25) AS n
                UNION ALL SELECT gen_random_uuid(), 'live', 'hash', $1::uuid, now() + interval '1 hour'
                """,
                [photo]
            )
            try await Self.withReconcilers(world, count: 1) { reconcilers in
                let first = try await reconcilers[0].runPass()
                #expect(first.purgedKeys == 25)
                #expect(first.total == 0)
                #expect(try await reconcilers[0].runPass().purgedKeys == 0)
            }
            let left: [String] = try world.photos.sql("SELECT key FROM idempotency_keys").rows.compactMap {
                $0["key"]
            }
            #expect(left == ["live"])
        }
    }

    /// As a service: the first pass runs at start, and cancellation ends the loop.
    @Test func theServiceSettlesDuePhotosAndStopsWhenCancelled() async throws {
        let token = try await PhotoWorld.token()
        try await StorageWorld.run(environment: Self.withoutTheApplicationsReconciler) { world in
            let project = try world.photos.makeProject()
            let abandoned = try await world.requestUpload(project: project, size: 4096, token: token).photoID
            try expire(world, abandoned, secondsAgo: 3600)
            try await Self.withReconcilers(world, count: 1) { reconcilers in
                let reconciler = reconcilers[0]
                let running = Task.offTheCooperativePool { try await reconciler.run() }
                let deadline = ContinuousClock.now + .seconds(30)
                while try world.status(abandoned) == "pending_upload", ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(50))
                }
                running.cancel()
                try await running.value
            }
            #expect(try world.status(abandoned) == "failed")
        }
    }

    @Test func aPhotoIsLeftPendingWhileS3IsDown() async throws {
        let token = try await PhotoWorld.token()
        // A port that refuses and stays reserved: a freed one could become a parallel test's server.
        let refusing = try RefusingPort()
        defer { withExtendedLifetime(refusing) {} }
        try await StorageWorld.run(
            environment: Self.withoutTheApplicationsReconciler.merging([
                "AWS_ENDPOINT_URL_S3": refusing.endpoint
            ]) { _, new in new }
        ) { world in
            let project = try world.photos.makeProject()
            let photo = try await world.requestUpload(project: project, size: 4096, token: token).photoID
            try expire(world, photo, secondsAgo: 3600)
            try await Self.withReconcilers(world, count: 1) { reconcilers in
                let summary = try await reconcilers[0].runPass()
                #expect(summary.skipped == 1)
            }
            #expect(try world.status(photo) == "pending_upload")
        }
    }
}
