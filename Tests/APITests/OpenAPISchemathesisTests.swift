import AWS
import AuthTestSupport
import Foundation
import Postgres
import TestSupport
import Testing

extension Tag {
    /// Runs schemathesis (from the venv `scripts/test.sh` installs) against a live `photo-api`.
    @Tag static var schemathesis: Self
}

/// The live API against its own `/openapi.yaml`, with schemathesis: every response's status,
/// content type, headers and body must conform to the document, and no request may cause a
/// server error.
///
/// It starts the real `photo-api` executable on a migrated database, with static AWS
/// credentials and an S3 endpoint nobody listens on (presigning needs no server), and runs
/// `scripts/schemathesis.sh` with a token whose organization owns a project. It installs
/// nothing: without the schemathesis venv it fails, naming `scripts/test.sh`.
@Suite(.tags(.schemathesis), .requiresDatabase, .offTheCooperativePool) struct OpenAPISchemathesisTests {
    static var venv: URL {
        if let path = ProcessInfo.processInfo.environment["SCHEMATHESIS_VENV"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        return FileManager.default.homeDirectoryForCurrentUser
            .appendingPathComponent(".cache/photo-upload/schemathesis-venv")
    }

    @Test func theLiveAPIConformsToItsDocument() async throws {
        let schemathesis = Self.venv.appendingPathComponent("bin/schemathesis")
        guard FileManager.default.isExecutableFile(atPath: schemathesis.path) else {
            Issue.record(
                "schemathesis is not installed at \(Self.venv.path): run the tests through scripts/test.sh, which installs it"
            )
            return
        }
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let project = UUID()
            try database.connect().query(
                "INSERT INTO projects (id, organization_id, name) VALUES ($1, $2, 'schemathesis')",
                [project, AuthFixtures.organizationID]
            )
            // A photo of that project: reads, confirmations (S3 is down: 503) and status changes
            // reach a real row. Uploaded, so the first valid status changes succeed.
            let photo = UUID()
            try database.connect().query(
                """
                INSERT INTO photos (id, project_id, user_id, file_name, mime_type, file_size, s3_bucket, s3_key,
                                    status, upload_expires_at, uploaded_at)
                VALUES ($1, $2, $3, 'roof.jpg', 'image/jpeg', 2048, 'photos-schemathesis', $4, 'uploaded', now(), now())
                """,
                [
                    photo, project, AuthFixtures.userID,
                    "\(project.uuidString.lowercased())/\(photo.uuidString.lowercased()).jpg",
                ]
            )
            // S3 nobody listens on: pre-signing needs no server, and confirmations answer 503.
            let api = try await LiveAPI.start(
                databaseURL: database.connectionString,
                environment: [
                    "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:1",
                    "PHOTOS_BUCKET": "photos-schemathesis",
                    "RATE_LIMIT_PER_MINUTE": "100000",
                    "STORAGE_RETRY_BASE_MS": "1",
                ]
            )
            defer { api.stop() }
            let baseURL = api.baseURL

            let token = try await AuthFixtures.hs256(AuthFixtures.validClaims(scope: "photos:status:write"))
            let reports = FileManager.default.temporaryDirectory.appendingPathComponent("schemathesis-\(UUID())")
            defer { try? FileManager.default.removeItem(at: reports) }
            let run = try ChildProcess(
                TestPaths.repositoryRoot.appendingPathComponent("scripts/schemathesis.sh"),
                [baseURL, token],
                environment: [
                    "SCHEMATHESIS_VENV": Self.venv.path,
                    "SCHEMATHESIS_REPORT_DIR": reports.path,
                    "SCHEMATHESIS_PROJECT_ID": project.uuidString.lowercased(),
                    "SCHEMATHESIS_PHOTO_ID": photo.uuidString.lowercased(),
                ]
            )
            try run.start()
            let status = try await run.wait(timeout: .seconds(300))
            if status != 0 {
                // The report on standard output too: long issue messages are hard to read.
                print(run.standardOutput, run.standardError)
            }
            #expect(
                status == 0,
                "schemathesis found problems:\n\(run.standardOutput.suffix(12_000))\n\(run.standardError.suffix(4000))"
            )
            #expect(api.process.process.isRunning, "photo-api exited: \(api.process.standardError.suffix(2000))")
        }
    }
}
