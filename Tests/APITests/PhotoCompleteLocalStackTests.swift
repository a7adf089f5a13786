import API
import AWS
import AuthTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import TestSupport
import Testing

extension Tag {
    /// Needs the LocalStack of `scripts/test.sh` (S3 signature validation on); a bare `swift test`
    /// skips it (`.requiresLocalStack`).
    @Tag static var localstack: Self
}

/// Confirmation against LocalStack with S3 signature validation on: it accepts the pre-signed PUT
/// only with the signed headers. Our header-signed `HEAD` and `Range` `GET` go through too, but
/// LocalStack does not check header signatures: `S3HeaderSigningTests` compares them with
/// botocore's instead.
@Suite(.tags(.localstack), .serialized, .requiresDatabase, .requiresLocalStack, .offTheCooperativePool)
struct PhotoCompleteLocalStackTests {
    @Test func theSignedFlowConfirmsAPhotoWithItsExif() async throws {
        let token = try await PhotoWorld.token()
        try await StorageWorld.runOnLocalStack { world in
            let project = try world.photos.makeProject()
            let photoID = try await world.upload(try ImageFixtures.bytes("canon.jpg"), project: project, token: token)
            let response = try await world.complete(photoID, token: token)
            #expect(response.status == 200)
            #expect(response.json["status"] as? String == "uploaded")
            #expect(response.json["width"] as? Int == 80)
            let exif = try #require(response.json["exif_data"] as? [String: Any])
            #expect(exif["camera_model"] as? String == "Canon PowerShot G1 X Mark II")
            #expect(try world.eventCount(photoID) == 1)
        }
    }

    /// Issue 13 on a versioned bucket: a replayed key signs again while the photo is pending;
    /// `complete` records the validated object's `ETag` and `VersionId` (as S3's own HEAD reports
    /// them) in the row, the photo and the outbox event; a replay afterwards is 409
    /// `already_uploaded`.
    @Test func aVersionedUploadRecordsItsETagAndVersionAndAReplayAfterwardsIsRefused() async throws {
        let token = try await PhotoWorld.token()
        try await StorageWorld.runOnLocalStack { world in
            try await world.enableVersioning()
            let project = try world.photos.makeProject()
            let bytes = try ImageFixtures.bytes("canon.jpg")
            let body = PhotoWorld.uploadBody(project: project, size: bytes.count)
            let key = "versioned-upload"
            let first = try await world.photos.requestUploadURL(body: body, idempotencyKey: key, token: token)
            #expect(first.status == .ok)
            let photoID = try #require(try PhotoWorld.json(first)["photo_id"] as? String)

            // Still pending: the replay signs a new URL for the same photo, and that URL works.
            let pending = try await world.photos.requestUploadURL(body: body, idempotencyKey: key, token: token)
            #expect(pending.status == .ok)
            let replayed = try PhotoWorld.json(pending)
            #expect(replayed["photo_id"] as? String == photoID)
            let url = try #require(replayed["upload_url"] as? String)
            let headers = try #require(replayed["headers"] as? [String: String])
            try await world.put(bytes, to: url, headers: headers.map { (name: $0.key, value: $0.value) })

            let completed = try await world.complete(photoID, token: token)
            #expect(completed.status == 200)
            let s3Key = try #require(completed.json["s3_key"] as? String)
            let head = try await world.headObject(key: s3Key)
            let etag = try #require(head.header("ETag"))
            let version = try #require(head.header("x-amz-version-id"))
            #expect(etag.hasPrefix("\"") && version != "null")
            #expect(completed.json["s3_etag"] as? String == etag)
            #expect(completed.json["s3_version_id"] as? String == version)

            let read = try await world.photos.request(.get, "/api/v1/photos/\(photoID)", token: token)
            let photo = try PhotoWorld.json(read)
            #expect(photo["s3_etag"] as? String == etag)
            #expect(photo["s3_version_id"] as? String == version)
            let payload = try world.eventPayload(photoID)
            #expect(payload["s3_etag"] as? String == etag)
            #expect(payload["s3_version_id"] as? String == version)

            // Confirmed: no new URL, but where to follow the photo.
            let late = try await world.photos.requestUploadURL(body: body, idempotencyKey: key, token: token)
            #expect(late.status == .conflict)
            let problem = try PhotoWorld.json(late)
            #expect(problem["code"] as? String == "already_uploaded")
            #expect(problem["photo_id"] as? String == photoID)
            #expect(problem["photo_status"] as? String == "uploaded")
            #expect(problem["status_url"] as? String == "/api/v1/photos/\(photoID)")
            #expect(try world.eventCount(photoID) == 1)
        }
    }

    /// Without versioning the `ETag` alone names the object: `s3_version_id` is null on the photo
    /// and absent from the event.
    @Test func anUnversionedUploadRecordsItsETagOnly() async throws {
        let token = try await PhotoWorld.token()
        try await StorageWorld.runOnLocalStack { world in
            let project = try world.photos.makeProject()
            let photoID = try await world.upload(try ImageFixtures.bytes("canon.jpg"), project: project, token: token)
            let completed = try await world.complete(photoID, token: token)
            #expect(completed.status == 200)
            let s3Key = try #require(completed.json["s3_key"] as? String)
            let etag = try #require(try await world.headObject(key: s3Key).header("ETag"))
            #expect(completed.json["s3_etag"] as? String == etag)
            #expect(completed.json["s3_version_id"] is NSNull)
            let payload = try world.eventPayload(photoID)
            #expect(payload["s3_etag"] as? String == etag)
            #expect(payload["s3_version_id"] == nil)
        }
    }
}
