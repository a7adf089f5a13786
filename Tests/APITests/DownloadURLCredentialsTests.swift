import AuthTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import Postgres
import TestSupport
import Testing

/// `download_url`s signed with temporary credentials (a container credentials endpoint stub on
/// loopback), like upload URLs: they carry the session token and never outlive the credentials,
/// however long `DOWNLOAD_URL_TTL_SECONDS` is; without valid credentials a photo is still read,
/// only without `download_url`.
@Suite(.requiresDatabase, .offTheCooperativePool) struct DownloadURLCredentialsTests {
    @Test func downloadURLsNeverOutliveTemporaryCredentials() async throws {
        let token = try await PhotoWorld.token()
        let stub = CredentialStubServer(clock: ManualClock(Date()))
        // 400 s of life: a one-day URL would outlive them.
        stub.setLifetime(400)
        try await stub.run { base in
            let environment = UploadURLCredentialsTests.containerEnvironment(base).merging([
                "DOWNLOAD_URL_TTL_SECONDS": "86400"
            ]) { _, new in new }
            try await PhotoWorld.run(environment: environment) { world in
                let photo = try PhotoReadTests.insertPhoto(world, project: try world.makeProject(), status: "completed")
                let before = Date().timeIntervalSince1970.rounded(.down)
                let response = try await world.request(.get, "/api/v1/photos/\(photo)", token: token)
                #expect(response.status == .ok)
                let json = try PhotoWorld.json(response)
                let url = try #require(json["download_url"] as? String)
                // At most the 400 s less the 60 s margin (no lower bound: a slow machine eats into them).
                let seconds = try #require(
                    UploadURLCredentialsTests.query("X-Amz-Expires", of: url).flatMap { Int($0) }
                )
                #expect((1...340).contains(seconds))
                #expect(UploadURLCredentialsTests.query("X-Amz-Security-Token", of: url) == "token%2F1%2B%3D%3D")
                let expiresText = try #require(json["download_url_expires_at"] as? String)
                let expiresAt = try Date.ISO8601FormatStyle().parse(expiresText).timeIntervalSince1970
                #expect(expiresAt <= before + 400)
            }
        }
    }

    @Test func withoutValidCredentialsAPhotoIsReadWithoutADownloadURL() async throws {
        let token = try await PhotoWorld.token()
        let stub = CredentialStubServer(clock: ManualClock(Date()))
        // Inside the 60 s margin, so never usable; the next fetches fail.
        stub.setLifetime(50)
        try await stub.run { base in
            try await PhotoWorld.run(environment: UploadURLCredentialsTests.containerEnvironment(base)) { world in
                stub.setDown(true)
                let photo = try PhotoReadTests.insertPhoto(world, project: try world.makeProject(), status: "uploaded")
                let response = try await world.request(.get, "/api/v1/photos/\(photo)", token: token)
                #expect(response.status == .ok)
                let json = try PhotoWorld.json(response)
                #expect(json["status"] as? String == "uploaded")
                #expect(json["download_url"] == nil)
                #expect(json["download_url_expires_at"] == nil)
            }
        }
    }
}
