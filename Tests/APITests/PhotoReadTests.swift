import API
import AuthTestSupport
import Foundation
import HTTPSupport
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Postgres
import TestSupport
import Testing

/// `GET /api/v1/photos/{id}` and `GET /api/v1/projects/{id}/photos`: every field of the contract's
/// photo object, access by organization with the specific problem code, and keyset paging
/// without gaps or duplicates.
@Suite(.requiresDatabase, .offTheCooperativePool) struct PhotoReadTests {
    /// Inserts a photo row directly with `created_at` given as an SQL expression.
    static func insertPhoto(
        _ world: PhotoWorld,
        project: UUID,
        status: String = "pending_upload",
        createdAt: String = "now()",
        id: UUID = UUID()
    ) throws -> UUID {
        let timestamps =
            switch status {
            case "uploaded": "uploaded_at"
            case "processing": "processing_at"
            case "completed": "completed_at"
            case "failed": "failed_at"
            default: "updated_at"
            }
        try world.sql(
            """
            INSERT INTO photos (id, project_id, user_id, file_name, mime_type, file_size, s3_bucket, s3_key,
                                status, upload_expires_at, created_at, \(timestamps))
            VALUES ($1, $2, $3, 'p.jpg', 'image/jpeg', 2048, 'photos-test', $4, $5, now(), \(createdAt), now())
            """,
            [
                id, project, AuthFixtures.userID,
                "\(project.uuidString.lowercased())/\(id.uuidString.lowercased()).jpg", status,
            ]
        )
        return id
    }

    /// The photo object's fields in contract section 4 (`GET /api/v1/photos/{photo_id}`) that every
    /// photo carries, whatever its status.
    static let contractFields: Set<String> = [
        "id", "project_id", "user_id", "file_name", "mime_type", "file_size", "width", "height", "s3_key", "s3_url",
        "s3_etag", "s3_version_id", "status", "created_at", "uploaded_at", "processing_at", "completed_at",
        "failed_at", "exif_data", "detection", "error", "status_history",
    ]

    @Test func aPhotoHasTheContractsShape() async throws {
        let token = try await PhotoWorld.token()
        try await PhotoWorld.run { world in
            let project = try world.makeProject()
            let created = try await world.request(
                .post,
                "/api/v1/photos/upload-url",
                token: token,
                body: PhotoWorld.uploadBody(project: project, extra: #","detection_types":["material"]"#)
            )
            let photoID = try #require(try PhotoWorld.json(created)["photo_id"] as? String)
            try world.sql(
                """
                UPDATE photos SET status = 'processing', uploaded_at = now(), processing_at = now(), width = 4032,
                    height = 3024, exif_data = '{"camera_make":"Canon","orientation":1}'
                WHERE id = $1
                """,
                [photoID]
            )
            try world.sql(
                "INSERT INTO photo_status_history (photo_id, status, previous_status, changed_by, at) VALUES ($1, 'uploaded', 'pending_upload', 'api', now() + interval '1 second')",
                [photoID]
            )
            let response = try await world.request(.get, "/api/v1/photos/\(photoID)", token: token)
            #expect(response.status == .ok)
            let json = try PhotoWorld.json(response)
            // Every field the contract lists is there; additive fields are welcome, so more may be.
            let missing = Self.contractFields.subtracting(json.keys)
            #expect(missing.isEmpty, "missing: \(missing.sorted())")
            // Seeded with SQL, not through `complete`: no validated object is recorded.
            #expect(json["s3_etag"] is NSNull)
            #expect(json["s3_version_id"] is NSNull)
            #expect(json["id"] as? String == photoID)
            #expect(json["project_id"] as? String == project.uuidString.lowercased())
            #expect(json["user_id"] as? String == AuthFixtures.userID.uuidString.lowercased())
            #expect(json["file_size"] as? Int == 2_097_152)
            #expect(json["width"] as? Int == 4032)
            #expect(json["status"] as? String == "processing")
            #expect((json["created_at"] as? String)?.hasSuffix("Z") == true)
            #expect(json["completed_at"] is NSNull)
            #expect(json["error"] is NSNull)
            let exif = try #require(json["exif_data"] as? [String: Any])
            #expect(exif["camera_make"] as? String == "Canon")
            let detection = try #require(json["detection"] as? [String: Any])
            #expect(detection["status"] as? String == "processing")
            #expect(detection["types"] as? [String] == ["material"])
            #expect(detection["priority"] as? String == "normal")
            #expect(detection["result"] is NSNull)
            let history = try #require(json["status_history"] as? [[String: String]])
            #expect(history.map { $0["status"] } == ["pending_upload", "uploaded"])
            #expect(history.allSatisfy { $0["at"]?.hasSuffix("Z") == true })
        }
    }

    /// A photo that is `uploaded`, `processing` or `completed` carries `download_url` (a
    /// pre-signed GET of its object, `DOWNLOAD_URL_TTL_SECONDS`) and `download_url_expires_at`;
    /// one without a stored object (`pending_upload`, `failed`) has neither. LocalStack serving
    /// the object through the URL is `PhotoDownloadLocalStackTests`.
    @Test(arguments: ["uploaded", "processing", "completed"])
    func aStoredPhotoHasADownloadURL(status: String) async throws {
        let token = try await PhotoWorld.token()
        try await PhotoWorld.run(environment: ["DOWNLOAD_URL_TTL_SECONDS": "120"]) { world in
            let project = try world.makeProject()
            let photo = try Self.insertPhoto(world, project: project, status: status)
            let before = Date().timeIntervalSince1970.rounded(.down)
            let response = try await world.request(.get, "/api/v1/photos/\(photo)", token: token)
            #expect(response.status == .ok)
            let json = try PhotoWorld.json(response)
            let url = try #require(json["download_url"] as? String)
            let key = try #require(json["s3_key"] as? String)
            #expect(url.hasPrefix("https://photos-test.s3.us-east-1.amazonaws.com/\(key)?X-Amz-Algorithm="))
            #expect(url.contains("X-Amz-Expires=120&X-Amz-SignedHeaders=host&X-Amz-Signature="))
            // Seeded without a validated version: the URL names the key only.
            #expect(!url.contains("versionId="))
            let expiresText = try #require(json["download_url_expires_at"] as? String)
            let expiresAt = try #require(try? Date(expiresText, strategy: .iso8601))
            #expect((before + 120...before + 130).contains(expiresAt.timeIntervalSince1970))

            // The listing carries the same fields.
            let list = try await world.request(.get, "/api/v1/projects/\(project)/photos", token: token)
            let items = try #require(try PhotoWorld.json(list)["photos"] as? [[String: Any]])
            #expect((items.first?["download_url"] as? String)?.contains("X-Amz-Signature=") == true)
            #expect(items.first?["download_url_expires_at"] is String)
        }
    }

    /// A photo without a stored object has no `download_url`, in `GET` and in the listing; a
    /// validated version is pinned with `versionId`.
    @Test func onlyStoredObjectsHaveADownloadURLAndItNamesTheValidatedVersion() async throws {
        let token = try await PhotoWorld.token()
        try await PhotoWorld.run { world in
            let project = try world.makeProject()
            let pending = try Self.insertPhoto(world, project: project, status: "pending_upload")
            let failed = try Self.insertPhoto(world, project: project, status: "failed")
            let versioned = try Self.insertPhoto(world, project: project, status: "completed")
            try world.sql(
                "UPDATE photos SET s3_etag = '\"e\"', s3_version_id = 'v1+/=x' WHERE id = $1",
                [versioned]
            )
            for photo in [pending, failed] {
                let json = try PhotoWorld.json(try await world.request(.get, "/api/v1/photos/\(photo)", token: token))
                #expect(json["download_url"] == nil)
                #expect(json["download_url_expires_at"] == nil)
            }
            let json = try PhotoWorld.json(try await world.request(.get, "/api/v1/photos/\(versioned)", token: token))
            let url = try #require(json["download_url"] as? String)
            #expect(url.contains("?versionId=v1%2B%2F%3Dx&X-Amz-Algorithm="))

            let list = try await world.request(.get, "/api/v1/projects/\(project)/photos", token: token)
            let items = try #require(try PhotoWorld.json(list)["photos"] as? [[String: Any]])
            #expect(items.count == 3)
            for item in items {
                let stored = item["status"] as? String == "completed"
                #expect((item["download_url"] != nil) == stored, "\(item["status"] ?? "?")")
                #expect((item["download_url_expires_at"] != nil) == stored)
            }
        }
    }

    @Test func photoAccessIsCheckedByOrganization() async throws {
        let token = try await PhotoWorld.token()
        try await PhotoWorld.run { world in
            let foreignProject = try world.makeProject(organization: UUID())
            let foreignPhoto = try Self.insertPhoto(world, project: foreignProject)
            let forbidden = try await world.request(.get, "/api/v1/photos/\(foreignPhoto)", token: token)
            #expect(forbidden.status == .forbidden)
            #expect(try AuthFixtures.problem(forbidden).code == "forbidden")
            let missing = try await world.request(.get, "/api/v1/photos/\(UUID())", token: token)
            #expect(missing.status == .notFound)
            #expect(try AuthFixtures.problem(missing).code == "not_found")
            let bad = try await world.request(.get, "/api/v1/photos/not-a-uuid", token: token)
            #expect(bad.status == .badRequest)
            #expect(try AuthFixtures.problem(bad).code == "invalid_request")

            let foreignList = try await world.request(.get, "/api/v1/projects/\(foreignProject)/photos", token: token)
            #expect(foreignList.status == .forbidden)
            #expect(try AuthFixtures.problem(foreignList).code == "forbidden")
            let missingList = try await world.request(.get, "/api/v1/projects/\(UUID())/photos", token: token)
            #expect(missingList.status == .notFound)
            #expect(try AuthFixtures.problem(missingList).code == "not_found")
            let badList = try await world.request(.get, "/api/v1/projects/nope/photos", token: token)
            #expect(badList.status == .badRequest)
            #expect(try AuthFixtures.problem(badList).code == "invalid_request")
        }
    }

    @Test func listsArePagedNewestFirstWithoutGapsOrDuplicates() async throws {
        let token = try await PhotoWorld.token()
        try await PhotoWorld.run { world in
            let project = try world.makeProject()
            let other = try world.makeProject()
            _ = try Self.insertPhoto(world, project: other)
            // Three photos share one created_at: the id breaks the tie.
            for index in 0..<7 {
                let createdAt = index < 3 ? "'2026-01-01 00:00:00.000001+00'" : "'2026-01-0\(index)T12:00:00.5Z'"
                let status = index % 2 == 0 ? "uploaded" : "pending_upload"
                _ = try Self.insertPhoto(world, project: project, status: status, createdAt: createdAt)
            }
            let ordered = try world.sql(
                "SELECT id FROM photos WHERE project_id = $1 ORDER BY created_at DESC, id DESC",
                [project]
            ).rows.compactMap { $0["id"] }

            var seen: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                let suffix = cursor.map { "&cursor=\($0)" } ?? ""
                let response = try await world.request(
                    .get,
                    "/api/v1/projects/\(project)/photos?limit=3\(suffix)",
                    token: token
                )
                #expect(response.status == .ok)
                let json = try PhotoWorld.json(response)
                let photos = try #require(json["photos"] as? [[String: Any]])
                #expect(photos.allSatisfy { $0["status_history"] == nil && $0["detection"] != nil })
                seen += photos.compactMap { $0["id"] as? String }
                cursor = json["next_cursor"] as? String
                pages += 1
            } while cursor != nil && pages < 10
            #expect(seen == ordered)
            #expect(seen.count == 7)
            #expect(pages == 3)

            let uploaded = try await world.request(
                .get,
                "/api/v1/projects/\(project)/photos?status=uploaded",
                token: token
            )
            let uploadedJSON = try PhotoWorld.json(uploaded)
            let uploadedPhotos = try #require(uploadedJSON["photos"] as? [[String: Any]])
            #expect(uploadedPhotos.count == 4)
            #expect(uploadedPhotos.allSatisfy { $0["status"] as? String == "uploaded" })
            #expect(uploadedJSON["next_cursor"] is NSNull)

            // Well-formed cursors whose timestamps name no instant: Postgres would refuse them.
            let impossible = [
                "2026-13-01 00:00:00+00", "2026-01-32 00:00:00+00", "2026-02-29 00:00:00+00", "2026-01-01 25:00:00+00",
            ].map { text in
                // base64url without padding, as the API writes its cursors.
                let base64 = Data("\(text)|\(UUID().uuidString.lowercased())".utf8).base64EncodedString()
                let encoded = base64.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                return "cursor=" + encoded.replacingOccurrences(of: "=", with: "")
            }
            for query in [
                "limit=0", "limit=101", "limit=abc", "status=done", "cursor=%21%21", "cursor=bm90LWEtY3Vyc29y",
            ] + impossible {
                let response = try await world.request(
                    .get,
                    "/api/v1/projects/\(project)/photos?\(query)",
                    token: token
                )
                #expect(response.status == .badRequest, Comment(rawValue: query))
                #expect(try AuthFixtures.problem(response).code == "invalid_request", Comment(rawValue: query))
            }
        }
    }
}
