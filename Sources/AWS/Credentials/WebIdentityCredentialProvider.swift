import Foundation

/// EKS IAM roles for service accounts (and any OIDC token): STS `AssumeRoleWithWebIdentity`
/// with the token of `AWS_WEB_IDENTITY_TOKEN_FILE` (read again on every fetch: the kubelet
/// rotates it), `AWS_ROLE_ARN` and `AWS_ROLE_SESSION_NAME`, on the regional STS endpoint
/// (`https://sts.REGION.amazonaws.com`) or `AWS_ENDPOINT_URL_STS`.
///
/// The call is not signed (the token is the proof), as the SDKs send it.
public struct WebIdentityCredentialProvider: CredentialProvider {
    public let name = "web identity"
    public let tokenFile: String
    public let roleARN: String
    public let sessionName: String
    public let stsEndpoint: URL
    let http: CurlHTTPClient

    public init(tokenFile: String, roleARN: String, sessionName: String, stsEndpoint: URL, http: CurlHTTPClient) {
        self.tokenFile = tokenFile
        self.roleARN = roleARN
        self.sessionName = sessionName
        self.stsEndpoint = stsEndpoint
        self.http = http
    }

    /// The regional STS endpoint of `region`.
    public static func regionalEndpoint(region: String) -> URL {
        let domain = region.hasPrefix("cn-") ? "amazonaws.com.cn" : "amazonaws.com"
        return URL(string: "https://sts.\(region).\(domain)")!
    }

    public func credentials() async throws(CredentialError) -> AWSCredentials {
        let token = try CredentialParsing.readToken(path: tokenFile, source: name)
        let form = [
            ("Action", "AssumeRoleWithWebIdentity"),
            ("Version", "2011-06-15"),
            ("RoleArn", roleARN),
            ("RoleSessionName", sessionName),
            ("WebIdentityToken", token),
        ]
        .map { "\($0.0)=\(Self.formEncoded($0.1))" }
        .joined(separator: "&")
        var url = stsEndpoint.absoluteString
        if !url.hasSuffix("/") {
            url += "/"
        }
        let response = try await CredentialParsing.fetch(
            .init(
                method: "POST",
                url: url,
                headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
                body: Array(form.utf8),
                maximumBodyBytes: 64 * 1024,
                timeoutMilliseconds: 10_000
            ),
            http: http,
            source: name,
            what: "AssumeRoleWithWebIdentity"
        )
        let text = String(decoding: response.body, as: UTF8.self)
        guard response.status == 200 else {
            let code = Self.element("Code", in: text) ?? "HTTP \(response.status)"
            let message = Self.element("Message", in: text).map { ": \($0.prefix(200))" } ?? ""
            throw CredentialError(code: .fetchFailed, source: name, message: "STS answered \(code)\(message)")
        }
        guard let credentials = Self.element("Credentials", in: text),
            let accessKeyID = Self.element("AccessKeyId", in: credentials),
            let secret = Self.element("SecretAccessKey", in: credentials),
            let sessionToken = Self.element("SessionToken", in: credentials),
            let expirationText = Self.element("Expiration", in: credentials),
            let expiration = CredentialParsing.date(expirationText)
        else {
            throw CredentialError(
                code: .malformedResponse,
                source: name,
                message: "the STS answer has no complete Credentials element"
            )
        }
        return AWSCredentials(
            accessKeyID: accessKeyID,
            secretAccessKey: secret,
            sessionToken: sessionToken,
            expiration: expiration
        )
    }

    /// `application/x-www-form-urlencoded`: unreserved characters as they are, the rest `%XX`.
    static func formEncoded(_ value: String) -> String {
        String(decoding: SigV4Encoding.percentEncoded(value, keepingSlashes: false), as: UTF8.self)
    }

    /// The text of the first `<name>...</name>` in `xml`, entities decoded. STS answers are
    /// small and flat enough that this is all the XML reading they need.
    static func element(_ name: String, in xml: String) -> String? {
        guard let open = xml.range(of: "<\(name)>"),
            let close = xml.range(of: "</\(name)>", range: open.upperBound..<xml.endIndex)
        else { return nil }
        return String(xml[open.upperBound..<close.lowerBound])
            .replacingOccurrences(of: "&lt;", with: "<")
            .replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"")
            .replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
