import AppConfig

/// `DATABASE_URL`, checked with libpq's own parser.
public struct DatabaseConfiguration: Sendable {
    public let settings: ConnectionSettings

    /// - Parameter applicationName: what `pg_stat_activity.application_name` shows.
    public init(environment: EnvironmentReader, applicationName: String) throws {
        let connectionString = environment.string("DATABASE_URL", default: "")
        do {
            settings = try ConnectionSettings(connectionString: connectionString, applicationName: applicationName)
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
