import Digest
import Foundation
import Testing

@testable import AWS

/// 2026-11-25T10:30:00Z
private let signingTime = Date(timeIntervalSince1970: 1_795_602_600)
private let exampleCredentials = AWSCredentials(
    accessKeyID: "AKIDEXAMPLE",
    secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
)
private let emptyChecksum = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="  // SHA-256 of nothing

private func presigner(
    region: String = "us-east-1",
    credentials: AWSCredentials = exampleCredentials,
    endpoint: String? = nil,
    forcePathStyle: Bool = false,
    bucket: String = "companycam-photos-test"
) -> S3Presigner {
    S3Presigner(
        region: region,
        credentials: credentials,
        endpoint: endpoint.map { URL(string: $0)! },
        forcePathStyle: forcePathStyle,
        bucket: bucket
    )
}

/// The query parameters of `url`, in order, still percent-encoded.
private func queryParameters(_ url: String) -> [(name: String, value: String)] {
    guard let query = url.split(separator: "?", maxSplits: 1).last else { return [] }
    return query.split(separator: "&").map { pair in
        let parts = pair.split(separator: "=", maxSplits: 1)
        return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
    }
}

private func queryParameter(_ name: String, of url: String) -> String? {
    queryParameters(url).first { $0.name == name }?.value
}

@Suite struct S3PresignerTests {
    // MARK: Against published and independent values

    /// The example of the S3 documentation ("Authenticating Requests: Using Query Parameters").
    @Test func reproducesTheAWSDocumentationExample() {
        let signer = S3Presigner(
            region: "us-east-1",
            credentials: AWSCredentials(
                accessKeyID: awsDocumentationExampleAccessKeyID,
                secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
            ),
            endpoint: URL(string: "https://s3.amazonaws.com")!,
            forcePathStyle: false,
            bucket: "examplebucket"
        )
        let request = signer.presign(
            method: "GET",
            key: "test.txt",
            expiresIn: 86_400,
            now: Date(timeIntervalSince1970: 1_369_353_600)  // 2013-05-24T00:00:00Z
        )
        #expect(
            request.url
                == "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
                + "&X-Amz-Credential=\(awsDocumentationExampleAccessKeyID)%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
                + "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
                + "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        )
    }

    @Test func signingKeyIsTheSigV4DerivationChain() {
        let signer = presigner(region: "eu-west-1")
        var expected = HMACSHA256.authenticationCode(
            for: "20261125",
            key: Array("AWS4\(exampleCredentials.secretAccessKey)".utf8)
        )
        for part in ["eu-west-1", "s3", "aws4_request"] {
            expected = HMACSHA256.authenticationCode(for: part, key: expected)
        }
        #expect(signer.signingKey(for: signingTime) == expected)
    }

    // MARK: Signing key cache

    @Test func signingKeyIsDerivedOncePerDay() {
        let signer = presigner()
        let midnight = Date(timeIntervalSince1970: 1_795_564_800)  // 2026-11-25T00:00:00Z
        #expect(signer.signingKeyDerivations == 0)
        let first = signer.signingKey(for: midnight)
        let sameDay = signer.signingKey(for: midnight.addingTimeInterval(86_399))
        #expect(first == sameDay)
        #expect(signer.signingKeyDerivations == 1)
        // Presigning on the same day reuses it too.
        for second in stride(from: 0, to: 86_400, by: 3600) {
            _ = signer.presignPut(
                key: "k.jpg",
                contentType: "image/jpeg",
                contentLength: 1,
                checksumSHA256: nil,
                expiresIn: 60,
                now: midnight.addingTimeInterval(Double(second))
            )
        }
        #expect(signer.signingKeyDerivations == 1)

        let nextDay = signer.signingKey(for: midnight.addingTimeInterval(86_400))
        #expect(nextDay != first)
        #expect(signer.signingKeyDerivations == 2)
        #expect(signer.signingKey(for: midnight) == first)
    }

    @Test func concurrentSigningAgreesWithSequentialSigning() async {
        let signer = presigner()
        let days = (0..<8).map { signingTime.addingTimeInterval(Double($0) * 86_400) }
        let expected = days.map {
            presigner().presignPut(
                key: "a/b.jpg",
                contentType: "image/png",
                contentLength: 2048,
                checksumSHA256: nil,
                expiresIn: 900,
                now: $0
            ).url
        }
        let results = await withTaskGroup(of: (Int, String).self) { group in
            for index in 0..<400 {
                group.addTask {
                    let day = index % days.count
                    let url = signer.presignPut(
                        key: "a/b.jpg",
                        contentType: "image/png",
                        contentLength: 2048,
                        checksumSHA256: nil,
                        expiresIn: 900,
                        now: days[day]
                    ).url
                    return (day, url)
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        for (day, url) in results {
            #expect(url == expected[day])
        }
    }

    // MARK: The request

    @Test func returnsTheHeadersTheClientMustSend() {
        let signer = presigner()
        let plain = signer.presignPut(
            key: "p/2026/11/25/x.jpg",
            contentType: "image/jpeg",
            contentLength: 2_097_152,
            checksumSHA256: nil,
            expiresIn: 900,
            now: signingTime
        )
        #expect(plain.method == "PUT")
        #expect(plain.headers.map(\.name) == ["Content-Type", "Content-Length"])
        #expect(plain.headerDictionary == ["Content-Type": "image/jpeg", "Content-Length": "2097152"])
        #expect(queryParameter("X-Amz-SignedHeaders", of: plain.url) == "content-length%3Bcontent-type%3Bhost")

        let verified = signer.presignPut(
            key: "p/2026/11/25/x.jpg",
            contentType: "image/png",
            contentLength: 1024,
            checksumSHA256: emptyChecksum,
            expiresIn: 900,
            now: signingTime
        )
        #expect(
            verified.headerDictionary
                == ["Content-Type": "image/png", "Content-Length": "1024", "x-amz-checksum-sha256": emptyChecksum]
        )
        #expect(!verified.headers.contains { $0.name.lowercased() == "host" })
        #expect(
            queryParameter("X-Amz-SignedHeaders", of: verified.url)
                == "content-length%3Bcontent-type%3Bhost%3Bx-amz-checksum-sha256"
        )
        // The checksum is a signed header, not a query parameter (S3 ignores it there).
        #expect(!verified.url.lowercased().contains("x-amz-checksum-sha256="))
        #expect(verified.url != plain.url)
    }

    @Test func queryCarriesTheSigV4ParametersWithTheSignatureLast() throws {
        let withToken = AWSCredentials(accessKeyID: "ASIAEXAMPLE", secretAccessKey: "s", sessionToken: "tok/en+=")
        let request = presigner(credentials: withToken).presignPut(
            key: "k.jpg",
            contentType: "image/jpeg",
            contentLength: 10,
            checksumSHA256: nil,
            expiresIn: 900,
            now: signingTime.addingTimeInterval(0.999)  // sub-second parts are dropped
        )
        let names = queryParameters(request.url).map(\.name)
        #expect(
            names == [
                "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders",
                "X-Amz-Security-Token", "X-Amz-Signature",
            ]
        )
        #expect(queryParameter("X-Amz-Algorithm", of: request.url) == "AWS4-HMAC-SHA256")
        #expect(
            queryParameter("X-Amz-Credential", of: request.url)
                == "ASIAEXAMPLE%2F20261125%2Fus-east-1%2Fs3%2Faws4_request"
        )
        #expect(queryParameter("X-Amz-Date", of: request.url) == "20261125T103000Z")
        #expect(queryParameter("X-Amz-Security-Token", of: request.url) == "tok%2Fen%2B%3D")
        let signature = try #require(queryParameter("X-Amz-Signature", of: request.url))
        #expect(signature.count == 64 && signature.allSatisfy { $0.isHexDigit && !$0.isUppercase })
        #expect(request.expiresAt == signingTime.addingTimeInterval(900))
    }

    @Test(arguments: [1, 60, 900, 604_800])
    func acceptsEveryExpiryFromOneSecondToSevenDays(seconds: Int) {
        let request = presigner().presignPut(
            key: "k.jpg",
            contentType: "image/jpeg",
            contentLength: 10,
            checksumSHA256: nil,
            expiresIn: seconds,
            now: signingTime
        )
        #expect(queryParameter("X-Amz-Expires", of: request.url) == String(seconds))
        #expect(request.expiresAt == signingTime.addingTimeInterval(Double(seconds)))
    }

    @Test(arguments: [0, -1, 604_801])
    func refusesAnExpiryOutsideOneSecondToSevenDays(seconds: Int) async {
        await #expect(processExitsWith: .failure) { [seconds] in
            _ = S3Presigner(
                region: "us-east-1",
                credentials: AWSCredentials(accessKeyID: "a", secretAccessKey: "b"),
                endpoint: nil,
                forcePathStyle: false,
                bucket: "bucket"
            ).presignPut(
                key: "k.jpg",
                contentType: "image/jpeg",
                contentLength: 10,
                checksumSHA256: nil,
                expiresIn: seconds,
                now: Date()
            )
        }
    }

    // MARK: Addressing

    @Test func hostsAndURLsForEachAddressingStyle() {
        func urlBeforeQuery(_ signer: S3Presigner) -> Substring {
            signer.presignPut(
                key: "p/a b.jpg",
                contentType: "image/jpeg",
                contentLength: 1,
                checksumSHA256: nil,
                expiresIn: 60,
                now: signingTime
            ).url.split(separator: "?")[0]
        }
        let virtual = presigner(bucket: "bkt")
        #expect(virtual.host == "bkt.s3.us-east-1.amazonaws.com")
        #expect(urlBeforeQuery(virtual) == "https://bkt.s3.us-east-1.amazonaws.com/p/a%20b.jpg")
        let path = presigner(region: "eu-west-1", forcePathStyle: true, bucket: "bkt")
        #expect(path.host == "s3.eu-west-1.amazonaws.com")
        #expect(urlBeforeQuery(path) == "https://s3.eu-west-1.amazonaws.com/bkt/p/a%20b.jpg")
        let local = presigner(endpoint: "http://127.0.0.1:4566", forcePathStyle: true, bucket: "bkt")
        #expect(local.host == "127.0.0.1:4566")
        #expect(urlBeforeQuery(local) == "http://127.0.0.1:4566/bkt/p/a%20b.jpg")
        // An IP address cannot carry a bucket sub-domain: path style, as botocore does.
        #expect(presigner(endpoint: "http://127.0.0.1:4566", forcePathStyle: false).usesPathStyle)
        let named = presigner(endpoint: "http://s3.local.test:9000", forcePathStyle: false, bucket: "bkt")
        #expect(named.host == "bkt.s3.local.test:9000")
        #expect(urlBeforeQuery(named) == "http://bkt.s3.local.test:9000/p/a%20b.jpg")
        // The default port stays in the URL as written, but not in the signed Host header.
        let defaultPort = presigner(endpoint: "https://minio.example.com:443", forcePathStyle: true, bucket: "bkt")
        #expect(defaultPort.host == "minio.example.com")
        #expect(urlBeforeQuery(defaultPort) == "https://minio.example.com:443/bkt/p/a%20b.jpg")
        // A dotted bucket would not match the TLS certificate of a virtual host.
        #expect(presigner(bucket: "photos.example.com").usesPathStyle)
    }

    @Test func s3URLIsTheContractForm() {
        #expect(
            presigner(region: "eu-west-1", bucket: "bkt").s3URL(key: "p/2026/11/25/x.jpg")
                == "https://bkt.s3.eu-west-1.amazonaws.com/p/2026/11/25/x.jpg"
        )
        #expect(
            presigner(region: "eu-west-1", forcePathStyle: true, bucket: "bkt").s3URL(key: "p/x.jpg")
                == "https://bkt.s3.eu-west-1.amazonaws.com/p/x.jpg"
        )
        #expect(
            presigner(endpoint: "http://127.0.0.1:4566", forcePathStyle: true, bucket: "bkt").s3URL(key: "p/a b.jpg")
                == "http://127.0.0.1:4566/bkt/p/a%20b.jpg"
        )
    }

    // MARK: Building blocks

    @Test func encodesKeysOnceWithTheUnreservedSet() {
        let encoded = SigV4Encoding.percentEncoded("a b+c%25/ü~_-.写=&?#", keepingSlashes: true)
        #expect(String(decoding: encoded, as: UTF8.self) == "a%20b%2Bc%2525/%C3%BC~_-.%E5%86%99%3D%26%3F%23")
        #expect(String(decoding: SigV4Encoding.percentEncoded("a/b", keepingSlashes: false), as: UTF8.self) == "a%2Fb")
    }

    @Test func trimsHeaderValuesAsSigV4Requires() {
        var buffer: [UInt8] = []
        SigV4Encoding.appendTrimmedHeaderValue("  text/plain;   charset=utf-8 \t", to: &buffer)
        #expect(String(decoding: buffer, as: UTF8.self) == "text/plain; charset=utf-8")
    }

    @Test func formatsTimestampsLikeFoundation() {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.calendar = Calendar(identifier: .gregorian)
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        var generator = SystemRandomNumberGenerator()
        var instants = [0, 951_782_400, 951_868_799, 1_709_164_800, 1_835_395_199, 253_402_300_799, 86_399, 86_400]
        for _ in 0..<2000 {
            instants.append(Int.random(in: 0...4_102_444_800, using: &generator))
        }
        for seconds in instants {
            let timestamp = SigV4Encoding.Timestamp(secondsSince1970: seconds)
            var buffer: [UInt8] = []
            timestamp.appendAmzDate(to: &buffer)
            let expected = formatter.string(from: Date(timeIntervalSince1970: Double(seconds)))
            #expect(String(decoding: buffer, as: UTF8.self) == expected, "\(seconds)")
            #expect(timestamp.dayNumber == seconds / 86_400)
        }
    }

    @Test func appendsDecimals() {
        for value in [0, 7, 10, 99, 1024, 2_097_152, 5_368_709_120, Int.max] {
            var buffer: [UInt8] = []
            SigV4Encoding.appendDecimal(value, to: &buffer)
            #expect(String(decoding: buffer, as: UTF8.self) == String(value))
        }
    }
}

/// The project's signature equals botocore's for the same request and timestamp. moto does
/// not check signatures at all, so this is the test that does (LocalStack enforcement is the
/// other, see S3PresignerLocalStackTests).
@Suite struct S3PresignerBotocoreTests {
    static let keys = [
        "a/b/c.jpg",
        "with space.jpg",
        "plus+sign.jpg",
        "percent%25.jpg",
        "100%.jpg",
        "unicode-\u{FC}mlaut-\u{5199}\u{771F}.jpg",
        "nfd-u\u{308}mlaut.jpg",
        "emoji-\u{1F4F7}.png",
        "tilde~_-.jpg",
        "query?a=b&c=d#frag.jpg",
        "3f0c8b8e-7f7e-4a43-9d3a-0a4bc8f3a001/2026/11/25/9b1d2c3e-1111-4222-8333-944455556666.jpg",
    ]

    private struct Configuration {
        var region: String
        var endpoint: String?
        var pathStyle: Bool
        var bucket = "companycam-photos-test"
    }

    private static let configurations: [Configuration] = [
        Configuration(region: "us-east-1", endpoint: nil, pathStyle: false),
        Configuration(region: "us-east-1", endpoint: nil, pathStyle: true),
        Configuration(region: "eu-west-1", endpoint: nil, pathStyle: false),
        Configuration(region: "ap-southeast-2", endpoint: nil, pathStyle: true),
        Configuration(region: "us-east-1", endpoint: "http://127.0.0.1:4566", pathStyle: true),
        Configuration(region: "us-east-1", endpoint: "http://127.0.0.1:4566", pathStyle: false),
        Configuration(region: "eu-central-1", endpoint: "http://localhost.localstack.cloud:4566", pathStyle: false),
        Configuration(region: "eu-central-1", endpoint: "http://localhost.localstack.cloud:4566", pathStyle: true),
        Configuration(region: "us-west-2", endpoint: "https://minio.example.com:443", pathStyle: true),
        Configuration(region: "us-west-2", endpoint: "https://minio.example.com", pathStyle: false),
        Configuration(region: "us-west-2", endpoint: "http://s3.local.test:9000/prefix/", pathStyle: true),
        Configuration(region: "us-west-2", endpoint: "http://[::1]:4566", pathStyle: true),
    ]

    private static let sessionTokens: [String?] = [nil, "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJH+MEUCIQD=="]
    private static let checksums: [String?] = [nil, emptyChecksum]
    /// Ordinary instants, the last second of a day, a leap day, sub-second parts.
    private static let timestamps: [Double] = [1_795_602_600, 1_795_651_199, 1_835_395_199.75, 951_782_400.5]
    private static let expiries = [1, 900, 604_800]

    @Test func signaturesEqualBotocoresForEveryKeyStyleTokenAndChecksum() async throws {
        var cases: [Botocore.Case] = []
        var ours: [String] = []
        var index = 0
        for configuration in Self.configurations {
            for key in Self.keys {
                for token in Self.sessionTokens {
                    for checksum in Self.checksums {
                        // Vary the rest deterministically so that every value meets every style.
                        let timestamp = Self.timestamps[index % Self.timestamps.count]
                        let expires = Self.expiries[index % Self.expiries.count]
                        let contentType =
                            index % 5 == 4
                            ? "text/plain;  charset=utf-8" : (index % 2 == 0 ? "image/jpeg" : "image/png")
                        let length = [1024, 2_097_152, 52_428_800, 5_368_709_120][index % 4]
                        index += 1
                        let credentials = AWSCredentials(
                            accessKeyID: token == nil ? awsDocumentationExampleAccessKeyID : "ASIAIOSFODNN7EXAMPLE",
                            secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                            sessionToken: token
                        )
                        let signer = S3Presigner(
                            region: configuration.region,
                            credentials: credentials,
                            endpoint: configuration.endpoint.map { URL(string: $0)! },
                            forcePathStyle: configuration.pathStyle,
                            bucket: configuration.bucket
                        )
                        ours.append(
                            signer.presignPut(
                                key: key,
                                contentType: contentType,
                                contentLength: length,
                                checksumSHA256: checksum,
                                expiresIn: expires,
                                now: Date(timeIntervalSince1970: timestamp)
                            ).url
                        )
                        cases.append(
                            Botocore.Case(
                                region: configuration.region,
                                bucket: configuration.bucket,
                                key: key,
                                content_type: contentType,
                                content_length: length,
                                checksum_sha256: checksum,
                                expires: expires,
                                timestamp: Int(timestamp.rounded(.down)),
                                access_key: credentials.accessKeyID,
                                secret_key: credentials.secretAccessKey,
                                session_token: token,
                                endpoint: configuration.endpoint,
                                addressing_style: configuration.pathStyle ? "path" : "virtual"
                            )
                        )
                    }
                }
            }
        }
        let botocore = try await Botocore.presignedURLs(for: cases)
        var mismatches = 0
        for (index, (mine, theirs)) in zip(ours, botocore.urls).enumerated() where mine != theirs {
            mismatches += 1
            if mismatches <= 5 {
                Issue.record(
                    "case \(index) (\(cases[index].key), \(cases[index].addressing_style), endpoint \(cases[index].endpoint ?? "AWS")) differs from botocore \(botocore.version):\n  ours:     \(mine)\n  botocore: \(theirs)"
                )
            }
        }
        #expect(mismatches == 0, "\(mismatches) of \(cases.count) URLs differ from botocore \(botocore.version)")
        #expect(cases.count == Self.configurations.count * Self.keys.count * 4)
    }

    @Test func otherMethodsEqualBotocoresToo() async throws {
        var cases: [Botocore.Case] = []
        var ours: [String] = []
        for (operation, method) in [("get_object", "GET"), ("head_object", "HEAD")] {
            for key in Self.keys {
                for configuration in Self.configurations.prefix(6) {
                    let signer = S3Presigner(
                        region: configuration.region,
                        credentials: exampleCredentials,
                        endpoint: configuration.endpoint.map { URL(string: $0)! },
                        forcePathStyle: configuration.pathStyle,
                        bucket: configuration.bucket
                    )
                    ours.append(signer.presign(method: method, key: key, expiresIn: 3600, now: signingTime).url)
                    cases.append(
                        Botocore.Case(
                            operation: operation,
                            region: configuration.region,
                            bucket: configuration.bucket,
                            key: key,
                            expires: 3600,
                            timestamp: Int(signingTime.timeIntervalSince1970),
                            access_key: exampleCredentials.accessKeyID,
                            secret_key: exampleCredentials.secretAccessKey,
                            endpoint: configuration.endpoint,
                            addressing_style: configuration.pathStyle ? "path" : "virtual"
                        )
                    )
                }
            }
        }
        let botocore = try await Botocore.presignedURLs(for: cases)
        for (index, (mine, theirs)) in zip(ours, botocore.urls).enumerated() {
            #expect(mine == theirs, "case \(index): \(cases[index].operation) \(cases[index].key)")
        }
    }

    /// The `download_url` of a photo: a GET signing `host` only, with and without a `versionId`
    /// (S3 version ids hold `.`, `_` and may hold `+`, `/`, `=`), with and without a session token.
    @Test func downloadURLsEqualBotocoresWithAndWithoutAVersion() async throws {
        let versions: [String?] = [
            nil, "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo", "null", "a/b=c_d.e",
        ]
        var cases: [Botocore.Case] = []
        var ours: [String] = []
        var index = 0
        for key in Self.keys {
            for configuration in Self.configurations {
                let version = versions[index % versions.count]
                let token = Self.sessionTokens[index % Self.sessionTokens.count]
                let timestamp = Self.timestamps[index % Self.timestamps.count]
                let expires = Self.expiries[index % Self.expiries.count]
                index += 1
                let credentials = AWSCredentials(
                    accessKeyID: exampleCredentials.accessKeyID,
                    secretAccessKey: exampleCredentials.secretAccessKey,
                    sessionToken: token
                )
                let signer = S3Presigner(
                    region: configuration.region,
                    credentials: credentials,
                    endpoint: configuration.endpoint.map { URL(string: $0)! },
                    forcePathStyle: configuration.pathStyle,
                    bucket: configuration.bucket
                )
                let signed = signer.presignGet(
                    key: key,
                    versionID: version,
                    expiresIn: expires,
                    now: Date(timeIntervalSince1970: timestamp)
                )
                #expect(signed.headers.isEmpty)
                ours.append(signed.url)
                cases.append(
                    Botocore.Case(
                        operation: "get_object",
                        region: configuration.region,
                        bucket: configuration.bucket,
                        key: key,
                        expires: expires,
                        timestamp: Int(timestamp.rounded(.down)),
                        access_key: credentials.accessKeyID,
                        secret_key: credentials.secretAccessKey,
                        session_token: token,
                        endpoint: configuration.endpoint,
                        addressing_style: configuration.pathStyle ? "path" : "virtual",
                        version_id: version
                    )
                )
            }
        }
        let botocore = try await Botocore.presignedURLs(for: cases)
        for (index, (mine, theirs)) in zip(ours, botocore.urls).enumerated() {
            #expect(
                mine == theirs,
                "case \(index): \(cases[index].key) version \(cases[index].version_id ?? "none")\n  ours:     \(mine)\n  botocore: \(theirs)"
            )
        }
    }
}

/// The access key id of AWS's SigV4 documentation examples: not a credential. Spelled in two
/// parts so that secret scanners looking for real keys do not stop on it.
let awsDocumentationExampleAccessKeyID = "AKIAIOSFODNN7" + "EXAMPLE"
