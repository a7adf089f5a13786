import API
import AWS
import AuthTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Postgres
import TestSupport
import Testing

extension Tag {
    /// Runs Node 20 (`node` on PATH) against a live `photo-api`.
    @Tag static var node: Self
}

/// `docs/examples/upload.mjs`, the documented client, against the real `photo-api` executable,
/// a migrated database and moto's S3: the example must keep working as the API changes.
@Suite(.tags(.node), .requiresDatabase, .offTheCooperativePool) struct ExampleClientTests {
    static func nodeExecutable() -> URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":")
            .map { URL(fileURLWithPath: String($0)).appendingPathComponent("node") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    @Test func theDocumentedClientUploadsAndConfirmsAPhoto() async throws {
        let node = try #require(Self.nodeExecutable(), "node is not on PATH: scripts/lib.sh ensure_prereqs installs it")
        try await PrivateSQSServer.withServer { s3 in
            let bucket = "photos-example"
            let created = try await Scoped.withHTTPClient { http in
                try await http.execute(.init(method: "PUT", url: "\(s3.endpoint)/\(bucket)"))
            }
            #expect(created.status == 200)
            try await TestDatabase.withFresh { database in
                try await database.migrate()
                let project = UUID()
                try database.connect().query(
                    "INSERT INTO projects (id, organization_id, name) VALUES ($1, $2, 'example')",
                    [project, AuthFixtures.organizationID]
                )
                let api = try await LiveAPI.start(
                    databaseURL: database.connectionString,
                    environment: [
                        "AWS_ENDPOINT_URL": s3.endpoint, "AWS_ENDPOINT_URL_S3": s3.endpoint, "PHOTOS_BUCKET": bucket,
                    ]
                )
                defer { api.stop() }

                let run = try ChildProcess(
                    node,
                    [
                        TestPaths.repositoryRoot.appendingPathComponent("docs/examples/upload.mjs").path,
                        "--api", api.baseURL, "--project", project.uuidString.lowercased(),
                        "--file", ImageFixtures.directory.appendingPathComponent("iphone4s-gps-orientation6.jpg").path,
                        // No relay here: the photo stops at uploaded.
                        "--wait-for", "uploaded",
                    ],
                    environment: ["PHOTO_API_TOKEN": try await PhotoWorld.token()]
                )
                try run.start()
                let status = try await run.wait(timeout: .seconds(60))
                #expect(status == 0, "upload.mjs failed:\n\(run.standardOutput)\n\(run.standardError)")
                let lines = run.standardOutput.split(separator: "\n")
                #expect(lines.contains { $0.hasPrefix("1. upload URL issued") })
                #expect(lines.contains { $0.hasPrefix("2. PUT done") })
                #expect(lines.contains { $0.hasPrefix("3. confirmed: uploaded, 205x102") && $0.contains("iPhone 4S") })
                let photo = try #require(
                    lines.last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                )
                #expect(photo["status"] as? String == "uploaded")
            }
        }
    }
}
