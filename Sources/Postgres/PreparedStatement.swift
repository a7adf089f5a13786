/// A named, parameterised statement, prepared once per connection on first use and executed
/// by name afterwards, which saves the server parsing and planning it on every call.
///
/// Declare them as `static let` constants next to the code that runs them.
public struct PreparedStatement: Sendable, Hashable {
    public let name: String
    public let sql: String

    public init(name: String, sql: String) {
        self.name = name
        self.sql = sql
    }
}
