import API
import AWS
import Foundation
import HTTPTypes
import TestSupport
import Testing

/// `download_url` against LocalStack with S3 signature validation on: it serves the validated
/// object to a client without credentials, keeps serving the validated version after the key
/// was written again, and refuses the URL for another key or once it expired.
@Suite(.tags(.localstack), .serialized, .requiresDatabase, .requiresLocalStack, .offTheCooperativePool)
struct PhotoDownloadLocalStackTests {
    /// Uploads and confirms `bytes`; returns the photo as `GET` shows it.
    static func confirmedPhoto(_ world: StorageWorld, bytes: [UInt8], token: String) async throws -> [String: Any] {
        let project = try world.photos.makeProject()
        let photoID = try await world.upload(bytes, project: project, token: token)
        let completed = try await world.complete(photoID, token: token)
        guard completed.status == 200 else {
            throw TestEnvironmentError("complete answered \(completed.status)")
        }
        return try PhotoWorld.json(try await world.photos.request(.get, "/api/v1/photos/\(photoID)", token: token))
    }

    /// A plain GET, as a browser's `<img src>` would send it: no credentials, no signing.
    static func fetch(_ world: StorageWorld, _ url: String) async throws -> CurlHTTPClient.Response {
        try await world.http.execute(.init(method: "GET", url: url))
    }

    @Test func aVersionedPhotoIsServedThroughItsURLEvenAfterTheKeyIsWrittenAgain() async throws {
        let token = try await PhotoWorld.token()
        try await StorageWorld.runOnLocalStack { world in
            try await world.enableVersioning()
            let bytes = try ImageFixtures.bytes("canon.jpg")
            let photo = try await Self.confirmedPhoto(world, bytes: bytes, token: token)
            #expect(photo["s3_version_id"] is String)
            let url = try #require(photo["download_url"] as? String)
            #expect(url.contains("?versionId="))
            #expect(photo["download_url_expires_at"] is String)

            let served = try await Self.fetch(world, url)
            #expect(served.status == 200)
            #expect(served.body == bytes)

            // Someone writes the key again (here with the test's own credentials): the URL is
            // pinned to the validated version, so it still serves the validated bytes.
            let key = try #require(photo["s3_key"] as? String)
            let other = Array(bytes.reversed())
            let overwritten = try await world.http.execute(
                .init(
                    method: "PUT",
                    url: "\(world.s3Endpoint)/\(world.bucket)/\(key)",
                    headers: [("Content-Type", "image/jpeg")],
                    body: other,
                    signing: StorageWorld.signing
                )
            )
            #expect(overwritten.status == 200)
            let again = try await Self.fetch(world, url)
            #expect(again.status == 200)
            #expect(again.body == bytes)

            // The listing signs the same way.
            let projectID = try #require(photo["project_id"] as? String)
            let list = try await world.photos.request(.get, "/api/v1/projects/\(projectID)/photos", token: token)
            let items = try #require(try PhotoWorld.json(list)["photos"] as? [[String: Any]])
            let listed = try #require(items.first?["download_url"] as? String)
            let fromList = try await Self.fetch(world, listed)
            #expect(fromList.status == 200)
            #expect(fromList.body == bytes)
        }
    }

    /// The signature covers the key (and the version): the URL of one photo, pointed at another
    /// photo's key, is refused with 403 even though that object exists.
    @Test func theURLOfOnePhotoDoesNotOpenAnother() async throws {
        let token = try await PhotoWorld.token()
        try await StorageWorld.runOnLocalStack { world in
            let bytes = try ImageFixtures.bytes("canon.jpg")
            let first = try await Self.confirmedPhoto(world, bytes: bytes, token: token)
            let second = try await Self.confirmedPhoto(world, bytes: bytes, token: token)
            let url = try #require(first["download_url"] as? String)
            let firstKey = try #require(first["s3_key"] as? String)
            let secondKey = try #require(second["s3_key"] as? String)
            #expect((try await Self.fetch(world, url)).status == 200)

            let tampered = url.replacingOccurrences(of: firstKey, with: secondKey)
            #expect(tampered != url)
            let refused = try await Self.fetch(world, tampered)
            #expect(refused.status == 403)
            #expect(String(decoding: refused.body, as: UTF8.self).contains("SignatureDoesNotMatch"))
        }
    }

    @Test func anExpiredURLIsRefused() async throws {
        let token = try await PhotoWorld.token()
        try await StorageWorld.runOnLocalStack(environment: ["DOWNLOAD_URL_TTL_SECONDS": "1"]) { world in
            let photo = try await Self.confirmedPhoto(world, bytes: try ImageFixtures.bytes("canon.jpg"), token: token)
            let url = try #require(photo["download_url"] as? String)
            #expect(url.contains("X-Amz-Expires=1&"))
            try await Task.sleep(for: .milliseconds(2500))
            let refused = try await Self.fetch(world, url)
            #expect(refused.status == 403)
            #expect(String(decoding: refused.body, as: UTF8.self).contains("expired"))
        }
    }
}
