import AWS
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization
import TestSupport

/// A reverse proxy in front of the tests' S3 server that counts the requests it forwards, by
/// method, so a test can tell how many S3 reads the service made.
///
/// It can also hold every `HEAD` for a while before forwarding it: calls that do not share a
/// confirmation then all reach S3 before the first one finishes, so a test of the sharing does
/// not depend on how fast the machine is to catch its absence.
final class CountingS3Proxy: Sendable {
    let upstream: String
    private let http = CurlHTTPClient(concurrency: 8, timeoutMilliseconds: 15_000)
    private let counts = Mutex<[String: Int]>([:])
    private let headDelay = Mutex<Duration>(.zero)

    init(upstream: String) {
        self.upstream = upstream
    }

    /// Requests forwarded with `method` since the last ``reset()``.
    func count(_ method: String) -> Int {
        counts.withLock { $0[method, default: 0] }
    }

    /// Starts counting from zero.
    func reset() {
        counts.withLock { $0 = [:] }
    }

    /// Holds each `HEAD` this long from now on.
    func holdHeads(for delay: Duration) {
        headDelay.withLock { $0 = delay }
    }

    /// Runs `body` with the proxy listening on loopback; `body` gets its endpoint.
    func withRunning(_ body: @escaping @Sendable (String) async throws -> Void) async throws {
        let router = Router()
        for method in [HTTPRequest.Method.get, .head, .put, .post, .delete] {
            router.on("**", method: method) { request, _ in
                try await self.forward(request)
            }
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        do {
            try await app.test(.live) { client in
                guard let port = client.port else { throw TestEnvironmentError("the S3 proxy has no port") }
                try await body("http://127.0.0.1:\(port)")
            }
        } catch {
            await http.shutdown()
            throw error
        }
        await http.shutdown()
    }

    /// Fields libcurl and Hummingbird set themselves for each hop.
    private static let hopFields: Set<String> = ["host", "content-length", "transfer-encoding", "connection", "expect"]

    private func forward(_ request: Request) async throws -> Response {
        let method = request.method.rawValue
        counts.withLock { $0[method, default: 0] += 1 }
        if request.method == .head {
            let delay = headDelay.withLock { $0 }
            if delay > .zero { try await Task.sleep(for: delay) }
        }
        let body = try await request.body.collect(upTo: 64 * 1024 * 1024)
        let headers = request.headers.compactMap { field -> (name: String, value: String)? in
            Self.hopFields.contains(field.name.canonicalName) ? nil : (field.name.rawName, field.value)
        }
        let answer = try await http.execute(
            .init(
                method: method,
                url: upstream + request.uri.description,
                headers: headers,
                body: body.readableBytes > 0 || request.method == .put ? Array(body.readableBytesView) : nil,
                maximumBodyBytes: 64 * 1024 * 1024
            )
        )
        var fields = HTTPFields()
        for (name, value) in answer.headers {
            // A HEAD answer keeps its Content-Length: it describes the object.
            if Self.hopFields.contains(name), !(name == "content-length" && request.method == .head) { continue }
            if let fieldName = HTTPField.Name(name) { fields.append(HTTPField(name: fieldName, value: value)) }
        }
        return Response(
            status: HTTPResponse.Status(code: answer.status),
            headers: fields,
            body: .init(byteBuffer: ByteBuffer(bytes: answer.body))
        )
    }
}
