import API
import AuthTestSupport
import Foundation
import HTTPSupport
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Postgres
import TestSupport
import Testing

/// The writer's one-transaction guarantee, held under failure: when the database refuses a
/// write part-way (a trigger that raises on the history or outbox insert, as a constraint, a
/// full disk or a bug would), `upload-url`, `complete` and `PATCH .../status` answer 500
/// `internal_error` and leave no trace of it: the photo as it was, no history row, no outbox
/// event, no idempotency key. A writer that committed its pieces separately would leave the
/// pieces before the refused one behind, and these tests would see them.
@Suite(.requiresDatabase, .offTheCooperativePool) struct WriteAtomicityTests {
    /// Makes every insert into `table` fail from now on, until ``allowInserts(into:_:)``.
    static func refuseInserts(into table: String, _ world: PhotoWorld) throws {
        try world.sql(
            """
            CREATE FUNCTION refuse_insert() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'insert refused by the test'; END $$
            """
        )
        try world.sql(
            "CREATE TRIGGER refuse_insert BEFORE INSERT ON \(table) FOR EACH ROW EXECUTE FUNCTION refuse_insert()"
        )
    }

    static func allowInserts(into table: String, _ world: PhotoWorld) throws {
        try world.sql("DROP TRIGGER refuse_insert ON \(table)")
        try world.sql("DROP FUNCTION refuse_insert()")
    }

    /// The response is the contract's row for a database error.
    static func expectInternalError(_ response: TestResponse, _ comment: Comment) throws {
        #expect(response.status == .internalServerError, comment)
        #expect(try AuthFixtures.problem(response).code == "internal_error", comment)
        #expect(!String(buffer: response.body).contains("refused by the test"), "the database's message leaked")
    }

    /// `upload-url` writes the photo and its first history row together (and, with an
    /// `Idempotency-Key`, the key): refusing the history row leaves no photo and no key, and the
    /// same request succeeds once the fault is gone.
    @Test(arguments: [false, true])
    func anUploadURLWhoseHistoryRowIsRefusedWritesNothing(withIdempotencyKey: Bool) async throws {
        let token = try await PhotoWorld.token()
        try await PhotoWorld.run { world in
            let project = try world.makeProject()
            let body = PhotoWorld.uploadBody(project: project)
            let key = UUID().uuidString
            let ask = { @Sendable () async throws -> TestResponse in
                withIdempotencyKey
                    ? try await world.requestUploadURL(body: body, idempotencyKey: key, token: token)
                    : try await world.request(.post, "/api/v1/photos/upload-url", token: token, body: body)
            }
            try Self.refuseInserts(into: "photo_status_history", world)
            try Self.expectInternalError(try await ask(), "idempotency key: \(withIdempotencyKey)")
            let photos: Int = try world.sql("SELECT count(*)::integer AS n FROM photos").first?.decode("n") ?? -1
            #expect(photos == 0)
            let history: Int =
                try world.sql("SELECT count(*)::integer AS n FROM photo_status_history").first?.decode("n") ?? -1
            #expect(history == 0)
            let keys: Int =
                try world.sql("SELECT count(*)::integer AS n FROM idempotency_keys").first?.decode("n") ?? -1
            #expect(keys == 0)

            try Self.allowInserts(into: "photo_status_history", world)
            let retried = try await ask()
            #expect(retried.status == .ok)
            let photoID = try #require(try PhotoWorld.json(retried)["photo_id"] as? String)
            #expect(try world.count("photo_status_history", is: photoID) == 1)
        }
    }

    /// `complete` moves the photo, appends its history row and inserts its event in one
    /// statement: refusing either insert leaves the photo `pending_upload` without metadata,
    /// with only its first history row and no event; the same call confirms it once the fault
    /// is gone, with exactly one event.
    @Test(arguments: ["photo_status_history", "outbox_events"])
    func aCompleteWhoseWriteIsRefusedPartWayChangesNothing(refusedTable: String) async throws {
        let token = try await PhotoWorld.token()
        let bytes = try ImageFixtures.bytes("canon.jpg")
        try await StubStorage(object: bytes).withWorld { world in
            let project = try world.makeProject()
            let photoID = try await world.issueUpload(project: project, size: bytes.count, token: token)
            try Self.refuseInserts(into: refusedTable, world)

            try Self.expectInternalError(try await world.complete(photoID, token: token), "\(refusedTable)")
            let row = try #require(
                try world.sql(
                    """
                    SELECT status, width, s3_etag, uploaded_at::text AS uploaded_at, exif_data::text AS exif
                    FROM photos WHERE id = $1::uuid
                    """,
                    [photoID]
                ).first
            )
            #expect(try row.decode("status") as String == "pending_upload")
            #expect(try row.decodeIfPresent("width", as: Int.self) == nil)
            #expect(try row.decodeIfPresent("s3_etag", as: String.self) == nil)
            #expect(try row.decodeIfPresent("uploaded_at", as: String.self) == nil)
            #expect(try row.decode("exif") as String == "{}")
            #expect(try world.count("photo_status_history", is: photoID) == 1)
            #expect(try world.count("outbox_events", where: "aggregate_id", is: photoID) == 0)

            try Self.allowInserts(into: refusedTable, world)
            let retried = try await world.complete(photoID, token: token)
            #expect(retried.status == .ok)
            #expect(try PhotoWorld.json(retried)["status"] as? String == "uploaded")
            #expect(try world.count("photo_status_history", is: photoID) == 2)
            #expect(try world.count("outbox_events", where: "aggregate_id", is: photoID) == 1)
        }
    }

    /// `PATCH .../status` moves the photo and appends its history row in one statement:
    /// refusing the history row leaves the status and its timestamp as they were.
    @Test func aStatusChangeWhoseHistoryRowIsRefusedChangesNothing() async throws {
        let token = try await PhotoStatusTests.pipelineToken()
        try await PhotoWorld.run { world in
            let project = try world.makeProject()
            let photo = try PhotoReadTests.insertPhoto(world, project: project, status: "uploaded")
            let photoID = photo.uuidString.lowercased()
            let patch = { @Sendable () async throws -> TestResponse in
                try await world.request(
                    .patch,
                    "/api/v1/photos/\(photoID)/status",
                    token: token,
                    body: #"{"status":"processing"}"#
                )
            }
            try Self.refuseInserts(into: "photo_status_history", world)

            try Self.expectInternalError(try await patch(), "PATCH status")
            let row = try #require(
                try world.sql("SELECT status, processing_at::text AS at FROM photos WHERE id = $1", [photo]).first
            )
            #expect(try row.decode("status") as String == "uploaded")
            #expect(try row.decodeIfPresent("at", as: String.self) == nil)
            #expect(try world.count("photo_status_history", is: photoID) == 0)
            #expect(try world.count("outbox_events", where: "aggregate_id", is: photoID) == 0)

            try Self.allowInserts(into: "photo_status_history", world)
            #expect(try await patch().status == .ok)
            #expect(try world.count("photo_status_history", is: photoID) == 1)
        }
    }
}
