import HTTPTypes

/// Any error a handler throws, with headers its answer must carry whatever problem the error
/// turns out to be: upload-url's `RateLimit-*` fields go with a body Hummingbird could not
/// decode as with the route's own problems. `ProblemMiddleware` classifies `underlying` as it
/// would have without the wrapper and adds `headers` (``APIError/adding(headers:)``).
public struct ErrorWithHeaders: Error, Sendable {
    public let underlying: any Error
    public let headers: HTTPFields

    public init(_ underlying: any Error, headers: HTTPFields) {
        self.underlying = underlying
        self.headers = headers
    }
}
