import AppConfig
import Foundation
import Logging
import TestSupport
import Testing

@testable import AWS

/// The region as the SDKs find it: the variables, the profile, then instance metadata (a stub
/// IMDSv2 on loopback), then us-east-1.
@Suite struct RegionResolutionTests {
    static func configuration(_ variables: [String: String]) throws -> AWSConfiguration {
        var environment = CredentialStubServer.noCredentialsEnvironment
        environment["AWS_EC2_METADATA_DISABLED"] = ""
        environment["AWS_REGION"] = ""
        environment["AWS_DEFAULT_REGION"] = ""
        environment.merge(variables) { _, new in new }
        return try AWSConfiguration(environment: EnvironmentReader(environment), appEnvironment: "production")
    }

    /// The stub's answers may take seconds on a saturated machine; botocore's 1 s is for a real
    /// instance.
    static let stubTimeout = 30_000

    /// Nothing configured: the metadata's region, asked with a session token only, and the web
    /// identity's STS endpoint follows it.
    @Test func withNothingConfiguredTheInstanceMetadataNamesTheRegion() async throws {
        let stub = CredentialStubServer(clock: ManualClock(Date()))
        let http = CurlHTTPClient(concurrency: 2)
        let tokenFile = FileManager.default.temporaryDirectory.appendingPathComponent("token-\(UUID().uuidString)")
        try Data("jwt".utf8).write(to: tokenFile)
        defer { try? FileManager.default.removeItem(at: tokenFile) }
        try await stub.run { base in
            let unresolved = try Self.configuration([
                "AWS_EC2_METADATA_SERVICE_ENDPOINT": base,
                "AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile.path,
                "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/photo-api",
            ])
            #expect(unresolved.region == "us-east-1")
            #expect(unresolved.regionSource == .fallback)
            let resolved = await unresolved.resolvingRegion(
                http: http,
                logger: Logger(label: "test"),
                metadataTimeoutMilliseconds: Self.stubTimeout
            )
            #expect(resolved.region == CredentialStubServer.instanceRegion)
            #expect(resolved.regionSource == .instanceMetadata)
            #expect(
                resolved.credentialSources.webIdentity?.stsEndpoint.absoluteString
                    == "https://sts.\(CredentialStubServer.instanceRegion).amazonaws.com"
            )
        }
        #expect(stub.requestsWithoutToken == 0)
        #expect(
            stub.requests.map { "\($0.method) \($0.path)" } == [
                "PUT /latest/api/token", "GET /latest/meta-data/placement/region",
            ]
        )
        await http.shutdown()
    }

    /// A configured region is never asked of the metadata service, nor is a disabled one.
    @Test func aConfiguredRegionOrDisabledMetadataAsksNothing() async throws {
        let stub = CredentialStubServer(clock: ManualClock(Date()))
        let http = CurlHTTPClient(concurrency: 2)
        try await stub.run { base in
            let configured = try Self.configuration([
                "AWS_EC2_METADATA_SERVICE_ENDPOINT": base, "AWS_DEFAULT_REGION": "ap-south-1",
            ])
            let kept = await configured.resolvingRegion(
                http: http,
                logger: Logger(label: "test"),
                metadataTimeoutMilliseconds: Self.stubTimeout
            )
            #expect(kept.region == "ap-south-1")
            #expect(kept.regionSource == .variable("AWS_DEFAULT_REGION"))
            let disabled = try Self.configuration([
                "AWS_EC2_METADATA_SERVICE_ENDPOINT": base, "AWS_EC2_METADATA_DISABLED": "true",
            ])
            #expect(
                await disabled.resolvingRegion(
                    http: http,
                    logger: Logger(label: "test"),
                    metadataTimeoutMilliseconds: Self.stubTimeout
                ).region == "us-east-1"
            )
        }
        #expect(stub.requests.isEmpty)
        await http.shutdown()
    }

    /// A metadata service that does not answer (off EC2): us-east-1, within the short timeout.
    @Test func silentMetadataFallsBackToUSEast1() async throws {
        let http = CurlHTTPClient(concurrency: 2)
        let refusing = try RefusingPort()
        defer { withExtendedLifetime(refusing) {} }
        let configuration = try Self.configuration(["AWS_EC2_METADATA_SERVICE_ENDPOINT": refusing.endpoint])
        let resolved = await configuration.resolvingRegion(
            http: http,
            logger: Logger(label: "test"),
            metadataTimeoutMilliseconds: Self.stubTimeout
        )
        #expect(resolved.region == "us-east-1")
        #expect(resolved.regionSource == .fallback)
        await http.shutdown()
    }
}
