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

extension LiveAPI {
    /// `POST path` as the holder of `token`, with a JSON `body`.
    func post(
        _ path: String,
        _ body: String? = nil,
        token: String,
        using http: CurlHTTPClient
    ) async throws -> CurlHTTPClient.Response {
        try await http.execute(
            .init(
                method: "POST",
                url: baseURL + path,
                headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json")],
                body: body.map { Array($0.utf8) }
            )
        )
    }

    /// The `photo_id` of a new upload URL for a JPEG of `declaredSize` bytes in `project`.
    func issueUploadURL(
        project: UUID,
        declaredSize: Int,
        token: String,
        using http: CurlHTTPClient
    ) async throws -> String {
        let issued = try await post(
            "/api/v1/photos/upload-url",
            PhotoWorld.uploadBody(project: project, size: declaredSize),
            token: token,
            using: http
        )
        let json = try JSONSerialization.jsonObject(with: Data(issued.body)) as? [String: Any]
        guard let photoID = json?["photo_id"] as? String else {
            throw TestEnvironmentError("upload-url answered \(issued.status)")
        }
        return photoID
    }
}
