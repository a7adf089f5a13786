import Foundation

/// A pre-signed request: what a client needs to talk to S3 directly, without credentials.
public struct PresignedRequest: Sendable {
    /// `PUT` for an upload.
    public let method: String
    /// The query-signed URL (`X-Amz-Signature` last).
    public let url: String
    /// The header fields the client must send exactly as given (they are signed), in a
    /// stable order. `Host` is not among them: every HTTP client sends it by itself.
    public let headers: [(name: String, value: String)]
    /// The signing time (whole seconds) plus `X-Amz-Expires`: S3 refuses the URL afterwards.
    public let expiresAt: Date

    public init(method: String, url: String, headers: [(name: String, value: String)], expiresAt: Date) {
        self.method = method
        self.url = url
        self.headers = headers
        self.expiresAt = expiresAt
    }

    /// `headers` as a dictionary, the form of the upload-URL response's `headers` object.
    public var headerDictionary: [String: String] {
        Dictionary(headers.map { ($0.name, $0.value) }, uniquingKeysWith: { _, last in last })
    }
}
