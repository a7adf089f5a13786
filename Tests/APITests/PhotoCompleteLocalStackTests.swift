import API
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

extension Tag {
    /// Needs the LocalStack of `scripts/test.sh` (S3 signature validation on).
    @Tag static var localstack: Self
}

/// Confirmation against an S3 that checks signatures: LocalStack accepts the PUT only with the
/// signed headers, and our query-signed `HEAD` and `Range` `GET` only when they are signed right.
@Suite(.tags(.localstack), .serialized) struct PhotoCompleteLocalStackTests {
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

    /// With a wrong secret, LocalStack refuses our signed HEAD (403): the API answers 503 and
    /// leaves the photo pending, so a correctly configured replica can confirm it later.
    @Test func aBadSignatureIsRefusedByS3AndThePhotoStaysPending() async throws {
        let token = try await PhotoWorld.token()
        try await StorageWorld.runOnLocalStack { world in
            let project = try world.photos.makeProject()
            let photoID = try await world.upload(try ImageFixtures.bytes("canon.jpg"), project: project, token: token)
            let misconfigured = try AuthFixtures.configuration(
                world.photos.database,
                world.environment.merging(["AWS_SECRET_ACCESS_KEY": "wrong-secret"]) { _, new in new }
            )
            let app = try await PhotoAPI.makeApplication(configuration: misconfigured, logger: Logger(label: "test"))
            try await app.test(.router) { client in
                let response = try await client.execute(
                    uri: "/api/v1/photos/\(photoID)/complete",
                    method: .post,
                    headers: AuthFixtures.bearer(token)
                )
                #expect(response.status == .serviceUnavailable)
            }
            #expect(try world.status(photoID) == "pending_upload")
        }
    }
}
