import Domain
import Foundation
import Postgres

/// Reading photos: one with its history, a project's page, a project's organization.
public enum PhotoReads {
    /// The photo with its status history, or `nil`.
    public static func photo(_ photoID: UUID, on connection: Connection) throws -> StoredPhoto? {
        guard var photo = try connection.execute(SelectPhoto(photoID: photoID)).first else { return nil }
        photo.history = try connection.execute(SelectStatusHistory(photoID: photoID))
        return photo
    }

    /// ``photo(_:on:)`` on a pooled connection.
    public static func photo(_ photoID: UUID, pool: ConnectionPool) async throws -> StoredPhoto? {
        try await pool.withConnection { try photo(photoID, on: $0) }
    }

    /// The project's organization, or `nil` when it does not exist.
    public static func projectOrganization(_ projectID: UUID, on connection: Connection) throws -> UUID? {
        try connection.execute(SelectProjectOrganization(projectID: projectID)).first
    }

    /// ``projectOrganization(_:on:)`` as one statement of its own (`ConnectionPool.execute`).
    public static func projectOrganization(_ projectID: UUID, pool: ConnectionPool) async throws -> UUID? {
        try await pool.execute(SelectProjectOrganization(projectID: projectID)).first
    }

    /// One page, newest first: at most `limit` photos after `cursor`, of one status or all.
    public static func projectPhotos(
        _ projectID: UUID,
        status: PhotoStatus?,
        after cursor: PhotoListCursor?,
        limit: Int,
        on connection: Connection
    ) throws -> [StoredPhoto] {
        let page = ListProjectPhotos.Page(projectID: projectID, after: cursor, limit: limit)
        if let status {
            return try connection.execute(ListProjectPhotosWithStatus(page: page, status: status))
        }
        return try connection.execute(ListProjectPhotos(page: page))
    }
}

struct SelectProjectOrganization: Statement {
    static let prepared = PreparedStatement(
        name: "photo_store_select_project_organization",
        sql: "SELECT organization_id FROM projects WHERE id = $1"
    )

    let projectID: UUID

    var bindings: [(any PostgresEncodable)?] { [projectID] }

    func decodeRow(_ row: Row) throws -> UUID { try row.decode("organization_id") }
}

struct SelectPhoto: Statement {
    static let prepared = PreparedStatement(
        name: "photo_store_select_photo",
        sql: "SELECT \(StoredPhoto.columns) FROM photos p JOIN projects pr ON pr.id = p.project_id WHERE p.id = $1"
    )

    let photoID: UUID

    var bindings: [(any PostgresEncodable)?] { [photoID] }

    func decodeRow(_ row: Row) throws -> StoredPhoto { try StoredPhoto(row: row) }
}

struct SelectStatusHistory: Statement {
    static let prepared = PreparedStatement(
        name: "photo_store_select_status_history",
        sql: "SELECT status, at FROM photo_status_history WHERE photo_id = $1 ORDER BY at, id"
    )

    let photoID: UUID

    var bindings: [(any PostgresEncodable)?] { [photoID] }

    func decodeRow(_ row: Row) throws -> StoredPhoto.HistoryEntry {
        StoredPhoto.HistoryEntry(status: try row.decode("status"), at: try row.decode("at"))
    }
}

/// A project's photos newest first by `(created_at, id)`; `$2`/`$3` is the last row of the
/// previous page, or (`infinity`, the largest UUID) for the first page. The row-value
/// comparison and the two statements (with and without the status filter) keep every page an
/// index range scan on `(project_id[, status], created_at DESC, id DESC)`, whatever plan the
/// server caches.
struct ListProjectPhotos: Statement {
    static let prepared = PreparedStatement(name: "photo_store_list_photos", sql: sql(filter: ""))

    /// The page's SQL, with `filter` (`AND ...`) added to the project condition.
    static func sql(filter: String) -> String {
        """
        SELECT \(StoredPhoto.columns) FROM photos p JOIN projects pr ON pr.id = p.project_id
        WHERE p.project_id = $1\(filter) AND (p.created_at, p.id) < ($2::timestamptz, $3::uuid)
        ORDER BY p.created_at DESC, p.id DESC
        LIMIT $4
        """
    }

    /// The parameters both list statements share, `$1` to `$4`.
    struct Page: Sendable {
        /// Sorts after every real `(created_at, id)`: the start of the first page.
        static let firstPageTimestamp = "infinity"
        static let firstPageID = "ffffffff-ffff-ffff-ffff-ffffffffffff"

        let projectID: UUID
        let after: PhotoListCursor?
        let limit: Int

        var bindings: [(any PostgresEncodable)?] {
            [
                projectID, after?.createdAtText ?? Self.firstPageTimestamp,
                after?.photoID.postgresText ?? Self.firstPageID, limit,
            ]
        }
    }

    let page: Page

    var bindings: [(any PostgresEncodable)?] { page.bindings }

    func decodeRow(_ row: Row) throws -> StoredPhoto { try StoredPhoto(row: row) }
}

/// ``ListProjectPhotos`` of one status (`$5`).
struct ListProjectPhotosWithStatus: Statement {
    static let prepared = PreparedStatement(
        name: "photo_store_list_photos_with_status",
        sql: ListProjectPhotos.sql(filter: " AND p.status = $5")
    )

    let page: ListProjectPhotos.Page
    let status: PhotoStatus

    var bindings: [(any PostgresEncodable)?] { page.bindings + [status.rawValue] }

    func decodeRow(_ row: Row) throws -> StoredPhoto { try StoredPhoto(row: row) }
}
