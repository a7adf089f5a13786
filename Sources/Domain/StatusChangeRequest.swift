/// A validated `PATCH /api/v1/photos/{id}/status` body (docs/api.md), from the detection
/// pipeline.
public struct StatusChangeRequest: Sendable, Equatable {
    /// The statuses the pipeline may set; `pending_upload` and `uploaded` belong to the API.
    public static let settableStatuses: [PhotoStatus] = [.processing, .completed, .failed]
    /// `error` is a message for people, not a log: longer texts are refused.
    public static let maximumErrorLength = 2000

    public let status: PhotoStatus
    /// The detection result as JSON object text, stored verbatim in `detection_result`.
    public let resultJSON: String?
    public let error: String?

    /// Validates the decoded fields. `resultIsObject` says whether `result`, when present, was a
    /// JSON object (arrays and scalars are refused: consumers index into it).
    public static func validate(
        status: String?,
        resultJSON: String?,
        resultIsObject: Bool,
        error: String?
    ) throws(StatusChangeValidationError) -> StatusChangeRequest {
        guard let status else { throw .invalid("status is required") }
        guard let target = PhotoStatus(rawValue: status), settableStatuses.contains(target) else {
            throw .invalid("status must be one of \(settableStatuses.map(\.rawValue).joined(separator: ", "))")
        }
        if resultJSON != nil, !resultIsObject { throw .invalid("result must be a JSON object") }
        if let error {
            guard !error.isEmpty, error.count <= maximumErrorLength else {
                throw .invalid("error must be 1 to \(maximumErrorLength) characters")
            }
            guard !error.unicodeScalars.contains("\u{0}") else { throw .invalid("error must not contain NUL") }
            guard target == .failed else { throw .invalid("error is only allowed with status failed") }
        }
        return StatusChangeRequest(status: target, resultJSON: resultJSON, error: error)
    }
}

/// Why a status change body was refused (400 `invalid_request`).
public enum StatusChangeValidationError: Error, Sendable, Equatable {
    case invalid(String)
}
