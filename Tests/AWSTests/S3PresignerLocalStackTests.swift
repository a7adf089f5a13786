import Digest
import Foundation
import TestSupport
import Testing

@testable import AWS

/// The S3 of `AWS_ENDPOINT_URL[_S3]`: LocalStack with signature validation on
/// (`S3_SKIP_SIGNATURE_VALIDATION=0`), which enforces pre-signed URLs as S3 does. Shared by the
/// presigner's and the object reader's LocalStack tests.
struct LocalS3: Sendable {
    let endpoint: URL
    let region: String
    let credentials: AWSCredentials
    let http = CurlHTTPClient(concurrency: 2, timeoutMilliseconds: 15_000)
    let bucket = "presigner-\(UUID().uuidString.lowercased().prefix(13))"

    /// Runs `body` with a fresh bucket and shuts the client down when it ends, however it ends.
    static func with(_ body: (LocalS3) async throws -> Void) async throws {
        let s3 = try await start()
        do {
            try await body(s3)
        } catch {
            await s3.shutdown()
            throw error
        }
        await s3.shutdown()
    }

    /// Reads the environment and creates a fresh bucket; throws (the test fails) without LocalStack.
    private static func start() async throws -> LocalS3 {
        let environment = ProcessInfo.processInfo.environment
        guard let text = environment["AWS_ENDPOINT_URL_S3"] ?? environment["AWS_ENDPOINT_URL"], !text.isEmpty else {
            throw PresignerTestError(
                "AWS_ENDPOINT_URL is not set: this .localstack test needs LocalStack with S3 signature validation "
                    + "(scripts/test.sh --with-localstack starts it); it does not pass without it"
            )
        }
        guard let endpoint = URL(string: text), endpoint.host != nil else {
            throw PresignerTestError("AWS_ENDPOINT_URL is not a URL: \(text)")
        }
        let s3 = LocalS3(
            endpoint: endpoint,
            region: environment["AWS_REGION"] ?? "us-east-1",
            credentials: AWSCredentials(
                accessKeyID: environment["AWS_ACCESS_KEY_ID"] ?? "test",
                secretAccessKey: environment["AWS_SECRET_ACCESS_KEY"] ?? "test",
                sessionToken: environment["AWS_SESSION_TOKEN"]
            )
        )
        var body: [UInt8] = []
        if s3.region != "us-east-1" {
            body = Array(
                "<CreateBucketConfiguration><LocationConstraint>\(s3.region)</LocationConstraint></CreateBucketConfiguration>"
                    .utf8
            )
        }
        do {
            let created = try await s3.http.execute(
                CurlHTTPClient.Request(
                    method: "PUT",
                    url: "\(s3.baseURL)/\(s3.bucket)",
                    body: body.isEmpty ? nil : body,
                    signing: s3.signing
                )
            )
            guard created.status == 200 else {
                throw PresignerTestError(
                    "creating bucket \(s3.bucket) at \(text): HTTP \(created.status) \(created.text)"
                )
            }
        } catch {
            await s3.shutdown()
            throw error
        }
        return s3
    }

    var baseURL: String {
        var text = endpoint.absoluteString
        while text.hasSuffix("/") { text.removeLast() }
        return text
    }

    var signing: CurlHTTPClient.AWSSigning {
        CurlHTTPClient.AWSSigning(region: region, service: "s3", credentials: credentials)
    }

    /// Path style, as LocalStack on 127.0.0.1 needs (and the configuration defaults to with an override).
    var presigner: S3Presigner {
        S3Presigner(region: region, credentials: credentials, endpoint: endpoint, forcePathStyle: true, bucket: bucket)
    }

    /// Turns versioning on for the bucket (`PutBucketVersioning`). The XML type is said explicitly:
    /// libcurl would otherwise label the body a form, which LocalStack then reads as one.
    func enableVersioning() async throws {
        let body =
            #"<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#
            + "<Status>Enabled</Status></VersioningConfiguration>"
        let response = try await http.execute(
            CurlHTTPClient.Request(
                method: "PUT",
                url: "\(baseURL)/\(bucket)?versioning",
                headers: [("Content-Type", "application/xml")],
                body: Array(body.utf8),
                signing: signing
            )
        )
        guard response.status == 200 else {
            throw PresignerTestError("PutBucketVersioning on \(bucket): HTTP \(response.status) \(response.text)")
        }
    }

    /// Stores `body` at `key` through a pre-signed PUT, as a client does.
    func store(_ body: [UInt8], at key: String, contentType: String = "image/jpeg") async throws {
        let request = presigner.presignPut(
            key: key,
            contentType: contentType,
            contentLength: body.count,
            checksumSHA256: nil,
            expiresIn: 900,
            now: Date()
        )
        let response = try await put(request.url, headers: request.headers, body: body)
        guard response.status == 200 else {
            throw PresignerTestError("PUT \(key): \(response.summary)")
        }
    }

    func put(
        _ url: String,
        headers: [(name: String, value: String)],
        body: [UInt8]
    ) async throws
        -> CurlHTTPClient.Response
    {
        try await http.execute(CurlHTTPClient.Request(method: "PUT", url: url, headers: headers, body: body))
    }

    /// Every key in the bucket, read through ListObjectsV2 (header-signed by libcurl), so the
    /// stored key is seen as S3 reports it, independently of how we encode it.
    func keys() async throws -> [String] {
        let response = try await http.execute(
            CurlHTTPClient.Request(method: "GET", url: "\(baseURL)/\(bucket)?list-type=2", signing: signing)
        )
        guard response.status == 200 else {
            throw PresignerTestError("listing \(bucket): HTTP \(response.status) \(response.text)")
        }
        return response.text.components(separatedBy: "<Key>").dropFirst().map { part in
            let raw = part.components(separatedBy: "</Key>")[0]
            return
                raw
                .replacingOccurrences(of: "&lt;", with: "<")
                .replacingOccurrences(of: "&gt;", with: ">")
                .replacingOccurrences(of: "&quot;", with: "\"")
                .replacingOccurrences(of: "&apos;", with: "'")
                .replacingOccurrences(of: "&amp;", with: "&")
        }
    }

    func shutdown() async {
        await http.shutdown()
    }
}

extension CurlHTTPClient.Response {
    var text: String { String(decoding: body, as: UTF8.self) }

    /// The `<Code>` of an S3 error document.
    var errorCode: String? {
        guard let start = text.range(of: "<Code>"),
            let end = text.range(of: "</Code>", range: start.upperBound..<text.endIndex)
        else { return nil }
        return String(text[start.upperBound..<end.lowerBound])
    }

    var summary: String { "HTTP \(status) \(errorCode ?? String(text.prefix(200)))" }
}

func photoBytes(_ count: Int, seed: UInt8 = 7) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
}

private func base64SHA256(_ bytes: [UInt8]) -> String {
    Data(SHA256.hash(bytes)).base64EncodedString()
}

/// S3 (LocalStack, signature validation on) enforces what the pre-signed URL signs: the
/// key, the content type, the length, the expiry and, when given, the body's SHA-256.
/// The answers LocalStack gives are asserted exactly (they are the ones S3 gives).
@Suite(.tags(.localstack), .requiresLocalStack) struct S3PresignerLocalStackTests {
    @Test func uploadWithTheReturnedHeadersStoresTheObjectAtTheKey() async throws {
        try await LocalS3.with { s3 in
            let signer = s3.presigner
            let projectID = UUID().uuidString.lowercased()
            let photoID = UUID().uuidString.lowercased()
            let uploads: [(key: String, type: String, body: [UInt8], checksum: Bool)] = [
                ("\(projectID)/2026/11/25/\(photoID).jpg", "image/jpeg", photoBytes(4096), false),
                ("\(projectID)/2026/11/25/\(photoID).png", "image/png", photoBytes(2048, seed: 3), true),
                (
                    "odd keys/with space+plus%25 100% \u{FC}mlaut-\u{5199}\u{771F}~_-.jpg", "image/jpeg",
                    photoBytes(1500),
                    false
                ),
            ]
            for upload in uploads {
                let request = signer.presignPut(
                    key: upload.key,
                    contentType: upload.type,
                    contentLength: upload.body.count,
                    checksumSHA256: upload.checksum ? base64SHA256(upload.body) : nil,
                    expiresIn: 900,
                    now: Date()
                )
                let response = try await s3.put(request.url, headers: request.headers, body: upload.body)
                #expect(response.status == 200, "\(upload.key): \(response.summary)")

                // Read back through our own pre-signed HEAD and GET (botocore-checked too).
                let head = try await s3.http.execute(
                    CurlHTTPClient.Request(
                        method: "HEAD",
                        url: signer.presign(method: "HEAD", key: upload.key, expiresIn: 60, now: Date()).url
                    )
                )
                #expect(head.status == 200, "\(upload.key)")
                #expect(head.header("content-type") == upload.type)
                #expect(head.header("content-length") == String(upload.body.count))
                let get = try await s3.http.execute(
                    CurlHTTPClient.Request(
                        method: "GET",
                        url: signer.presign(method: "GET", key: upload.key, expiresIn: 60, now: Date()).url
                    )
                )
                #expect(get.status == 200)
                #expect(get.body == upload.body, "\(upload.key): stored bytes differ")
            }
            #expect(Set(try await s3.keys()) == Set(uploads.map(\.key)))
        }
    }

    @Test func aDifferentContentTypeIsRefused() async throws {
        try await LocalS3.with { s3 in
            let body = photoBytes(2048)
            let request = s3.presigner.presignPut(
                key: "p/type.jpg",
                contentType: "image/jpeg",
                contentLength: body.count,
                checksumSHA256: nil,
                expiresIn: 900,
                now: Date()
            )
            let headers = request.headers.map { $0.name == "Content-Type" ? ($0.name, "image/png") : $0 }
            let response = try await s3.put(request.url, headers: headers, body: body)
            #expect(response.status == 403 && response.errorCode == "SignatureDoesNotMatch", "\(response.summary)")
            #expect(try await s3.keys().isEmpty)
        }
    }

    @Test func aDifferentLengthIsRefused() async throws {
        try await LocalS3.with { s3 in
            let request = s3.presigner.presignPut(
                key: "p/length.jpg",
                contentType: "image/jpeg",
                contentLength: 2048,
                checksumSHA256: nil,
                expiresIn: 900,
                now: Date()
            )
            for length in [2049, 2047] {
                let headers = request.headers.map { $0.name == "Content-Length" ? ($0.name, String(length)) : $0 }
                let response = try await s3.put(request.url, headers: headers, body: photoBytes(length))
                #expect(
                    response.status == 403 && response.errorCode == "SignatureDoesNotMatch",
                    "\(length): \(response.summary)"
                )
            }
            #expect(try await s3.keys().isEmpty)
        }
    }

    @Test func aTamperedURLIsRefused() async throws {
        try await LocalS3.with { s3 in
            let body = photoBytes(2048)
            let request = s3.presigner.presignPut(
                key: "p/original.jpg",
                contentType: "image/jpeg",
                contentLength: body.count,
                checksumSHA256: nil,
                expiresIn: 900,
                now: Date()
            )
            var flipped = request.url
            let last = flipped.removeLast()
            flipped.append(last == "0" ? "1" : "0")
            let tampered = [
                ("signature", flipped),
                ("key", request.url.replacingOccurrences(of: "/p/original.jpg?", with: "/p/other.jpg?")),
                ("expiry", request.url.replacingOccurrences(of: "X-Amz-Expires=900", with: "X-Amz-Expires=9000")),
            ]
            for (what, url) in tampered {
                #expect(url != request.url)
                let response = try await s3.put(url, headers: request.headers, body: body)
                #expect(
                    response.status == 403 && response.errorCode == "SignatureDoesNotMatch",
                    "\(what): \(response.summary)"
                )
            }
            #expect(try await s3.keys().isEmpty)
            // The untampered URL still works: the refusals were about the changes.
            let response = try await s3.put(request.url, headers: request.headers, body: body)
            #expect(response.status == 200, "\(response.summary)")
        }
    }

    @Test func anExpiredURLIsRefused() async throws {
        try await LocalS3.with { s3 in
            let body = photoBytes(2048)
            let request = s3.presigner.presignPut(
                key: "p/late.jpg",
                contentType: "image/jpeg",
                contentLength: body.count,
                checksumSHA256: nil,
                expiresIn: 1,
                now: Date()
            )
            try await Task.sleep(for: .seconds(2.2))
            let response = try await s3.put(request.url, headers: request.headers, body: body)
            #expect(response.status == 403 && response.errorCode == "AccessDenied", "\(response.summary)")
            #expect(response.text.contains("Request has expired"), "\(response.text)")
            #expect(try await s3.keys().isEmpty)
        }
    }

    @Test func aChecksumMakesS3VerifyTheBytes() async throws {
        try await LocalS3.with { s3 in
            let declared = photoBytes(2048)
            let other = photoBytes(2048, seed: 99)  // same length and type: only the checksum can tell
            let request = s3.presigner.presignPut(
                key: "p/checked.jpg",
                contentType: "image/jpeg",
                contentLength: declared.count,
                checksumSHA256: base64SHA256(declared),
                expiresIn: 900,
                now: Date()
            )
            let refused = try await s3.put(request.url, headers: request.headers, body: other)
            #expect(refused.status == 400 && refused.errorCode == "BadDigest", "\(refused.summary)")
            // Leaving the signed checksum header out does not get around it.
            let withoutChecksum = request.headers.filter { $0.name != "x-amz-checksum-sha256" }
            let unsigned = try await s3.put(request.url, headers: withoutChecksum, body: other)
            #expect(unsigned.status == 403 && unsigned.errorCode == "SignatureDoesNotMatch", "\(unsigned.summary)")
            #expect(try await s3.keys().isEmpty)

            let accepted = try await s3.put(request.url, headers: request.headers, body: declared)
            #expect(accepted.status == 200, "\(accepted.summary)")
            #expect(try await s3.keys() == ["p/checked.jpg"])
        }
    }
}
