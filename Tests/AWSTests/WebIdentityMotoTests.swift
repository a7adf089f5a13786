import Foundation
import TestSupport
import Testing

@testable import AWS

/// Web identity against a real STS implementation: moto's `AssumeRoleWithWebIdentity`, sent
/// unsigned as the SDKs send it. moto_server is provisioned with the services of
/// scripts/test.sh (as for the relay's SQS tests), hence the trait.
@Suite(.requiresDatabase, .offTheCooperativePool) struct WebIdentityMotoTests {
    @Test func motoSTSAnswersAssumeRoleWithWebIdentity() async throws {
        try await CredentialProviderTests.withDirectory { directory in
            let tokenFile = directory.appendingPathComponent("token")
            // Any JWT-shaped token: moto does not verify it.
            try CredentialProviderTests.write("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2ln\n", to: tokenFile)
            let http = CurlHTTPClient(concurrency: 1)
            try await PrivateSQSServer.withServer { moto in
                let provider = WebIdentityCredentialProvider(
                    tokenFile: tokenFile.path,
                    roleARN: "arn:aws:iam::\(PrivateSQSServer.accountID):role/photo-api",
                    sessionName: "photo-api-moto",
                    stsEndpoint: try #require(URL(string: moto.endpoint)),
                    http: http
                )
                let credentials = try await provider.credentials()
                #expect(!credentials.accessKeyID.isEmpty)
                #expect(!credentials.secretAccessKey.isEmpty)
                #expect(credentials.sessionToken?.isEmpty == false)
                let expiration = try #require(credentials.expiration)
                #expect(expiration > Date())
            }
            await http.shutdown()
        }
    }
}
