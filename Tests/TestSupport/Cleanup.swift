import AWS
import Postgres

// Helpers that release what a test opened on every path: the test passed, an expectation
// threw, or the body failed half-way.

extension TestDatabase {
    /// Runs `body` with a pool on this database, and shuts the pool down afterwards whether
    /// `body` returned or threw.
    public func withPool<Value>(
        maximumConnections: Int = 4,
        _ body: (ConnectionPool) async throws -> Value
    ) async rethrows -> Value {
        try await TestSupport.withPool(makePool(maximumConnections: maximumConnections), body)
    }
}

/// Runs `body` with `pool`, and shuts the pool down afterwards whether `body` returned or threw.
public func withPool<Value>(
    _ pool: ConnectionPool,
    _ body: (ConnectionPool) async throws -> Value
) async rethrows -> Value {
    do {
        let value = try await body(pool)
        await pool.shutdown()
        return value
    } catch {
        await pool.shutdown()
        throw error
    }
}

/// Runs `body` with an HTTP client of its own (one thread, `timeout` per request), and shuts the
/// client down afterwards whether `body` returned or threw: one client for all of a test's
/// requests, not one per poll.
public func withHTTPClient<Value>(
    timeout: Duration = .seconds(5),
    _ body: (CurlHTTPClient) async throws -> Value
) async rethrows -> Value {
    let client = CurlHTTPClient(concurrency: 1, timeoutMilliseconds: Int(timeout / .milliseconds(1)))
    do {
        let value = try await body(client)
        await client.shutdown()
        return value
    } catch {
        await client.shutdown()
        throw error
    }
}

/// The status of `GET http://127.0.0.1:PORT/PATH` through `client`, or `nil` when nothing answers.
public func httpGetStatus(port: Int, path: String, using client: CurlHTTPClient) async -> Int? {
    try? await client.execute(.init(method: "GET", url: "http://127.0.0.1:\(port)\(path)")).status
}

extension TestDatabase {
    /// A new connection, opened off the cooperative pool (`runBlocking`): libpq's connect blocks.
    public func connection() async throws -> Connection {
        try await runBlocking { try connect() }
    }
}

extension Connection {
    /// Runs `body` with this connection on the blocking threads (`runBlocking`) rather than on
    /// the cooperative pool, for tests that use a `Connection` directly: its libpq calls block.
    /// Expectations belong outside `body`, in the test's task, where they are attributed to it.
    @discardableResult
    public func blocking<Value: Sendable>(
        _ body: @escaping @Sendable (Connection) throws -> Value
    ) async throws -> Value {
        try await runBlocking { try body(self) }
    }
}
