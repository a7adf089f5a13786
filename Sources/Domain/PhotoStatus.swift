/// Where a photo is in its life (docs/architecture.md):
/// `pending_upload → uploaded → processing → completed | failed`.
///
/// Every writer (the API's complete and PATCH handlers, the reconciler, the relay) asks
/// `transition(to:)` before changing a status, so the rules live in exactly one table.
public enum PhotoStatus: String, Sendable, CaseIterable, Codable {
    case pendingUpload = "pending_upload"
    case uploaded
    case processing
    case completed
    case failed

    /// The statuses each status may move to; the same status again is a no-op, not a move.
    public static let allowedTransitions: [PhotoStatus: Set<PhotoStatus>] = [
        .pendingUpload: [.uploaded, .failed],
        .uploaded: [.processing, .failed],
        .processing: [.completed, .failed],
        .completed: [],
        .failed: [],
    ]

    /// What asking for `target` from this status means.
    public enum Transition: Sendable, Equatable {
        /// Write the new status (and its timestamp and history row).
        case change
        /// Already there: answer success, write nothing.
        case unchanged
        /// Not allowed from here: `409 invalid_status_transition`.
        case rejected
    }

    public func transition(to target: PhotoStatus) -> Transition {
        if target == self { return .unchanged }
        return Self.allowedTransitions[self, default: []].contains(target) ? .change : .rejected
    }

    /// Completed and failed photos never change again.
    public var isTerminal: Bool { Self.allowedTransitions[self, default: []].isEmpty }
}
