import Foundation
import TestSupport
import Testing

@testable import AWS

/// Upload URLs signed with container credentials whose keys LocalStack's IAM created: its S3
/// checks a pre-signed URL against the secret it holds for the key id (not the session token
/// or the expiry), so a URL signed with a rotated key passes and one with a wrong secret does
/// not.
@Suite(.tags(.localstack), .requiresLocalStack) struct ContainerCredentialsLocalStackTests {
    /// `CreateUser` + `CreateAccessKey` in LocalStack's IAM, signed with the test keys.
    private static func createAccessKeys(
        _ s3: LocalS3,
        count: Int
    ) async throws -> [(accessKeyID: String, secret: String)] {
        let user = "photo-api-\(UUID().uuidString.lowercased().prefix(8))"
        func call(_ form: String) async throws -> String {
            let response = try await s3.http.execute(
                CurlHTTPClient.Request(
                    method: "POST",
                    url: s3.baseURL + "/",
                    headers: [("Content-Type", "application/x-www-form-urlencoded")],
                    body: Array((form + "&Version=2010-05-08").utf8),
                    signing: .init(region: s3.region, service: "iam", credentials: s3.credentials)
                )
            )
            let text = String(decoding: response.body, as: UTF8.self)
            guard response.status == 200 else {
                throw PresignerTestError("IAM \(form): HTTP \(response.status) \(text)")
            }
            return text
        }
        _ = try await call("Action=CreateUser&UserName=\(user)")
        var keys: [(accessKeyID: String, secret: String)] = []
        for _ in 0..<count {
            let text = try await call("Action=CreateAccessKey&UserName=\(user)")
            guard let id = WebIdentityCredentialProvider.element("AccessKeyId", in: text),
                let secret = WebIdentityCredentialProvider.element("SecretAccessKey", in: text)
            else { throw PresignerTestError("CreateAccessKey answered no key: \(text)") }
            keys.append((id, secret))
        }
        return keys
    }

    @Test func rotatedContainerKeysSignUploadsLocalStackAccepts() async throws {
        try await LocalS3.with { s3 in try await Self.rotateKeys(s3) }
    }

    private static func rotateKeys(_ s3: LocalS3) async throws {
        let keys = try await createAccessKeys(s3, count: 2)
        let clock = ManualClock(Date())
        let stub = CredentialStubServer(clock: clock)
        stub.issue(keys: keys)
        stub.setLifetime(3600)
        try await stub.run { base in
            let cache = CredentialCache(
                provider: ContainerCredentialProvider(
                    url: try #require(URL(string: base + "/container")),
                    authorizationToken: "token",
                    authorizationTokenFile: nil,
                    http: s3.http
                ),
                settings: .init(refreshWindow: .seconds(600)),
                now: clock.function
            )
            let presigners = S3PresignerSource(credentials: cache) { credentials in
                S3Presigner(
                    region: s3.region,
                    credentials: credentials,
                    endpoint: s3.endpoint,
                    forcePathStyle: true,
                    bucket: s3.bucket
                )
            }
            let body = Array(repeating: UInt8(0x42), count: 2048)
            for (index, key) in keys.enumerated() {
                if index > 0 {
                    // Into the refresh window: the next request gets the old key at once and
                    // starts the refresh; after it the rotated key signs.
                    clock.advance(seconds: 3100)
                    _ = try await presigners.current()
                    await cache.waitForRefresh()
                }
                let current = try await presigners.current()
                #expect(current.credentials?.accessKeyID == key.accessKeyID)
                let request = current.presigner.presignPut(
                    key: "rotation/\(index).jpg",
                    contentType: "image/jpeg",
                    contentLength: body.count,
                    checksumSHA256: nil,
                    expiresIn: 300,
                    now: Date()
                )
                #expect(request.url.contains("X-Amz-Security-Token="))
                let stored = try await s3.put(request.url, headers: request.headers, body: body)
                #expect(stored.status == 200, "\(stored.summary)")
                // The same key id with another secret: refused, so the secret is what is checked.
                let forged = S3Presigner(
                    region: s3.region,
                    credentials: AWSCredentials(accessKeyID: key.accessKeyID, secretAccessKey: "not-the-secret"),
                    endpoint: s3.endpoint,
                    forcePathStyle: true,
                    bucket: s3.bucket
                )
                .presignPut(
                    key: "rotation/forged-\(index).jpg",
                    contentType: "image/jpeg",
                    contentLength: body.count,
                    checksumSHA256: nil,
                    expiresIn: 300,
                    now: Date()
                )
                let refused = try await s3.put(forged.url, headers: forged.headers, body: body)
                #expect(refused.status == 403, "\(refused.summary)")
            }
            #expect(stub.generation == 2)
        }
    }
}
