import CLibPQ

/// How to reach the database: a libpq connection string plus the name this process shows in
/// `pg_stat_activity`, so a DBA can tell the API, the relay and the migrator apart.
public struct ConnectionSettings: Sendable {
    /// A libpq connection string, URI (`postgresql://...`) or `key=value` form. Empty means
    /// libpq's defaults, i.e. the `PG*` environment variables.
    public var connectionString: String
    /// Sent as `application_name`; it takes precedence over one in the connection string.
    public var applicationName: String
    /// How long connecting, a statement's answer and an open transaction may take.
    public var timeouts: ConnectionTimeouts

    /// Checks the connection string with libpq's own parser, so a malformed `DATABASE_URL`
    /// fails at start-up instead of at the first query.
    public init(
        connectionString: String,
        applicationName: String,
        timeouts: ConnectionTimeouts = ConnectionTimeouts()
    ) throws {
        if !connectionString.isEmpty {
            var errorMessage: UnsafeMutablePointer<CChar>?
            let options = PQconninfoParse(connectionString, &errorMessage)
            defer {
                if let options { PQconninfoFree(options) }
                if let errorMessage { PQfreemem(errorMessage) }
            }
            if options == nil {
                let reason = errorMessage.map { String(cString: $0) } ?? "unparseable"
                throw PostgresError(
                    code: .invalidConnectionString,
                    message: reason.trimmingTrailingWhitespace()
                )
            }
        }
        self.connectionString = connectionString
        self.applicationName = applicationName
        self.timeouts = timeouts
    }
}

extension String {
    func trimmingTrailingWhitespace() -> String {
        var result = Substring(self)
        while let last = result.last, last.isWhitespace { result.removeLast() }
        return String(result)
    }
}
