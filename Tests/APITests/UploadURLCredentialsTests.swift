import AuthTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Postgres
import TestSupport
import Testing

/// Upload URLs signed with temporary credentials from a container credentials endpoint (a
/// stub on loopback): they carry the session token and never outlive the credentials, and
/// with the credentials expired and the endpoint down upload-url answers 503 (and `/readyz`
/// says `aws_credentials_unavailable`) until it is back.
@Suite(.requiresDatabase, .offTheCooperativePool) struct UploadURLCredentialsTests {
    /// PhotoWorld's environment without its static keys, with the container endpoint at `base`.
    static func containerEnvironment(_ base: String) -> [String: String] {
        [
            "AWS_ACCESS_KEY_ID": "",
            "AWS_SECRET_ACCESS_KEY": "",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": base + "/container",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": "pod-identity-token",
            "AWS_EC2_METADATA_DISABLED": "true",
            "RATE_LIMIT_PER_MINUTE": "1000",
        ]
    }

    static func query(_ name: String, of url: String) -> String? {
        URLComponents(string: url)?.percentEncodedQueryItems?.first { $0.name == name }?.value
    }

    @Test func uploadURLsNeverOutliveTemporaryCredentials() async throws {
        let token = try await PhotoWorld.token()
        let start = Date()
        let stub = CredentialStubServer(clock: ManualClock(start))
        // 400 s of life from `start` (the stub's clock stands still): a 900 s URL would outlive them.
        stub.setLifetime(400)
        try await stub.run { base in
            try await PhotoWorld.run(environment: Self.containerEnvironment(base)) { world in
                let project = try world.makeProject()
                let response = try await world.request(
                    .post,
                    "/api/v1/photos/upload-url",
                    token: token,
                    body: PhotoWorld.uploadBody(project: project)
                )
                #expect(response.status == .ok)
                let json = try PhotoWorld.json(response)
                let seconds = try #require(json["expires_in_seconds"] as? Int)
                // At most the 400 s less the 60 s margin, less the time since `start` (a loaded
                // machine may take minutes to create the database before the request).
                let remaining = 340 - Date().timeIntervalSince(start)
                #expect(Double(seconds) <= remaining + 1)
                #expect(Double(seconds) >= remaining - 5)
                let url = try #require(json["upload_url"] as? String)
                #expect(Self.query("X-Amz-Expires", of: url) == String(seconds))
                #expect(Self.query("X-Amz-Security-Token", of: url) == "token%2F1%2B%3D%3D")
                #expect(Self.query("X-Amz-Credential", of: url)?.hasPrefix("AKIDGEN1%2F") == true)
                // expires_at is the signing time plus the same lifetime.
                let signedAt = try #require(Self.query("X-Amz-Date", of: url))
                let amzDate = DateFormatter()
                amzDate.locale = Locale(identifier: "en_US_POSIX")
                amzDate.timeZone = TimeZone(identifier: "UTC")
                amzDate.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
                let signing = try #require(amzDate.date(from: signedAt))
                let expiresAt = try Date.ISO8601FormatStyle().parse(try #require(json["expires_at"] as? String))
                #expect(expiresAt.timeIntervalSince(signing) == Double(seconds))
            }
        }
        #expect(stub.requests.first?.authorization == "pod-identity-token")
    }

    @Test func expiredCredentialsWithTheEndpointDownAnswer503UntilItIsBack() async throws {
        let token = try await PhotoWorld.token()
        let stub = CredentialStubServer(clock: ManualClock(Date()))
        // 50 s of life: inside the 60 s margin, so never usable; the next fetches fail.
        stub.setLifetime(50)
        try await stub.run { base in
            try await PhotoWorld.run(environment: Self.containerEnvironment(base)) { world in
                let project = try world.makeProject()
                stub.setDown(true)
                let refused = try await world.request(
                    .post,
                    "/api/v1/photos/upload-url",
                    token: token,
                    body: PhotoWorld.uploadBody(project: project)
                )
                #expect(refused.status == .serviceUnavailable)
                #expect(try PhotoWorld.json(refused)["code"] as? String == "storage_unavailable")
                #expect(try world.sql("SELECT count(*) AS n FROM photos").first?.decode("n", as: Int.self) == 0)
                // /readyz says why.
                let notReady = try await world.client.execute(uri: "/readyz", method: .get)
                #expect(notReady.status == .serviceUnavailable)
                #expect(String(buffer: notReady.body).contains(#""reason":"aws_credentials_unavailable""#))

                stub.setLifetime(3600)
                stub.setDown(false)
                // Retried after the backoff (1 s, doubling): poll with a generous deadline.
                let deadline = ContinuousClock.now + .seconds(30)
                var status = HTTPResponse.Status.serviceUnavailable
                var url: String?
                while status != .ok, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(250))
                    let response = try await world.request(
                        .post,
                        "/api/v1/photos/upload-url",
                        token: token,
                        body: PhotoWorld.uploadBody(project: project)
                    )
                    status = response.status
                    if status == .ok {
                        url = try PhotoWorld.json(response)["upload_url"] as? String
                    }
                }
                #expect(status == .ok)
                let ready = try await world.client.execute(uri: "/readyz", method: .get)
                #expect(ready.status == .ok)
                #expect(url.flatMap { Self.query("X-Amz-Credential", of: $0) }?.hasPrefix("AKIDGEN") == true)
                #expect(url.flatMap { Self.query("X-Amz-Credential", of: $0) }?.hasPrefix("AKIDGEN1%2F") == false)
            }
        }
    }

    /// Outside development, photo-api with no credential source at all exits 1 at start with
    /// one line listing the sources it tried.
    @Test func withoutAnyCredentialSourcePhotoAPIExitsOneNamingTheSourcesTried() async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let child = try await ChildProcess.run(
                try TestPaths.executable("photo-api"),
                [],
                environment: CredentialStubServer.noCredentialsEnvironment.merging([
                    "APP_ENV": "production",
                    "DATABASE_URL": database.connectionString,
                    "JWT_HS256_SECRET": AuthFixtures.secret,
                    "HOST": "127.0.0.1",
                    "PORT": "0",
                ]) { _, new in new }
            )
            let problems = CredentialStubServer.noCredentialsExitProblems(child)
            #expect(problems.isEmpty, "\(problems): \(child.standardError)")
        }
    }
}
