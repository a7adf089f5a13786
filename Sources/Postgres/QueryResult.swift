/// The rows of a finished statement, copied out of libpq's result so no C memory outlives
/// the call that produced it.
public struct QueryResult: Sendable {
    /// Column names in result order.
    public let columns: [String]
    public let rows: [Row]
    /// Rows inserted, updated, deleted or selected, as the command tag reports.
    public let affectedRows: Int

    init(columns: [String], values: [[String?]], affectedRows: Int) {
        let index = ColumnIndex(columns)
        self.columns = columns
        self.rows = values.map { Row(columns: index, values: $0) }
        self.affectedRows = affectedRows
    }

    /// The only row, or `nil` when there is none.
    public var first: Row? { rows.first }
}

/// Column name to position, shared by every row of one result.
final class ColumnIndex: Sendable {
    let names: [String]
    let positions: [String: Int]

    init(_ names: [String]) {
        self.names = names
        var positions = [String: Int]()
        for (position, name) in names.enumerated() where positions[name] == nil {
            positions[name] = position
        }
        self.positions = positions
    }
}

/// One result row; values are in Postgres text format until decoded.
public struct Row: Sendable {
    let columns: ColumnIndex
    /// Raw text values, `nil` for SQL NULL.
    public let values: [String?]

    /// The raw text of `column`, `nil` for NULL or an unknown column.
    public subscript(column: String) -> String? {
        columns.positions[column].flatMap { values[$0] }
    }

    /// Decodes a non-NULL column; NULL, a missing column or a malformed value throws.
    public func decode<Value: PostgresDecodable>(_ column: String, as type: Value.Type = Value.self) throws -> Value {
        guard let value = try decodeIfPresent(column, as: type) else {
            throw PostgresError(code: .decodingFailed, message: "column \(column) is NULL")
        }
        return value
    }

    /// Decodes a nullable column; NULL gives `nil`, a missing column or a malformed value throws.
    public func decodeIfPresent<Value: PostgresDecodable>(
        _ column: String,
        as type: Value.Type = Value.self
    ) throws -> Value? {
        guard let position = columns.positions[column] else {
            throw PostgresError(code: .decodingFailed, message: "no column \(column) in the result")
        }
        guard let text = values[position] else { return nil }
        guard let value = Value(postgresText: text) else {
            throw PostgresError(code: .decodingFailed, message: "column \(column) is not a valid \(Value.self)")
        }
        return value
    }
}

extension Row {
    /// Decodes a non-NULL text column into a string enum (a status, a media type): a value the
    /// enum does not know throws, like any malformed value.
    public func decode<Value: RawRepresentable>(
        _ column: String,
        as type: Value.Type = Value.self
    ) throws -> Value where Value.RawValue == String {
        let text: String = try decode(column)
        guard let value = Value(rawValue: text) else {
            throw PostgresError(code: .decodingFailed, message: "column \(column) is not a valid \(Value.self)")
        }
        return value
    }
}
