import HTTPTypes
import PhotoStore

/// The `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` fields of every upload-url
/// answer (the IETF httpapi rate-limit draft's names; `Reset` is the seconds until the window
/// ends), so a client can pace itself before it meets a 429.
enum RateLimitHeaders {
    /// The field names are valid tokens, so these are never `nil`.
    static let limit = HTTPField.Name("RateLimit-Limit")!
    static let remaining = HTTPField.Name("RateLimit-Remaining")!
    static let reset = HTTPField.Name("RateLimit-Reset")!

    static func fields(_ status: RateLimitStatus) -> HTTPFields {
        [
            limit: String(status.limit),
            remaining: String(status.remaining),
            reset: String(status.resetSeconds),
        ]
    }
}
