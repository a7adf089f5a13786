import AWS
import Logging
import Postgres

/// Resources that own threads, lent to a body and shut down when it ends, however it ends: a
/// `defer { Task { await x.shutdown() } }` lets the test finish before the shutdown has run,
/// and a plain call after the body is skipped when the body throws.
enum Scoped {
    /// A libcurl client, shut down after `body`.
    static func withHTTPClient<Result>(
        concurrency: Int = 1,
        timeoutMilliseconds: Int = 30_000,
        _ body: (CurlHTTPClient) async throws -> Result
    ) async throws -> Result {
        let http = CurlHTTPClient(concurrency: concurrency, timeoutMilliseconds: timeoutMilliseconds)
        return try await lending(http, shutdown: { await $0.shutdown() }, body)
    }

    /// A connection pool (it connects on its first borrower), shut down after `body`.
    static func withPool<Result>(
        settings: ConnectionSettings,
        maximumConnections: Int,
        logger: Logger,
        _ body: (ConnectionPool) async throws -> Result
    ) async throws -> Result {
        let pool = ConnectionPool(settings: settings, maximumConnections: maximumConnections, logger: logger)
        return try await lending(pool, shutdown: { await $0.shutdown() }, body)
    }

    private static func lending<Resource, Result>(
        _ resource: Resource,
        shutdown: (Resource) async -> Void,
        _ body: (Resource) async throws -> Result
    ) async throws -> Result {
        let result: Result
        do {
            result = try await body(resource)
        } catch {
            await shutdown(resource)
            throw error
        }
        await shutdown(resource)
        return result
    }
}
