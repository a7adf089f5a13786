import Domain
import Postgres

/// Who changed a photo's status, as `photo_status_history.changed_by` records it.
public enum ChangedBy: String, Sendable, PostgresEncodable {
    /// `photo-api` answering a client (`upload-url`, `complete`).
    case api
    /// `photo-api`'s background settling of expired uploads.
    case reconciler
    /// The detection pipeline, through `PATCH .../status`.
    case detection
    /// `outbox-relay`, when SQS accepted the photo's event.
    case relay

    public var postgresText: String { rawValue }

    /// The value as a SQL string literal, for statements that spell it in.
    var sqlLiteral: String { "'\(rawValue)'" }
}

extension PhotoStatus {
    /// The status as a SQL string literal, so statements spell statuses from `Domain`'s
    /// constants rather than retyping them.
    var sqlLiteral: String { "'\(rawValue)'" }
}
