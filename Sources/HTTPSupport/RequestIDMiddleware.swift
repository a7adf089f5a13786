import Foundation
import HTTPTypes
import Hummingbird
import Logging
import UUIDCoding

/// Gives every request an id and sends it back in `X-Request-ID` (docs/api.md).
///
/// A client's own `X-Request-ID` is kept when it is 1 to 200 printable ASCII characters, so a
/// caller can follow one request through its logs and ours; anything else (missing, empty, too
/// long, control or non-ASCII characters that could forge log lines) is replaced by a new UUID.
/// The id goes into the logger's metadata (`request_id`) for every line logged about the
/// request, into `APIRequestContext.requestID` for problem documents, and onto every response.
///
/// It is the outermost middleware: errors have already become problem responses inside it
/// (`ProblemMiddleware`), so even 401s and 404s carry the header.
public struct RequestIDMiddleware: RouterMiddleware {
    public typealias Context = APIRequestContext

    /// `X-Request-ID`.
    public static let headerName = HTTPField.Name("X-Request-ID")!
    /// The longest client id kept; longer ones are replaced rather than cut, so that two
    /// different ids never collapse into one.
    public static let maximumLength = 200

    public init() {}

    public func handle(
        _ request: Request,
        context: APIRequestContext,
        next: (Request, APIRequestContext) async throws -> Response
    ) async throws -> Response {
        let requestID = Self.acceptedID(request.headers[Self.headerName]) ?? UUID.randomVersion4().lowercasedString
        var context = context
        context.requestID = requestID
        context.logger[metadataKey: "request_id"] = .string(requestID)
        // Hummingbird's `context.id` reads this key: one id per request, whoever asks.
        context.logger[metadataKey: "hb.request.id"] = .string(requestID)
        var response = try await next(request, context)
        response.headers[Self.headerName] = requestID
        return response
    }

    /// `value` when it is usable as a request id, else `nil`.
    static func acceptedID(_ value: String?) -> String? {
        guard let value, (1...maximumLength).contains(value.utf8.count) else { return nil }
        guard value.utf8.allSatisfy({ (0x20...0x7E).contains($0) }) else { return nil }
        return value
    }
}
