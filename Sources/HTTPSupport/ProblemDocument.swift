import Foundation
import HTTPTypes
import Hummingbird

/// An RFC 9457 problem document, the body of every error response (contract section 4):
///
/// ```json
/// {"code":"not_found","detail":"...","request_id":"...","status":404,"title":"Not found",
///  "type":"https://errors.photo-api.example/not_found"}
/// ```
///
/// `type` is `https://errors.photo-api.example/<code>` rather than `about:blank`: RFC 9457 wants
/// a URI that identifies the problem type, and one per code lets generic problem-aware clients
/// tell the types apart without knowing our `code` extension. It is an identifier, stable across
/// releases, and need not resolve; clients should switch on `code`.
public struct ProblemDocument: Codable, Sendable, Equatable {
    /// The prefix of every `type`.
    public static let typeBaseURI = "https://errors.photo-api.example/"
    /// `application/problem+json`.
    public static let mediaType = "application/problem+json"

    public var type: String
    public var title: String
    public var status: Int
    public var detail: String
    public var code: String
    public var requestID: String

    enum CodingKeys: String, CodingKey {
        case type, title, status, detail, code
        case requestID = "request_id"
    }

    public init(error: APIError, requestID: String) {
        type = Self.typeBaseURI + error.code.description
        title = error.code.title
        status = Int(error.status.code)
        detail = error.detail
        code = error.code.description
        self.requestID = requestID
    }

    /// The response: status, `Content-Type: application/problem+json`, the body, and the headers
    /// the error calls for (`WWW-Authenticate`, `Retry-After`, `Allow`).
    public func response(for error: APIError) -> Response {
        var headers: HTTPFields = [.contentType: Self.mediaType]
        if let challenge = error.challenge {
            headers[.wwwAuthenticate] = challenge.headerValue
        }
        if let retryAfter = error.retryAfterSeconds {
            headers[.retryAfter] = String(retryAfter)
        }
        if !error.allowedMethods.isEmpty {
            headers[.allow] = error.allowedMethods.map(\.rawValue).joined(separator: ", ")
        }
        let body = encoded()
        headers[.contentLength] = String(body.count)
        return Response(status: error.status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// The JSON body. Keys are sorted so the same problem always reads the same.
    func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        if let data = try? encoder.encode(self) {
            return Array(data)
        }
        // Encoding six strings and an integer cannot fail; should it ever, the client still gets JSON.
        return Array(#"{"code":"internal_error","status":500}"#.utf8)
    }
}

extension APIError.BearerChallenge {
    /// The `WWW-Authenticate` value (RFC 6750 section 3).
    var headerValue: String {
        switch self {
        case .credentialsRequired: "Bearer"
        case .invalidToken: #"Bearer error="invalid_token""#
        case .insufficientScope(let scope): #"Bearer error="insufficient_scope", scope="\#(scope)""#
        }
    }
}
