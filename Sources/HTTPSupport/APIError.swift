import HTTPTypes

/// An error a handler throws to answer with one row of the error table of docs/api.md.
///
/// Every failure the API reports to a client is one of these; `ProblemMiddleware` is the one
/// place that turns them (and every other error) into RFC 9457 problem documents. `detail` is
/// shown to the client, so it must never carry SQL, secrets or stack traces: what only operators
/// should see goes into `logDetail`, which is logged and never sent.
///
/// ```swift
/// throw APIError.notFound("photo \(photoID) does not exist")
/// throw APIError.rateLimited(retryAfterSeconds: 12)
/// ```
public struct APIError: Error, Sendable, CustomStringConvertible {
    /// The machine-readable `code` of a problem document; clients switch on it.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Sendable, CaseIterable {
            case invalidRequest = "invalid_request"
            case fileTooSmall = "file_too_small"
            case unauthorized = "unauthorized"
            case forbidden = "forbidden"
            case notFound = "not_found"
            case methodNotAllowed = "method_not_allowed"
            case invalidStatusTransition = "invalid_status_transition"
            case uploadNotFound = "upload_not_found"
            case alreadyUploaded = "already_uploaded"
            case fileTooLarge = "file_too_large"
            case payloadTooLarge = "payload_too_large"
            case invalidFileType = "invalid_file_type"
            case invalidUpload = "invalid_upload"
            case idempotencyKeyReused = "idempotency_key_reused"
            case rateLimited = "rate_limited"
            case storageUnavailable = "storage_unavailable"
            case databaseUnavailable = "database_unavailable"
            case internalError = "internal_error"
        }

        private let base: Base

        private init(_ base: Base) { self.base = base }

        /// 400: malformed JSON, missing or ill-typed field, bad UUID, unsafe `file_name`.
        public static let invalidRequest = Code(.invalidRequest)
        /// 400: `file_size` below `MIN_UPLOAD_BYTES`.
        public static let fileTooSmall = Code(.fileTooSmall)
        /// 401: missing, invalid or expired token.
        public static let unauthorized = Code(.unauthorized)
        /// 403: another organization's project or photo, or a missing scope.
        public static let forbidden = Code(.forbidden)
        /// 404: the project, photo or route does not exist.
        public static let notFound = Code(.notFound)
        /// 405: the path exists but not with this method (an addition to the contract's table).
        public static let methodNotAllowed = Code(.methodNotAllowed)
        /// 409: the status change is not allowed from the current status.
        public static let invalidStatusTransition = Code(.invalidStatusTransition)
        /// 409: the object is not in S3 when the upload is confirmed.
        public static let uploadNotFound = Code(.uploadNotFound)
        /// 409: an `Idempotency-Key` replayed for a photo that is no longer `pending_upload`.
        public static let alreadyUploaded = Code(.alreadyUploaded)
        /// 413: `file_size` above `MAX_UPLOAD_BYTES`.
        public static let fileTooLarge = Code(.fileTooLarge)
        /// 413: the request body itself is over the API's limit (an addition to the contract's table).
        public static let payloadTooLarge = Code(.payloadTooLarge)
        /// 415: `mime_type` is neither `image/jpeg` nor `image/png`.
        public static let invalidFileType = Code(.invalidFileType)
        /// 422: the uploaded object is not the declared type, or its size differs.
        public static let invalidUpload = Code(.invalidUpload)
        /// 422: an `Idempotency-Key` reused with a different body.
        public static let idempotencyKeyReused = Code(.idempotencyKeyReused)
        /// 429: over the per-user rate limit.
        public static let rateLimited = Code(.rateLimited)
        /// 503: S3 unreachable after retries.
        public static let storageUnavailable = Code(.storageUnavailable)
        /// 503: the database unreachable, or no answer within its timeouts.
        public static let databaseUnavailable = Code(.databaseUnavailable)
        /// 500: a database error or anything unexpected.
        public static let internalError = Code(.internalError)

        /// Every code, for documentation and tests.
        public static var allCodes: [Code] { Base.allCases.map(Code.init) }

        /// The snake_case string clients see, e.g. `file_too_large`.
        public var description: String { base.rawValue }

        /// The HTTP status that always goes with this code.
        public var status: HTTPResponse.Status {
            switch base {
            case .invalidRequest, .fileTooSmall: .badRequest
            case .unauthorized: .unauthorized
            case .forbidden: .forbidden
            case .notFound: .notFound
            case .methodNotAllowed: .methodNotAllowed
            case .invalidStatusTransition, .uploadNotFound, .alreadyUploaded: .conflict
            case .fileTooLarge, .payloadTooLarge: .contentTooLarge
            case .invalidFileType: .unsupportedMediaType
            case .invalidUpload, .idempotencyKeyReused: .unprocessableContent
            case .rateLimited: .tooManyRequests
            case .storageUnavailable, .databaseUnavailable: .serviceUnavailable
            case .internalError: .internalServerError
            }
        }

        /// The problem document's short, fixed `title` (RFC 9457: the same for every occurrence).
        public var title: String {
            switch base {
            case .invalidRequest: "Invalid request"
            case .fileTooSmall: "File too small"
            case .unauthorized: "Unauthorized"
            case .forbidden: "Forbidden"
            case .notFound: "Not found"
            case .methodNotAllowed: "Method not allowed"
            case .invalidStatusTransition: "Invalid status transition"
            case .uploadNotFound: "Upload not found"
            case .alreadyUploaded: "Already uploaded"
            case .fileTooLarge: "File too large"
            case .payloadTooLarge: "Payload too large"
            case .invalidFileType: "Unsupported file type"
            case .invalidUpload: "Invalid upload"
            case .idempotencyKeyReused: "Idempotency key reused"
            case .rateLimited: "Too many requests"
            case .storageUnavailable: "Storage unavailable"
            case .databaseUnavailable: "Database unavailable"
            case .internalError: "Internal server error"
            }
        }
    }

    /// How a 401 challenges the client (RFC 6750 section 3).
    public enum BearerChallenge: Sendable, Equatable {
        /// No credentials were presented: `WWW-Authenticate: Bearer`.
        case credentialsRequired
        /// A token was presented and rejected: `Bearer error="invalid_token"`.
        case invalidToken
        /// The token is valid but lacks `scope`: `Bearer error="insufficient_scope", scope="..."`.
        case insufficientScope(String)
    }

    public let code: Code
    /// Shown to the client as the problem's `detail`.
    public let detail: String
    /// Logged with the request, never sent: the specific reason behind a deliberately vague `detail`.
    public let logDetail: String?
    /// `Retry-After` seconds, for `rate_limited` and `database_unavailable`.
    public let retryAfterSeconds: Int?
    /// The `WWW-Authenticate` challenge, for `unauthorized` (and `forbidden` on a missing scope).
    public let challenge: BearerChallenge?
    /// The `Allow` header, for `method_not_allowed`.
    public let allowedMethods: [HTTPRequest.Method]
    /// Members the problem document carries beside the standard ones (RFC 9457 section 3.2), for
    /// what a client needs to act on this problem without another request (`already_uploaded`
    /// names the photo and where to poll it). Shown to the client like `detail`; a name that is
    /// a standard member (`status`, `code`, ...) is never sent, so it cannot change those.
    public let extensionMembers: [String: String]
    /// Set only when a framework error with an unlisted 4xx status is passed through.
    private let statusOverride: HTTPResponse.Status?
    /// Further headers for the answer, such as upload-url's `RateLimit-*` fields, which that
    /// route sends with its problems as with its successes.
    public private(set) var additionalHeaders: HTTPFields = [:]

    /// This error, answered with `headers` as well.
    public func adding(headers: HTTPFields) -> APIError {
        var error = self
        error.additionalHeaders.append(contentsOf: headers)
        return error
    }

    private init(
        _ code: Code,
        detail: String,
        logDetail: String? = nil,
        retryAfterSeconds: Int? = nil,
        challenge: BearerChallenge? = nil,
        allowedMethods: [HTTPRequest.Method] = [],
        extensionMembers: [String: String] = [:],
        statusOverride: HTTPResponse.Status? = nil
    ) {
        self.code = code
        self.detail = detail
        self.logDetail = logDetail
        self.retryAfterSeconds = retryAfterSeconds
        self.challenge = challenge
        self.allowedMethods = allowedMethods
        self.extensionMembers = extensionMembers
        self.statusOverride = statusOverride
    }

    /// The response status: the code's, except for passed-through framework errors.
    public var status: HTTPResponse.Status { statusOverride ?? code.status }

    /// Safe to log and to show: the code and the client-facing detail.
    public var description: String { "\(code): \(detail)" }

    // MARK: The contract's error table

    public static func invalidRequest(_ detail: String) -> APIError {
        APIError(.invalidRequest, detail: detail)
    }

    public static func fileTooSmall(_ detail: String) -> APIError {
        APIError(.fileTooSmall, detail: detail)
    }

    /// - Parameters:
    ///   - detail: what the client may know ("the token has expired").
    ///   - logDetail: the exact reason, for the logs only.
    ///   - challenge: `.credentialsRequired` when no token was sent, else `.invalidToken`.
    public static func unauthorized(
        _ detail: String,
        logDetail: String? = nil,
        challenge: BearerChallenge = .invalidToken
    ) -> APIError {
        APIError(.unauthorized, detail: detail, logDetail: logDetail, challenge: challenge)
    }

    public static func forbidden(_ detail: String, logDetail: String? = nil) -> APIError {
        APIError(.forbidden, detail: detail, logDetail: logDetail)
    }

    /// 403 for a token without `scope`, with the RFC 6750 `insufficient_scope` challenge.
    public static func missingScope(_ scope: String) -> APIError {
        APIError(
            .forbidden,
            detail: "the token lacks the scope \(scope)",
            challenge: .insufficientScope(scope)
        )
    }

    public static func notFound(_ detail: String) -> APIError {
        APIError(.notFound, detail: detail)
    }

    public static func methodNotAllowed(_ method: HTTPRequest.Method, allowed: [HTTPRequest.Method]) -> APIError {
        APIError(
            .methodNotAllowed,
            detail: "\(method.rawValue) is not allowed here",
            allowedMethods: allowed
        )
    }

    public static func invalidStatusTransition(_ detail: String) -> APIError {
        APIError(.invalidStatusTransition, detail: detail)
    }

    public static func uploadNotFound(_ detail: String) -> APIError {
        APIError(.uploadNotFound, detail: detail)
    }

    /// 409 for an `Idempotency-Key` replayed after its photo left `pending_upload`: signing a
    /// new URL then would let the client overwrite an object the service already validated. The
    /// problem names the photo, its status and where to poll it, so the client can follow the
    /// photo it already created instead of uploading it again.
    ///
    /// The photo's status is the member `photo_status`: `status` is RFC 9457's HTTP status
    /// (409), an integer in every problem document of this API, which clients decode as such.
    public static func alreadyUploaded(photoID: String, photoStatus: String, statusURL: String) -> APIError {
        APIError(
            .alreadyUploaded,
            detail: "photo \(photoID) is \(photoStatus), no longer pending_upload: no new upload URL is "
                + "issued for it; follow it at \(statusURL)",
            extensionMembers: ["photo_id": photoID, "photo_status": photoStatus, "status_url": statusURL]
        )
    }

    public static func fileTooLarge(_ detail: String) -> APIError {
        APIError(.fileTooLarge, detail: detail)
    }

    /// The request body is over `limitBytes`.
    public static func payloadTooLarge(limitBytes: Int) -> APIError {
        APIError(.payloadTooLarge, detail: "the request body is larger than \(limitBytes) bytes")
    }

    public static func invalidFileType(_ detail: String) -> APIError {
        APIError(.invalidFileType, detail: detail)
    }

    public static func invalidUpload(_ detail: String) -> APIError {
        APIError(.invalidUpload, detail: detail)
    }

    public static func idempotencyKeyReused(_ detail: String) -> APIError {
        APIError(.idempotencyKeyReused, detail: detail)
    }

    /// 429 with `Retry-After: retryAfterSeconds` (at least 1).
    public static func rateLimited(
        retryAfterSeconds: Int,
        detail: String = "too many requests, retry later"
    ) -> APIError {
        APIError(.rateLimited, detail: detail, retryAfterSeconds: max(1, retryAfterSeconds))
    }

    public static func storageUnavailable(_ detail: String = "storage is unavailable, retry later") -> APIError {
        APIError(.storageUnavailable, detail: detail)
    }

    /// Seconds a client is asked to wait after `database_unavailable`: a failover or restart
    /// takes some seconds, and clients retrying at once would only add to the queue.
    public static let databaseRetryAfterSeconds = 2

    /// 503 with `Retry-After`: the database could not be reached or did not answer in time (a
    /// lost connection, a timeout). `logDetail` says which; the client sees a fixed `detail`.
    public static func databaseUnavailable(logDetail: String? = nil) -> APIError {
        APIError(
            .databaseUnavailable,
            detail: "the database is unavailable, retry later",
            logDetail: logDetail,
            retryAfterSeconds: databaseRetryAfterSeconds
        )
    }

    /// 500. `logDetail` names what broke; the client only ever sees the fixed `detail`.
    public static func internalError(logDetail: String? = nil) -> APIError {
        APIError(.internalError, detail: "an internal error occurred", logDetail: logDetail)
    }

    /// A framework error with a 4xx status the table does not list: the status is kept and
    /// the code is `invalid_request`, the closest generic client error.
    static func clientError(status: HTTPResponse.Status, detail: String) -> APIError {
        APIError(.invalidRequest, detail: detail, statusOverride: status)
    }
}
