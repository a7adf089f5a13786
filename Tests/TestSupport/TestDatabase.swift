import Foundation
import Logging
import NIOPosix
import Postgres

/// A throwaway database for one test, created on the server `scripts/test.sh` starts.
///
/// `TestDatabase.withFresh { database in ... }` creates `test_<random>`, hands out its
/// settings, and drops it afterwards whether the test passed or threw.
public struct TestDatabase: Sendable {
    public let name: String
    public let settings: ConnectionSettings
    /// The connection string of the throwaway database, for child processes (`DATABASE_URL`).
    public let connectionString: String

    /// The server's admin connection string; integration tests fail loudly without it rather
    /// than pass without having run (a bare `swift test` skips them before they get here:
    /// `.requiresDatabase`).
    public static func serverURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["TEST_DATABASE_URL"], !url.isEmpty else {
            throw TestEnvironmentError(
                "TEST_DATABASE_URL is not set: run the integration tests through scripts/test.sh"
            )
        }
        return url
    }

    /// Creates a fresh database, runs `body`, and drops the database.
    ///
    /// Creating and dropping block on libpq, so they run off the cooperative pool
    /// (`runBlocking`): on a two-core machine its two threads are shared by every suite running
    /// in parallel.
    @discardableResult
    public static func withFresh<Value>(
        _ body: (TestDatabase) async throws -> Value
    ) async throws -> Value {
        let serverURL = try serverURL()
        let name = "test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        guard var components = URLComponents(string: serverURL) else {
            throw TestEnvironmentError("TEST_DATABASE_URL must be a postgresql:// URL")
        }
        components.path = "/\(name)"
        guard let connectionString = components.string else {
            throw TestEnvironmentError("cannot build a URL for \(name)")
        }
        let database = TestDatabase(
            name: String(name),
            settings: try ConnectionSettings(connectionString: connectionString, applicationName: "tests"),
            connectionString: connectionString
        )
        try await runBlocking { try administer(serverURL, "CREATE DATABASE \(name)") }
        let drop = {
            try? await runBlocking { try administer(serverURL, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
        }
        do {
            let value = try await body(database)
            await drop()
            return value
        } catch {
            await drop()
            throw error
        }
    }

    /// Runs one statement on the server's admin database.
    private static func administer(_ serverURL: String, _ sql: String) throws {
        let admin = try Connection(settings: ConnectionSettings(connectionString: serverURL, applicationName: "tests"))
        try admin.query(sql)
    }

    /// A new connection to this database.
    public func connect() throws -> Connection {
        try Connection(settings: settings)
    }

    /// A pool on this database; the caller shuts it down.
    public func makePool(maximumConnections: Int = 4) -> ConnectionPool {
        ConnectionPool(settings: settings, maximumConnections: maximumConnections, logger: Logger(label: "test-pool"))
    }
}

/// Runs blocking work (libpq, migrations) on one of two threads of its own rather than on the
/// cooperative pool, so a test's setup cannot stall the async waits of the suites running beside
/// it. Two, as the cooperative pool's width was here: dozens of suites creating databases at once
/// would load the server as much as they used to starve the pool.
public func runBlocking<Value: Sendable>(_ body: @escaping @Sendable () throws -> Value) async throws -> Value {
    try await blockingThreads.runIfActive(body)
}

private let blockingThreads: NIOThreadPool = {
    let threads = NIOThreadPool(numberOfThreads: 2)
    threads.start()
    return threads
}()

public struct TestEnvironmentError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Paths the test script exports, with the repository's own layout as fallback.
public enum TestPaths {
    /// The repository root, found from this file's location.
    public static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The built executable `name` (`migrator`, `photo-api`, `outbox-relay`).
    public static func executable(_ name: String) throws -> URL {
        let variable = name.uppercased().replacingOccurrences(of: "-", with: "_") + "_BIN"
        let candidates = [
            ProcessInfo.processInfo.environment[variable].map { URL(fileURLWithPath: $0) },
            repositoryRoot.appendingPathComponent(".build/debug/\(name)"),
        ].compactMap { $0 }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw TestEnvironmentError("\(name) is not built: run `swift build` (scripts/test.sh does)")
        }
        return found
    }
}
