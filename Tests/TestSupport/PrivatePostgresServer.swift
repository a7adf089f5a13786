import Foundation

/// A Postgres cluster of a test's own, for fault tests (restart, stop) that would break the
/// shared server under every other test running in parallel.
///
/// Started with the same `scripts/lib.sh start_postgres` the test script uses (about 1.5 s).
public struct PrivatePostgresServer: Sendable {
    public let directory: URL
    /// Connection string of the cluster's `photos` database.
    public let connectionString: String

    /// Starts a cluster, runs `body`, and removes the cluster whatever happened.
    @discardableResult
    public static func withServer<Value>(_ body: (PrivatePostgresServer) async throws -> Value) async throws -> Value {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("photo-upload-pg-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let libraryScript = TestPaths.repositoryRoot.appendingPathComponent("scripts/lib.sh").path
        // Close inherited descriptors above 2 first: the postmaster must not hold the pipes
        // or sockets of this test process.
        let script = """
            for fd in /proc/$$/fd/*; do fd=${fd##*/}; if ((fd > 2)); then exec {fd}>&-; fi; done
            source "$1" && start_postgres "$2" >&2 && printf '%s' "$DATABASE_URL"
            """
        let started = try await ChildProcess.run(
            URL(fileURLWithPath: "/bin/bash"),
            ["-c", script, "bash", libraryScript, directory.path],
            timeout: .seconds(120)
        )
        let server = PrivatePostgresServer(directory: directory, connectionString: started.standardOutput)
        guard started.status == 0, !server.connectionString.isEmpty else {
            try? FileManager.default.removeItem(at: directory)
            throw TestEnvironmentError("could not start a private Postgres: \(started.standardError)")
        }
        do {
            let value = try await body(server)
            await server.destroy()
            return value
        } catch {
            await server.destroy()
            throw error
        }
    }

    /// `pg_ctl restart -m fast`: every session is terminated, the server comes back.
    public func restart() async throws { try await control("pg-restart") }

    /// Stops the server (`fast`) until `start()`.
    public func stop() async throws { try await control("pg-stop") }

    public func start() async throws { try await control("pg-start") }

    private func control(_ script: String, _ arguments: [String] = []) async throws {
        let result = try await ChildProcess.run(
            directory.appendingPathComponent(script),
            arguments,
            timeout: .seconds(120)
        )
        guard result.status == 0 else {
            throw TestEnvironmentError("\(script) failed: \(result.standardError)")
        }
    }

    private func destroy() async {
        try? await control("pg-stop", ["immediate"])
        try? FileManager.default.removeItem(at: directory)
    }
}
