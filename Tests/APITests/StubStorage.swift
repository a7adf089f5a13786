import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Postgres
import Synchronization
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// An S3 of one object on loopback, for what moto and LocalStack cannot be made to do: refuse
/// the first `failures` requests with 503, then answer `HEAD` and ranged `GET` of any key with
/// `object`, and remember when each request arrived, so a test can count the tries and measure
/// the pauses between them.
final class StubStorage: Sendable {
    /// One request the stub received.
    struct Arrival: Sendable {
        let method: String
        let at: ContinuousClock.Instant
        /// The status the stub answered.
        let status: Int
    }

    let object: [UInt8]
    let contentType: String
    let failures: Int
    let etag = #""0123456789abcdef0123456789abcdef""#
    private let received = Mutex<[Arrival]>([])

    init(object: [UInt8], contentType: String = "image/jpeg", failures: Int = 0) {
        self.object = object
        self.contentType = contentType
        self.failures = failures
    }

    /// Every request so far, in arrival order.
    var arrivals: [Arrival] { received.withLock { $0 } }

    /// The pauses between consecutive requests.
    var gaps: [Duration] {
        let times = arrivals.map(\.at)
        return zip(times, times.dropFirst()).map { $1 - $0 }
    }

    /// Runs the stub on a free loopback port for the duration of `body`, which gets its endpoint.
    func run(_ body: @escaping @Sendable (String) async throws -> Void) async throws {
        let router = Router()
        router.on("**", method: .head) { _, _ in self.answer(method: "HEAD", range: nil) }
        router.on("**", method: .get) { request, _ in
            self.answer(method: "GET", range: request.headers[.range])
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { server in
            guard let port = server.port else { throw TestEnvironmentError("the stub S3 has no port") }
            try await body("http://127.0.0.1:\(port)")
        }
    }

    private func answer(method: String, range: String?) -> Response {
        let status = received.withLock { arrivals in
            let status = arrivals.count < failures ? 503 : (method == "GET" ? 206 : 200)
            arrivals.append(Arrival(method: method, at: .now, status: status))
            return status
        }
        guard status != 503 else { return Response(status: .serviceUnavailable) }
        var headers: HTTPFields = [.contentType: contentType, .eTag: etag]
        guard method == "GET" else {
            headers[.contentLength] = String(object.count)
            return Response(status: .ok, headers: headers)
        }
        // `bytes=0-N`: the only range the service asks for.
        let last = range.flatMap { Int($0.split(separator: "-").last ?? "") } ?? object.count - 1
        let body = Array(object.prefix(last + 1))
        headers[.contentRange] = "bytes 0-\(body.count - 1)/\(object.count)"
        return Response(status: .partialContent, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

extension StubStorage {
    /// Runs the stub and, against it, the real application on a fresh database (``PhotoWorld``)
    /// with S3 retry pauses of `retryBaseMilliseconds`, twice and four times that.
    func withWorld(
        retryBaseMilliseconds: Int = 1,
        logger: Logger = Logger(label: "test"),
        _ body: @escaping @Sendable (PhotoWorld) async throws -> Void
    ) async throws {
        try await run { endpoint in
            let environment = [
                "AWS_ENDPOINT_URL": endpoint,
                "STORAGE_RETRY_BASE_MS": String(retryBaseMilliseconds),
                "MIN_UPLOAD_BYTES": "16",
                "RATE_LIMIT_PER_MINUTE": "1000",
            ]
            try await PhotoWorld.run(environment: environment, logger: logger, body)
        }
    }
}

extension PhotoWorld {
    /// `POST /api/v1/photos/upload-url` for a photo of `size` bytes in `project`: its id.
    func issueUpload(project: UUID, size: Int, mime: String = "image/jpeg", token: String) async throws -> String {
        let response = try await request(
            .post,
            "/api/v1/photos/upload-url",
            token: token,
            body: Self.uploadBody(project: project, size: size, mime: mime)
        )
        guard response.status == .ok, let photoID = try Self.json(response)["photo_id"] as? String else {
            throw TestEnvironmentError("upload-url answered \(response.status): \(String(buffer: response.body))")
        }
        return photoID
    }

    /// `POST /api/v1/photos/{photo_id}/complete`.
    func complete(_ photoID: String, token: String) async throws -> TestResponse {
        try await request(.post, "/api/v1/photos/\(photoID)/complete", token: token)
    }

    /// The number of rows of `table` (`photo_status_history`, `outbox_events`, ...) whose
    /// `column` is `photoID`.
    func count(_ table: String, where column: String = "photo_id", is photoID: String) throws -> Int {
        try sql("SELECT count(*)::integer AS n FROM \(table) WHERE \(column) = $1::uuid", [photoID]).first?.decode("n")
            ?? -1
    }
}
