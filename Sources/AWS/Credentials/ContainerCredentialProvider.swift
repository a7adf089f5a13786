import Foundation

/// ECS task roles and EKS Pod Identity: `GET` of the container credentials endpoint
/// (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` on 169.254.170.2, or
/// `AWS_CONTAINER_CREDENTIALS_FULL_URI`), with `Authorization` from
/// `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (read again on every fetch: EKS rotates it) or
/// `AWS_CONTAINER_AUTHORIZATION_TOKEN`.
///
/// As botocore's `ContainerMetadataFetcher`: 2 s timeout, 3 attempts 1 s apart, and a full URI
/// only on a loopback address, 169.254.170.2, 169.254.170.23, fd00:ec2::23 or over https
/// (``isAllowed(_:)``, checked when the configuration is read).
public struct ContainerCredentialProvider: CredentialProvider {
    public static let relativeURIHost = "169.254.170.2"
    public static let timeoutMilliseconds = 2_000
    public static let attempts = 3

    public let name = "container"
    public let url: URL
    public let authorizationToken: String?
    public let authorizationTokenFile: String?
    let http: CurlHTTPClient
    let retryDelay: Duration
    /// Per attempt; tests on a saturated machine give the stub more than botocore's 2 s.
    let timeoutMilliseconds: Int

    public init(
        url: URL,
        authorizationToken: String?,
        authorizationTokenFile: String?,
        http: CurlHTTPClient,
        retryDelay: Duration = .seconds(1),
        timeoutMilliseconds: Int = Self.timeoutMilliseconds
    ) {
        self.url = url
        self.authorizationToken = authorizationToken
        self.authorizationTokenFile = authorizationTokenFile
        self.http = http
        self.retryDelay = retryDelay
        self.timeoutMilliseconds = timeoutMilliseconds
    }

    /// Whether a full URI may be asked for credentials: https anywhere; http only on a
    /// loopback address or the ECS / EKS link-local hosts (botocore's `_ALLOWED_HOSTS`).
    public static func isAllowed(_ url: URL) -> Bool {
        guard let scheme = url.scheme?.lowercased(), var host = url.host(percentEncoded: false)?.lowercased() else {
            return false
        }
        if scheme == "https" { return true }
        guard scheme == "http" else { return false }
        if host.hasPrefix("[") && host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
        }
        if ["169.254.170.2", "169.254.170.23", "fd00:ec2::23", "localhost", "::1"].contains(host) {
            return true
        }
        // 127.0.0.0/8
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    public func credentials() async throws(CredentialError) -> AWSCredentials {
        var headers: [(name: String, value: String)] = [("Accept", "application/json")]
        let token: String? =
            if let authorizationTokenFile {
                try CredentialParsing.readToken(path: authorizationTokenFile, source: name)
            } else {
                authorizationToken
            }
        if let token {
            guard !token.contains("\r"), !token.contains("\n") else {
                throw CredentialError(
                    code: .malformedResponse,
                    source: name,
                    message: "the authorization token contains a line break"
                )
            }
            headers.append(("Authorization", token))
        }
        var lastError = CredentialError(code: .fetchFailed, source: name, message: "not attempted")
        for attempt in 1...Self.attempts {
            if attempt > 1 {
                try? await Task.sleep(for: retryDelay)
            }
            do throws(CredentialError) {
                let response = try await CredentialParsing.fetch(
                    .init(
                        method: "GET",
                        url: url.absoluteString,
                        headers: headers,
                        maximumBodyBytes: 64 * 1024,
                        timeoutMilliseconds: timeoutMilliseconds
                    ),
                    http: http,
                    source: name,
                    what: "GET \(url.host(percentEncoded: false) ?? "")"
                )
                guard response.status == 200 else {
                    throw CredentialError(
                        code: .fetchFailed,
                        source: name,
                        message: "the endpoint answered \(response.status)"
                    )
                }
                return try CredentialParsing.credentials(fromMetadataJSON: response.body, source: name)
            } catch {
                lastError = error
                // A malformed answer will not get better by asking again at once.
                if error.code == .malformedResponse { throw error }
            }
        }
        throw lastError
    }
}
