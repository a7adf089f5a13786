import AWS
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing

/// The libcurl client against a real HTTP server on loopback (Hummingbird's live test server).
@Suite struct CurlHTTPClientTests {
    private func makeServer() -> some ApplicationProtocol {
        let router = Router()
        router.get("hello") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [.init("X-Custom")!: "yes"],
                body: .init(byteBuffer: ByteBuffer(string: "hi"))
            )
        }
        router.put("echo") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 10_000_000)
            let contentType = request.headers[.contentType] ?? "none"
            return Response(
                status: .created,
                headers: [.init("X-Received-Type")!: contentType],
                body: .init(byteBuffer: body)
            )
        }
        router.get("slow") { _, _ -> String in
            try await Task.sleep(for: .seconds(2))
            return "late"
        }
        router.head("object") { _, _ -> Response in
            Response(status: .ok, headers: [.contentLength: "1234"])
        }
        // Two MiB with a Content-Length: more than the default cap announces itself.
        router.get("large") { _, _ -> Response in
            Response(status: .ok, body: .init(byteBuffer: ByteBuffer(repeating: 0x61, count: 2 * 1024 * 1024)))
        }
        // Chunked, without a Content-Length: only counting the bytes as they arrive finds the end
        // of the cap. Ten chunks of 1000 bytes.
        router.get("chunked") { _, _ -> Response in
            Response(
                status: .ok,
                body: ResponseBody { writer in
                    for _ in 0..<10 {
                        try await writer.write(ByteBuffer(repeating: 0x62, count: 1000))
                    }
                    try await writer.finish(nil)
                }
            )
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    }

    @Test func getReturnsStatusHeadersAndBody() async throws {
        let client = CurlHTTPClient()
        try await makeServer().test(.live) { server in
            let port = try #require(server.port)
            let response = try await client.execute(
                CurlHTTPClient.Request(method: "GET", url: "http://127.0.0.1:\(port)/hello")
            )
            #expect(response.status == 200)
            #expect(response.header("x-custom") == "yes")
            #expect(response.header("X-CUSTOM") == "yes")
            #expect(String(decoding: response.body, as: UTF8.self) == "hi")
            let missing = try await client.execute(
                CurlHTTPClient.Request(method: "GET", url: "http://127.0.0.1:\(port)/nope")
            )
            #expect(missing.status == 404)
        }
        await client.shutdown()
    }

    @Test func putSendsHeadersAndABinaryBody() async throws {
        let client = CurlHTTPClient()
        let body = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try await makeServer().test(.live) { server in
            let port = try #require(server.port)
            let response = try await client.execute(
                CurlHTTPClient.Request(
                    method: "PUT",
                    url: "http://127.0.0.1:\(port)/echo",
                    headers: [("Content-Type", "image/jpeg")],
                    body: body
                )
            )
            #expect(response.status == 201)
            #expect(response.header("x-received-type") == "image/jpeg")
            #expect(response.body == body)
        }
        await client.shutdown()
    }

    @Test func headReadsHeadersWithoutABody() async throws {
        let client = CurlHTTPClient()
        try await makeServer().test(.live) { server in
            let port = try #require(server.port)
            let response = try await client.execute(
                CurlHTTPClient.Request(method: "HEAD", url: "http://127.0.0.1:\(port)/object")
            )
            #expect(response.status == 200)
            #expect(response.header("content-length") == "1234")
            #expect(response.body.isEmpty)
        }
        await client.shutdown()
    }

    /// Issue 13, point 6: no response body is buffered without bound. A body announced longer
    /// than the cap is refused before it is read; one that arrives in chunks is cut at the cap;
    /// one exactly at the cap is read.
    @Test func responseBodiesAreCappedPerRequest() async throws {
        let client = CurlHTTPClient()
        try await makeServer().test(.live) { server in
            let port = try #require(server.port)
            let announced = await #expect(throws: CurlHTTPClientError.self) {
                try await client.execute(CurlHTTPClient.Request(method: "GET", url: "http://127.0.0.1:\(port)/large"))
            }
            #expect(announced?.code == .responseTooLarge)
            let chunked = await #expect(throws: CurlHTTPClientError.self) {
                try await client.execute(
                    CurlHTTPClient.Request(
                        method: "GET",
                        url: "http://127.0.0.1:\(port)/chunked",
                        maximumBodyBytes: 9999
                    )
                )
            }
            #expect(chunked?.code == .responseTooLarge)
            let exact = try await client.execute(
                CurlHTTPClient.Request(method: "GET", url: "http://127.0.0.1:\(port)/chunked", maximumBodyBytes: 10_000)
            )
            #expect(exact.body.count == 10_000)
            let larger = try await client.execute(
                CurlHTTPClient.Request(
                    method: "GET",
                    url: "http://127.0.0.1:\(port)/large",
                    maximumBodyBytes: 2 * 1024 * 1024
                )
            )
            #expect(larger.body.count == 2 * 1024 * 1024)
            // The handle that stopped a transfer is reused and works.
            let after = try await client.execute(
                CurlHTTPClient.Request(method: "GET", url: "http://127.0.0.1:\(port)/hello")
            )
            #expect(String(decoding: after.body, as: UTF8.self) == "hi")
        }
        await client.shutdown()
    }

    @Test func transportFailuresAreTyped() async throws {
        let client = CurlHTTPClient(timeoutMilliseconds: 300)
        let refused = await #expect(throws: CurlHTTPClientError.self) {
            try await client.execute(CurlHTTPClient.Request(method: "GET", url: "http://127.0.0.1:1/"))
        }
        #expect(refused?.code == .connectionFailed)
        try await makeServer().test(.live) { server in
            let port = try #require(server.port)
            let slow = await #expect(throws: CurlHTTPClientError.self) {
                try await client.execute(CurlHTTPClient.Request(method: "GET", url: "http://127.0.0.1:\(port)/slow"))
            }
            #expect(slow?.code == .timedOut)
        }
        await client.shutdown()
    }

    /// A request whose start deadline passes while it waits for the client's only thread is
    /// never sent; one whose deadline is still ahead when the thread is free is.
    @Test func aRequestWaitingPastItsStartDeadlineIsNotSent() async throws {
        let client = CurlHTTPClient(concurrency: 1, timeoutMilliseconds: 10_000)
        let slowArrived = Mutex(false)
        let router = Router()
        router.get("slow") { _, _ -> String in
            slowArrived.withLock { $0 = true }
            try await Task.sleep(for: .seconds(2))
            return "late"
        }
        router.get("hello") { _, _ in "hi" }
        let application = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await application.test(.live) { server in
            let port = try #require(server.port)
            let slow = Task {
                try await client.execute(CurlHTTPClient.Request(method: "GET", url: "http://127.0.0.1:\(port)/slow"))
            }
            // From here the slow request holds the only thread for 2 s more.
            while !slowArrived.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(10)) }
            let late = await #expect(throws: CurlHTTPClientError.self) {
                try await client.execute(
                    CurlHTTPClient.Request(
                        method: "GET",
                        url: "http://127.0.0.1:\(port)/hello",
                        startDeadline: ContinuousClock.now + .milliseconds(300)
                    )
                )
            }
            #expect(late?.code == .notStarted)
            let inTime = try await client.execute(
                CurlHTTPClient.Request(
                    method: "GET",
                    url: "http://127.0.0.1:\(port)/hello",
                    startDeadline: ContinuousClock.now + .seconds(30)
                )
            )
            #expect(inTime.status == 200)
            #expect(try await slow.value.status == 200)
        }
        await client.shutdown()
    }
}
