import AWS
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// `S3ObjectReader` against a local server that ignores `Range` and answers every `GET` with the
/// whole object and 200, as a misconfigured proxy or a non-S3 store might (issue 13, point 6).
@Suite struct S3ObjectReaderRangeTests {
    static let bucket = "range-test"
    /// Object sizes by key.
    static let objects = ["large.jpg": 300_000, "small.jpg": 100]

    private func makeServer() -> some ApplicationProtocol {
        let router = Router()
        router.head("\(Self.bucket)/:key") { _, context -> Response in
            guard let size = context.parameters.get("key").flatMap({ Self.objects[$0] }) else {
                return Response(status: .notFound)
            }
            return Response(
                status: .ok,
                headers: [.contentLength: String(size), .eTag: "\"etag\"", .contentType: "image/jpeg"]
            )
        }
        router.get("\(Self.bucket)/:key") { _, context -> Response in
            guard let size = context.parameters.get("key").flatMap({ Self.objects[$0] }) else {
                return Response(status: .notFound)
            }
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(repeating: 0xFF, count: size)))
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    }

    private func reader(port: Int, http: CurlHTTPClient) throws -> S3ObjectReader {
        let endpoint = try #require(URL(string: "http://127.0.0.1:\(port)"))
        let presigner = S3Presigner(
            region: "us-east-1",
            credentials: AWSCredentials(accessKeyID: "test", secretAccessKey: "test"),
            endpoint: endpoint,
            forcePathStyle: true,
            bucket: Self.bucket
        )
        return S3ObjectReader(presigner: presigner, http: http, retryDelays: [])
    }

    private static func isOversized(_ error: S3ReadError?) -> Bool {
        if case .oversizedResponse = error { true } else { false }
    }

    /// A 200 to the ranged `GET` of an object larger than the range is an error, whether the
    /// body passes the cap (refused as it arrives) or not (refused by its status); a 200 to a
    /// range that covers the whole object is the object.
    @Test func aWholeObjectAnsweredToARangeIsRefusedUnlessTheRangeCoversIt() async throws {
        let http = CurlHTTPClient()
        try await makeServer().test(.live) { server in
            let reader = try reader(port: try #require(server.port), http: http)

            let large = try #require(try await reader.head(key: "large.jpg"))
            #expect(large.size == 300_000)
            let overCap = await #expect(throws: S3ReadError.self) {
                try await reader.readPrefix(key: "large.jpg", of: large, length: 131_072)
            }
            #expect(Self.isOversized(overCap))

            let small = try #require(try await reader.head(key: "small.jpg"))
            let withinCap = await #expect(throws: S3ReadError.self) {
                try await reader.readPrefix(key: "small.jpg", of: small, length: 50)
            }
            #expect(Self.isOversized(withinCap))

            let whole = try await reader.readPrefix(key: "small.jpg", of: small, length: 100)
            #expect(whole == [UInt8](repeating: 0xFF, count: 100))
        }
        await http.shutdown()
    }

    /// The cap of a ranged read: its range, with room for an S3 error document.
    @Test func aRangedReadIsCappedAtItsRange() {
        #expect(S3ObjectReader.maximumBodyBytes(forRangeOf: 16 * 1024 * 1024) == 16 * 1024 * 1024)
        #expect(S3ObjectReader.maximumBodyBytes(forRangeOf: 131_072) == 131_072)
        #expect(S3ObjectReader.maximumBodyBytes(forRangeOf: 16) == 64 * 1024)
    }
}
