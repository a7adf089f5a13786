import AppConfig

/// `DATABASE_URL`, checked with libpq's own parser, and the timeouts of every connection.
public struct DatabaseConfiguration: Sendable {
    public let settings: ConnectionSettings

    /// The longest value of the millisecond timeouts: a day.
    static let longestTimeoutMilliseconds = 86_400_000

    /// - Parameters:
    ///   - applicationName: what `pg_stat_activity.application_name` shows.
    ///   - statementsRunUnbounded: no `statement_timeout` (and so no client deadline on an
    ///     answer), whatever `DATABASE_STATEMENT_TIMEOUT_MS` says; for the migrator, whose
    ///     `CREATE INDEX CONCURRENTLY` may run for hours.
    public init(environment: EnvironmentReader, applicationName: String, statementsRunUnbounded: Bool = false) throws {
        let connectionString = environment.string("DATABASE_URL", default: "")
        let defaults = ConnectionTimeouts()
        func milliseconds(_ name: String, default duration: Duration?, range: ClosedRange<Int>) throws -> Duration? {
            let value = try environment.integer(name, default: Int(duration?.wholeMilliseconds ?? 0), range: range)
            return value == 0 ? nil : .milliseconds(value)
        }
        let timeouts = ConnectionTimeouts(
            statement: statementsRunUnbounded
                ? nil
                : try milliseconds(
                    "DATABASE_STATEMENT_TIMEOUT_MS",
                    default: defaults.statement,
                    range: 0...Self.longestTimeoutMilliseconds
                ),
            idleInTransaction: try milliseconds(
                "DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS",
                default: defaults.idleInTransaction,
                range: 0...Self.longestTimeoutMilliseconds
            ),
            tcpUser: try milliseconds(
                "DATABASE_TCP_USER_TIMEOUT_MS",
                default: defaults.tcpUser,
                range: 0...Self.longestTimeoutMilliseconds
            )
        )
        do {
            settings = try ConnectionSettings(
                connectionString: connectionString,
                applicationName: applicationName,
                timeouts: timeouts
            )
        } catch {
            // libpq's parse error quotes the offending token, which can be the password.
            throw ConfigurationError(
                variable: "DATABASE_URL",
                reason:
                    "is not a valid libpq connection string (postgresql://user:password@host:port/db or key=value pairs)"
            )
        }
    }
}
