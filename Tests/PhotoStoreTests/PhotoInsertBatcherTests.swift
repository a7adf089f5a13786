import Foundation
import TestSupport
import Testing
import UUIDCoding

@testable import Domain
@testable import PhotoStore
@testable import Postgres

/// Upload-url inserts without an Idempotency-Key, batched (`PhotoInsertBatcher`), against a real
/// Postgres. Batches are made deterministic by holding the project row `FOR UPDATE` in another
/// session: the insert's foreign-key check waits on it, so the slot stays busy until the test has
/// queued what it wants, then lets go.
@Suite(.requiresDatabase, .offTheCooperativePool) struct PhotoInsertBatcherTests {
    /// A migrated database with a project of `organization`, a batcher with one slot, and a
    /// session holding nothing yet.
    struct Fixture {
        let pool: ConnectionPool
        let batcher: PhotoInsertBatcher
        /// Holds the project's lock.
        let session: Connection
        /// Looks on, outside `session`'s transaction (which would see one snapshot of
        /// `pg_stat_activity` throughout).
        let observer: Connection
        let project = UUID()
        let organization = UUID()

        func row(
            project: UUID? = nil,
            organization: UUID? = nil,
            fileName: String = "site.jpg",
            checksum: String? = nil,
            user: UUID = UUID()
        ) -> NewPhoto {
            let id = UUID()
            // The memberwise initialiser: values validation would refuse reach the database.
            return NewPhoto(
                photoID: id,
                upload: UploadRequest(
                    projectID: project ?? self.project,
                    fileName: fileName,
                    fileSize: 2048,
                    mediaType: .jpeg,
                    detectionTypes: ["damage", "\"quoted\" \\ and ünïcode"],
                    priority: .normal,
                    checksumSHA256: checksum
                ),
                userID: user,
                organizationID: organization ?? self.organization,
                bucket: "bucket",
                s3Key: "\(self.project.lowercasedString)/2026/12/02/\(id.lowercasedString).jpg",
                uploadExpiresAt: Date().addingTimeInterval(900),
                idempotency: nil
            )
        }

        /// `photo`'s insert, with its id.
        func attempt(_ photo: NewPhoto) async -> (UUID, Result<Bool, any Error>) {
            let (id, insertion) = await attemptInsertion(photo)
            return (id, insertion.map(\.inserted))
        }

        /// `photo`'s insert, with its id and what became of it.
        func attemptInsertion(_ photo: NewPhoto) async -> (UUID, Result<PhotoInsertBatcher.Insertion, any Error>) {
            do {
                return (photo.photoID, .success(try await batcher.insert(photo)))
            } catch {
                return (photo.photoID, .failure(error))
            }
        }

        /// Inserts `first` while the project is held, so that it waits, queues `queued` behind it,
        /// then lets go: `first` runs alone and `queued` in batches. Every outcome, by photo id.
        func insertBehindABusySlot(
            _ first: NewPhoto,
            _ queued: [NewPhoto]
        ) async throws -> [UUID: Result<Bool, any Error>] {
            try await insertionsBehindABusySlot(first, queued).mapValues { $0.map(\.inserted) }
        }

        /// ``insertBehindABusySlot(_:_:)`` with what became of each request.
        func insertionsBehindABusySlot(
            _ first: NewPhoto,
            _ queued: [NewPhoto]
        ) async throws -> [UUID: Result<PhotoInsertBatcher.Insertion, any Error>] {
            try holdProject()
            return try await withThrowingTaskGroup(of: (UUID, Result<PhotoInsertBatcher.Insertion, any Error>).self) {
                group in
                group.addTask { await attemptInsertion(first) }
                try await waitUntil("the first insert waits for the lock") { try waitingInserts() == 1 }
                for row in queued { group.addTask { await attemptInsertion(row) } }
                try await waitUntil("\(queued.count) requests queue") { batcher.queuedCount == queued.count }
                try release()
                var outcomes: [UUID: Result<PhotoInsertBatcher.Insertion, any Error>] = [:]
                for try await (id, outcome) in group { outcomes[id] = outcome }
                return outcomes
            }
        }

        /// Takes the project row's lock until `release()`: inserts into it wait.
        func holdProject() throws {
            try session.query("BEGIN")
            try session.query("SELECT 1 FROM projects WHERE id = $1 FOR UPDATE", [project])
        }

        func release() throws { try session.query("COMMIT") }

        func count(_ sql: String) throws -> Int {
            let value: Int? = try observer.query(sql).first?.decode("count")
            return value ?? -1
        }

        /// Waits until `condition` holds (up to 30 s). On a time-out the lock is let go, so
        /// that the inserts waiting on it end and the test fails instead of hanging.
        func waitUntil(_ what: String, _ condition: () throws -> Bool) async throws {
            let deadline = ContinuousClock.now + .seconds(30)
            while try !condition() {
                guard ContinuousClock.now < deadline else {
                    _ = try? session.query("ROLLBACK")
                    throw TestEnvironmentError("timed out waiting: \(what)")
                }
                try await Task.sleep(for: .milliseconds(10))
            }
        }

        /// Backends waiting for the project's lock.
        func waitingInserts() throws -> Int {
            try count(
                """
                SELECT count(*)::int AS count FROM pg_stat_activity
                WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()
                """
            )
        }
    }

    static func withFixture(
        connections: Int = 4,
        rateLimit: UploadRateLimit = UploadRateLimit(limit: Int(Int32.max)),
        _ body: (Fixture) async throws -> Void
    ) async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let pool = database.makePool(maximumConnections: connections)
            let fixture = Fixture(
                pool: pool,
                batcher: PhotoInsertBatcher(pool: pool, maximumConcurrentBatches: 1, rateLimit: rateLimit),
                session: try database.connect(),
                observer: try database.connect()
            )
            try fixture.session.query(
                "INSERT INTO projects (id, organization_id, name) VALUES ($1, $2, 'site')",
                [fixture.project, fixture.organization]
            )
            do {
                try await body(fixture)
            } catch {
                await pool.shutdown()
                throw error
            }
            await pool.shutdown()
        }
    }

    @Test func anIdleServerInsertsEachPhotoAtOnceAlone() async throws {
        try await Self.withFixture { fixture in
            for _ in 0..<3 {
                let inserted = try await fixture.batcher.insert(fixture.row()).inserted
                #expect(inserted)
            }
            #expect(fixture.batcher.statistics.statements == 3)
            #expect(fixture.batcher.statistics.largestBatch == 1)
            #expect(try fixture.count("SELECT count(*)::int AS count FROM photos") == 3)
            #expect(
                try fixture.count(
                    "SELECT count(*)::int AS count FROM photo_status_history WHERE status = 'pending_upload' AND previous_status IS NULL"
                ) == 3
            )
        }
    }

    /// 150 requests while the slot is busy: one statement for the first, then batches of at most
    /// 64 in arrival order; every request gets its own photo back, with its values stored.
    @Test func requestsArrivingWhileTheSlotIsBusyShareStatements() async throws {
        try await Self.withFixture { fixture in
            let checksum = Data((0..<32).map { UInt8($0) }).base64EncodedString()
            let queued = (0..<149).map { index in fixture.row(checksum: index == 100 ? checksum : nil) }
            let outcomes = try await fixture.insertBehindABusySlot(fixture.row(), queued)
            #expect(outcomes.count == 150)
            for (_, outcome) in outcomes { #expect(try outcome.get()) }
            // 1 + 64 + 64 + 21.
            #expect(fixture.batcher.statistics.statements == 4)
            #expect(fixture.batcher.statistics.largestBatch == 64)
            #expect(try fixture.count("SELECT count(*)::int AS count FROM photos") == 150)
            #expect(try fixture.count("SELECT count(*)::int AS count FROM photo_status_history") == 150)
            let stored = try fixture.observer.query(
                """
                SELECT file_name, file_size, mime_type, s3_bucket, status, priority, checksum_sha256,
                       array_to_json(detection_types)::text AS detection_types,
                       upload_expires_at = $2::timestamptz AS expiry_kept
                FROM photos WHERE id = $1
                """,
                [queued[100].photoID, queued[100].uploadExpiresAt]
            )
            let row = try #require(stored.first)
            #expect(row["file_name"] == "site.jpg")
            #expect(row["file_size"] == "2048")
            #expect(row["mime_type"] == "image/jpeg")
            #expect(row["s3_bucket"] == "bucket")
            #expect(row["status"] == "pending_upload")
            #expect(row["priority"] == "normal")
            #expect(row["detection_types"] == #"["damage","\"quoted\" \\ and ünïcode"]"#)
            #expect(row["checksum_sha256"] == checksum)
            #expect(row["expiry_kept"] == "t")
            let withoutChecksum: Int = try fixture.count(
                "SELECT count(*)::int AS count FROM photos WHERE checksum_sha256 IS NULL"
            )
            #expect(withoutChecksum == 149)
        }
    }

    /// In one batch: a missing project and another organization's project insert nothing and
    /// come back `false`; the others are inserted.
    @Test func aBatchInsertsOnlyThePhotosOfTheCallersProjects() async throws {
        try await Self.withFixture { fixture in
            let foreign = UUID()
            try fixture.session.query(
                "INSERT INTO projects (id, organization_id, name) VALUES ($1, $2, 'elsewhere')",
                [foreign, UUID()]
            )
            let first = fixture.row()
            let rows = [fixture.row(), fixture.row(project: UUID()), fixture.row(project: foreign), fixture.row()]
            let outcomes = try await fixture.insertBehindABusySlot(first, rows)
            func wasInserted(_ photo: NewPhoto) throws -> Bool {
                try #require(outcomes[photo.photoID]).get()
            }
            #expect(try wasInserted(first))
            #expect(try wasInserted(rows[0]))
            #expect(try !wasInserted(rows[1]))
            #expect(try !wasInserted(rows[2]))
            #expect(try wasInserted(rows[3]))
            #expect(fixture.batcher.statistics.statements == 2)
            #expect(try fixture.count("SELECT count(*)::int AS count FROM photos") == 3)
        }
    }

    /// A row the schema refuses (a 300-character name, which validation would have stopped) makes
    /// Postgres refuse its whole batch; the batch's requests then run alone and only that one
    /// fails, with the database's SQLSTATE.
    @Test func aRowTheDatabaseRefusesFailsOnlyItsOwnRequest() async throws {
        try await Self.withFixture { fixture in
            let good = [fixture.row(), fixture.row(), fixture.row()]
            let bad = fixture.row(fileName: String(repeating: "x", count: 300) + ".jpg")
            let outcomes = try await fixture.insertBehindABusySlot(fixture.row(), [good[0], bad, good[1], good[2]])
            #expect(outcomes.count == 5)
            for (id, outcome) in outcomes {
                switch outcome {
                case .success(let inserted):
                    #expect(id != bad.photoID)
                    #expect(inserted)
                case .failure(let error):
                    #expect(id == bad.photoID)
                    #expect((error as? PostgresError)?.sqlState == "23514", "\(error)")
                }
            }
            #expect(try fixture.count("SELECT count(*)::int AS count FROM photos") == 4)
            #expect(try fixture.count("SELECT count(*)::int AS count FROM photo_status_history") == 4)
            // The first alone, the refused batch, then its four requests one at a time.
            #expect(fixture.batcher.statistics.statements == 6)
        }
    }

    /// The leader of a batch is cancelled while it waits for a connection: the batch serves its
    /// followers too, so it runs anyway, on a task of its own, and every row of it is written,
    /// the leader's included (as a queued request's is when its task is cancelled).
    @Test func aCancelledLeaderStillRunsItsBatch() async throws {
        try await Self.withFixture(connections: 1) { fixture in
            let letGo = DispatchSemaphore(value: 0)
            defer { letGo.signal() }
            try fixture.holdProject()
            let first = fixture.row()
            let leader = fixture.row()
            let followers = [fixture.row(), fixture.row()]
            let firstTask = Task.offTheCooperativePool { await fixture.attempt(first) }
            try await fixture.waitUntil("the first insert waits for the lock") { try fixture.waitingInserts() == 1 }
            let leaderTask = Task.offTheCooperativePool { await fixture.attempt(leader) }
            try await fixture.waitUntil("the leader queues") { fixture.batcher.queuedCount == 1 }
            let followerTasks = followers.map { row in Task.offTheCooperativePool { await fixture.attempt(row) } }
            try await fixture.waitUntil("its followers queue") { fixture.batcher.queuedCount == 3 }
            // First in line for the pool's only connection: a borrower keeping it until let go.
            let holder = Task.offTheCooperativePool { try await fixture.pool.withConnection { _ in letGo.wait() } }
            try await fixture.waitUntil("the holder waits") { fixture.pool.waitingBorrowerCount == 1 }
            try fixture.release()
            #expect(try await firstTask.value.1.get())
            try await fixture.waitUntil("the leader's batch waits for the connection") {
                fixture.batcher.queuedCount == 0 && fixture.pool.waitingBorrowerCount == 1
            }
            leaderTask.cancel()
            letGo.signal()
            try await holder.value
            #expect(try await leaderTask.value.1.get())
            for task in followerTasks {
                #expect(try await task.value.1.get())
            }
            #expect(try fixture.count("SELECT count(*)::int AS count FROM photos") == 4)
            // The first alone, then the leader's batch with its followers.
            #expect(fixture.batcher.statistics.statements == 2)
            #expect(fixture.batcher.statistics.largestBatch == 3)
        }
    }

    /// The connection of a batch is lost (its backend terminated while it waits): every request
    /// of that batch fails with the connection error and nothing of it is written, while the
    /// requests queued meanwhile go through as the next batch, on a new connection.
    @Test func aLostConnectionFailsItsBatchAndNotTheNext() async throws {
        try await Self.withFixture { fixture in
            try fixture.holdProject()
            let first = fixture.row()
            let doomed = (0..<5).map { _ in fixture.row() }
            let later = (0..<5).map { _ in fixture.row() }
            /// Terminates the backend waiting for the project's lock.
            func terminateTheWaitingInsert() throws {
                try fixture.observer.query(
                    """
                    SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                    WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()
                    """
                )
            }
            try await withThrowingTaskGroup(of: (UUID, Result<Bool, any Error>).self) { group in
                func insert(_ photo: NewPhoto) { group.addTask { await fixture.attempt(photo) } }
                insert(first)
                try await fixture.waitUntil("the first insert waits for the lock") { try fixture.waitingInserts() == 1 }
                for row in doomed { insert(row) }
                try await fixture.waitUntil("five requests queue") { fixture.batcher.queuedCount == 5 }
                try terminateTheWaitingInsert()
                try await fixture.waitUntil("the batch of five waits for the lock") {
                    try fixture.waitingInserts() == 1 && fixture.batcher.statistics.statements == 1
                }
                for row in later { insert(row) }
                try await fixture.waitUntil("the last five queue") { fixture.batcher.queuedCount == 5 }
                try terminateTheWaitingInsert()
                try await fixture.waitUntil("the batch of five failed") { fixture.batcher.statistics.statements == 2 }
                try fixture.release()
                var failed: Set<UUID> = []
                var inserted: Set<UUID> = []
                for try await (id, outcome) in group {
                    switch outcome {
                    case .success(let wasInserted):
                        #expect(wasInserted)
                        inserted.insert(id)
                    case .failure(let error):
                        #expect((error as? PostgresError)?.isConnectionProblem == true, "\(error)")
                        failed.insert(id)
                    }
                }
                #expect(failed == Set(([first] + doomed).map(\.photoID)))
                #expect(inserted == Set(later.map(\.photoID)))
            }
            #expect(try fixture.count("SELECT count(*)::int AS count FROM photos") == 5)
            #expect(fixture.batcher.statistics.statements == 3)
            #expect(fixture.batcher.statistics.largestBatch == 5)
        }
    }
}
