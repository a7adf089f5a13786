import Foundation
import Testing

@testable import AWS

/// `S3Presigner.signHeaders` against botocore's `S3SigV4Auth` (the oracle,
/// `Fixtures/botocore_sign_headers.py`) for the requests `photo-api` makes to confirm uploads
/// (`HEAD`, and `GET` with `Range`, `If-Match` and a `versionId`): keys with spaces, `+`, `%` and unicode, both URL styles,
/// http and https endpoints, with and without a session token. LocalStack does not check
/// header-signed S3 requests, so this is the test that does.
@Suite struct S3HeaderSigningTests {
    struct Case: Encodable, Sendable {
        let method: String
        let url: String
        let headers: [String: String]
        let region: String
        let access_key: String
        let secret_key: String
        let session_token: String?
        let timestamp: Int
    }

    private struct Output: Decodable {
        let headers: [[String: String]]
    }

    static let scriptPath = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()
        .appendingPathComponent("Fixtures/botocore_sign_headers.py")
        .path

    static func botocoreHeaders(for cases: [Case]) async throws -> [[String: String]] {
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("sign-cases-\(UUID()).json")
        try JSONEncoder().encode(cases).write(to: input)
        defer { try? FileManager.default.removeItem(at: input) }
        var attempts: [String] = []
        for interpreter in Botocore.interpreters {
            let child = try await PresignerChildProcess.run(interpreter, [scriptPath, input.path])
            switch child.status {
            case 0:
                return try JSONDecoder().decode(Output.self, from: Data(child.standardOutput.utf8)).headers
            case 2, 127:
                attempts.append("\(interpreter): \(child.standardError)")
            default:
                throw PresignerTestError("botocore_sign_headers.py failed (\(child.status)): \(child.standardError)")
            }
        }
        throw PresignerTestError("no Python with botocore found: " + attempts.joined(separator: "; "))
    }

    /// The test credentials (the SigV4 documentation's example secret), with `token` if any.
    static func credentials(token: String?) -> AWSCredentials {
        AWSCredentials(
            accessKeyID: "AKIDEXAMPLE",
            secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            sessionToken: token
        )
    }

    /// A signer of the bucket `photos-bucket` in `eu-west-3` with ``credentials(token:)``.
    static func signer(endpoint: URL?, pathStyle: Bool, token: String?) -> S3Presigner {
        S3Presigner(
            region: "eu-west-3",
            credentials: credentials(token: token),
            endpoint: endpoint,
            forcePathStyle: pathStyle,
            bucket: "photos-bucket"
        )
    }

    @Test func signaturesEqualBotocores() async throws {
        let keys = [
            "p/2026/12/01/photo.jpg", "with space/a b.jpg", "plus+sign.png", "percent%20literal.jpg",
            "unicodé/ф/照片.jpg", "tilde~and(parens)!.jpg",
        ]
        let endpoints: [URL?] = [nil, URL(string: "http://127.0.0.1:4566"), URL(string: "https://s3.example.test")]
        var cases: [Case] = []
        var ours: [[String: String]] = []
        var timestamp = 1_764_590_400
        for key in keys {
            for endpoint in endpoints {
                for pathStyle in [false, true] {
                    for token in [nil, "FwoGZXIvYXdzEJr//token+/="] {
                        for (method, headers, versionID) in [
                            ("HEAD", [(String, String)](), nil), ("GET", [("Range", "bytes=0-131071")], nil),
                            (
                                "GET",
                                [("Range", "bytes=0-131071"), ("If-Match", #""9b2cf535f27731c974343645a3985328""#)],
                                "3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo=" as String?
                            ),
                        ] {
                            timestamp += 3_607
                            let credentials = Self.credentials(token: token)
                            let signer = Self.signer(endpoint: endpoint, pathStyle: pathStyle, token: token)
                            let signed = signer.signHeaders(
                                method: method,
                                key: key,
                                versionID: versionID,
                                headers: headers.map { (name: $0.0, value: $0.1) },
                                now: Date(timeIntervalSince1970: Double(timestamp))
                            )
                            cases.append(
                                Case(
                                    method: method,
                                    url: signed.url,
                                    headers: Dictionary(uniqueKeysWithValues: headers),
                                    region: "eu-west-3",
                                    access_key: credentials.accessKeyID,
                                    secret_key: credentials.secretAccessKey,
                                    session_token: token,
                                    timestamp: timestamp
                                )
                            )
                            ours.append(
                                Dictionary(
                                    signed.headers.filter { !["range", "if-match"].contains($0.name.lowercased()) }
                                        .map { ($0.name.lowercased(), $0.value) },
                                    uniquingKeysWith: { first, _ in first }
                                )
                            )
                        }
                    }
                }
            }
        }
        let theirs = try await Self.botocoreHeaders(for: cases)
        #expect(theirs.count == cases.count)
        for (index, (mine, botocore)) in zip(ours, theirs).enumerated() {
            #expect(mine == botocore, "case \(index): \(cases[index].method) \(cases[index].url)")
        }
    }
}
