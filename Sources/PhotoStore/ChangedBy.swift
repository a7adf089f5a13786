import Domain
import Foundation
import Postgres
import UUIDCoding

/// Who changed a photo's status, as `photo_status_history.changed_by` records it.
///
/// The service's own writers are named by role (`api`, `reconciler`, `relay`); a
/// `PATCH .../status` is recorded with the principal of its token, `service:<sub>` for the
/// detection pipeline's service token and `user:<user id>` for a user's token with the scope, so
/// the history says which token made each change. (Rows written before this were `detection`.)
public enum ChangedBy: Sendable, Hashable, PostgresEncodable {
    /// `photo-api` answering a client (`upload-url`, `complete`).
    case api
    /// `photo-api`'s background settling of expired uploads.
    case reconciler
    /// `outbox-relay`, when SQS accepted the photo's event.
    case relay
    /// `PATCH .../status` with a user's token (its `sub`).
    case user(UUID)
    /// `PATCH .../status` with a service principal's token (its `sub`, printable ASCII).
    case service(String)

    /// The column's text: `api`, `reconciler`, `relay`, `user:<uuid>` or `service:<sub>`.
    public var postgresText: String {
        switch self {
        case .api: "api"
        case .reconciler: "reconciler"
        case .relay: "relay"
        case .user(let userID): "user:\(userID.lowercasedString)"
        case .service(let subject): "service:\(subject)"
        }
    }

    /// The value as a SQL string literal, for statements that spell it in (quotes doubled, though
    /// only the fixed roles are ever spelled in; principals are bound as parameters).
    var sqlLiteral: String { "'\(postgresText.replacingOccurrences(of: "'", with: "''"))'" }
}

extension PhotoStatus {
    /// The status as a SQL string literal, so statements spell statuses from `Domain`'s
    /// constants rather than retyping them.
    var sqlLiteral: String { "'\(rawValue)'" }
}
