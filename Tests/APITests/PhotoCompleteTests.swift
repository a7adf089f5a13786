import API
import AWS
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Postgres
import TestSupport
import Testing

/// `POST /api/v1/photos/{id}/complete` against a real Postgres and a real S3 API (moto).
@Suite(.serialized, .requiresDatabase, .offTheCooperativePool) struct PhotoCompleteTests {
    @Test func aConfirmedUploadHasDimensionsExifHistoryAndExactlyOneEvent() async throws {
        let token = try await PhotoWorld.token()
        try await StorageWorld.run { world in
            let project = try world.photos.makeProject()
            let photoID = try await world.upload(
                try ImageFixtures.bytes("iphone4s-gps-orientation6.jpg"),
                project: project,
                token: token
            )

            let first = try await world.complete(photoID, token: token)
            #expect(first.status == 200)
            let photo = first.json
            #expect(photo["status"] as? String == "uploaded")
            #expect(photo["width"] as? Int == 205)
            #expect(photo["height"] as? Int == 102)
            #expect(photo["uploaded_at"] is String)
            // Expected values: `exiftool -j -n iphone4s-gps-orientation6.jpg`.
            let exif = try #require(photo["exif_data"] as? [String: Any])
            #expect(exif["camera_make"] as? String == "Apple")
            #expect(exif["camera_model"] as? String == "iPhone 4S")
            #expect(exif["captured_at"] as? String == "2014-09-01T15:03:47")
            #expect(exif["orientation"] as? Int == 6)
            let gps = try #require(exif["gps_coordinates"] as? [String: Double])
            #expect(abs((gps["latitude"] ?? 0) - 59.3325472222222) < 1e-9)
            #expect(abs((gps["longitude"] ?? 0) - 18.0649416666667) < 1e-9)
            #expect(gps["altitude"] == 29)
            let history = try #require(photo["status_history"] as? [[String: Any]])
            #expect(history.compactMap { $0["status"] as? String } == ["pending_upload", "uploaded"])

            // The event carries the contract's message body.
            let event = try #require(
                try world.photos.sql(
                    "SELECT event_type, payload::text AS payload FROM outbox_events WHERE aggregate_id = $1",
                    [photoID]
                ).first
            )
            #expect(try event.decode("event_type") as String == "photo.uploaded")
            let payloadText: String = try event.decode("payload")
            let payload = try #require(try JSONSerialization.jsonObject(with: Data(payloadText.utf8)) as? [String: Any])
            #expect(payload["photo_id"] as? String == photoID)
            let key = try #require(photo["s3_key"] as? String)
            #expect(payload["s3_url"] as? String == "s3://\(StorageWorld.bucket)/\(key)")
            #expect(payload["detection_types"] as? [String] == ["damage", "material"])
            #expect(payload["priority"] as? String == "normal")

            // Repeating the call answers the same photo and writes nothing.
            let again = try await world.complete(photoID, token: token)
            #expect(again.status == 200)
            #expect(again.json["status"] as? String == "uploaded")
            #expect(try world.eventCount(photoID) == 1)
            let historyRows: Int =
                try world.photos.sql(
                    "SELECT count(*)::integer AS n FROM photo_status_history WHERE photo_id = $1",
                    [photoID]
                )
                .first?.decode("n") ?? -1
            #expect(historyRows == 2)
        }
    }

    @Test func concurrentCompletesOfOnePhotoWriteOneEvent() async throws {
        let token = try await PhotoWorld.token()
        try await StorageWorld.run { world in
            let project = try world.photos.makeProject()
            let photoID = try await world.upload(try ImageFixtures.bytes("canon.jpg"), project: project, token: token)
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<8 {
                    group.addTask { try await world.complete(photoID, token: token).status }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses == Array(repeating: 200, count: 8))
            #expect(try world.eventCount(photoID) == 1)
            #expect(try world.status(photoID) == "uploaded")
        }
    }

    /// Issue 13, point 6: concurrent completes of one photo share one confirmation. The proxy in
    /// front of S3 holds the `HEAD` for a moment, so calls that did not share it would all reach
    /// S3 meanwhile; with the sharing there is one `HEAD` and one ranged `GET` (the whole head of
    /// this photo fits in the first read), and every caller gets the same photo.
    @Test func concurrentCompletesOfOnePhotoShareOneS3Check() async throws {
        let token = try await PhotoWorld.token()
        try await StorageWorld.runBehindCountingProxy { world, proxy in
            let project = try world.photos.makeProject()
            let photoID = try await world.upload(try ImageFixtures.bytes("canon.jpg"), project: project, token: token)
            proxy.reset()
            proxy.holdHeads(for: .milliseconds(300))
            let answers = try await withThrowingTaskGroup(of: TestResponseSummary.self) { group in
                for _ in 0..<8 {
                    group.addTask { try await world.complete(photoID, token: token) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(answers.map(\.status) == Array(repeating: 200, count: 8))
            #expect(proxy.count("HEAD") == 1)
            #expect(proxy.count("GET") == 1)
            let photos = answers.map(\.json)
            #expect(photos.allSatisfy { $0["id"] as? String == photoID && $0["status"] as? String == "uploaded" })
            #expect(Set(photos.compactMap { $0["uploaded_at"] as? String }).count == 1)
            #expect(Set(photos.compactMap { $0["s3_etag"] as? String }).count == 1)
            #expect(Set(photos.compactMap { $0["width"] as? Int }) == [80])
            #expect(try world.eventCount(photoID) == 1)
        }
    }

    /// Issue 13, point 6: `complete` has a per-user budget of its own
    /// (`COMPLETE_RATE_LIMIT_PER_MINUTE`), separate from upload URLs': past it, 429
    /// `rate_limited` with `Retry-After`, while the same user still gets upload URLs and
    /// another user still completes.
    @Test func completeHasARateLimitOfItsOwn() async throws {
        let token = try await PhotoWorld.token()
        try await StorageWorld.run(environment: ["COMPLETE_RATE_LIMIT_PER_MINUTE": "2"]) { world in
            let project = try world.photos.makeProject()
            let photoID = try await world.upload(try ImageFixtures.bytes("canon.jpg"), project: project, token: token)
            #expect(try await world.complete(photoID, token: token).status == 200)
            #expect(try await world.complete(photoID, token: token).status == 200)

            let limited = try await world.photos.request(.post, "/api/v1/photos/\(photoID)/complete", token: token)
            #expect(limited.status == .tooManyRequests)
            #expect(try PhotoWorld.json(limited)["code"] as? String == "rate_limited")
            let retryAfter = try #require(limited.headers[.retryAfter].flatMap { Int($0) })
            #expect((1...60).contains(retryAfter))

            // Upload URLs are another budget: still issued to the same user.
            _ = try await world.requestUpload(project: project, size: 2048, token: token)
            // And the budget is per user.
            let otherUser = try await PhotoWorld.token(user: UUID())
            #expect(try await world.complete(photoID, token: otherUser).status == 200)
        }
    }

    @Test func aPNGIsMeasuredFromItsHeaderAndAJPEGWithoutExifStoresAnEmptyObject() async throws {
        let token = try await PhotoWorld.token()
        try await StorageWorld.run { world in
            let project = try world.photos.makeProject()
            let png = try await world.upload(
                ImageFixtures.png(width: 640, height: 480),
                project: project,
                mime: "image/png",
                token: token
            )
            let pngResponse = try await world.complete(png, token: token)
            #expect(pngResponse.status == 200)
            #expect(pngResponse.json["width"] as? Int == 640)
            #expect(pngResponse.json["height"] as? Int == 480)
            #expect((pngResponse.json["exif_data"] as? [String: Any])?.isEmpty == true)

            let plain = try await world.upload(try ImageFixtures.bytes("no-exif.jpg"), project: project, token: token)
            let plainResponse = try await world.complete(plain, token: token)
            #expect(plainResponse.status == 200)
            #expect(plainResponse.json["width"] as? Int == 50)
            #expect((plainResponse.json["exif_data"] as? [String: Any])?.isEmpty == true)
        }
    }

    /// Phones that write large XMP/APP13 blocks put the frame header more than 1 MiB in (here
    /// twenty maximal APP13 segments before it, 1.3 MB): the confirmer reads on, up to
    /// `ImageInspector.maximumHeadLength`, instead of failing the photo with 422.
    @Test func aFrameHeaderMoreThanOneMiBInIsFound() async throws {
        let token = try await PhotoWorld.token()
        try await StorageWorld.run { world in
            let project = try world.photos.makeProject()
            let jpeg = try ImageFixtures.bytes("no-exif.jpg")
            let app13: [UInt8] = [0xFF, 0xED, 0xFF, 0xFF] + [UInt8](repeating: 0x20, count: 65_533)
            let bytes = jpeg.prefix(2) + [[UInt8]](repeating: app13, count: 20).joined() + jpeg.dropFirst(2)
            #expect(bytes.count > 1_300_000)
            let photoID = try await world.upload(Array(bytes), project: project, token: token)
            let response = try await world.complete(photoID, token: token)
            #expect(response.status == 200)
            #expect(response.json["status"] as? String == "uploaded")
            #expect(response.json["width"] as? Int == 50)
            #expect(response.json["height"] as? Int == 50)
        }
    }

    @Test func completingBeforeTheUploadIs409AndLeavesThePhotoPending() async throws {
        let token = try await PhotoWorld.token()
        try await StorageWorld.run { world in
            let project = try world.photos.makeProject()
            let upload = try await world.requestUpload(project: project, size: 2048, token: token)
            let response = try await world.complete(upload.photoID, token: token)
            #expect(response.status == 409)
            #expect(response.code == "upload_not_found")
            #expect(try world.status(upload.photoID) == "pending_upload")
            #expect(try world.eventCount(upload.photoID) == 0)
        }
    }

    /// Uploads that are not what was declared fail the photo (422); asking again gives the same.
    @Test(arguments: [
        ("html declared as JPEG", "image/jpeg", "image/jpeg", "html"),
        ("PNG declared as JPEG", "image/jpeg", "image/jpeg", "png"),
        ("JPEG declared as PNG", "image/png", "image/png", "jpeg"),
        ("stored with another type", "image/jpeg", "image/png", "jpeg"),
        ("another size than declared", "image/jpeg", "image/jpeg", "jpeg-short"),
        ("truncated before the dimensions", "image/jpeg", "image/jpeg", "jpeg-truncated"),
        ("a decompression bomb", "image/png", "image/png", "png-bomb"),
    ])
    func invalidUploadsFailThePhoto(_ name: String, declared: String, sentType: String, content: String) async throws {
        let token = try await PhotoWorld.token()
        try await StorageWorld.run { world in
            let project = try world.photos.makeProject()
            let jpeg = try ImageFixtures.bytes("canon.jpg")
            let bytes: [UInt8] =
                switch content {
                case "html": Array("<!doctype html><html><body>not a photo at all</body></html>".utf8)
                case "png": ImageFixtures.png(width: 10, height: 10)
                case "jpeg-truncated": Array(jpeg.prefix(200))
                case "png-bomb": ImageFixtures.png(width: 20_000, height: 20_000)
                default: jpeg
                }
            let declaredSize = content == "jpeg-short" ? bytes.count + 10 : bytes.count
            let upload = try await world.requestUpload(
                project: project,
                size: declaredSize,
                mime: declared,
                token: token
            )
            // moto stores what it is sent; S3 itself would refuse a PUT that breaks the signature.
            let headers = upload.headers.filter { $0.name != "Content-Type" } + [("Content-Type", sentType)]
            try await world.put(bytes, to: upload.url, headers: headers.filter { $0.name != "Content-Length" })

            let response = try await world.complete(upload.photoID, token: token)
            #expect(response.status == 422, "\(name)")
            #expect(response.code == "invalid_upload", "\(name)")
            #expect(try world.status(upload.photoID) == "failed", "\(name)")
            let error: String? = try world.photos.sql("SELECT error FROM photos WHERE id = $1", [upload.photoID]).first?
                .decode("error")
            #expect(error?.hasPrefix("invalid_upload: ") == true, "\(name): \(error ?? "nil")")
            #expect(try world.eventCount(upload.photoID) == 0, "\(name)")

            let again = try await world.complete(upload.photoID, token: token)
            #expect(again.status == 422, "\(name)")
        }
    }

    @Test func s3DownIs503AndThePhotoIsUnchanged() async throws {
        let token = try await PhotoWorld.token()
        // A port that refuses and stays reserved: a freed one could become a parallel test's server.
        let refusing = try RefusingPort()
        defer { withExtendedLifetime(refusing) {} }
        try await StorageWorld.run(environment: ["AWS_ENDPOINT_URL_S3": refusing.endpoint]) { world in
            let project = try world.photos.makeProject()
            let upload = try await world.requestUpload(project: project, size: 2048, token: token)
            let response = try await world.complete(upload.photoID, token: token)
            #expect(response.status == 503)
            #expect(response.code == "storage_unavailable")
            #expect(try world.status(upload.photoID) == "pending_upload")
            #expect(try world.eventCount(upload.photoID) == 0)
        }
    }

    @Test func accessFollowsThePhotosProject() async throws {
        let token = try await PhotoWorld.token()
        let stranger = try await PhotoWorld.token(organization: UUID())
        try await StorageWorld.run { world in
            let project = try world.photos.makeProject()
            let upload = try await world.requestUpload(project: project, size: 2048, token: token)
            let foreign = try await world.complete(upload.photoID, token: stranger)
            #expect(foreign.status == 403)
            #expect(foreign.code == "forbidden")
            let unknown = try await world.complete(UUID().uuidString, token: token)
            #expect(unknown.status == 404)
            #expect(unknown.code == "not_found")
            let malformed = try await world.complete("not-a-uuid", token: token)
            #expect(malformed.status == 400)
            #expect(malformed.code == "invalid_request")
            let anonymous = try await world.photos.client.execute(
                uri: "/api/v1/photos/\(upload.photoID)/complete",
                method: .post
            )
            #expect(anonymous.status == .unauthorized)
            #expect(try world.status(upload.photoID) == "pending_upload")
        }
    }
}
