import AWS
import AuthTestSupport
import Foundation
import Postgres
import TestSupport
import Testing

/// photo-api's `/metrics` after known traffic shows the README's `photo_*` samples with the
/// values that traffic must produce, and the per-route request counts with the statuses the
/// clients got. It runs the real executable (which bootstraps Prometheus; a test process may
/// not) against a stub S3, so nothing else counts into its metrics.
@Suite(.requiresDatabase, .offTheCooperativePool) struct MetricsEndpointTests {
    /// The value of the sample `name` whose labels include every one of `labels`, when exactly one
    /// line matches.
    static func sample(_ text: String, _ name: String, _ labels: [String] = []) -> Double? {
        let lines = text.split(separator: "\n").filter { line in
            (line.hasPrefix(name + " ") || line.hasPrefix(name + "{")) && labels.allSatisfy { line.contains($0) }
        }
        guard lines.count == 1, let value = lines[0].split(separator: " ").last else { return nil }
        return Double(value)
    }

    @Test func photoMetricsCountConfirmationsInvalidUploadsExifFailuresAndInsertedRows() async throws {
        let token = try await PhotoWorld.token()
        let bytes = try PhotoCompletePromiseTests.jpegWithCorruptExif()
        try await StubStorage(object: bytes).run { endpoint in
            try await TestDatabase.withFresh { database in
                try await database.migrate()
                let project = UUID()
                try database.connect().query(
                    "INSERT INTO projects (id, organization_id, name) VALUES ($1, $2, 'metrics')",
                    [project, AuthFixtures.organizationID]
                )
                let api = try await LiveAPI.start(
                    databaseURL: database.connectionString,
                    environment: [
                        "AWS_ENDPOINT_URL": endpoint, "STORAGE_RETRY_BASE_MS": "1", "MIN_UPLOAD_BYTES": "16",
                        "RECONCILE_ENABLED": "false",
                    ]
                )
                defer { api.stop() }
                try await Scoped.withHTTPClient(timeoutMilliseconds: 15_000) { http in
                    func post(_ path: String) async throws -> CurlHTTPClient.Response {
                        try await api.post(path, token: token, using: http)
                    }
                    func upload(declaredSize: Int) async throws -> String {
                        try await api.issueUploadURL(
                            project: project,
                            declaredSize: declaredSize,
                            token: token,
                            using: http
                        )
                    }
                    // Confirmed, with EXIF that cannot be read; then one whose size is not the declared one.
                    let confirmed = try await upload(declaredSize: bytes.count)
                    #expect(try await post("/api/v1/photos/\(confirmed)/complete").status == 200)
                    let invalid = try await upload(declaredSize: bytes.count + 1)
                    #expect(try await post("/api/v1/photos/\(invalid)/complete").status == 422)

                    let metrics = try await http.execute(.init(method: "GET", url: api.baseURL + "/metrics"))
                    #expect(metrics.status == 200)
                    let text = String(decoding: metrics.body, as: UTF8.self)
                    #expect(Self.sample(text, "photo_confirmations_total") == 1, "\(text)")
                    #expect(Self.sample(text, "photo_exif_failures_total") == 1)
                    #expect(Self.sample(text, "photo_invalid_uploads_total") == 1)
                    // The stub answers the invalid upload's ListObjectVersions with the object
                    // itself (206, not a listing), so its deletion fails and is left to the
                    // reconciler.
                    #expect(Self.sample(text, "photo_object_deletions_total", [#"outcome="failed""#]) == 1)
                    #expect(Self.sample(text, "photo_insert_batch_rows_sum") == 2)
                    let complete = #"route="/api/v1/photos/{photo_id}/complete""#
                    let uploadURL = #"route="/api/v1/photos/upload-url""#
                    let method = #"method="POST""#
                    #expect(Self.sample(text, "http_requests_total", [method, uploadURL, #"status="200""#]) == 2)
                    #expect(Self.sample(text, "http_requests_total", [method, complete, #"status="200""#]) == 1)
                    #expect(Self.sample(text, "http_requests_total", [method, complete, #"status="422""#]) == 1)
                }
            }
        }
    }
}
