/// A prepared statement as a typed value: its parameters are the fields of the conforming
/// struct, ``bindings`` lists them in the order the SQL numbers them, and ``decodeRow(_:)``
/// turns each result row into a Swift value.
///
/// Callers build a value and run it (`connection.execute(statement)`), so a statement with
/// fifteen parameters cannot be called with two of them swapped, and rows come back as
/// enums and structs rather than strings. The shape follows postgres-nio's
/// `PostgresPreparedStatement`.
///
/// ```swift
/// struct SelectOrganization: Statement {
///     static let prepared = PreparedStatement(
///         name: "select_organization",
///         sql: "SELECT organization_id FROM projects WHERE id = $1"
///     )
///     let projectID: UUID
///     var bindings: [(any PostgresEncodable)?] { [projectID] }
///     func decodeRow(_ row: Row) throws -> UUID { try row.decode("organization_id") }
/// }
/// ```
public protocol Statement: Sendable {
    /// What one result row decodes into.
    associatedtype Output: Sendable

    /// The SQL and the name it is prepared under, once per connection.
    static var prepared: PreparedStatement { get }

    /// The parameters, `$1` first.
    var bindings: [(any PostgresEncodable)?] { get }

    /// One result row as a Swift value.
    func decodeRow(_ row: Row) throws -> Output
}

extension Connection {
    /// Runs `statement` (preparing it on first use) and decodes every row.
    @discardableResult
    public func execute<S: Statement>(_ statement: S) throws -> [S.Output] {
        try execute(S.prepared, statement.bindings).rows.map(statement.decodeRow)
    }
}

extension ConnectionPool {
    /// Runs `statement` on its own on a pooled connection (without a thread hop once the
    /// connection has prepared it) and decodes every row.
    @discardableResult
    public func execute<S: Statement>(_ statement: S) async throws -> [S.Output] {
        try await execute(S.prepared, statement.bindings).rows.map(statement.decodeRow)
    }
}
