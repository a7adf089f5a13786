import Foundation

/// EC2 instance profile credentials, IMDSv2 only: `PUT /latest/api/token`, then the role name
/// (`GET /latest/meta-data/iam/security-credentials/`), then its credentials, each `GET` with
/// the session token in `x-aws-ec2-metadata-token`. No request is ever made without it
/// (IMDSv1). 1 s timeouts and one attempt, as botocore's `InstanceMetadataFetcher`.
public struct InstanceMetadataCredentialProvider: CredentialProvider {
    public static let defaultEndpoint = URL(string: "http://169.254.169.254")!
    public static let timeoutMilliseconds = 1_000
    static let tokenTTLSeconds = "21600"
    static let credentialsPath = "/latest/meta-data/iam/security-credentials/"

    public let name = "instance metadata (IMDSv2)"
    public let endpoint: URL
    let http: CurlHTTPClient
    /// Per request; tests on a saturated machine give their stub more than botocore's 1 s.
    let timeoutMilliseconds: Int

    /// - Parameter endpoint: `AWS_EC2_METADATA_SERVICE_ENDPOINT`, else ``defaultEndpoint``.
    public init(
        endpoint: URL = Self.defaultEndpoint,
        http: CurlHTTPClient,
        timeoutMilliseconds: Int = Self.timeoutMilliseconds
    ) {
        self.endpoint = endpoint
        self.http = http
        self.timeoutMilliseconds = timeoutMilliseconds
    }

    public func credentials() async throws(CredentialError) -> AWSCredentials {
        let base = baseURL
        let token = try await sessionToken(base: base)
        let roleBody = try await get(base + Self.credentialsPath, token: token, what: "role name")
        guard
            let role = String(decoding: roleBody, as: UTF8.self).split(whereSeparator: \.isNewline).first
                .map({ $0.trimmingCharacters(in: .whitespaces) }), !role.isEmpty
        else {
            throw CredentialError(code: .fetchFailed, source: name, message: "the instance has no IAM role")
        }
        let encodedRole = role.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"])) ?? role
        let body = try await get(base + Self.credentialsPath + encodedRole, token: token, what: "role credentials")
        return try CredentialParsing.credentials(fromMetadataJSON: body, source: name)
    }

    /// The instance's region (`/latest/meta-data/placement/region`), the SDKs' last source
    /// of a region before none at all.
    public func region() async throws(CredentialError) -> String {
        let base = baseURL
        let token = try await sessionToken(base: base)
        let body = try await get(base + "/latest/meta-data/placement/region", token: token, what: "region")
        let region = String(decoding: body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !region.isEmpty else {
            throw CredentialError(code: .malformedResponse, source: name, message: "the region answer is empty")
        }
        return region
    }

    private var baseURL: String {
        var base = endpoint.absoluteString
        while base.hasSuffix("/") {
            base.removeLast()
        }
        return base
    }

    /// An IMDSv2 session token: every later request carries it, none is made without it.
    private func sessionToken(base: String) async throws(CredentialError) -> String {
        let tokenResponse = try await CredentialParsing.fetch(
            .init(
                method: "PUT",
                url: base + "/latest/api/token",
                headers: [("x-aws-ec2-metadata-token-ttl-seconds", Self.tokenTTLSeconds)],
                body: [],
                maximumBodyBytes: 4096,
                timeoutMilliseconds: timeoutMilliseconds
            ),
            http: http,
            source: name,
            what: "session token"
        )
        guard tokenResponse.status == 200 else {
            throw CredentialError(
                code: .fetchFailed,
                source: name,
                message: "the token PUT answered \(tokenResponse.status)"
            )
        }
        let token = String(decoding: tokenResponse.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else {
            throw CredentialError(
                code: .malformedResponse,
                source: name,
                message: "the token PUT answered an empty token"
            )
        }
        return token
    }

    private func get(_ url: String, token: String, what: String) async throws(CredentialError) -> [UInt8] {
        let response = try await CredentialParsing.fetch(
            .init(
                method: "GET",
                url: url,
                headers: [("x-aws-ec2-metadata-token", token)],
                maximumBodyBytes: 64 * 1024,
                timeoutMilliseconds: timeoutMilliseconds
            ),
            http: http,
            source: name,
            what: what
        )
        guard response.status == 200 else {
            throw CredentialError(code: .fetchFailed, source: name, message: "\(what) answered \(response.status)")
        }
        return response.body
    }
}
