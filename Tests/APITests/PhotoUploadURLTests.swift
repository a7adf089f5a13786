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

/// `POST /api/v1/photos/upload-url` against the real application and database.
@Suite(.requiresDatabase, .offTheCooperativePool) struct PhotoUploadURLTests {
    @Test func everyValidationFailureHasItsStatusAndCode() async throws {
        let token = try await PhotoWorld.token()
        try await PhotoWorld.run(environment: ["RATE_LIMIT_PER_MINUTE": "1000"]) { world in
            let project = try world.makeProject()
            let id = project.uuidString.lowercased()
            let cases: [(String, String, HTTPResponse.Status, String)] = [
                ("malformed JSON", "{not json", .badRequest, "invalid_request"),
                ("not an object", "[]", .badRequest, "invalid_request"),
                (
                    "missing project_id", #"{"file_name":"a.jpg","file_size":2048,"mime_type":"image/jpeg"}"#,
                    .badRequest, "invalid_request"
                ),
                (
                    "bad UUID", #"{"project_id":"nope","file_name":"a.jpg","file_size":2048,"mime_type":"image/jpeg"}"#,
                    .badRequest, "invalid_request"
                ),
                (
                    "string size",
                    #"{"project_id":"\#(id)","file_name":"a.jpg","file_size":"2048","mime_type":"image/jpeg"}"#,
                    .badRequest, "invalid_request"
                ),
                (
                    "numeric name", #"{"project_id":"\#(id)","file_name":7,"file_size":2048,"mime_type":"image/jpeg"}"#,
                    .badRequest, "invalid_request"
                ),
                (
                    "empty name", #"{"project_id":"\#(id)","file_name":"","file_size":2048,"mime_type":"image/jpeg"}"#,
                    .badRequest, "invalid_request"
                ),
                (
                    "path name",
                    #"{"project_id":"\#(id)","file_name":"../etc/passwd","file_size":2048,"mime_type":"image/jpeg"}"#,
                    .badRequest, "invalid_request"
                ),
                (
                    "NUL in name",
                    #"{"project_id":"\#(id)","file_name":"a\u0000.jpg","file_size":2048,"mime_type":"image/jpeg"}"#,
                    .badRequest, "invalid_request"
                ),
                (
                    "dot dot", #"{"project_id":"\#(id)","file_name":"..","file_size":2048,"mime_type":"image/jpeg"}"#,
                    .badRequest, "invalid_request"
                ),
                (
                    // A right-to-left override: shown as "photoexe.jpg".
                    "bidi override in name",
                    #"{"project_id":"\#(id)","file_name":"photo\u202Egpj.exe","file_size":2048,"mime_type":"image/jpeg"}"#,
                    .badRequest, "invalid_request"
                ),
                (
                    // One character of 256 code points: Postgres counts code points.
                    "256 code points in name",
                    #"{"project_id":"\#(id)","file_name":"e\#(String(repeating: "\\u0301", count: 255))","file_size":2048,"mime_type":"image/jpeg"}"#,
                    .badRequest, "invalid_request"
                ),
                (
                    "bad priority", PhotoWorld.uploadBody(project: project, extra: #","priority":"urgent""#),
                    .badRequest, "invalid_request"
                ),
                (
                    "unknown detection type",
                    PhotoWorld.uploadBody(project: project, extra: #","detection_types":["cats"]"#), .badRequest,
                    "invalid_request"
                ),
                (
                    "empty detection types", PhotoWorld.uploadBody(project: project, extra: #","detection_types":[]"#),
                    .badRequest, "invalid_request"
                ),
                (
                    "bad checksum", PhotoWorld.uploadBody(project: project, extra: #","checksum_sha256":"abc""#),
                    .badRequest, "invalid_request"
                ),
                ("too small", PhotoWorld.uploadBody(project: project, size: 1023), .badRequest, "file_too_small"),
                (
                    "too large", PhotoWorld.uploadBody(project: project, size: 52_428_801), .contentTooLarge,
                    "file_too_large"
                ),
                (
                    "gif", PhotoWorld.uploadBody(project: project, mime: "image/gif"), .unsupportedMediaType,
                    "invalid_file_type"
                ),
                ("unknown project", PhotoWorld.uploadBody(project: UUID()), .notFound, "not_found"),
            ]
            for (name, body, status, code) in cases {
                let response = try await world.request(.post, "/api/v1/photos/upload-url", token: token, body: body)
                #expect(response.status == status, Comment(rawValue: name))
                #expect(try AuthFixtures.problem(response).code == code, Comment(rawValue: name))
            }
            let badKey = try await world.request(
                .post,
                "/api/v1/photos/upload-url",
                token: token,
                body: PhotoWorld.uploadBody(project: project),
                headers: [.idempotencyKey: String(repeating: "k", count: 256)]
            )
            #expect(badKey.status == .badRequest)
            #expect(try AuthFixtures.problem(badKey).code == "invalid_request")
            #expect(try world.sql("SELECT count(*) AS n FROM photos").first?.decode("n", as: Int.self) == 0)
        }
    }

    @Test func anUploadURLIsIssuedForAPendingPhoto() async throws {
        let token = try await PhotoWorld.token()
        let logs = AuthFixtures.LogCapture()
        try await PhotoWorld.run(logger: logs.logger) { world in
            let project = try world.makeProject()
            let checksum = Data(repeating: 7, count: 32).base64EncodedString()
            let response = try await world.request(
                .post,
                "/api/v1/photos/upload-url",
                token: token,
                body: PhotoWorld.uploadBody(
                    project: project,
                    extra: #","checksum_sha256":"\#(checksum)","priority":"high""#
                )
            )
            #expect(response.status == .ok)
            let json = try PhotoWorld.json(response)
            let photoText = try #require(json["photo_id"] as? String)
            let photoID = try #require(UUID(uuidString: photoText))
            #expect(photoText == photoText.lowercased())
            #expect(json["upload_id"] as? String == photoText)
            #expect(json["method"] as? String == "PUT")
            #expect(json["status"] as? String == "pending_upload")
            #expect(json["expires_in_seconds"] as? Int == 900)
            #expect(json["status_url"] as? String == "/api/v1/photos/\(photoText)")
            #expect(json["complete_url"] as? String == "/api/v1/photos/\(photoText)/complete")
            let expiresAt = try #require(json["expires_at"] as? String)
            #expect(expiresAt.count == 20 && expiresAt.hasSuffix("Z"))
            let headers = try #require(json["headers"] as? [String: String])
            #expect(
                headers == [
                    "Content-Type": "image/jpeg", "Content-Length": "2097152", "x-amz-checksum-sha256": checksum,
                ]
            )

            // Key layout: {project}/{yyyy}/{mm}/{dd}/{photo}.jpg on today's UTC date.
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
            let day = calendar.dateComponents([.year, .month, .day], from: Date())
            let datePath = String(format: "%04d/%02d/%02d", day.year ?? 0, day.month ?? 0, day.day ?? 0)
            let key = "\(project.uuidString.lowercased())/\(datePath)/\(photoText).jpg"
            #expect(json["s3_url"] as? String == "https://photos-test.s3.us-east-1.amazonaws.com/\(key)")

            // A SigV4 query-signed PUT of exactly that key, signing type, length and host.
            let uploadURL = try #require(json["upload_url"] as? String)
            let url = try #require(URLComponents(string: uploadURL))
            #expect(url.host == "photos-test.s3.us-east-1.amazonaws.com")
            #expect(url.path == "/\(key)")
            let query = Dictionary(
                (url.queryItems ?? []).map { ($0.name, $0.value ?? "") },
                uniquingKeysWith: { first, _ in first }
            )
            #expect(query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256")
            #expect(query["X-Amz-Expires"] == "900")
            let signed = Set((query["X-Amz-SignedHeaders"] ?? "").split(separator: ";").map(String.init))
            #expect(signed.isSuperset(of: ["content-type", "content-length", "host", "x-amz-checksum-sha256"]))
            #expect(query["X-Amz-Signature"]?.count == 64)

            // The row and its history exist once the response is sent.
            let row = try #require(
                try world.sql(
                    "SELECT status, s3_key, s3_bucket, file_name, priority, checksum_sha256, user_id, upload_expires_at > now() AS live FROM photos WHERE id = $1",
                    [photoID]
                ).first
            )
            #expect(row["status"] == "pending_upload")
            #expect(row["s3_key"] == key)
            #expect(row["s3_bucket"] == "photos-test")
            #expect(row["file_name"] == "damage.jpg")
            #expect(row["priority"] == "high")
            #expect(row["checksum_sha256"] == checksum)
            #expect(row["user_id"] == AuthFixtures.userID.uuidString.lowercased())
            #expect(row["live"] == "t")
            let history = try world.sql(
                "SELECT status, changed_by, previous_status FROM photo_status_history WHERE photo_id = $1",
                [photoID]
            )
            #expect(history.rows.count == 1)
            #expect(history.first?["status"] == "pending_upload")
            #expect(history.first?["changed_by"] == "api")
            // The URL is a bearer credential for the object: it never reaches the logs.
            #expect(!logs.all.isEmpty)
            #expect(!logs.all.contains { $0.text.contains("X-Amz-Signature") })
        }
    }

    /// With and without an Idempotency-Key, since each runs its own statement.
    @Test func anotherOrganizationsProjectIsForbiddenAndAnUnknownOneNotFound() async throws {
        let token = try await PhotoWorld.token()
        try await PhotoWorld.run { world in
            let foreign = try world.makeProject(organization: UUID())
            for headers: HTTPFields in [[:], [.idempotencyKey: "foreign-project"]] {
                let response = try await world.request(
                    .post,
                    "/api/v1/photos/upload-url",
                    token: token,
                    body: PhotoWorld.uploadBody(project: foreign),
                    headers: headers
                )
                #expect(response.status == .forbidden, "\(headers)")
                #expect(try AuthFixtures.problem(response).code == "forbidden", "\(headers)")
                let unknown = try await world.request(
                    .post,
                    "/api/v1/photos/upload-url",
                    token: token,
                    body: PhotoWorld.uploadBody(project: UUID()),
                    headers: headers
                )
                #expect(unknown.status == .notFound, "\(headers)")
                #expect(try AuthFixtures.problem(unknown).code == "not_found", "\(headers)")
            }
            #expect(try world.sql("SELECT count(*) AS n FROM photos").first?.decode("n", as: Int.self) == 0)
            #expect(try world.sql("SELECT count(*) AS n FROM idempotency_keys").first?.decode("n", as: Int.self) == 0)
            let unauthenticated = try await world.client.execute(uri: "/api/v1/photos/upload-url", method: .post)
            #expect(unauthenticated.status == .unauthorized)
            #expect(try AuthFixtures.problem(unauthenticated).code == "unauthorized")
            #expect(unauthenticated.headers[.wwwAuthenticate] == "Bearer")
        }
    }

    @Test func withoutAWSCredentialsUploadsAreUnavailable() async throws {
        let token = try await PhotoWorld.token()
        try await AuthFixtures.withApplication { client in
            let response = try await client.execute(
                uri: "/api/v1/photos/upload-url",
                method: .post,
                headers: AuthFixtures.bearer(token),
                body: ByteBuffer(string: PhotoWorld.uploadBody(project: UUID()))
            )
            #expect(response.status == .serviceUnavailable)
            #expect(try AuthFixtures.problem(response).code == "storage_unavailable")
        }
    }

    @Test func idempotencyKeyReplaysAndRefusesAnotherBody() async throws {
        let token = try await PhotoWorld.token()
        let otherUser = try await PhotoWorld.token(user: UUID())
        try await PhotoWorld.run(environment: ["RATE_LIMIT_PER_MINUTE": "1000"]) { world in
            let project = try world.makeProject()
            let body = PhotoWorld.uploadBody(project: project)
            let key: HTTPFields = [.idempotencyKey: "order-42"]
            let first = try await world.request(
                .post,
                "/api/v1/photos/upload-url",
                token: token,
                body: body,
                headers: key
            )
            // Same meaning, other spelling: the default priority written out.
            let again = try await world.request(
                .post,
                "/api/v1/photos/upload-url",
                token: token,
                body: PhotoWorld.uploadBody(project: project, extra: #","priority":"normal""#),
                headers: key
            )
            #expect(first.status == .ok)
            #expect(again.status == .ok)
            let firstID = try PhotoWorld.json(first)["photo_id"] as? String
            #expect(firstID != nil)
            // Without a checksum exactly type, length and host are signed.
            let firstURL = try PhotoWorld.json(first)["upload_url"] as? String
            #expect(firstURL?.contains("X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost&") == true)
            #expect(try PhotoWorld.json(again)["photo_id"] as? String == firstID)
            #expect(try world.sql("SELECT count(*) AS n FROM photos").first?.decode("n", as: Int.self) == 1)

            let conflict = try await world.request(
                .post,
                "/api/v1/photos/upload-url",
                token: token,
                body: PhotoWorld.uploadBody(project: project, size: 4096),
                headers: key
            )
            #expect(conflict.status == .unprocessableContent)
            #expect(try AuthFixtures.problem(conflict).code == "idempotency_key_reused")

            // Keys are per user: another user's same key is a new photo.
            let other = try await world.request(
                .post,
                "/api/v1/photos/upload-url",
                token: otherUser,
                body: body,
                headers: key
            )
            #expect(other.status == .ok)
            #expect(try PhotoWorld.json(other)["photo_id"] as? String != firstID)
            #expect(try world.sql("SELECT count(*) AS n FROM photos").first?.decode("n", as: Int.self) == 2)

            // After 24 hours the key is forgotten: another body is then a new photo, not a 422.
            try world.sql("UPDATE idempotency_keys SET expires_at = now() - interval '1 second'")
            let later = try await world.request(
                .post,
                "/api/v1/photos/upload-url",
                token: token,
                body: PhotoWorld.uploadBody(project: project, size: 4096),
                headers: key
            )
            #expect(later.status == .ok)
            #expect(try PhotoWorld.json(later)["photo_id"] as? String != firstID)
        }
    }

    /// A replay signs a new URL only while the photo is `pending_upload`: for a photo in any
    /// other status it is 409 `already_uploaded`, naming the photo and where to poll it, and the
    /// photo is left as it was. (The photo is moved with SQL here; `PhotoCompleteLocalStackTests`
    /// replays after a real `complete`.)
    @Test(arguments: ["uploaded", "processing", "completed", "failed"])
    func aReplayForAPhotoNoLongerPendingIsAlreadyUploaded(status: String) async throws {
        let token = try await PhotoWorld.token()
        try await PhotoWorld.run(environment: ["RATE_LIMIT_PER_MINUTE": "1000"]) { world in
            let project = try world.makeProject()
            let body = PhotoWorld.uploadBody(project: project)
            let key = "replay-\(status)"
            let first = try await world.requestUploadURL(body: body, idempotencyKey: key, token: token)
            #expect(first.status == .ok)
            let photoID = try #require(try PhotoWorld.json(first)["photo_id"] as? String)
            try world.sql(
                """
                UPDATE photos SET status = $2, uploaded_at = now(), processing_at = now(), completed_at = now(),
                                  failed_at = now(), upload_expires_at = now()
                WHERE id = $1
                """,
                [photoID, status]
            )

            let replay = try await world.requestUploadURL(body: body, idempotencyKey: key, token: token)
            #expect(replay.status == .conflict)
            let json = try PhotoWorld.json(replay)
            #expect(json["code"] as? String == "already_uploaded")
            #expect(json["status"] as? Int == 409)
            #expect(json["photo_id"] as? String == photoID)
            #expect(json["photo_status"] as? String == status)
            #expect(json["status_url"] as? String == "/api/v1/photos/\(photoID)")
            #expect(json["upload_url"] == nil)
            let problem = try AuthFixtures.problem(replay)
            #expect(problem.extensionMembers["photo_id"] == photoID)
            // Nothing moved: the replay of a non-pending photo writes nothing.
            let row = try #require(
                try world.sql(
                    "SELECT status, upload_expires_at <= now() AS expired FROM photos WHERE id = $1",
                    [photoID]
                )
                .first
            )
            #expect(row["status"] == status)
            #expect(row["expired"] == "t")
            #expect(try world.sql("SELECT count(*) AS n FROM photos").first?.decode("n", as: Int.self) == 1)
        }
    }

    @Test func concurrentFirstRequestsWithOneKeyMakeOnePhoto() async throws {
        let token = try await PhotoWorld.token()
        try await PhotoWorld.run(environment: ["RATE_LIMIT_PER_MINUTE": "1000"]) { world in
            let project = try world.makeProject()
            let body = PhotoWorld.uploadBody(project: project)
            let ids = try await withThrowingTaskGroup(of: String?.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        let response = try await world.request(
                            .post,
                            "/api/v1/photos/upload-url",
                            token: token,
                            body: body,
                            headers: [.idempotencyKey: "same-key"]
                        )
                        guard response.status == .ok else { return "status \(response.status.code)" }
                        return try PhotoWorld.json(response)["photo_id"] as? String
                    }
                }
                var ids: [String?] = []
                for try await id in group { ids.append(id) }
                return ids
            }
            #expect(Set(ids).count == 1, "\(ids)")
            #expect(try world.sql("SELECT count(*) AS n FROM photos").first?.decode("n", as: Int.self) == 1)
            #expect(try world.sql("SELECT count(*) AS n FROM idempotency_keys").first?.decode("n", as: Int.self) == 1)
        }
    }

    @Test func theRateLimitIsPerUser() async throws {
        let token = try await PhotoWorld.token()
        let otherUser = try await PhotoWorld.token(user: UUID())
        try await PhotoWorld.run { world in
            let project = try world.makeProject()
            let body = PhotoWorld.uploadBody(project: project)
            for attempt in 1...PhotoWorld.rateLimit {
                let response = try await world.request(.post, "/api/v1/photos/upload-url", token: token, body: body)
                #expect(response.status == .ok, "attempt \(attempt)")
            }
            let limited = try await world.request(.post, "/api/v1/photos/upload-url", token: token, body: body)
            #expect(limited.status == .tooManyRequests)
            #expect(try AuthFixtures.problem(limited).code == "rate_limited")
            let retryAfter = limited.headers[.retryAfter].flatMap { Int($0) }
            #expect(retryAfter.map { (1...60).contains($0) } == true)

            let other = try await world.request(.post, "/api/v1/photos/upload-url", token: otherUser, body: body)
            #expect(other.status == .ok)
        }
    }
}
