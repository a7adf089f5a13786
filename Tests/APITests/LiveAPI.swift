import AWS
import AuthTestSupport
import Foundation
import TestSupport

/// The real `photo-api` executable as a child process on a free loopback port, for the tests
/// that drive it from outside (schemathesis, the documented Node client).
struct LiveAPI {
    let process: ChildProcess
    let baseURL: String

    /// Starts `photo-api` on `databaseURL` with an HS256 secret, static AWS test credentials and
    /// `environment` on top, and waits until `/readyz` answers 200. Stop it with ``stop()``.
    static func start(databaseURL: String, environment: [String: String]) async throws -> LiveAPI {
        let port = try PrivateSQSServer.freePort()
        let process = try ChildProcess(
            try TestPaths.executable("photo-api"),
            [],
            environment: [
                "DATABASE_URL": databaseURL,
                "HOST": "127.0.0.1",
                "PORT": String(port),
                "JWT_HS256_SECRET": AuthFixtures.secret,
                "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test",
                "AWS_REGION": "us-east-1",
                "LOG_LEVEL": "warning",
            ].merging(environment) { _, new in new }
        )
        try process.start()
        let api = LiveAPI(process: process, baseURL: "http://127.0.0.1:\(port)")
        do {
            try await api.waitUntilReady()
        } catch {
            api.stop()
            throw error
        }
        return api
    }

    func stop() {
        if process.process.isRunning { process.process.terminate() }
    }

    /// Polls `/readyz` until it answers 200.
    private func waitUntilReady() async throws {
        try await Scoped.withHTTPClient(timeoutMilliseconds: 2000) { client in
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline {
                guard process.process.isRunning else {
                    throw TestEnvironmentError("photo-api exited early: \(process.standardError.suffix(2000))")
                }
                if let response = try? await client.execute(.init(method: "GET", url: "\(baseURL)/readyz")),
                    response.status == 200
                {
                    return
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            throw TestEnvironmentError("photo-api did not become ready at \(baseURL)")
        }
    }
}
