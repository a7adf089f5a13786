import API
import Foundation
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
@Suite(.tags(.localstack), .serialized, .requiresDatabase, .requiresLocalStack) struct PhotoCompleteLocalStackTests {
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
}
