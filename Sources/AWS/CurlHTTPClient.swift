import CCurl
import NIOPosix
import Synchronization

extension CurlHTTPClient {
    /// An HTTP request as libcurl sends it.
    public struct Request: Sendable {
        public var method: String
        public var url: String
        /// Header fields in order; names are sent as given.
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]?
        /// Sign with AWS SigV4 headers (libcurl's `CURLOPT_AWS_SIGV4`), for services such as SQS.
        public var signing: AWSSigning?
        /// The latest instant at which the request may start; after it the request fails with
        /// `CurlHTTPClientError.Code.notStarted` and nothing reaches the network.
        ///
        /// Checked on the client's thread right before the transfer, not when `execute` is
        /// called: a request may wait long for a free thread behind others, and a caller whose
        /// reason to send expires (the relay's lease) needs to know that the request reached
        /// the server by this instant plus the client's timeout, or not at all.
        public var startDeadline: ContinuousClock.Instant?
        /// The most response body bytes this request accepts; a longer body ends the transfer
        /// with ``CurlHTTPClientError/Code/responseTooLarge`` instead of growing a buffer without
        /// bound. ``CurlHTTPClient/defaultMaximumBodyBytes`` unless the caller knows better (a
        /// ranged read knows its range).
        public var maximumBodyBytes: Int
        /// This request's overall timeout, when shorter than the client's (metadata endpoints
        /// answer within a second or not at all); `nil` uses the client's.
        public var timeoutMilliseconds: Int?

        public init(
            method: String,
            url: String,
            headers: [(name: String, value: String)] = [],
            body: [UInt8]? = nil,
            signing: AWSSigning? = nil,
            startDeadline: ContinuousClock.Instant? = nil,
            maximumBodyBytes: Int = CurlHTTPClient.defaultMaximumBodyBytes,
            timeoutMilliseconds: Int? = nil
        ) {
            self.method = method
            self.url = url
            self.headers = headers
            self.body = body
            self.signing = signing
            self.startDeadline = startDeadline
            self.maximumBodyBytes = max(0, maximumBodyBytes)
            self.timeoutMilliseconds = timeoutMilliseconds.map { max(1, $0) }
        }
    }

    /// What SigV4 header signing needs; the session token travels as `x-amz-security-token`.
    public struct AWSSigning: Sendable {
        public var region: String
        public var service: String
        public var credentials: AWSCredentials

        public init(region: String, service: String, credentials: AWSCredentials) {
            self.region = region
            self.service = service
            self.credentials = credentials
        }
    }

    /// A complete HTTP response.
    public struct Response: Sendable {
        public init(status: Int, headers: [(name: String, value: String)], body: [UInt8]) {
            self.status = status
            self.headers = headers
            self.body = body
        }

        public let status: Int
        /// Header fields of the final response, names lower-cased.
        public let headers: [(name: String, value: String)]
        public let body: [UInt8]

        /// The first value of the header `name` (case-insensitive).
        public func header(_ name: String) -> String? {
            let lowered = name.lowercased()
            return headers.first { $0.name == lowered }?.value
        }
    }

}

/// A transport failure: no HTTP response at all.
public struct CurlHTTPClientError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        /// DNS, refused connection, TLS handshake: the peer was not reached.
        case connectionFailed
        /// The request took longer than the client's timeout.
        case timedOut
        /// The response body was longer than the request's
        /// ``CurlHTTPClient/Request/maximumBodyBytes``; the transfer was stopped there. Not
        /// transient: the same request would get the same answer.
        case responseTooLarge
        /// Anything else libcurl reports.
        case transfer
        /// The request's `startDeadline` passed before a thread was free: it was never sent.
        case notStarted
    }

    public let code: Code
    /// libcurl's message; it never contains the URL's query string.
    public let message: String

    public var description: String { "\(code): \(message)" }
}

/// HTTP over libcurl, the only module that touches its C API.
///
/// `curl_easy_perform` blocks, so requests run on the client's own `NIOThreadPool` threads,
/// never on an event loop or the cooperative pool. S3, SQS and JWKS calls all go through here.
public final class CurlHTTPClient: Sendable {
    /// The body cap of a request that names none: 1 MiB, far more than a JWKS document, an SQS
    /// answer or an S3 error document needs, and small enough that a misbehaving peer cannot
    /// make a request hold much memory.
    public static let defaultMaximumBodyBytes = 1024 * 1024

    public let timeoutMilliseconds: Int
    public let connectTimeoutMilliseconds: Int
    private let threadPool: NIOThreadPool
    /// Idle easy handles. Reusing a handle reuses its open connections (keep-alive), which
    /// saves a TCP (and TLS) handshake per request and keeps sockets out of TIME_WAIT.
    private let idleHandles = HandleCache()

    /// - Parameter concurrency: requests in flight at once (one thread each).
    public init(concurrency: Int = 8, timeoutMilliseconds: Int = 30_000, connectTimeoutMilliseconds: Int = 5_000) {
        _ = curlGlobalInitialization
        self.timeoutMilliseconds = timeoutMilliseconds
        self.connectTimeoutMilliseconds = connectTimeoutMilliseconds
        self.threadPool = NIOThreadPool(numberOfThreads: concurrency)
        threadPool.start()
    }

    public func shutdown() async {
        try? await threadPool.shutdownGracefully()
    }

    public func execute(_ request: CurlHTTPClient.Request) async throws -> CurlHTTPClient.Response {
        let timeout = min(request.timeoutMilliseconds ?? timeoutMilliseconds, timeoutMilliseconds)
        let connectTimeout = min(connectTimeoutMilliseconds, timeout)
        return try await threadPool.runIfActive { [idleHandles] in
            if let deadline = request.startDeadline, ContinuousClock.now > deadline {
                throw CurlHTTPClientError(
                    code: .notStarted,
                    message: "the start deadline passed before a thread was free"
                )
            }
            guard let curlHandle = idleHandles.take() ?? CurlHandle() else {
                throw CurlHTTPClientError(code: .transfer, message: "curl_easy_init failed")
            }
            defer { idleHandles.give(back: curlHandle) }
            curl_easy_reset(curlHandle.pointer)
            return try Self.perform(
                request,
                on: curlHandle.pointer,
                timeoutMilliseconds: timeout,
                connectTimeoutMilliseconds: connectTimeout
            )
        }
    }

    private static func perform(
        _ request: CurlHTTPClient.Request,
        on handle: UnsafeMutableRawPointer,
        timeoutMilliseconds: Int,
        connectTimeoutMilliseconds: Int
    ) throws -> CurlHTTPClient.Response {

        let accumulator = ResponseAccumulator(maximumBodyBytes: request.maximumBodyBytes)
        let context = Unmanaged.passUnretained(accumulator).toOpaque()
        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }
        for header in request.headers {
            headerList = curl_slist_append(headerList, "\(header.name): \(header.value)")
        }
        // libcurl adds "Expect: 100-continue" to larger uploads, costing a round trip.
        headerList = curl_slist_append(headerList, "Expect:")
        if let signing = request.signing {
            if let token = signing.credentials.sessionToken {
                headerList = curl_slist_append(headerList, "x-amz-security-token: \(token)")
            }
            ccurl_easy_setopt_string(handle, CURLOPT_AWS_SIGV4, "aws:amz:\(signing.region):\(signing.service)")
            ccurl_easy_setopt_string(handle, CURLOPT_USERNAME, signing.credentials.accessKeyID)
            ccurl_easy_setopt_string(handle, CURLOPT_PASSWORD, signing.credentials.secretAccessKey)
        }

        ccurl_easy_setopt_string(handle, CURLOPT_URL, request.url)
        ccurl_easy_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        ccurl_easy_setopt_long(handle, CURLOPT_TIMEOUT_MS, timeoutMilliseconds)
        ccurl_easy_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, connectTimeoutMilliseconds)
        ccurl_easy_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList)
        ccurl_easy_setopt_data_callback(handle, CURLOPT_WRITEFUNCTION) { data, size, count, context in
            guard let context else { return 0 }
            let accumulator = Unmanaged<ResponseAccumulator>.fromOpaque(context).takeUnretainedValue()
            // Returning fewer bytes than were handed over makes libcurl stop with CURLE_WRITE_ERROR.
            guard accumulator.addBody(UnsafeRawBufferPointer(start: data, count: size * count)) else { return 0 }
            return size * count
        }
        ccurl_easy_setopt_pointer(handle, CURLOPT_WRITEDATA, context)
        ccurl_easy_setopt_data_callback(handle, CURLOPT_HEADERFUNCTION) { data, size, count, context in
            guard let context else { return 0 }
            let accumulator = Unmanaged<ResponseAccumulator>.fromOpaque(context).takeUnretainedValue()
            accumulator.addHeaderLine(UnsafeRawBufferPointer(start: data, count: size * count))
            return size * count
        }
        ccurl_easy_setopt_pointer(handle, CURLOPT_HEADERDATA, context)

        switch request.method {
        case "GET": break
        case "HEAD": ccurl_easy_setopt_long(handle, CURLOPT_NOBODY, 1)
        default: ccurl_easy_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method)
        }
        // A body announced longer than the cap is refused before any of it is read; the write
        // callback enforces the cap for bodies without a Content-Length. Not for HEAD, whose
        // Content-Length describes a body that is never sent. (0 would mean "no limit" here.)
        if request.method != "HEAD", request.maximumBodyBytes > 0 {
            ccurl_easy_setopt_off_t(handle, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(request.maximumBodyBytes))
        }

        let code: CURLcode = try withExtendedLifetime(accumulator) {
            if let body = request.body {
                return body.withUnsafeBytes { bytes in
                    ccurl_easy_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bytes.count))
                    ccurl_easy_setopt_pointer(
                        handle,
                        CURLOPT_POSTFIELDS,
                        UnsafeMutableRawPointer(mutating: bytes.baseAddress)
                    )
                    return curl_easy_perform(handle)
                }
            }
            return curl_easy_perform(handle)
        }
        guard code == CURLE_OK else {
            let message = String(cString: curl_easy_strerror(code))
            if code == CURLE_FILESIZE_EXCEEDED || (code == CURLE_WRITE_ERROR && accumulator.bodyExceeded) {
                throw CurlHTTPClientError(
                    code: .responseTooLarge,
                    message: "the response body is longer than \(request.maximumBodyBytes) bytes"
                )
            }
            switch code {
            case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY,
                CURLE_SSL_CONNECT_ERROR,
                CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING:
                throw CurlHTTPClientError(code: .connectionFailed, message: message)
            case CURLE_OPERATION_TIMEDOUT:
                throw CurlHTTPClientError(code: .timedOut, message: message)
            default:
                throw CurlHTTPClientError(code: .transfer, message: message)
            }
        }
        var status = 0
        ccurl_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return CurlHTTPClient.Response(status: status, headers: accumulator.headers, body: accumulator.body)
    }
}

/// Owns one libcurl easy handle.
private final class CurlHandle: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer

    init?() {
        guard let pointer = curl_easy_init() else { return nil }
        self.pointer = pointer
    }

    deinit {
        curl_easy_cleanup(pointer)
    }
}

/// The idle handles, shared by the client's threads.
private final class HandleCache: Sendable {
    private let handles = Mutex<[CurlHandle]>([])

    func take() -> CurlHandle? { handles.withLock { $0.popLast() } }

    func give(back handle: CurlHandle) { handles.withLock { $0.append(handle) } }
}

/// Collects one transfer's headers and body inside libcurl's callbacks (same thread).
private final class ResponseAccumulator {
    let maximumBodyBytes: Int
    var headers: [(name: String, value: String)] = []
    var body: [UInt8] = []
    /// Whether the body went past ``maximumBodyBytes`` (and the transfer was stopped).
    var bodyExceeded = false

    init(maximumBodyBytes: Int) {
        self.maximumBodyBytes = maximumBodyBytes
    }

    /// Appends `bytes` to the body unless that would pass the cap; `false` stops the transfer.
    func addBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count <= maximumBodyBytes - body.count else {
            bodyExceeded = true
            return false
        }
        body.append(contentsOf: bytes)
        return true
    }

    func addHeaderLine(_ bytes: UnsafeRawBufferPointer) {
        switch CurlHeaderLine(bytes) {
        case .statusLine:
            // A status line starts each response (also after a redirect or 100 Continue):
            // keep only the final response's fields.
            headers = []
        case .field(let name, let value):
            headers.append((name, value))
        case .other:
            break
        }
    }
}

/// `curl_global_init` is not thread-safe; a global's lazy initialiser runs exactly once.
private let curlGlobalInitialization: Void = {
    curl_global_init(Int(CURL_GLOBAL_DEFAULT))
}()

extension String {
    fileprivate func trimmingCharacters(in set: Set<Character>) -> String {
        String(drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Set<Character>) -> String {
        String(self).trimmingCharacters(in: set)
    }
}
