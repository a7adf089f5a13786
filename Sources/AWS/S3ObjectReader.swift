import Foundation
import Metrics
import Tracing

/// Reads what `photo-api` needs to confirm an upload: an object's size, type, `ETag` and version
/// (`HEAD`) and its first bytes (a `Range` `GET`), never the whole object.
///
/// The `GET` reads the object the `HEAD` described, or nothing: it is conditional on the HEAD's
/// `ETag` (`If-Match`) and, in a versioned bucket, addresses the HEAD's version, so bytes
/// replaced between the two are refused (``S3ReadError/changed``) instead of being validated
/// in the place of the ones HEAD measured.
///
/// Requests are SigV4 header-signed by ``S3Presigner/signHeaders(method:key:headers:now:)``
/// (equal to botocore's `S3SigV4Auth`) and sent through ``CurlHTTPClient``. libcurl 7.88's own
/// `CURLOPT_AWS_SIGV4` does not send or sign the `x-amz-content-sha256` header S3 requires, so
/// it is not used for S3.
///
/// Every response body is capped (``CurlHTTPClient/Request/maximumBodyBytes``): a ranged `GET`
/// accepts its range (or an error document), anything else ``CurlHTTPClient/defaultMaximumBodyBytes``.
/// A server that ignores the range and sends the whole object is stopped at the cap and
/// refused (``S3ReadError/oversizedResponse(_:)``), never buffered whole.
///
/// Transient failures (connection errors, timeouts, 5xx, 429) are retried after each of
/// `retryDelays`; when they run out the call throws ``S3ReadError/unavailable(_:)``, which the
/// API answers with `503 storage_unavailable`.
public struct S3ObjectReader: Sendable {
    /// What `HEAD` says about an object.
    public struct ObjectInfo: Sendable, Equatable {
        public let size: Int
        /// `Content-Type` without parameters, lowercased; `nil` when S3 sent none.
        public let contentType: String?
        /// The `ETag` exactly as S3 sent it, quotes included: what `If-Match` must repeat.
        public let etag: String
        /// `x-amz-version-id`: the object's version in a versioned bucket. `nil` in a bucket that
        /// was never versioned, and for the `null` version of a suspended one, which the next
        /// plain PUT overwrites in place and so names nothing stable.
        public let versionID: String?

        public init(size: Int, contentType: String?, etag: String, versionID: String?) {
            self.size = size
            self.contentType = contentType
            self.etag = etag
            self.versionID = versionID
        }
    }

    /// Signs each try with the credentials current at that moment.
    public let presigners: S3PresignerSource
    public let http: CurlHTTPClient
    public let retryDelays: [Duration]
    /// Each try's operation, outcome and latency (`aws_client_requests_total{service="s3"}`).
    let metrics: AWSRequestMetrics

    /// - Parameter retryDelays: the pauses before the second, third, ... try; the contract's
    ///   `[1 s, 2 s, 4 s]` by default.
    public init(
        presigners: S3PresignerSource,
        http: CurlHTTPClient,
        retryDelays: [Duration] = [.seconds(1), .seconds(2), .seconds(4)],
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        self.presigners = presigners
        self.http = http
        self.retryDelays = retryDelays
        self.metrics = AWSRequestMetrics(
            service: "s3",
            operations: ["HeadObject", "GetObject", "ListObjectVersions", "DeleteObject"],
            factory: metricsFactory
        )
    }

    /// A reader that signs with one presigner's fixed credentials.
    public init(
        presigner: S3Presigner,
        http: CurlHTTPClient,
        retryDelays: [Duration] = [.seconds(1), .seconds(2), .seconds(4)]
    ) {
        self.init(presigners: S3PresignerSource(fixed: presigner), http: http, retryDelays: retryDelays)
    }

    /// The object's size, type, `ETag` and version, or `nil` when there is no object at `key`.
    public func head(key: String) async throws(S3ReadError) -> ObjectInfo? {
        let response = try await send(method: "HEAD", key: key, query: [], headers: [])
        switch response.status {
        case 200:
            guard let lengthText = response.header("Content-Length"), let size = Int(lengthText), size >= 0 else {
                throw .unavailable("HEAD \(key) answered without a usable Content-Length")
            }
            // S3 always sends one; without it the read that follows could not be conditional.
            guard let etag = response.header("ETag"), !etag.isEmpty else {
                throw .unavailable("HEAD \(key) answered without an ETag")
            }
            let version = response.header("x-amz-version-id").flatMap { $0.isEmpty || $0 == "null" ? nil : $0 }
            return ObjectInfo(
                size: size,
                contentType: response.header("Content-Type").map(Self.mediaType),
                etag: etag,
                versionID: version
            )
        case 404:
            return nil
        default:
            throw .unavailable("HEAD \(key) answered \(response.status)")
        }
    }

    /// The first `length` bytes (fewer when the object is shorter) of the object `object`
    /// describes: its version when it has one, and only while its `ETag` is still `object.etag`.
    ///
    /// - Throws: ``S3ReadError/changed`` when S3 answers 412 (the bytes at `key` are no longer
    ///   the ones `HEAD` described); ``S3ReadError/notFound`` when the object (or its version)
    ///   is gone.
    ///   ``S3ReadError/oversizedResponse(_:)`` when S3 answers with more than the range: a `200`
    ///   (the whole object) to the ranged `GET` of an object longer than `length`, read no
    ///   further than ``maximumBodyBytes(forRangeOf:)``.
    public func readPrefix(key: String, of object: ObjectInfo, length: Int) async throws(S3ReadError) -> [UInt8] {
        precondition(length > 0, "a range needs at least one byte")
        let response = try await send(
            method: "GET",
            key: key,
            query: object.versionID.map { [("versionId", $0)] } ?? [],
            headers: [("If-Match", object.etag), ("Range", "bytes=0-\(length - 1)")],
            maximumBodyBytes: Self.maximumBodyBytes(forRangeOf: length)
        )
        switch response.status {
        case 206:
            return Array(response.body.prefix(length))
        case 200 where object.size <= length:
            // The range covers the whole object, and a server may answer such a range in full.
            return Array(response.body.prefix(length))
        case 200:
            // The range was ignored: the whole object is coming, which is what a ranged read
            // exists to avoid. The body cap already stopped the transfer when it was long.
            throw .oversizedResponse(
                "GET \(key) answered 200 instead of 206 to a range of \(length) of \(object.size) bytes"
            )
        case 412:
            throw .changed
        case 404:
            throw .notFound
        default:
            throw .unavailable("GET \(key) answered \(response.status)")
        }
    }

    /// The most body bytes a ranged read of `length` bytes accepts: the range, or enough for an
    /// S3 error document (a 412 or 404 answer to a short range is longer than the range).
    public static func maximumBodyBytes(forRangeOf length: Int) -> Int {
        max(length, errorDocumentAllowance)
    }

    /// Room for an S3 error document, whatever the range.
    static let errorDocumentAllowance = 64 * 1024

    /// Sends one signed request, retrying transient failures (``S3ObjectRemover`` sends its
    /// requests through here too). `key` is empty for a request on the bucket itself.
    func send(
        method: String,
        key: String,
        query: [(name: String, value: String)],
        headers: [(name: String, value: String)],
        maximumBodyBytes: Int = CurlHTTPClient.defaultMaximumBodyBytes
    ) async throws(S3ReadError) -> CurlHTTPClient.Response {
        // One client span per operation, retries included (no-op unless spans are exported).
        let span = startSpan(Self.spanName(method: method, key: key), ofKind: .client)
        defer { span.end() }
        if span.isRecording {
            span.attributes["rpc.system"] = "aws-api"
            span.attributes["rpc.service"] = "S3"
        }
        do {
            let response = try await sendWithRetries(
                method: method,
                key: key,
                query: query,
                headers: headers,
                maximumBodyBytes: maximumBodyBytes
            )
            if span.isRecording { span.attributes["http.response.status_code"] = Int64(response.status) }
            return response
        } catch {
            span.recordError(error)
            throw error
        }
    }

    /// The S3 operation of a request, as its span is named.
    static func spanName(method: String, key: String) -> String {
        switch method {
        case "HEAD": "S3 HeadObject"
        case "DELETE": "S3 DeleteObject"
        case "GET" where key.isEmpty: "S3 ListObjectVersions"
        default: "S3 GetObject"
        }
    }

    private func sendWithRetries(
        method: String,
        key: String,
        query: [(name: String, value: String)],
        headers: [(name: String, value: String)],
        maximumBodyBytes: Int
    ) async throws(S3ReadError) -> CurlHTTPClient.Response {
        var lastProblem = ""
        for attempt in 0...retryDelays.count {
            if attempt > 0 {
                do {
                    try await Task.sleep(for: retryDelays[attempt - 1])
                } catch {
                    throw .unavailable("cancelled while waiting to retry: \(lastProblem)")
                }
            }
            // Signed afresh for each try: a retry after a long pause must not carry an old date,
            // and credentials refreshed meanwhile are used.
            let current: S3PresignerSource.Current
            do {
                current = try await presigners.current()
            } catch {
                lastProblem = error.description
                continue
            }
            do {
                var response = try await signAndSend(
                    current.presigner,
                    method: method,
                    key: key,
                    query: query,
                    headers: headers,
                    maximumBodyBytes: maximumBodyBytes
                )
                // A 403 may mean the credentials were revoked or expired early: one forced
                // refresh, and when it brings other credentials one immediate retry with them.
                if response.status == 403, let used = current.credentials, let cache = presigners.credentials,
                    await cache.refreshAfterRejection(of: used),
                    let renewed = try? await presigners.current()
                {
                    response = try await signAndSend(
                        renewed.presigner,
                        method: method,
                        key: key,
                        query: query,
                        headers: headers,
                        maximumBodyBytes: maximumBodyBytes
                    )
                }
                guard Self.isTransient(status: response.status) else { return response }
                lastProblem = "\(method) answered \(response.status)"
            } catch let error as CurlHTTPClientError where error.code == .responseTooLarge {
                // The same request would get the same answer: not worth a retry.
                throw .oversizedResponse("\(method) \(key): \(error.message)")
            } catch let error as CurlHTTPClientError {
                lastProblem = error.description
            } catch {
                lastProblem = "\(error)"
            }
        }
        throw .unavailable("\(method) \(key) failed \(retryDelays.count + 1) times; last: \(lastProblem)")
    }

    /// Signs the request with `presigner` now and sends it once.
    private func signAndSend(
        _ presigner: S3Presigner,
        method: String,
        key: String,
        query: [(name: String, value: String)],
        headers: [(name: String, value: String)],
        maximumBodyBytes: Int
    ) async throws -> CurlHTTPClient.Response {
        let signed = presigner.signHeaders(method: method, path: key, query: query, headers: headers, now: Date())
        return try await metrics.execute(
            String(Self.spanName(method: method, key: key).dropFirst("S3 ".count)),
            .init(method: method, url: signed.url, headers: signed.headers, maximumBodyBytes: maximumBodyBytes),
            on: http
        )
    }

    static func isTransient(status: Int) -> Bool {
        status == 429 || status >= 500
    }

    /// `image/jpeg; charset=binary` → `image/jpeg`.
    static func mediaType(_ contentType: String) -> String {
        let type = contentType.split(separator: ";", maxSplits: 1).first ?? ""
        return type.trimmingCharacters(in: .whitespaces).lowercased()
    }
}

/// Why an S3 read failed.
public enum S3ReadError: Error, Sendable, Equatable {
    /// The object disappeared between `HEAD` and `GET`.
    case notFound
    /// The object was replaced between `HEAD` and `GET` (S3 answered 412 to `If-Match`).
    case changed
    /// S3 could not be reached or kept failing; retry later.
    case unavailable(String)
    /// S3 answered with more than was asked for: a `200` with the whole object to a ranged `GET`
    /// of a larger object, or a body longer than the request's cap. The transfer was stopped at
    /// the cap and nothing was decided about the object; a retry would get the same answer.
    case oversizedResponse(String)
}
