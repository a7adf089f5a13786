import AWS
import AuthTestSupport
import Foundation
import Postgres
import TestSupport
import Testing

extension Tag {
    /// Runs the Swift client that swift-openapi-generator generates from the OpenAPI document.
    @Tag static var generatedClient: Self
}

/// `docs/examples/swift-client`, a client generated at build time from `Sources/API/openapi.yaml`
/// by swift-openapi-generator, against the real processes: photo-api, the relay, and LocalStack's
/// S3 (signatures enforced, so the PUT must send the issued headers exactly) and SQS. It proves
/// the document is complete enough to generate a working client from. `scripts/test.sh` builds
/// the example beside the tests and exports where it is; a run without that fails, not skips.
@Suite(.tags(.generatedClient, .localstack), .offTheCooperativePool)
struct GeneratedSwiftClientTests {
    static let environment = ProcessInfo.processInfo.environment

    /// The example's document is the service's: a symlink SwiftPM's plugin follows, so a change
    /// to the document regenerates the client.
    @Test func theExampleGeneratesFromTheServicesOwnDocument() throws {
        let linked = TestPaths.repositoryRoot.appendingPathComponent(
            "docs/examples/swift-client/Sources/PhotoUploadClient/openapi.yaml"
        )
        let destination = try FileManager.default.destinationOfSymbolicLink(atPath: linked.path)
        #expect(destination == "../../../../../Sources/API/openapi.yaml")
        #expect(try Data(contentsOf: linked) == Data(contentsOf: OpenAPIDocumentTests.repositoryFile))
    }

    /// The built executable, once `scripts/test.sh`'s background build has finished.
    static func builtExecutable() async throws -> URL {
        let binary = try #require(
            environment["SWIFT_CLIENT_EXAMPLE_BIN"].flatMap { $0.isEmpty ? nil : $0 },
            "SWIFT_CLIENT_EXAMPLE_BIN is not set: run the tests through scripts/test.sh, which builds the example"
        )
        if let statusPath = environment["SWIFT_CLIENT_EXAMPLE_BUILD_STATUS"], !statusPath.isEmpty {
            // A cold build of the generator takes minutes on 2 cores; the tests run meanwhile.
            let deadline = ContinuousClock.now + .seconds(45 * 60)
            while !FileManager.default.fileExists(atPath: statusPath), ContinuousClock.now < deadline {
                try await Task.sleep(for: .seconds(1))
            }
            let log = environment["SWIFT_CLIENT_EXAMPLE_BUILD_LOG"].flatMap {
                try? String(contentsOfFile: $0, encoding: .utf8)
            }
            let status = try String(contentsOfFile: statusPath, encoding: .utf8).trimmingCharacters(
                in: .whitespacesAndNewlines
            )
            try #require(status == "0", "building the example failed (\(status)):\n\(log?.suffix(6000) ?? "no log")")
            // The generator warns, and leaves the construct out, for what it cannot translate.
            #expect(
                log?.contains("is not supported") != true,
                "the generator skipped part of the document:\n\(log ?? "")"
            )
        }
        try #require(FileManager.default.isExecutableFile(atPath: binary), "\(binary) is not an executable")
        return URL(fileURLWithPath: binary)
    }

    @Test(.requiresDatabase, .requiresLocalStack) func theGeneratedClientUploadsAPhotoToProcessing() async throws {
        let client = try await Self.builtExecutable()
        try await LiveStack.run(prefix: "swift-client") { stack in
            let run = try await ChildProcess.run(
                client,
                [
                    "--api", stack.api.baseURL, "--project", stack.project.uuidString.lowercased(),
                    "--file", ImageFixtures.directory.appendingPathComponent("iphone4s-gps-orientation6.jpg").path,
                    "--wait-for", "processing",
                ],
                environment: ["PHOTO_API_TOKEN": try await PhotoWorld.token()],
                timeout: .seconds(120)
            )
            #expect(run.status == 0, "the generated client failed:\n\(run.standardOutput)\n\(run.standardError)")
            let lines = run.standardOutput.split(separator: "\n")
            #expect(lines.contains { $0.hasPrefix("1. upload URL issued") })
            #expect(lines.contains { $0.hasPrefix("2. PUT done") })
            #expect(lines.contains { $0.hasPrefix("3. confirmed: uploaded, 205x102") })
            let summary = try #require(
                lines.last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] },
                "no JSON summary:\n\(run.standardOutput)"
            )
            #expect(summary["status"] as? String == "processing")
            #expect(summary["width"] as? Int == 205)
            #expect(summary["height"] as? Int == 102)
            #expect(summary["status_history"] as? [String] == ["pending_upload", "uploaded", "processing"])
            let exif = try #require(summary["exif_data"] as? [String: Any])
            #expect(exif["camera_make"] as? String == "Apple")
            #expect(exif["camera_model"] as? String == "iPhone 4S")
            #expect(exif["orientation"] as? Int == 6)
            #expect(exif["gps_coordinates"] is [String: Any])

            // The photo the API holds is the one the client printed.
            let photoID = try #require(summary["photo_id"] as? String)
            let stored = try await Scoped.withHTTPClient { http in
                try await http.execute(
                    .init(
                        method: "GET",
                        url: "\(stack.api.baseURL)/api/v1/photos/\(photoID)",
                        headers: [("Authorization", "Bearer \(try await PhotoWorld.token())")]
                    )
                )
            }
            #expect(stored.status == 200)
            let photo = try JSONSerialization.jsonObject(with: Data(stored.body)) as? [String: Any]
            #expect(photo?["project_id"] as? String == stack.project.uuidString.lowercased())
            #expect(photo?["s3_etag"] is String)
        }
    }
}
