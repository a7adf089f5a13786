import API
import AWS
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Postgres
import TestSupport

/// A photo endpoint world with a real S3 API server: a private `moto_server` with one bucket,
/// the application's S3 endpoint pointing at it, and short S3 retry pauses.
///
/// moto does not check signatures or the signed `Content-Type`/`Content-Length`, which lets these
/// tests upload objects that differ from the declaration, as a broken client or an attacker with
/// another tool could; LocalStack's enforcement of the signed PUT is tested in `AWSTests`.
struct StorageWorld: Sendable {
    let photos: PhotoWorld
    let s3Endpoint: String
    let bucket: String
    let http: CurlHTTPClient
    /// The application's environment, for building more pieces (a reconciler) like it.
    let environment: [String: String]

    static let bucket = "photos-complete-test"

    /// The same world on the LocalStack of `scripts/test.sh` (`AWS_ENDPOINT_URL`, S3 signature
    /// validation on), with a bucket of its own.
    static func runOnLocalStack(
        environment extra: [String: String] = [:],
        _ body: @escaping @Sendable (StorageWorld) async throws -> Void
    ) async throws {
        let processEnvironment = ProcessInfo.processInfo.environment
        guard let endpoint = processEnvironment["AWS_ENDPOINT_URL_S3"] ?? processEnvironment["AWS_ENDPOINT_URL"],
            !endpoint.isEmpty
        else {
            throw TestEnvironmentError(
                "AWS_ENDPOINT_URL is not set: this .localstack test needs LocalStack (scripts/test.sh starts it)"
            )
        }
        let environment = [
            "AWS_ENDPOINT_URL_S3": endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
        ]
        try await run(
            endpoint: endpoint,
            bucket: "complete-\(UUID().uuidString.lowercased().prefix(13))",
            environment: environment.merging(extra) { _, new in new },
            body
        )
    }

    /// The world on a private `moto_server`.
    static func run(
        environment extra: [String: String] = [:],
        _ body: @escaping @Sendable (StorageWorld) async throws -> Void
    ) async throws {
        try await PrivateSQSServer.withServer { server in
            try await run(
                endpoint: server.endpoint,
                bucket: bucket,
                environment: ["MIN_UPLOAD_BYTES": "16"].merging(extra) { _, new in new },
                body
            )
        }
    }

    /// The world on a private `moto_server` reached through a ``CountingS3Proxy``: every S3
    /// request of the test and of the application passes the proxy, which counts them.
    static func runBehindCountingProxy(
        environment extra: [String: String] = [:],
        _ body: @escaping @Sendable (StorageWorld, CountingS3Proxy) async throws -> Void
    ) async throws {
        try await PrivateSQSServer.withServer { server in
            let proxy = CountingS3Proxy(upstream: server.endpoint)
            try await proxy.withRunning { endpoint in
                try await run(
                    endpoint: endpoint,
                    bucket: bucket,
                    environment: ["MIN_UPLOAD_BYTES": "16"].merging(extra) { _, new in new }
                ) { world in
                    try await body(world, proxy)
                }
            }
        }
    }

    /// Creates `bucket` at `endpoint` (a signed PUT, which moto and LocalStack both accept) and
    /// runs the application against it.
    private static func run(
        endpoint: String,
        bucket: String,
        environment extra: [String: String],
        _ body: @escaping @Sendable (StorageWorld) async throws -> Void
    ) async throws {
        let http = CurlHTTPClient(concurrency: 4, timeoutMilliseconds: 15_000)
        do {
            let created = try await http.execute(
                .init(method: "PUT", url: "\(endpoint)/\(bucket)", signing: Self.signing)
            )
            guard created.status == 200 else {
                throw TestEnvironmentError("creating bucket \(bucket) at \(endpoint): HTTP \(created.status)")
            }
            let environment = [
                "AWS_ENDPOINT_URL": endpoint,
                "PHOTOS_BUCKET": bucket,
                "STORAGE_RETRY_BASE_MS": "1",
                "RATE_LIMIT_PER_MINUTE": "1000",
            ].merging(extra) { _, new in new }
            try await PhotoWorld.run(environment: environment) { photos in
                try await body(
                    StorageWorld(
                        photos: photos,
                        s3Endpoint: endpoint,
                        bucket: bucket,
                        http: http,
                        environment: PhotoWorld.environment.merging(environment) { _, new in new }
                    )
                )
            }
        } catch {
            await http.shutdown()
            throw error
        }
        await http.shutdown()
    }

    /// libcurl's own SigV4 for the tests' S3 calls (moto and LocalStack accept it for S3).
    static let signing = CurlHTTPClient.AWSSigning(
        region: "us-east-1",
        service: "s3",
        credentials: AWSCredentials(accessKeyID: "test", secretAccessKey: "test")
    )

    /// Turns versioning on for the world's bucket (`PutBucketVersioning`), as production buckets
    /// should have it (docs/architecture.md, "Integrity of the validated object"). The XML type is
    /// said explicitly: libcurl would otherwise label the body a form, which LocalStack reads as one.
    func enableVersioning() async throws {
        let body =
            #"<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#
            + "<Status>Enabled</Status></VersioningConfiguration>"
        let response = try await http.execute(
            .init(
                method: "PUT",
                url: "\(s3Endpoint)/\(bucket)?versioning",
                headers: [("Content-Type", "application/xml")],
                body: Array(body.utf8),
                signing: Self.signing
            )
        )
        guard response.status == 200 else {
            throw TestEnvironmentError("PutBucketVersioning answered \(response.status)")
        }
    }

    /// S3's own `HEAD` of `key` (a photo key: UUIDs, digits and `/`, nothing to encode): the
    /// `ETag` and `x-amz-version-id` the service should have recorded.
    func headObject(key: String) async throws -> CurlHTTPClient.Response {
        try await http.execute(.init(method: "HEAD", url: "\(s3Endpoint)/\(bucket)/\(key)", signing: Self.signing))
    }

    /// Asks for an upload URL for `bytes` declared as `mime`, and returns the photo id and the
    /// URL with the headers to send.
    func requestUpload(
        project: UUID,
        size: Int,
        mime: String = "image/jpeg",
        token: String
    ) async throws -> (photoID: String, url: String, headers: [(name: String, value: String)]) {
        let response = try await photos.request(
            .post,
            "/api/v1/photos/upload-url",
            token: token,
            body: PhotoWorld.uploadBody(project: project, size: size, mime: mime)
        )
        guard response.status == .ok else {
            throw TestEnvironmentError("upload-url answered \(response.status): \(String(buffer: response.body))")
        }
        let json = try PhotoWorld.json(response)
        guard let photoID = json["photo_id"] as? String, let url = json["upload_url"] as? String,
            let headers = json["headers"] as? [String: String]
        else { throw TestEnvironmentError("upload-url answered an unexpected body") }
        return (photoID, url, headers.map { (name: $0.key, value: $0.value) })
    }

    /// PUTs `bytes` to a pre-signed URL with `headers` (which may differ from the signed ones).
    func put(_ bytes: [UInt8], to url: String, headers: [(name: String, value: String)]) async throws {
        let response = try await http.execute(.init(method: "PUT", url: url, headers: headers, body: bytes))
        guard response.status == 200 else {
            throw TestEnvironmentError("PUT answered \(response.status)")
        }
    }

    /// Issues a URL for `bytes` and uploads them as declared; returns the photo id.
    func upload(_ bytes: [UInt8], project: UUID, mime: String = "image/jpeg", token: String) async throws -> String {
        let upload = try await requestUpload(project: project, size: bytes.count, mime: mime, token: token)
        try await put(bytes, to: upload.url, headers: upload.headers)
        return upload.photoID
    }

    func complete(_ photoID: String, token: String) async throws -> TestResponseSummary {
        let response = try await photos.request(.post, "/api/v1/photos/\(photoID)/complete", token: token)
        return TestResponseSummary(status: Int(response.status.code), body: Array(response.body.readableBytesView))
    }

    /// `outbox_events` rows of the photo.
    func eventCount(_ photoID: String) throws -> Int {
        try photos.sql("SELECT count(*)::integer AS n FROM outbox_events WHERE aggregate_id = $1", [photoID])
            .first?.decode("n") ?? -1
    }

    /// The `photo.uploaded` payload of the photo: the SQS message body the relay sends.
    func eventPayload(_ photoID: String) throws -> [String: Any] {
        let text: String =
            try photos.sql("SELECT payload::text AS payload FROM outbox_events WHERE aggregate_id = $1", [photoID])
            .first?.decode("payload") ?? "{}"
        return (try JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    func status(_ photoID: String) throws -> String {
        try photos.sql("SELECT status FROM photos WHERE id = $1", [photoID]).first?.decode("status") ?? "missing"
    }
}

/// A response reduced to what the tests compare, so it can cross task boundaries.
struct TestResponseSummary: Sendable {
    let status: Int
    let body: [UInt8]

    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
    }

    var code: String? { json["code"] as? String }
}

/// Image files for upload tests: the camera samples and generated images of `ImageInspectionTests`.
enum ImageFixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()
        .deletingLastPathComponent()
        .appendingPathComponent("ImageInspectionTests/Fixtures")

    static func bytes(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    /// A minimal PNG of `width` x `height`: signature, IHDR, one IDAT, IEND, with real CRCs.
    /// The IDAT is filler: the service reads headers only.
    static func png(width: UInt32, height: UInt32, fillerBytes: Int = 64) -> [UInt8] {
        func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
            let typeBytes = Array(type.utf8)
            return bigEndian(UInt32(data.count)) + typeBytes + data + bigEndian(crc32(typeBytes + data))
        }
        let header = bigEndian(width) + bigEndian(height) + [8, 2, 0, 0, 0]
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
            + chunk("IHDR", header) + chunk("IDAT", [UInt8](repeating: 0, count: fillerBytes)) + chunk("IEND", [])
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }
}
