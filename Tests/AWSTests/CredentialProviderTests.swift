import AppConfig
import Foundation
import Logging
import TestSupport
import Testing

@testable import AWS

/// The credential chain's sources and their order, against stub endpoints on loopback.
@Suite struct CredentialProviderTests {
    /// A directory of its own, removed afterwards.
    static func withDirectory(_ body: (URL) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("creds-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try await body(directory)
    }

    static func write(_ text: String, to url: URL) throws {
        try Data(text.utf8).write(to: url)
    }

    /// Every source configured at once, then removed one by one from the front: each time the
    /// next one of the SDKs' order wins, and instance metadata only when nothing else is left.
    @Test func theChainFollowsTheSDKsOrder() async throws {
        try await Self.withDirectory { directory in
            let credentialsFile = directory.appendingPathComponent("credentials")
            try Self.write(
                "[default]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = profile-secret\n",
                to: credentialsFile
            )
            let tokenFile = directory.appendingPathComponent("token")
            try Self.write("jwt", to: tokenFile)
            var environment = [
                "HOME": directory.path,
                "AWS_ACCESS_KEY_ID": "AKIDENV",
                "AWS_SECRET_ACCESS_KEY": "env-secret",
                "AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile.path,
                "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/photo-api",
                "AWS_SHARED_CREDENTIALS_FILE": credentialsFile.path,
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/abc",
            ]
            let http = CurlHTTPClient(concurrency: 1)
            defer { Task { await http.shutdown() } }
            var winners: [String] = []
            for removed in [
                ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"], ["AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"],
                ["AWS_SHARED_CREDENTIALS_FILE"], ["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"],
            ] {
                let sources = try CredentialSources(
                    environment: EnvironmentReader(environment),
                    region: "eu-west-1",
                    uploadURLLifetimeSeconds: 900
                )
                winners.append(CredentialChain.configuredProvider(sources, http: http)?.name ?? "none")
                for name in removed {
                    environment[name] = nil
                }
            }
            // Without the shared credentials file variable, ~/.aws/credentials is read: remove it.
            try FileManager.default.removeItem(at: credentialsFile)
            let last = try CredentialSources(
                environment: EnvironmentReader(environment),
                region: "eu-west-1",
                uploadURLLifetimeSeconds: 900
            )
            winners.append(CredentialChain.configuredProvider(last, http: http)?.name ?? "none")
            #expect(winners == ["environment", "web identity", "shared files (profile default)", "container", "none"])
            #expect(last.instanceMetadata?.endpoint == InstanceMetadataCredentialProvider.defaultEndpoint)
        }
    }

    @Test func sourcesAreReadWithTheirDefaults() async throws {
        try await Self.withDirectory { directory in
            try FileManager.default.createDirectory(
                at: directory.appendingPathComponent(".aws"),
                withIntermediateDirectories: true
            )
            try Self.write(
                """
                [default]
                region = us-east-1
                [profile uploads]
                aws_access_key_id = AKIDCONFIG
                aws_secret_access_key = config-secret
                [sso-session corp]
                aws_access_key_id = NOT-A-PROFILE
                """,
                to: directory.appendingPathComponent(".aws/config")
            )
            let sources = try CredentialSources(
                environment: EnvironmentReader([
                    "HOME": directory.path,
                    "AWS_PROFILE": "uploads",
                    "AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/token",
                    "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/photo-api",
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://169.254.170.23/v1/credentials",
                    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": "/var/run/pod-identity-token",
                    "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://[fd00:ec2::254]",
                ]),
                region: "eu-west-1",
                uploadURLLifetimeSeconds: 600
            )
            #expect(
                sources.profile?.credentials
                    == AWSCredentials(accessKeyID: "AKIDCONFIG", secretAccessKey: "config-secret")
            )
            #expect(sources.webIdentity?.stsEndpoint.absoluteString == "https://sts.eu-west-1.amazonaws.com")
            #expect(sources.webIdentity?.sessionName.hasPrefix("photo-upload-") == true)
            #expect(sources.container?.url.absoluteString == "http://169.254.170.23/v1/credentials")
            #expect(sources.container?.authorizationTokenFile == "/var/run/pod-identity-token")
            #expect(sources.instanceMetadata?.isExplicit == true)
            #expect(sources.refreshWindowSeconds == 900)
        }
    }

    @Test func badSourcesStopTheStartNamingTheVariable() throws {
        func error(_ environment: [String: String]) -> String? {
            do {
                _ = try CredentialSources(
                    environment: EnvironmentReader(environment),
                    region: "us-east-1",
                    uploadURLLifetimeSeconds: 900
                )
                return nil
            } catch let error as ConfigurationError {
                return error.variable
            } catch {
                return "\(error)"
            }
        }
        #expect(
            error(["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://10.0.0.5/creds"])
                == "AWS_CONTAINER_CREDENTIALS_FULL_URI"
        )
        #expect(
            error(["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "v2/creds"]) == "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"
        )
        #expect(error(["AWS_WEB_IDENTITY_TOKEN_FILE": "/token"]) == "AWS_ROLE_ARN")
        #expect(error(["AWS_ROLE_ARN": "arn:aws:iam::1:role/x"]) == "AWS_WEB_IDENTITY_TOKEN_FILE")
        #expect(error(["HOME": "/nonexistent", "AWS_PROFILE": "missing"]) == "AWS_PROFILE")
        #expect(error(["AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials"]) == "AWS_SHARED_CREDENTIALS_FILE")
        #expect(error(["AWS_EC2_METADATA_SERVICE_ENDPOINT": "not a url"]) == "AWS_EC2_METADATA_SERVICE_ENDPOINT")
        #expect(error(["AWS_CREDENTIALS_REFRESH_WINDOW_SECONDS": "-5"]) == "AWS_CREDENTIALS_REFRESH_WINDOW_SECONDS")
        #expect(error(["AWS_ACCESS_KEY_ID": "AKID"]) == "AWS_SECRET_ACCESS_KEY")
    }

    /// botocore's `ContainerMetadataFetcher._validate_allowed_url`.
    @Test func aFullContainerURIIsAllowedOnlyWhereTheSDKsAllowIt() throws {
        let allowed = [
            "http://127.0.0.1:8080/creds", "http://127.1.2.3/creds", "http://localhost/creds", "http://[::1]:80/creds",
            "http://169.254.170.2/v2", "http://169.254.170.23/v1", "http://[fd00:ec2::23]/v1",
            "https://creds.example.com/x",
        ]
        let refused = [
            "http://10.0.0.1/creds", "http://169.254.169.254/latest", "http://example.com/creds", "ftp://127.0.0.1/x",
        ]
        for text in allowed {
            let url = try #require(URL(string: text))
            #expect(ContainerCredentialProvider.isAllowed(url), "\(text)")
        }
        for text in refused {
            let url = try #require(URL(string: text))
            #expect(!ContainerCredentialProvider.isAllowed(url), "\(text)")
        }
    }

    @Test func descriptionsNeverShowSecrets() {
        let credentials = AWSCredentials(
            accessKeyID: "ASIAEXAMPLE",
            secretAccessKey: "very-secret",
            sessionToken: "session-token-value",
            expiration: Date(timeIntervalSince1970: 1_800_000_000)
        )
        for text in [
            credentials.description, credentials.debugDescription, "\(credentials)", String(reflecting: credentials),
        ] {
            #expect(!text.contains("very-secret"))
            #expect(!text.contains("session-token-value"))
            #expect(text.contains("ASIAEXAMPLE"))
        }
    }

    /// IMDSv2 only: the stub answers 401 to any metadata request without the session token,
    /// and none is made.
    @Test func instanceMetadataUsesSessionTokensOnly() async throws {
        let clock = ManualClock(Date())
        let stub = CredentialStubServer(clock: clock)
        let http = CurlHTTPClient(concurrency: 2)
        try await stub.run { base in
            let sources = CredentialSources(
                instanceMetadata: .init(endpoint: try #require(URL(string: base)), isExplicit: true),
                refreshWindowSeconds: 60
            )
            let cache = try #require(
                try await CredentialChain.start(
                    sources: sources,
                    http: http,
                    allowMissing: false,
                    logger: Logger(label: "test")
                )
            )
            let credentials = try await cache.current()
            #expect(credentials.accessKeyID == "AKIDGEN1")
            #expect(credentials.sessionToken == "token/1+==")
            #expect(credentials.expiration != nil)
        }
        #expect(stub.requestsWithoutToken == 0)
        #expect(
            stub.requests.map { "\($0.method) \($0.path)" } == [
                "PUT /latest/api/token",
                "GET /latest/meta-data/iam/security-credentials/",
                "GET /latest/meta-data/iam/security-credentials/stub-role",
            ]
        )
        #expect(stub.requests.dropFirst().allSatisfy { $0.metadataToken == CredentialStubServer.imdsToken })
        await http.shutdown()
    }

    /// Nothing configured and instance metadata disabled or silent: one line naming every
    /// source tried. In development against a local endpoint the process runs without.
    @Test func noSourceAtAllIsOneLineListingTheSourcesTried() async throws {
        let http = CurlHTTPClient(concurrency: 1)
        let disabled = CredentialSources(instanceMetadata: nil)
        await #expect(throws: NoCredentialSourceError.self) {
            _ = try await CredentialChain.start(
                sources: disabled,
                http: http,
                allowMissing: false,
                logger: Logger(label: "test")
            )
        }
        do {
            _ = try await CredentialChain.start(
                sources: disabled,
                http: http,
                allowMissing: false,
                logger: Logger(label: "test")
            )
        } catch {
            let line = "\(error)"
            #expect(!line.contains("\n"))
            for source in ["environment", "web identity", "shared files", "container", "instance metadata"] {
                #expect(line.contains(source))
            }
        }
        // A metadata endpoint nobody listens on.
        let silent = CredentialSources(
            instanceMetadata: .init(endpoint: URL(string: "http://127.0.0.1:1")!, isExplicit: true)
        )
        await #expect(throws: NoCredentialSourceError.self) {
            _ = try await CredentialChain.start(
                sources: silent,
                http: http,
                allowMissing: false,
                logger: Logger(label: "test")
            )
        }
        let missing = try await CredentialChain.start(
            sources: CredentialSources(
                instanceMetadata: .init(endpoint: InstanceMetadataCredentialProvider.defaultEndpoint, isExplicit: false)
            ),
            http: http,
            allowMissing: true,
            logger: Logger(label: "test")
        )
        #expect(missing == nil)
        await http.shutdown()
    }

    /// STS AssumeRoleWithWebIdentity: the token file is read again for every fetch.
    @Test func webIdentityAssumesTheRoleWithTheCurrentToken() async throws {
        try await Self.withDirectory { directory in
            let tokenFile = directory.appendingPathComponent("token")
            try Self.write("jwt-one\n", to: tokenFile)
            let clock = ManualClock(Date())
            let stub = CredentialStubServer(clock: clock)
            let http = CurlHTTPClient(concurrency: 2)
            try await stub.run { base in
                let provider = WebIdentityCredentialProvider(
                    tokenFile: tokenFile.path,
                    roleARN: "arn:aws:iam::123456789012:role/photo-api",
                    sessionName: "photo-api-test",
                    stsEndpoint: try #require(URL(string: base + "/sts")),
                    http: http
                )
                let first = try await provider.credentials()
                #expect(first.accessKeyID == "AKIDGEN1")
                #expect(first.secretAccessKey == "secret/1+key")
                #expect(first.sessionToken == "token/1+==")
                try Self.write("jwt-two", to: tokenFile)
                let second = try await provider.credentials()
                #expect(second.accessKeyID == "AKIDGEN2")
            }
            #expect(stub.webIdentityTokens == ["jwt-one", "jwt-two"])
            #expect(stub.roleSessionNames == ["photo-api-test", "photo-api-test"])
            await http.shutdown()
        }
    }
}
