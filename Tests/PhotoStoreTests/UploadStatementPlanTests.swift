import Foundation
import Postgres
import TestSupport
import Testing

@testable import Domain
@testable import PhotoStore

/// The plan Postgres caches for the upload-url statement stays a primary-key plan.
@Suite(.requiresDatabase, .offTheCooperativePool) struct UploadStatementPlanTests {
    /// After five executions Postgres switches a prepared statement to its generic plan, made
    /// while the table holds only those rows; with a literal `status = 'pending_upload'` that
    /// plan scanned all of `photos_pending_expiry_idx` on every request (docs/benchmarks.md).
    @Test func theCachedPlanNeverScansThePendingExpiryIndex() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let connection = try database.connect()
            let project = UUID()
            let organization = UUID()
            try connection.query(
                "INSERT INTO projects (id, organization_id, name) VALUES ($1, $2, 'site')",
                [project, organization]
            )
            for round in 0..<8 {
                let statement = CreateUpload(
                    photo: Self.newPhoto(project: project, organization: organization),
                    idempotency: Idempotency(key: "key-\(round)", requestHash: "hash"),
                    rateLimit: UploadRateLimit(limit: 100)
                )
                guard case .created = try #require(try connection.execute(statement).first).outcome else {
                    Issue.record("round \(round) did not create its photo")
                    return
                }
            }
            // EXPLAIN takes no bound parameters: the values are written out (all made here).
            let plan = try connection.query(
                """
                EXPLAIN (COSTS OFF) EXECUTE \(CreateUpload.prepared.name) (
                    gen_random_uuid(), '\(project.postgresText)', gen_random_uuid(), 'a.jpg', 'image/jpeg', 2048,
                    NULL, 'bucket', gen_random_uuid()::text, '{damage}', 'normal', now() + interval '15 minutes',
                    '\(organization.postgresText)', 'key-x', 'hash', 100, 60)
                """
            )
            let text = plan.rows.compactMap { $0.values.first ?? nil }.joined(separator: "\n")
            #expect(text.contains("photos_pkey"), "\(text)")
            #expect(!text.contains("photos_pending_expiry_idx"), "\(text)")
            #expect(!text.contains("Seq Scan"), "\(text)")
        }
    }

    /// The batched insert checks each photo's project by its primary key, in the generic plan
    /// Postgres caches too: never by reading every project.
    @Test func theBatchedInsertLooksUpEachProjectByItsKey() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let connection = try database.connect()
            let organization = UUID()
            try connection.query(
                """
                INSERT INTO projects (id, organization_id, name)
                SELECT gen_random_uuid(), $1, 'site ' || n FROM generate_series(1, 2000) AS n
                """,
                [organization]
            )
            try connection.query("ANALYZE projects")
            let project: UUID = try #require(
                try connection.query("SELECT id FROM projects LIMIT 1").first?.decode("id")
            )
            func photo() -> NewPhoto { Self.newPhoto(project: project, organization: organization) }
            for size in [1, 5, 1, 20, 1, 3, 1, 64] {
                let inserted = try connection.execute(
                    InsertPhotos(photos: (0..<size).map { _ in photo() }, rateLimit: UploadRateLimit(limit: 100))
                )
                #expect(inserted.filter(\.inserted).count == size)
            }
            // EXPLAIN takes no bound parameters: the JSON is written out (all made here, no quotes).
            let json = InsertPhotos.json([photo(), photo()])
            #expect(!json.contains("'"))
            // The plan every later execution would reuse, whatever the server would pick.
            try connection.query("SET plan_cache_mode = force_generic_plan")
            let plan = try connection.query(
                "EXPLAIN (COSTS OFF) EXECUTE \(InsertPhotos.prepared.name) ('\(json)', 100, 60)"
            )
            let text = plan.rows.compactMap { $0.values.first ?? nil }.joined(separator: "\n")
            #expect(text.contains("projects_pkey"), "\(text)")
            #expect(!text.contains("Seq Scan on projects"), "\(text)")
        }
    }

    /// A photo of `project` for a caller of `organization`, valid as validation would leave it.
    static func newPhoto(project: UUID, organization: UUID) -> NewPhoto {
        let id = UUID()
        return NewPhoto(
            photoID: id,
            upload: UploadRequest(
                projectID: project,
                fileName: "a.jpg",
                fileSize: 2048,
                mediaType: .jpeg,
                detectionTypes: ["damage"],
                priority: .normal,
                checksumSHA256: nil
            ),
            userID: UUID(),
            organizationID: organization,
            bucket: "bucket",
            s3Key: "k/\(id.postgresText).jpg",
            uploadExpiresAt: Date().addingTimeInterval(900),
            idempotency: nil
        )
    }
}
