import Foundation
import HTTPTypes
import Hummingbird

/// An RFC 9457 problem document, the body of every error response (docs/api.md):
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
///
/// A problem may add string members of its own (``APIError/extensionMembers``), written beside
/// the standard ones, e.g. `already_uploaded`'s `photo_id`, `photo_status` and `status_url`.
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
    /// The problem's own members (RFC 9457 section 3.2); never one of the standard names.
    public var extensionMembers: [String: String]

    enum CodingKeys: String, CodingKey, CaseIterable {
        case type, title, status, detail, code
        case requestID = "request_id"
    }

    /// Any member name, for the extension members beside ``CodingKeys``.
    struct MemberName: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// The names an extension member may not take.
    static let standardMembers = Set(CodingKeys.allCases.map(\.stringValue))

    public init(error: APIError, requestID: String) {
        type = Self.typeBaseURI + error.code.description
        title = error.code.title
        status = Int(error.status.code)
        detail = error.detail
        code = error.code.description
        self.requestID = requestID
        extensionMembers = error.extensionMembers.filter { !Self.standardMembers.contains($0.key) }
    }

    /// Reads the standard members, and every other member with a string value as an extension.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        type = try container.decode(String.self, forKey: .type)
        title = try container.decode(String.self, forKey: .title)
        status = try container.decode(Int.self, forKey: .status)
        detail = try container.decode(String.self, forKey: .detail)
        code = try container.decode(String.self, forKey: .code)
        requestID = try container.decode(String.self, forKey: .requestID)
        let members = try decoder.container(keyedBy: MemberName.self)
        var extensions: [String: String] = [:]
        for key in members.allKeys where !Self.standardMembers.contains(key.stringValue) {
            if let value = try? members.decode(String.self, forKey: key) {
                extensions[key.stringValue] = value
            }
        }
        extensionMembers = extensions
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(type, forKey: .type)
        try container.encode(title, forKey: .title)
        try container.encode(status, forKey: .status)
        try container.encode(detail, forKey: .detail)
        try container.encode(code, forKey: .code)
        try container.encode(requestID, forKey: .requestID)
        var members = encoder.container(keyedBy: MemberName.self)
        for (name, value) in extensionMembers where !Self.standardMembers.contains(name) {
            try members.encode(value, forKey: MemberName(stringValue: name))
        }
    }

    /// The response: status, `Content-Type: application/problem+json`, the body, and the headers
    /// the error calls for (`WWW-Authenticate`, `Retry-After`, `Allow`, and any it adds).
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
        headers.append(contentsOf: error.additionalHeaders)
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
        // Encoding strings and an integer cannot fail; should it ever, the client still gets JSON.
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
