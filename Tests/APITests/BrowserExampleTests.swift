import AWS
import AuthTestSupport
import Foundation
import Postgres
import TestSupport
import Testing

extension Tag {
    /// Drives Debian's Chromium (headless, through chromedriver and selenium).
    @Tag static var browser: Self
}

/// `docs/examples/browser/` in Chromium against the real processes: photo-api with CORS for the
/// page's origin, the relay, and LocalStack's S3 (signatures enforced, CORS rules as the
/// deployment template sets them) and SQS. `Tests/Browser/upload_in_chromium.py` serves the
/// page from an allowed and a refused origin and drives it; its screenshot of the finished
/// page is kept in `.build/test-artifacts/`.
@Suite(.tags(.browser, .localstack), .requiresDatabase, .requiresLocalStack, .offTheCooperativePool)
struct BrowserExampleTests {
    static var venv: URL {
        if let path = ProcessInfo.processInfo.environment["BROWSER_VENV"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(
            ".cache/photo-upload/browser-venv"
        )
    }

    @Test func aPhotoUploadedFromTheBrowserReachesProcessingAndShows() async throws {
        let python = Self.venv.appendingPathComponent("bin/python")
        try #require(
            FileManager.default.isExecutableFile(atPath: python.path),
            "selenium is not installed at \(Self.venv.path): run the tests through scripts/test.sh, which installs it"
        )
        let s3 = try LocalStackSQS.endpoint()
        let bucket = "browser-\(UUID().uuidString.prefix(8).lowercased())"
        let created = try await Scoped.withHTTPClient { http in
            try await http.execute(.init(method: "PUT", url: "\(s3)/\(bucket)"))
        }
        try #require(created.status == 200, "creating the bucket answered \(created.status)")
        try await LocalStackSQS.withQueue(prefix: "browser") { _, queueURL in
            try await TestDatabase.withFresh { database in
                try await database.migrate()
                let project = UUID()
                _ = try await runBlocking {
                    try database.connect().query(
                        "INSERT INTO projects (id, organization_id, name) VALUES ($1, $2, 'browser')",
                        [project, AuthFixtures.organizationID]
                    )
                }
                let ports = (allowed: try PrivateSQSServer.freePort(), other: try PrivateSQSServer.freePort())
                let api = try await LiveAPI.start(
                    databaseURL: database.connectionString,
                    environment: [
                        "AWS_ENDPOINT_URL": s3, "PHOTOS_BUCKET": bucket,
                        "CORS_ALLOWED_ORIGINS": "http://127.0.0.1:\(ports.allowed)",
                    ]
                )
                defer { api.stop() }
                let relay = try ChildProcess(
                    try TestPaths.executable("outbox-relay"),
                    ["run"],
                    environment: [
                        "DATABASE_URL": database.connectionString, "DETECTION_QUEUE_URL": queueURL,
                        "AWS_ENDPOINT_URL": s3, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                        "AWS_REGION": "us-east-1", "RELAY_METRICS_HOST": "127.0.0.1", "RELAY_METRICS_PORT": "0",
                        "RELAY_POLL_INTERVAL_MS": "100",
                    ]
                )
                try relay.start()
                defer { relay.process.terminate() }

                let artifacts = TestPaths.repositoryRoot.appendingPathComponent(".build/test-artifacts")
                try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
                let screenshot = artifacts.appendingPathComponent("browser-upload.png")
                let run = try await ChildProcess.run(
                    python,
                    [
                        TestPaths.repositoryRoot.appendingPathComponent("Tests/Browser/upload_in_chromium.py").path,
                        "--api", api.baseURL, "--token", try await PhotoWorld.token(),
                        "--project", project.uuidString.lowercased(),
                        "--file", ImageFixtures.directory.appendingPathComponent("iphone4s-gps-orientation6.jpg").path,
                        "--s3-endpoint", s3, "--bucket", bucket, "--screenshot", screenshot.path,
                        "--allowed-port", String(ports.allowed), "--other-port", String(ports.other),
                    ],
                    timeout: .seconds(180)
                )
                #expect(run.status == 0, "\(run.standardOutput)\n\(run.standardError.suffix(3000))")
                #expect(FileManager.default.fileExists(atPath: screenshot.path))
                print("browser example: \(run.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines))")
                print("browser example: screenshot at \(screenshot.path)")
            }
        }
    }
}
